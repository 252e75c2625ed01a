"""Checks every reader applies to the labels it decodes: integers, one per image, in range.

A reader checks its images' size and shape itself (each format has its own); the labels are the
same everywhere, so their checks and their messages (``label 12 out of range 0..9 at index 7``,
naming the file) live here once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wmbench.errors import DataError


def check_labels(
    labels: np.ndarray,
    num_images: int,
    num_classes: int | None,
    path: str | Path,
    split: str,
) -> np.ndarray:
    """Checks ``labels`` and returns them as int64 ``(N,)``.

    Args:
        labels: the decoded labels; must be integers ``(N,)``.
        num_images: how many images they label (their N).
        num_classes: labels must lie in ``0..num_classes-1``; None checks only ``>= 0``.
        path: the file the labels came from, named in errors.
        split: ``"train"`` or ``"test"``, for messages.

    Raises:
        DataError: naming ``path``, for non-integers, a count other than ``num_images``, or a
            label out of range.
    """
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise DataError(
            f"{split} labels: {labels.dtype} {labels.shape}, expected integers (N,)", path
        )
    if len(labels) != num_images:
        raise DataError(f"{len(labels)} {split} labels for {num_images} images", path)
    high = None if num_classes is None else num_classes - 1
    bad = labels < 0 if high is None else (labels < 0) | (labels > high)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        label = int(labels[index])
        if high is None:
            raise DataError(f"label {label} is negative at index {index}", path)
        raise DataError(f"label {label} out of range 0..{high} at index {index}", path)
    return labels.astype(np.int64)


def check_not_empty(split: str, num_images: int, path: str | Path) -> None:
    """Raises DataError naming ``path`` when a split has no images."""
    if num_images == 0:
        raise DataError(f"no images: the {split} set is empty", path)
