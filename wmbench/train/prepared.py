"""The data of the training protocol (Amer & Maul §4), for any data set: the training images cut
into train and validation with a fixed seed (MNIST: 54,000 / 6,000), the test images held out,
all as float NCHW in [0, 1] on the training device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from wmbench.data import ImageDataset, Mnist, images_to_float, mnist_dataset, train_val_split
from wmbench.errors import DataError
from wmbench.train.records import TrainConfig


@dataclass
class PreparedData:
    """The split tensors on the training device, and what data set they are."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    name: str = "mnist"
    num_classes: int = 10

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def describe(self, source: str, config: TrainConfig) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": source,
            "train": len(self.train_x),
            "val": len(self.val_x),
            "test": len(self.test_x),
            "split_seed": config.split_seed,
            "val_fraction": config.val_fraction,
            "input_shape": list(self.image_shape),
            "num_classes": self.num_classes,
        }


def prepare_data(
    dataset: ImageDataset | Mnist, config: TrainConfig, device: torch.device
) -> PreparedData:
    """Splits the training images into train/validation and moves everything to ``device``.

    Raises:
        DataError: the data set has no training split (e.g. an npz file of test images only).
    """
    if isinstance(dataset, Mnist):
        dataset = mnist_dataset(dataset)
    if dataset.train_images is None or dataset.train_labels is None:
        raise DataError(
            f"{dataset.name} has no training split to train on (it holds test images only)",
            dataset.source,
        )
    train_idx, val_idx = train_val_split(
        len(dataset.train_images), config.val_fraction, config.split_seed
    )
    if config.limit_train is not None:
        train_idx = train_idx[: config.limit_train]
    images = images_to_float(dataset.train_images)
    labels = dataset.train_labels
    return PreparedData(
        train_x=images[train_idx].to(device),
        train_y=labels[train_idx].to(device),
        val_x=images[val_idx].to(device),
        val_y=labels[val_idx].to(device),
        test_x=images_to_float(dataset.test_images).to(device),
        test_y=dataset.test_labels.to(device),
        name=dataset.name,
        num_classes=dataset.num_classes,
    )
