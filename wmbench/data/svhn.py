"""SVHN (Netzer et al., 2011), the cropped digits of http://ufldl.stanford.edu/housenumbers/.

Two MATLAB v5 files, ``train_32x32.mat`` and ``test_32x32.mat`` (``extra_32x32.mat`` is not
read), each with ``X``, uint8 ``(32, 32, 3, N)`` (image ``i`` is ``X[:, :, :, i]``, height x width
x RGB), and ``y``, ``(N, 1)`` labels 1..10 where 10 stands for the digit 0 and becomes label 0
(as torchvision does). Read with ``scipy.io.loadmat``, imported on first use.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from wmbench.data.dataset import ImageDataset, images_tensor, labels_tensor
from wmbench.data.feedback import Progress, one_line, report
from wmbench.data.labels import check_labels, check_not_empty
from wmbench.errors import DataError

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
SVHN_EXPECTED = f"{', '.join(SVHN_FILES.values())} (SVHN's cropped digits, format 2)"


def _loadmat(path: Path) -> dict[str, np.ndarray]:
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        return scipy.io.loadmat(path, variable_names=["X", "y"])
    except NotImplementedError:  # v7.3 files are HDF5
        raise DataError("a MATLAB v7.3 (HDF5) file, expected MATLAB v5", path) from None
    except (MatReadError, OSError, EOFError, ValueError, IndexError, TypeError, KeyError) as error:
        raise DataError(f"not a valid MATLAB v5 file ({one_line(error)})", path) from None
    except (zlib.error, struct.error) as error:
        raise DataError(f"corrupt MATLAB v5 file ({one_line(error)})", path) from None


def read_svhn_mat(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One ``.mat`` file: uint8 images ``(N, 3, 32, 32)`` and int64 labels in 0..9."""
    arrays = _loadmat(path)
    for key in ("X", "y"):
        if key not in arrays:
            raise DataError(f"no variable {key!r} in the file (expected X and y)", path)
    images, labels = arrays["X"], arrays["y"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[:3] != (32, 32, 3):
        raise DataError(f"X: {images.dtype} {images.shape}, expected uint8 (32, 32, 3, N)", path)
    count = images.shape[3]
    check_not_empty(split, count, path)
    if labels.ndim != 2 or 1 not in labels.shape:
        raise DataError(f"y: shape {labels.shape}, expected (N, 1)", path)
    labels = labels.reshape(-1)
    if labels.dtype.kind == "f":  # MATLAB's default double; keep it only when it holds integers
        if not np.all(np.isfinite(labels) & (labels == np.round(labels))):
            raise DataError("y holds labels that are not whole numbers", path)
        labels = labels.astype(np.int64)
    if labels.dtype.kind in "iu" and len(labels) == count:
        bad = np.flatnonzero((labels < 1) | (labels > 10))
        if bad.size:  # SVHN's labels are 1..10; report them as the file has them
            index = int(bad[0])
            raise DataError(f"label {int(labels[index])} out of range 1..10 at index {index}", path)
    labels = check_labels(labels, count, None, path, split)
    # (H, W, C, N) -> (N, C, H, W); label 10 is the digit 0.
    return images.transpose(3, 2, 0, 1), np.where(labels == 10, 0, labels)


def read_svhn(path: Path, progress: Progress | None = None) -> ImageDataset:
    """Reads SVHN's ``train_32x32.mat`` and ``test_32x32.mat`` from the folder ``path``.

    Raises:
        DataError: naming the folder when a file is missing (listing the expected names), else
            the file that is not MATLAB v5 or whose ``X``/``y`` are not SVHN's.
    """
    if not path.is_dir():
        what = "is a file, not a folder" if path.is_file() else "no such folder"
        raise DataError(f"{what}; expected {SVHN_EXPECTED}", path)
    paths = {split: path / name for split, name in SVHN_FILES.items()}
    for split_path in paths.values():
        if not split_path.is_file():
            raise DataError(f"missing {split_path.name}; expected {SVHN_EXPECTED}", path)
    splits = {}
    for done, (split, split_path) in enumerate(paths.items()):
        report(progress, "read", done, len(paths))
        splits[split] = read_svhn_mat(split_path, split)
    report(progress, "read", len(paths), len(paths))
    return ImageDataset(
        name="svhn",
        train_images=images_tensor(splits["train"][0]),
        train_labels=labels_tensor(splits["train"][1]),
        test_images=images_tensor(splits["test"][0]),
        test_labels=labels_tensor(splits["test"][1]),
        num_classes=10,
        source=f"svhn-mat:{path}",
    )
