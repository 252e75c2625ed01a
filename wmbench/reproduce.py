"""Reproduction of Amer & Maul on MNIST as a feature: train the zoo, run the paper's suite,
draw Figures 2–4 and write a report beside the paper's Tables 2 and 5.

A budget says which models are trained, with how many seeds and epochs, and how large the suite
is. Checkpoints are written as training goes and a complete one is never trained again, so an
interrupted reproduction continues where it stopped. Everything the report states is read back
from the files it leaves (checkpoints' metadata and the suite's results JSON).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from wmbench._io import write_text_atomic
from wmbench.checkpoint import read_checkpoint_info, save_checkpoint
from wmbench.data import load_mnist
from wmbench.errors import CheckpointError, ConfigError
from wmbench.gates import load_baseline
from wmbench.models import get_spec
from wmbench.reporting.json import results_document, write_results
from wmbench.runtime import describe_device, resolve_device, versions
from wmbench.suites import load_suite, run_suite
from wmbench.train import TrainConfig, prepare_data, train_model

Events = Callable[[str], None]


@dataclass(frozen=True)
class TrainJob:
    """One zoo model trained with several seeds."""

    model: str
    seeds: int
    epochs: int
    limit_train: int | None = None


@dataclass(frozen=True)
class Budget:
    """How much of the paper's protocol a reproduction runs."""

    name: str
    description: str
    jobs: tuple[TrainJob, ...]
    suite_limit: int | None
    uniform: tuple[float, ...]
    fgsm: tuple[float, ...]


HEADLINE = ("cnn-33", "wm-smooth-32", "wm-unsharp-32")
TABLE2_OTHERS = ("cnn-33-bn", "cnn-33-input-scale", "wm-smooth-32-bn")
TABLE5 = tuple(
    f"{family}-{variant}"
    for family in ("resnet", "densenet")
    for variant in ("conv", "wm-smooth", "wm-unsharp", "alt-smooth", "alt-unsharp")
)
# The alternating variants the paper reports (Table 5): smoothing in ResNet, unsharp in DenseNet.
TABLE5_PAPER = tuple(m for m in TABLE5 if m not in ("resnet-alt-unsharp", "densenet-alt-smooth"))
UNIFORM = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
FGSM = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)

BUDGETS = {
    "quick": Budget(
        "quick",
        "smoke check of the whole pipeline: 1 epoch on 2,000 training images (500 for the "
        "deep models), 1 seed, suite on 300 test images",
        tuple(TrainJob(m, 1, 1, 2000) for m in HEADLINE)
        + (TrainJob("resnet-conv", 1, 1, 500), TrainJob("densenet-alt-unsharp", 1, 1, 500)),
        suite_limit=300,
        uniform=(0.5, 1.0, 2.0),
        fgsm=(0.05, 0.1, 0.2),
    ),
    "cpu": Budget(
        "cpu",
        "about an hour on 2 CPU cores: the three headline models with 3 seeds and 6 epochs; "
        "the other Table 2 variants with 1 seed and 6 epochs (2 for cnn-33-k9, whose 9×9 "
        "convolutions cost 9× more; cnn-wide, 74× cnn-33's multiply-accumulates, 1 epoch on "
        "10,000 images); the eight Table 5 variants the paper reports with 1 seed and 2 "
        "epochs; the paper's suite on the full test set",
        tuple(TrainJob(m, 3, 6) for m in HEADLINE)
        + tuple(TrainJob(m, 1, 6) for m in (*TABLE2_OTHERS, "wm-smooth-32-k9"))
        + (TrainJob("cnn-33-k9", 1, 2), TrainJob("cnn-wide", 1, 1, 10_000))
        + tuple(TrainJob(m, 1, 2) for m in TABLE5_PAPER),
        suite_limit=None,
        uniform=UNIFORM,
        fgsm=FGSM,
    ),
    "paper": Budget(
        "paper",
        "the full protocol, meant for a GPU: every variant of Tables 2 and 5, 3 seeds, 50 epochs "
        "(best validation weights kept), the paper's suite on the full test set",
        tuple(
            TrainJob(m, 3, 50)
            for m in (*HEADLINE, *TABLE2_OTHERS, "cnn-33-k9", "wm-smooth-32-k9", "cnn-wide")
        )
        + tuple(TrainJob(m, 3, 50) for m in TABLE5),
        suite_limit=None,
        uniform=UNIFORM,
        fgsm=FGSM,
    ),
}


def checkpoint_path(out_dir: Path, model: str, seed: int) -> Path:
    return out_dir / "checkpoints" / f"{model}-s{seed}.safetensors"


def _complete(path: Path) -> bool:
    """True when ``path`` is a checkpoint that finished training (it carries its test error)."""
    if not path.exists():
        return False
    try:
        return "test_error" in read_checkpoint_info(path).meta.get("metrics", {})
    except CheckpointError:
        return False  # a torn or foreign file: train again (the write is atomic, so it is rare)


def train_all(
    budget: Budget, out_dir: Path, device: torch.device, data_dir: Path | None, events: Events
) -> None:
    """Trains every (model, seed) of the budget whose checkpoint is not complete yet."""
    todo = [
        (job, seed)
        for job in budget.jobs
        for seed in range(job.seeds)
        if not _complete(checkpoint_path(out_dir, job.model, seed))
    ]
    if not todo:
        return
    mnist = load_mnist(data_dir)
    for number, (job, seed) in enumerate(todo, start=1):
        config = TrainConfig(
            epochs=job.epochs, seed=seed, limit_train=job.limit_train, device=str(device)
        )
        data = prepare_data(mnist, config, device)
        events(f"[{number}/{len(todo)}] training {job.model} seed {seed} ({job.epochs} epochs)")
        result = train_model(get_spec(job.model), data, config)
        save_checkpoint(
            checkpoint_path(out_dir, job.model, seed),
            result.model,
            train=config.__dict__,
            metrics=result.metrics(),
            dataset=data.describe(mnist.source, config),
            versions=versions(),
        )
        events(f"  {job.model} seed {seed}: test error {100 * result.test_error:.2f}%")


def write_suite(budget: Budget, out_dir: Path) -> Path:
    """The paper's suite (§4.3) over the seed-0 checkpoints of every trained model."""
    dataset: dict[str, Any] = {"name": "mnist", "split": "test"}
    if budget.suite_limit:
        dataset["limit"] = budget.suite_limit
    document = {
        "name": f"paper-mnist-{budget.name}",
        "dataset": dataset,
        "batch_size": 500,
        "seed": 0,
        "device": "auto",
        "models": {job.model: f"checkpoints/{job.model}-s0.safetensors" for job in budget.jobs},
        "perturbations": [
            {"kind": "clean"},
            {"kind": "uniform", "upper": list(budget.uniform)},
            {"kind": "fgsm", "eps": list(budget.fgsm)},
        ],
    }
    return write_text_atomic(out_dir / "suite.yaml", yaml.safe_dump(document, sort_keys=False))


def training_table(budget: Budget, out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Per model, the stored metrics of every seed's checkpoint."""
    table: dict[str, list[dict[str, Any]]] = {}
    for job in budget.jobs:
        rows = []
        for seed in range(job.seeds):
            info = read_checkpoint_info(checkpoint_path(out_dir, job.model, seed))
            metrics = info.meta.get("metrics", {})
            rows.append({"seed": seed, "sha256": info.sha256, **metrics})
        table[job.model] = rows
    return table


def reproduce(
    budget_name: str,
    out_dir: str | Path,
    *,
    device: str = "auto",
    data_dir: Path | None = None,
    events: Events | None = None,
) -> Path:
    """Runs a reproduction end to end and returns the path of its report."""
    from wmbench.reporting.plots import plot_sweeps
    from wmbench.reporting.reproduction import write_report

    if budget_name not in BUDGETS:
        raise ConfigError(f"unknown budget {budget_name!r} (choose {', '.join(BUDGETS)})")
    budget = BUDGETS[budget_name]
    say = events or (lambda message: None)
    out_dir = Path(out_dir)
    torch_device = resolve_device(device)
    started = time.perf_counter()
    train_all(budget, out_dir, torch_device, data_dir, say)
    say("running the paper's suite")
    loaded = load_suite(write_suite(budget, out_dir))
    results = run_suite(loaded, data_dir=data_dir, device=str(torch_device))
    write_results(out_dir / "results.json", results_document(results, []))
    document = load_baseline(out_dir / "results.json")
    figures = plot_sweeps(document, out_dir / "figures")
    figures.append(_grad_cam_figure(out_dir, data_dir))
    report = write_report(
        out_dir / "report.md",
        budget=budget,
        training=training_table(budget, out_dir),
        document=document,
        figures=[path.relative_to(out_dir) for path in figures],
        device=describe_device(torch_device),
        wall_seconds=time.perf_counter() - started,
    )
    say(f"report written to {report}")
    return report


def _grad_cam_figure(out_dir: Path, data_dir: Path | None) -> Path:
    from wmbench.checkpoint import load_checkpoint
    from wmbench.data import to_float
    from wmbench.gradcam import grad_cam
    from wmbench.reporting.plots import plot_grad_cams

    images = to_float(load_mnist(data_dir).test_images[:8])
    rows = []
    for model in HEADLINE:
        network, _ = load_checkpoint(checkpoint_path(out_dir, model, 0))
        maps, predictions = grad_cam(network, images)
        rows.append((model, images, maps, predictions))
    return plot_grad_cams(rows, out_dir / "figures" / "grad-cam.png")
