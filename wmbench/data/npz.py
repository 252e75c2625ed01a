"""A user's own images as numpy arrays in one ``.npz`` file, read without pickles.

Arrays, by name:

- ``images`` and ``labels``: one split, used as the test split (no training split); or
  ``train_images``, ``train_labels``, ``test_images``, ``test_labels`` (``train_*`` optional);
- optionally ``num_classes``, an integer scalar; without it the classes are ``max(label) + 1``
  over every split.

Images are either uint8, ``(N, H, W, C)`` as images are usually stored (or ``(N, H, W)`` for
grey), or float, ``(N, C, H, W)`` as torch keeps them (or ``(N, H, W)``) with every value in
[0, 1]; C is 1 or 3. Labels are integers ``(N,)``, ``>= 0``. ``np.load(allow_pickle=False)``
refuses object arrays (pickles) before anything in them runs.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from wmbench.data.dataset import ImageDataset, images_tensor, labels_tensor
from wmbench.data.feedback import one_line
from wmbench.data.labels import check_labels, check_not_empty
from wmbench.errors import DataError

NPZ_LAYOUTS = (("images", "labels"), ("train_images", "train_labels", "test_images", "test_labels"))
NPZ_EXPECTED = (
    "arrays images and labels, or train_images, train_labels, test_images and "
    "test_labels (train_* optional), and optionally num_classes"
)


def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        with path.open("rb") as file:  # our own handle: np.load leaks it on a corrupt zip
            if file.read(2) != b"PK":  # every zip, and so every .npz, starts so
                raise DataError("not an .npz file (a zip archive of arrays)", path)
            file.seek(0)
            archive = np.load(file, allow_pickle=False)
            arrays = {}
            for key in archive.files:
                try:
                    arrays[key] = archive[key]
                except ValueError as error:
                    if "allow_pickle" not in str(error):
                        raise
                    raise DataError(
                        f"array {key!r} holds Python objects (a pickle), refused: "
                        "save numeric arrays",
                        path,
                    ) from None
            return arrays
    except FileNotFoundError:
        raise DataError("no such file; expected " + NPZ_EXPECTED, path) from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        raise DataError(f"not a valid .npz file ({one_line(error)})", path) from None


def _images(images: np.ndarray, key: str, path: Path) -> np.ndarray:
    """uint8 NHWC / float NCHW (or 3-d grey) -> ``(N, C, H, W)``, uint8 or float32."""
    grey = images.ndim == 3
    if images.dtype == np.uint8 and images.ndim in (3, 4):
        images = images[:, None] if grey else images.transpose(0, 3, 1, 2)
        layout = "(N, H, W, C)"
    elif images.dtype.kind == "f" and images.ndim in (3, 4):
        images = images[:, None] if grey else images
        layout = "(N, C, H, W)"
        low, high = (float(images.min()), float(images.max())) if images.size else (0.0, 0.0)
        if not np.isfinite(images).all() or low < 0 or high > 1:
            raise DataError(
                f"{key}: float values from {low:g} to {high:g}, expected all in [0, 1]", path
            )
        images = images.astype(np.float32, copy=False)
    else:
        raise DataError(
            f"{key}: {images.dtype} {images.shape}, expected uint8 (N, H, W, C) or (N, H, W), "
            "or float (N, C, H, W) or (N, H, W) in [0, 1]",
            path,
        )
    if images.shape[1] not in (1, 3) or min(images.shape[2:]) < 1:
        raise DataError(
            f"{key}: {images.dtype} {images.shape} read as {layout} has {images.shape[1]} "
            "channels, expected 1 or 3",
            path,
        )
    return images


def _num_classes(arrays: dict[str, np.ndarray], labels: list[np.ndarray], path: Path) -> int:
    if "num_classes" not in arrays:
        return max(int(split.max()) for split in labels) + 1
    value = arrays["num_classes"]
    if value.shape != () or value.dtype.kind not in "iu" or int(value) < 1:
        raise DataError(f"num_classes: {value.dtype} {value.shape}, expected an integer >= 1", path)
    return int(value)


def read_npz(path: Path) -> ImageDataset:
    """Reads a data set from one ``.npz`` file (see the module's docstring for its arrays).

    Raises:
        DataError: naming the file, for a missing or unexpected array, object arrays, images or
            labels of the wrong dtype or shape, float images outside [0, 1], or labels out of
            range.
    """
    arrays = _load(path)
    split_keys = "test_images" in arrays or "train_images" in arrays
    keys = {"train": ("train_images", "train_labels"), "test": ("test_images", "test_labels")}
    if not split_keys:
        keys = {"test": ("images", "labels")}
    allowed = {key for pair in keys.values() for key in pair} | {"num_classes"}
    for key in sorted(arrays):
        if key not in allowed:
            raise DataError(f"unexpected array {key!r}; expected {NPZ_EXPECTED}", path)
    if split_keys and "train_images" in arrays and "test_images" not in arrays:
        raise DataError(f"train_images but no test_images; expected {NPZ_EXPECTED}", path)
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, (image_key, label_key) in keys.items():
        present = [key in arrays for key in (image_key, label_key)]
        if split == "train" and not any(present):
            continue
        if not all(present):
            missing = label_key if present[0] else image_key
            raise DataError(f"missing array {missing!r}; expected {NPZ_EXPECTED}", path)
        images = _images(arrays[image_key], image_key, path)
        check_not_empty(split, len(images), path)
        labels = check_labels(arrays[label_key], len(images), None, path, split)
        splits[split] = images, labels
    num_classes = _num_classes(arrays, [labels for _, labels in splits.values()], path)
    for split, (_, labels) in splits.items():
        check_labels(labels, len(labels), num_classes, path, split)
    test_images, test_labels = splits["test"]
    train = splits.get("train")
    if train is not None and (train[0].shape[1:], train[0].dtype) != (
        test_images.shape[1:],
        test_images.dtype,
    ):
        raise DataError(
            f"train images are {train[0].dtype} {train[0].shape[1:]} but test images "
            f"{test_images.dtype} {test_images.shape[1:]} (as (C, H, W)): they must match",
            path,
        )
    return ImageDataset(
        name="npz",
        train_images=None if train is None else images_tensor(train[0]),
        train_labels=None if train is None else labels_tensor(train[1]),
        test_images=images_tensor(test_images),
        test_labels=labels_tensor(test_labels),
        num_classes=num_classes,
        source=f"npz:{path}",
    )
