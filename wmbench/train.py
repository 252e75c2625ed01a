"""The training protocol of Amer & Maul §4 on MNIST.

The 60,000 training images are cut 90%/10% into train and validation with a fixed seed; the
standard 10,000 test images are held out. Adam with its default parameters; the only augmentation
is a zero-pad and a random crop back to 28×28, done on whole batches. The weights that score best
on validation are kept, and their test error is measured at the end. Batches are drawn from
tensors held in memory on the training device. The same seed gives the same weights on CPU.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wmbench.data import Mnist, random_crop, to_float, train_val_split
from wmbench.metrics import error_rate
from wmbench.models import ModelSpec, build_model
from wmbench.runtime import resolve_device


@dataclass
class TrainConfig:
    """How a model is trained; stored in the checkpoint as ``wmbench.train``."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    limit_train: int | None = None
    crop_padding: int = 2
    val_fraction: float = 0.1
    split_seed: int = 0
    device: str = "auto"


@dataclass
class EpochStats:
    epoch: int
    loss: float
    train_error: float
    val_error: float
    seconds: float
    train_seconds: float


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


BatchCallback = Callable[[int, int, int, float], None]  # epoch, batch, batches, loss
EpochCallback = Callable[[EpochStats], None]


@dataclass
class PreparedData:
    """The split MNIST tensors on the training device."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def describe(self, source: str, config: TrainConfig) -> dict[str, Any]:
        return {
            "name": "mnist",
            "source": source,
            "train": len(self.train_x),
            "val": len(self.val_x),
            "test": len(self.test_x),
            "split_seed": config.split_seed,
            "val_fraction": config.val_fraction,
        }


def prepare_data(mnist: Mnist, config: TrainConfig, device: torch.device) -> PreparedData:
    """Splits the training images into train/validation and moves everything to ``device``."""
    train_idx, val_idx = train_val_split(
        len(mnist.train_images), config.val_fraction, config.split_seed
    )
    if config.limit_train is not None:
        train_idx = train_idx[: config.limit_train]
    images = to_float(mnist.train_images)
    return PreparedData(
        train_x=images[train_idx].to(device),
        train_y=mnist.train_labels[train_idx].to(device),
        val_x=images[val_idx].to(device),
        val_y=mnist.train_labels[val_idx].to(device),
        test_x=to_float(mnist.test_images).to(device),
        test_y=mnist.test_labels.to(device),
    )


def train_model(
    spec: ModelSpec,
    data: PreparedData,
    config: TrainConfig,
    *,
    on_batch: BatchCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Trains one model from scratch with one seed and returns its best-validation weights."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = build_model(spec).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator(device=device)
    generator.manual_seed(config.seed)

    count = len(data.train_x)
    batches = (count + config.batch_size - 1) // config.batch_size
    best_val, best_epoch, best_state = float("inf"), 0, None
    history: list[EpochStats] = []
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        order = torch.randperm(count, generator=generator, device=device)
        loss_sum = torch.zeros((), device=device)
        wrong = torch.zeros((), device=device, dtype=torch.long)
        step_start = time.perf_counter()
        for index in range(batches):
            batch = order[index * config.batch_size : (index + 1) * config.batch_size]
            images = random_crop(data.train_x[batch], config.crop_padding, generator)
            labels = data.train_y[batch]
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(batch)
            wrong += (logits.detach().argmax(1) != labels).sum()
            if on_batch is not None:
                on_batch(epoch, index + 1, batches, loss.item())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds = time.perf_counter() - step_start
        val_error = error_rate(model, data.val_x, data.val_y)
        stats = EpochStats(
            epoch=epoch,
            loss=loss_sum.item() / count,
            train_error=wrong.item() / count,
            val_error=val_error,
            seconds=time.perf_counter() - epoch_start,
            train_seconds=train_seconds,
        )
        history.append(stats)
        if val_error < best_val:
            best_val, best_epoch = val_error, epoch
            best_state = copy.deepcopy(model.state_dict())
        if on_epoch is not None:
            on_epoch(stats)
    seconds = time.perf_counter() - started
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    test_error = error_rate(model, data.test_x, data.test_y)
    return TrainResult(
        model=model,
        best_epoch=best_epoch,
        val_error=best_val,
        test_error=test_error,
        seconds=seconds,
        images_per_second=count * config.epochs / max(sum(s.train_seconds for s in history), 1e-9),
        history=history,
    )
