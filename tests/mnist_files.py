"""Small MNIST-format data sets that tests write themselves (IDX files, no download)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def write_idx(
    path: Path, array: np.ndarray, *, magic: int | None = None, tail: bytes = b""
) -> Path:
    """Writes ``array`` as uint8 IDX (gzipped when the name ends in .gz); ``tail`` is appended."""
    magic = 0x800 + array.ndim if magic is None else magic
    header = struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape)
    raw = header + array.astype(np.uint8).tobytes() + tail
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def fake_mnist(n_train: int = 12, n_test: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train).astype(np.int64),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test).astype(np.int64),
    }


def write_mnist_dir(folder: Path, arrays: dict[str, np.ndarray], *, gz: bool = False) -> Path:
    for key, name in NAMES.items():
        write_idx(folder / (f"{name}.gz" if gz else name), arrays[key])
    return folder


def learnable_mnist(n_train: int = 600, n_test: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """A 10-class task a small model learns in one epoch: class c is a bright 7×7 square at the
    c-th of ten positions, over uniform noise."""
    rng = np.random.default_rng(seed)

    def make(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, count).astype(np.int64)
        images = rng.integers(0, 80, (count, 28, 28), dtype=np.uint8)
        for index, label in enumerate(labels):
            row, col = 3 + 11 * (label // 5), 1 + 5 * (label % 5)
            images[index, row : row + 7, col : col + 7] = 255
        return images, labels

    train_images, train_labels = make(n_train)
    test_images, test_labels = make(n_test)
    return {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
    }
