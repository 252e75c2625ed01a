"""One data set of images as tensors, whatever format it was read from, and its splits.

Every reader (IDX, CIFAR, SVHN, ``.npz``, a folder of images) returns an ``ImageDataset``: images
``(N, C, H, W)``, uint8 (or float32 in [0, 1] from a float ``.npz``), int64 labels, and the
test split always, the training split when the source has one. ``split`` hands out one split as
float in [0, 1]; the validation split is the seeded 10% of the training set that
``train_val_split`` cuts, as the training protocol of Amer & Maul (§4) does on MNIST.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wmbench.data.augment import images_to_float
from wmbench.data.splits import train_val_split
from wmbench.errors import DataError

SPLITS = ("test", "val", "train")


@dataclass(frozen=True, eq=False)  # eq=False: == on tensors is elementwise, not a bool
class ImageDataset:
    """A data set's images and labels.

    Attributes:
        name: the data set (``"mnist"``, ``"cifar10"``, ..., ``"npz"``, ``"folder"``).
        train_images: ``(N, C, H, W)`` uint8 (or float32 in [0, 1]); None when the source has
            no training split.
        train_labels: int64 ``(N,)`` in ``0..num_classes-1``; None with ``train_images``.
        test_images: ``(M, C, H, W)``, the same dtype and image shape as ``train_images``.
        test_labels: int64 ``(M,)``.
        num_classes: how many classes the labels index.
        source: where it came from, ``"<format>:<path>"`` (``"idx:/data/mnist"``).
        class_names: the classes' names by label, when the source names them (a folder's
            sub-folders), else empty.
    """

    name: str
    train_images: torch.Tensor | None
    train_labels: torch.Tensor | None
    test_images: torch.Tensor
    test_labels: torch.Tensor
    num_classes: int
    source: str
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.train_images is None) != (self.train_labels is None):
            raise ValueError("train_images and train_labels go together")
        for images, labels in self._pairs():
            if images.ndim != 4 or images.dtype not in (torch.uint8, torch.float32):
                raise ValueError(f"images must be uint8 or float32 (N, C, H, W): {images.shape}")
            if labels.dtype != torch.int64 or labels.shape != (len(images),):
                raise ValueError(f"labels must be int64 (N,): {labels.dtype} {labels.shape}")
            test = self.test_images
            if images.shape[1:] != test.shape[1:] or images.dtype != test.dtype:
                raise ValueError("train and test images differ in shape or dtype")

    def _pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        pairs = [(self.test_images, self.test_labels)]
        if self.train_images is not None and self.train_labels is not None:
            pairs.append((self.train_images, self.train_labels))
        return pairs

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        channels, height, width = self.test_images.shape[1:]
        return channels, height, width

    @property
    def has_train(self) -> bool:
        """Whether the source has a training split (and so ``"train"`` and ``"val"``)."""
        return self.train_images is not None

    def split(
        self, name: str, val_fraction: float = 0.1, seed: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One split as float32 ``(N, C, H, W)`` in [0, 1] and int64 labels.

        Args:
            name: ``"test"``; ``"val"``, the seeded ``val_fraction`` of the training set; or
                ``"train"``, the rest of it (``train_val_split(len(train), val_fraction, seed)``).
            val_fraction: the share of the training set held out for validation.
            seed: the seed of the train/validation cut.

        Raises:
            DataError: naming the source, when it has no training split and ``name`` needs one.
            ValueError: ``name`` is not one of ``SPLITS``.
        """
        if name not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {name!r}")
        if name == "test":
            return images_to_float(self.test_images), self.test_labels
        if self.train_images is None or self.train_labels is None:
            raise DataError(f"no training split, so no {name!r} split (only 'test')", self.source)
        train, val = train_val_split(len(self.train_images), val_fraction, seed)
        index = train if name == "train" else val
        return images_to_float(self.train_images[index]), self.train_labels[index]


def labels_tensor(labels: np.ndarray) -> torch.Tensor:
    """int64 ``(N,)`` tensor (shares memory with ``labels`` when they are int64 already)."""
    return torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))


def images_tensor(images: np.ndarray) -> torch.Tensor:
    """``(N, C, H, W)`` tensor owning contiguous memory (readers hand out views and transposes)."""
    return torch.from_numpy(np.require(images, requirements=["C_CONTIGUOUS", "WRITEABLE"]))
