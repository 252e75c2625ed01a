"""Training one model over several seeds and saving each checkpoint: the orchestration shared by
``wmbench train`` and ``wmbench reproduce``.

``plan`` decides which trials run (existing checkpoints refused, kept or replaced; resume files
continued or discarded), ``run`` trains them with :mod:`wmbench.train` and writes their
checkpoints with their metadata documents. The library raises :mod:`wmbench.errors` and never
prints; callers hear of progress through callbacks.

This package only re-exports the public names of its modules.
"""

from __future__ import annotations

from wmbench.training.plan import (
    Trial,
    checkpoint_complete,
    default_checkpoint_path,
    plan_trials,
    resumed_epochs,
    training_spec,
    trial_path,
)
from wmbench.training.run import TrainedTrial, TrialCallbacks, TrialWatch, run_trials

__all__ = [
    "TrainedTrial",
    "Trial",
    "TrialCallbacks",
    "TrialWatch",
    "checkpoint_complete",
    "default_checkpoint_path",
    "training_spec",
    "plan_trials",
    "resumed_epochs",
    "run_trials",
    "trial_path",
]
