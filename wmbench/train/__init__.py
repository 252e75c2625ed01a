"""The training protocol of Amer & Maul §4 on MNIST, for one model and one seed.

``records`` holds what a run is given and gives back (:class:`TrainConfig`, :class:`EpochStats`,
:class:`TrainResult`), ``prepared`` the train/validation/test split on the device, ``loop`` the
training loop, ``adversarial`` the loss of a batch (plain, or adversarial training: fgsm-rs, pgd,
trades, optionally with AT-LR's layer-wise term), ``inner`` their inner maximisations, ``ranks``
the sharing of every batch among the ranks of a ``torchrun`` job (DistributedDataParallel), and
``resume_state`` the state that continues a killed run and the check that it
matches. Training several seeds and saving their checkpoints is :mod:`wmbench.training`'s job.

This package only re-exports the public names of its modules.
"""

from __future__ import annotations

from wmbench.train.adversarial import (
    ADVERSARIAL_METHODS,
    AdversarialConfig,
    BatchLoss,
    LayerwiseTerm,
    batch_loss,
    layerwise_term,
)
from wmbench.train.inner import Rows, eval_mode, pgd_examples, trades_examples
from wmbench.train.loop import BatchCallback, EpochCallback, StateCallback, train_model
from wmbench.train.prepared import PreparedData, prepare_data
from wmbench.train.ranks import batch_norm_per_rank
from wmbench.train.records import EpochStats, TrainConfig, TrainResult
from wmbench.train.resume_state import ResumeState, resume_mismatch

__all__ = [
    "ADVERSARIAL_METHODS",
    "AdversarialConfig",
    "BatchCallback",
    "BatchLoss",
    "EpochCallback",
    "EpochStats",
    "LayerwiseTerm",
    "PreparedData",
    "ResumeState",
    "Rows",
    "StateCallback",
    "TrainConfig",
    "TrainResult",
    "batch_loss",
    "batch_norm_per_rank",
    "eval_mode",
    "layerwise_term",
    "pgd_examples",
    "prepare_data",
    "resume_mismatch",
    "trades_examples",
    "train_model",
]
