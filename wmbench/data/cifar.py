"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) from the files https://www.cs.toronto.edu/~kriz/cifar.html
ships, in either of its two versions:

- the python version (``cifar-10-batches-py/`` with ``data_batch_1``..``data_batch_5`` and
  ``test_batch``; ``cifar-100-python/`` with ``train`` and ``test``): each a protocol-2 pickle of
  a dict with ``data``, uint8 ``(N, 3072)``, and ``labels`` (CIFAR-10) or ``fine_labels``
  (CIFAR-100), read through ``RestrictedUnpickler`` admitting numpy arrays and bytes only;
- the binary version (``cifar-10-batches-bin/`` with ``data_batch_1.bin``..``data_batch_5.bin``
  and ``test_batch.bin``; ``cifar-100-binary/`` with ``train.bin`` and ``test.bin``): records
  of 1 label byte (CIFAR-100: coarse then fine, of which the fine is used) and 3072 pixel bytes.

Either way a row of 3072 bytes is the 1024 red, then 1024 green, then 1024 blue values of a
32x32 image in row-major order, that is ``(3, 32, 32)``. ``path`` is the extracted folder or the
folder holding it (torchvision's ``root``).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wmbench.data.dataset import ImageDataset, images_tensor, labels_tensor
from wmbench.data.feedback import Progress, one_line, report
from wmbench.data.labels import check_labels, check_not_empty
from wmbench.data.unpickle import NUMPY_ARRAY_GLOBALS, PICKLED_BYTES_GLOBALS, RestrictedUnpickler
from wmbench.errors import DataError

PIXELS = 3 * 32 * 32
CIFAR_PICKLE_GLOBALS = {**NUMPY_ARRAY_GLOBALS, **PICKLED_BYTES_GLOBALS}
CIFAR_PICKLE_ALLOWS = "numpy arrays and bytes"


@dataclass(frozen=True)
class CifarLayout:
    """One version of one CIFAR data set: its folder, its files, and how they hold labels."""

    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    binary: bool
    label_key: str  # the python version's dict key
    label_bytes: int  # the binary version's label bytes per record; the last is the label

    def describe(self) -> str:
        version = "binary" if self.binary else "python"
        files = self.train if len(self.train) < 3 else (f"{self.train[0]}..{self.train[-1]}",)
        return f"{self.folder}/ ({version} version: {', '.join(files + self.test)})"


_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_LAYOUTS = {
    "cifar10": (
        CifarLayout("cifar-10-batches-py", _BATCHES, ("test_batch",), False, "labels", 1),
        CifarLayout(
            "cifar-10-batches-bin",
            tuple(f"{name}.bin" for name in _BATCHES),
            ("test_batch.bin",),
            True,
            "labels",
            1,
        ),
    ),
    "cifar100": (
        CifarLayout("cifar-100-python", ("train",), ("test",), False, "fine_labels", 1),
        CifarLayout("cifar-100-binary", ("train.bin",), ("test.bin",), True, "fine_labels", 2),
    ),
}
CIFAR_CLASSES = {"cifar10": 10, "cifar100": 100}


def expected_cifar_files(name: str) -> str:
    """The folders and files of data set ``name``, in words, for error messages."""
    return " or ".join(layout.describe() for layout in CIFAR_LAYOUTS[name])


def _locate(name: str, path: Path) -> tuple[CifarLayout, Path]:
    if path.is_file():
        hint = "; extract it first" if path.name.endswith((".tar.gz", ".tgz")) else ""
        raise DataError(
            f"is a file, not a folder{hint}; expected {expected_cifar_files(name)}", path
        )
    if not path.is_dir():
        raise DataError(f"no such folder; expected {expected_cifar_files(name)}", path)
    partial: tuple[Path, str] | None = None
    for layout in CIFAR_LAYOUTS[name]:
        for folder in (path, path / layout.folder):
            present = [(folder / file).is_file() for file in layout.train + layout.test]
            if all(present):
                return layout, folder
            if any(present) and partial is None:
                missing = (layout.train + layout.test)[present.index(False)]
                partial = folder, f"missing {missing}; expected {layout.describe()}"
    if partial is not None:
        raise DataError(partial[1], partial[0])
    raise DataError(
        f"no {name} files here or in its sub-folder; expected {expected_cifar_files(name)}", path
    )


def _unpickle(path: Path) -> Any:
    try:
        with path.open("rb") as file:
            return RestrictedUnpickler(
                file,
                source=path,
                allowed=CIFAR_PICKLE_GLOBALS,
                description=CIFAR_PICKLE_ALLOWS,
                encoding="bytes",  # Python 2's str, as the files were written, becomes bytes
            ).load()
    except (OSError, EOFError, pickle.UnpicklingError) as error:
        raise DataError(f"not a CIFAR pickle: {one_line(error)}", path) from None
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        # Malformed reconstruction arguments surface as these from numpy's constructors.
        raise DataError(f"not a valid pickle of numpy arrays: {one_line(error)}", path) from None


def read_cifar_pickle(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """One file of the python version: uint8 images ``(N, 3, 32, 32)`` and unchecked labels."""
    batch = _unpickle(path)
    if not isinstance(batch, dict):
        raise DataError(f"a pickle of {type(batch).__name__}, expected a dict", path)
    batch = {key.decode("latin1") if isinstance(key, bytes) else key: v for key, v in batch.items()}
    for key in ("data", label_key):
        if key not in batch:
            raise DataError(
                f"the pickled dict has no {key!r} (has {sorted(map(str, batch))})", path
            )
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise DataError(f"'data' is not a uint8 (N, {PIXELS}) array", path)
    if data.shape[1] != PIXELS:
        raise DataError(f"'data' has shape {data.shape}, expected (N, {PIXELS})", path)
    labels = batch[label_key]
    if not isinstance(labels, (list, np.ndarray)):
        raise DataError(f"{label_key!r} is a {type(labels).__name__}, expected a list", path)
    return data.reshape(-1, 3, 32, 32), np.asarray(labels)


def read_cifar_binary(path: Path, label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """One file of the binary version: uint8 images ``(N, 3, 32, 32)`` and labels (the last label
    byte of each record: CIFAR-100's fine label)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read: {one_line(error)}", path) from None
    record = label_bytes + PIXELS
    if len(raw) % record:
        raise DataError(
            f"{len(raw)} bytes is not a whole number of {record}-byte records "
            f"({label_bytes} label byte{'s' * (label_bytes > 1)} + {PIXELS} pixels)",
            path,
        )
    records = np.frombuffer(raw, np.uint8).reshape(-1, record)
    return records[:, label_bytes:].reshape(-1, 3, 32, 32), records[:, label_bytes - 1]


def _read_split(
    layout: CifarLayout, folder: Path, split: str, num_classes: int, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray]:
    files = layout.train if split == "train" else layout.test
    total = len(layout.train) + len(layout.test)
    done = 0 if split == "train" else len(layout.train)
    images, labels = [], []
    for index, name in enumerate(files):
        report(progress, "read", done + index, total)
        path = folder / name
        if layout.binary:
            part, part_labels = read_cifar_binary(path, layout.label_bytes)
        else:
            part, part_labels = read_cifar_pickle(path, layout.label_key)
        check_not_empty(split, len(part), path)
        labels.append(check_labels(part_labels, len(part), num_classes, path, split))
        images.append(part)
    return np.concatenate(images), np.concatenate(labels)


def read_cifar(name: str, path: Path, progress: Progress | None = None) -> ImageDataset:
    """Reads CIFAR-10 (``name="cifar10"``) or CIFAR-100 (``"cifar100"``) from ``path``.

    Args:
        name: ``"cifar10"`` or ``"cifar100"``.
        path: the extracted folder (``cifar-10-batches-py`` and the like) or its parent.
        progress: called as ``progress("read", done, files)`` before each file and after the last.

    Raises:
        DataError: naming the folder when files are missing (listing the expected names), else
            the file that is truncated, malformed, or has a label out of range.
    """
    layout, folder = _locate(name, path)
    num_classes = CIFAR_CLASSES[name]
    train_images, train_labels = _read_split(layout, folder, "train", num_classes, progress)
    test_images, test_labels = _read_split(layout, folder, "test", num_classes, progress)
    total = len(layout.train) + len(layout.test)
    report(progress, "read", total, total)
    return ImageDataset(
        name=name,
        train_images=images_tensor(train_images),
        train_labels=labels_tensor(train_labels),
        test_images=images_tensor(test_images),
        test_labels=labels_tensor(test_labels),
        num_classes=num_classes,
        source=f"{name}-{'binary' if layout.binary else 'python'}:{folder}",
    )
