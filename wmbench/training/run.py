"""Training the planned trials of one model: each trial trains (continuing its resume state, if
it has one), keeps its resume file up to date after every epoch, and saves its checkpoint with
the metadata documents ``train``, ``metrics``, ``dataset`` and ``versions``; the resume file is
removed only once the checkpoint is written, so a run killed at any moment can still continue.

The library never prints: a caller hears of each trial through :class:`TrialWatch` (a context
around its training, which may hand back batch and epoch callbacks) and ``on_saved``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass

from wmbench.checkpoint import save_checkpoint
from wmbench.models import ModelSpec
from wmbench.resume import save_resume_state
from wmbench.runtime import versions
from wmbench.train import (
    BatchCallback,
    EpochCallback,
    PreparedData,
    StateCallback,
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
    trained = []
    for trial in trials:
        with (watch or _unwatched)(trial) as callbacks:
            result = _train(spec, trial, data, callbacks, resumable=resumable)
        save_checkpoint(
            trial.path,
            result.model,
            train=asdict(trial.config),
            metrics=result.metrics(),
            dataset=data.describe(source, trial.config),
            versions=versions(),
        )
        if resumable:
            trial.resume_path.unlink(missing_ok=True)  # only now: a kill before can still resume
        trained.append(TrainedTrial(trial, result))
        if on_saved is not None:
            on_saved(trained[-1])
    return trained


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
        if trial.resume is None:
            trial.resume_path.unlink(missing_ok=True)  # there only with force: a stale run's state
        on_state = functools.partial(save_resume_state, trial.resume_path)
    return train_model(
        spec,
        data,
        trial.config,
        on_batch=callbacks.on_batch,
        on_epoch=callbacks.on_epoch,
        on_state=on_state,
        resume=trial.resume,
    )
