"""Training the planned trials of one model: each trial trains (continuing its resume state, if
it has one), keeps its resume file up to date after every epoch, and saves its checkpoint with
the metadata documents ``train``, ``metrics``, ``dataset`` and ``versions``; the resume file is
removed only once the checkpoint is written, so a run killed at any moment can still continue.

The library never prints: a caller hears of each trial through :class:`TrialWatch` (a context
around its training, which may hand back batch and epoch callbacks) and ``on_saved``.

Under ``torchrun`` every rank trains each trial together (:func:`wmbench.train.train_model`) and
rank 0 alone writes the resume files and checkpoints; the other ranks wait for each write
(:meth:`~wmbench.distributed.World.together`), so a write that fails stops every rank at once
instead of leaving them in the next epoch's gradient exchange. The checkpoint's ``train``
document then also records ``ranks``, the number of processes that trained it (absent: one).
Every rank must see the same files: across machines, the checkpoints' folder must be shared.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wmbench import distributed
from wmbench.checkpoint import save_checkpoint
from wmbench.models import ModelSpec
from wmbench.resume import save_resume_state
from wmbench.runtime import versions
from wmbench.train import (
    BatchCallback,
    EpochCallback,
    PreparedData,
    ResumeState,
    StateCallback,
    TrainConfig,
    TrainResult,
    train_model,
)
from wmbench.training.plan import Trial


@dataclass(frozen=True)
class TrialCallbacks:
    """What a caller hears while one trial trains (both optional)."""

    on_batch: BatchCallback | None = None
    on_epoch: EpochCallback | None = None


@dataclass(frozen=True)
class TrainedTrial:
    """A trial whose checkpoint is written, with what its training gave."""

    trial: Trial
    result: TrainResult


TrialWatch = Callable[[Trial], AbstractContextManager[TrialCallbacks]]


@contextlib.contextmanager
def _unwatched(trial: Trial) -> Iterator[TrialCallbacks]:
    yield TrialCallbacks()


def run_trials(
    spec: ModelSpec,
    trials: Sequence[Trial],
    data: PreparedData,
    source: str,
    *,
    resumable: bool = True,
    watch: TrialWatch | None = None,
    on_saved: Callable[[TrainedTrial], None] | None = None,
) -> list[TrainedTrial]:
    """Trains each trial in turn and saves its checkpoint.

    Args:
        spec: the model.
        trials: from :func:`wmbench.training.plan_trials` (or built by hand).
        data: the split data, on the training device.
        source: where the images came from (``Mnist.source``), for the ``dataset`` document.
        resumable: write each trial's resume file after every epoch (a stale one of a trial that
            starts afresh is discarded first); without it no resume file is read or written.
        watch: entered around each trial's training; it yields the trial's callbacks.
        on_saved: told of each trial once its checkpoint is written.

    Returns:
        The trained trials, in order.
    """
    world = distributed.current()
    trained = []
    for trial in trials:
        with (watch or _unwatched)(trial) as callbacks:
            result = _train(spec, trial, data, callbacks, resumable=resumable)
        with world.together():
            if world.leader:
                save_checkpoint(
                    trial.path,
                    result.model,
                    train=_train_record(trial.config, world.size),
                    metrics=result.metrics(),
                    dataset=data.describe(source, trial.config),
                    versions=versions(),
                )
                if resumable:  # only now: a kill before can still resume
                    trial.resume_path.unlink(missing_ok=True)
        trained.append(TrainedTrial(trial, result))
        if on_saved is not None:
            on_saved(trained[-1])
    return trained


def _train_record(config: TrainConfig, ranks: int = 1) -> dict[str, Any]:
    """The checkpoint's ``train`` document: the config, and the ranks when there were several."""
    return asdict(config) if ranks == 1 else {**asdict(config), "ranks": ranks}


def _save_on_leader(path: Path, state: ResumeState) -> None:
    """Rank 0 writes the resume file; every rank waits for it (and stops if it failed)."""
    world = distributed.current()
    with world.together():
        if world.leader:
            save_resume_state(path, state)


def _train(
    spec: ModelSpec,
    trial: Trial,
    data: PreparedData,
    callbacks: TrialCallbacks,
    *,
    resumable: bool,
) -> TrainResult:
    on_state: StateCallback | None = None
    if resumable:
        world = distributed.current()
        with world.together():
            if trial.resume is None and world.leader:  # there only with force: a stale run's
                trial.resume_path.unlink(missing_ok=True)
        on_state = functools.partial(_save_on_leader, trial.resume_path)
    return train_model(
        spec,
        data,
        trial.config,
        on_batch=callbacks.on_batch,
        on_epoch=callbacks.on_epoch,
        on_state=on_state,
        resume=trial.resume,
    )
