"""What a training run is given and what it gives back: its configuration (the protocol of Amer
& Maul §4, optionally with adversarial training), the statistics of each epoch, and the trained
model with its errors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from wmbench.errors import ConfigError
from wmbench.train.adversarial import AdversarialConfig

# "constant": Adam's lr throughout (the paper's protocol). "cosine": SGDR's cosine annealing
# without restarts (Loshchilov & Hutter 2017), lr·(1 + cos(π·(epoch − 1)/epochs))/2 in each epoch.
LR_SCHEDULES = ("constant", "cosine")


@dataclass
class TrainConfig:
    """How a model is trained; stored in the checkpoint as ``wmbench.train``."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    limit_train: int | None = None
    crop_padding: int = 2
    horizontal_flip: bool = False
    val_fraction: float = 0.1
    split_seed: int = 0
    device: str = "auto"
    adversarial: AdversarialConfig | None = None  # None: plain training on the clean images
    patience: int | None = None  # stop after this many epochs without a better validation error
    lr_schedule: str = "constant"  # or "cosine": annealed to 0 over `epochs` (one step per epoch)

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            known = ", ".join(LR_SCHEDULES)
            raise ConfigError(f"unknown learning-rate schedule {self.lr_schedule!r} ({known})")


@dataclass
class EpochStats:
    epoch: int
    loss: float
    train_error: float
    val_error: float
    seconds: float
    train_seconds: float
    lr: float | None = None  # the epoch's learning rate (None in runs recorded before it was kept)


@dataclass
class TrainResult:
    """A trained model (best validation weights, eval mode) and how it got there."""

    model: nn.Module
    best_epoch: int
    val_error: float
    test_error: float
    seconds: float
    images_per_second: float  # training images per second of optimisation (validation excluded)
    history: list[EpochStats] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "val_error": self.val_error,
            "test_error": self.test_error,
            "seconds": round(self.seconds, 2),
            "images_per_second": round(self.images_per_second, 1),  # optimisation steps only
            "history": [asdict(stats) for stats in self.history],
        }
