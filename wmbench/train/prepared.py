"""The data of the training protocol (Amer & Maul §4): the 60,000 MNIST training images cut into
train and validation with a fixed seed, the 10,000 test images held out, all on the device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from wmbench.data import Mnist, to_float, train_val_split
from wmbench.train.records import TrainConfig


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
