"""Reproduction of Amer & Maul on MNIST end to end: train the budget's models, run the paper's
suite, draw Figures 2–4 and write a report beside the paper's Tables 2 and 5.

Checkpoints are written as training goes and a complete one is never trained again, so an
interrupted reproduction continues where it stopped. Everything the report states is read back
from the files it leaves (checkpoints' metadata and the suite's results JSON).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from wmbench._io import write_text_atomic
from wmbench.checkpoint import read_checkpoint_info
from wmbench.data import load_mnist
from wmbench.models import ModelSpec, get_spec
from wmbench.paper import Training, model_rows, paper_claims
from wmbench.reproduce.budgets import HEADLINE, Budget, TrainJob, get_budget
from wmbench.results import ResultsDocument
from wmbench.runtime import describe_device, resolve_device
from wmbench.suites import load_suite, run_suite
from wmbench.train import TrainConfig, prepare_data
from wmbench.training import Trial, checkpoint_complete, plan_trials, run_trials

Events = Callable[[str], None]


def checkpoint_path(out_dir: Path, model: str, seed: int) -> Path:
    return out_dir / "checkpoints" / f"{model}-s{seed}.safetensors"


def train_all(
    jobs: Sequence[TrainJob],
    out_dir: Path,
    device: torch.device,
    data_dir: Path | None,
    events: Events,
) -> None:
    """Trains every (job, seed) whose checkpoint is not complete yet."""
    todo: list[tuple[str, ModelSpec, Trial]] = []
    for job in jobs:
        spec = get_spec(job.model)
        paths = {seed: checkpoint_path(out_dir, job.name, seed) for seed in range(job.seeds)}
        paths = {seed: path for seed, path in paths.items() if not checkpoint_complete(path)}
        base = TrainConfig(
            epochs=job.epochs,
            limit_train=job.limit_train,
            device=str(device),
            adversarial=job.adversarial,
        )
        # force: an incomplete checkpoint (torn or foreign) is trained again and replaced.
        todo += [(job.name, spec, trial) for trial in plan_trials(spec, base, paths, force=True)]
    if not todo:
        return
    mnist = load_mnist(data_dir)
    for number, (name, spec, trial) in enumerate(todo, start=1):
        config = trial.config
        data = prepare_data(mnist, config, device)
        how = (
            f", {config.adversarial.method} ε {config.adversarial.eps:g}"
            if config.adversarial
            else ""
        )
        events(
            f"[{number}/{len(todo)}] training {name} seed {config.seed} "
            f"({config.epochs} epochs{how})"
        )
        (done,) = run_trials(spec, [trial], data, mnist.source, resumable=False)
        events(f"  {name} seed {config.seed}: test error {100 * done.result.test_error:.2f}%")


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


def training_table(jobs: Sequence[TrainJob], out_dir: Path) -> Training:
    """Per job, the stored metrics and training settings (``train``) of every seed's checkpoint."""
    table: Training = {}
    for job in jobs:
        rows = []
        for seed in range(job.seeds):
            info = read_checkpoint_info(checkpoint_path(out_dir, job.name, seed))
            metrics = info.meta.get("metrics", {})
            settings = info.meta.get("train", {})
            rows.append({"seed": seed, "sha256": info.sha256, "train": settings, **metrics})
        table[job.name] = rows
    return table


def measure(
    suite: Path, out_dir: Path, device: torch.device, data_dir: Path | None
) -> ResultsDocument:
    """Runs a reproduction's suite, writes ``results.json`` and returns it as read back (the
    report states only what the file holds)."""
    results = run_suite(load_suite(suite), data_dir=data_dir, device=str(device))
    ResultsDocument.of_run(results, []).write(out_dir / "results.json")
    return ResultsDocument.read(out_dir / "results.json")


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

    budget = get_budget(budget_name)
    say = events or (lambda message: None)
    out_dir = Path(out_dir)
    torch_device = resolve_device(device)
    started = time.perf_counter()
    train_all(budget.jobs, out_dir, torch_device, data_dir, say)
    say("running the paper's suite")
    document = measure(write_suite(budget, out_dir), out_dir, torch_device, data_dir)
    figures = plot_sweeps(document, out_dir / "figures")
    figures.append(_grad_cam_figure(out_dir, data_dir))
    training = training_table(budget.jobs, out_dir)
    report = write_report(
        out_dir / "report.md",
        budget=budget,
        rows=model_rows(training),
        claims=paper_claims(training, document),
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
