"""IDX files, the format of MNIST as LeCun et al. (1998) distribute it, and folders of them.

An IDX file (http://yann.lecun.com/exdb/mnist/) is a big-endian magic number ``0x000008NN`` for
uint8 data with NN dimensions, then NN big-endian int32 sizes, then the bytes. MNIST is four such
files, plain or ``.gz``, in a folder given as ``data_dir`` or ``$WMBENCH_DATA``: in the folder
itself or in ``MNIST/raw/`` (torchvision's layout). Fashion-MNIST (Xiao et al., 2017) and KMNIST
(Clanuwat et al., 2018) ship the same four names and sizes (torchvision: ``FashionMNIST/raw/``,
``KMNIST/raw/``).
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from wmbench.data.feedback import Progress, one_line, report
from wmbench.data.mnist_arrays import check_mnist_split
from wmbench.errors import DataError

MNIST_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_MAGIC = {0x00000801: 1, 0x00000803: 3}  # uint8 labels (1-d) and uint8 images (3-d)


def read_idx(path: str | Path) -> np.ndarray:
    """Reads a uint8 IDX file (``.gz`` names are gunzipped) and checks its size exactly.

    Raises:
        DataError: naming the file, for a bad gzip stream, a magic number other than 0x00000801 or
            0x00000803, fewer bytes than the header's sizes need, or bytes left over after them.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except OSError as error:
        raise DataError(f"cannot read: {one_line(error)}", path) from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"not a valid gzip file ({one_line(error)})", path) from None
    if len(raw) < 4:
        raise DataError(f"truncated: {len(raw)} bytes, too short for an IDX header", path)
    (magic,) = struct.unpack(">i", raw[:4])
    if magic not in _IDX_MAGIC:
        raise DataError(
            f"bad magic number 0x{magic & 0xFFFFFFFF:08x} "
            "(expected 0x00000801 for labels or 0x00000803 for images)",
            path,
        )
    ndim = _IDX_MAGIC[magic]
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise DataError(f"truncated: {len(raw)} bytes, the header alone needs {start}", path)
    dims = struct.unpack(f">{ndim}i", raw[4:start])
    if min(dims) < 0:
        raise DataError(f"negative size in header {dims}", path)
    end = start + math.prod(dims)
    if len(raw) < end:
        raise DataError(f"truncated: {len(raw)} bytes, but sizes {dims} need {end}", path)
    if len(raw) > end:
        raise DataError(f"{len(raw) - end} trailing bytes after the data of sizes {dims}", path)
    # Copy so the array owns writable memory (torch.from_numpy warns on read-only buffers).
    return np.frombuffer(raw, dtype=np.uint8, count=end - start, offset=start).reshape(dims).copy()


IDX_FILES = f"{', '.join(MNIST_IDX_FILES.values())} (plain or .gz)"


def _find_idx(folder: Path, name: str, raw_dir: str) -> Path:
    for where in (folder, folder / raw_dir / "raw"):
        for candidate in (where / name, where / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DataError(
        f"missing {name} (or {name}.gz), looked here and in {raw_dir}/raw/; expected {IDX_FILES}",
        folder,
    )


def read_mnist_idx_folder(
    folder: Path, progress: Progress | None = None, *, raw_dir: str = "MNIST"
) -> dict[str, np.ndarray]:
    """Reads and checks the four MNIST IDX files of ``folder`` (or of its ``<raw_dir>/raw/``).

    Args:
        folder: the folder of the files, plain or ``.gz``.
        progress: called as ``progress("read", done, 4)`` before each file and after the last.
        raw_dir: torchvision's folder for the data set (``"FashionMNIST"``, ``"KMNIST"``), whose
            ``raw/`` is searched after ``folder`` itself.

    Returns:
        The arrays named by ``MNIST_IDX_FILES``' keys: uint8 images and uint8 labels.

    Raises:
        DataError: naming the folder when it or a file is missing, else the file that is corrupt
            or inconsistent with its partner.
    """
    if folder.is_file():
        raise DataError(f"is a file, not a folder; expected MNIST IDX files {IDX_FILES}", folder)
    if not folder.is_dir():
        raise DataError(f"no such folder; expected MNIST IDX files {IDX_FILES}", folder)
    paths = {key: _find_idx(folder, name, raw_dir) for key, name in MNIST_IDX_FILES.items()}
    arrays = {}
    for done, (key, path) in enumerate(paths.items()):
        report(progress, "read", done, len(paths))
        arrays[key] = read_idx(path)
    report(progress, "read", len(paths), len(paths))
    for split in ("train", "test"):
        images, labels = f"{split}_images", f"{split}_labels"
        check_mnist_split(split, arrays[images], arrays[labels], paths[images], paths[labels])
    return arrays
