"""Small data sets that tests write themselves in the formats the real ones ship in, no download:
MNIST's IDX files, CIFAR's python pickles and binary records, SVHN's MATLAB files, ``.npz``
archives and folders of PNG/JPEG images."""

from __future__ import annotations

import gzip
import io
import pickle
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


def write_mnist_head(folder: Path, n_train: int, n_test: int) -> Path:
    """The first ``n_train`` training and ``n_test`` test images of the real MNIST (the PyPI
    wheel's), as IDX files: for tests that train on real digits but need not spend their time
    on 6,000 validation and 10,000 test images."""
    from wmbench.data import load_mnist

    mnist = load_mnist()
    arrays = {
        "train_images": mnist.train_images[:n_train],
        "train_labels": mnist.train_labels[:n_train],
        "test_images": mnist.test_images[:n_test],
        "test_labels": mnist.test_labels[:n_test],
    }
    return write_mnist_dir(folder, {key: value.numpy() for key, value in arrays.items()})


# --- CIFAR, SVHN, npz and image folders ---------------------------------------------------------


def fake_images(
    n: int, shape: tuple[int, int, int] = (3, 32, 32), classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``(n, C, H, W)`` and int64 labels in ``0..classes-1``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), rng.integers(0, classes, n)


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """``(N, 3, 32, 32)`` -> CIFAR's ``(N, 3072)`` rows: the red plane, then green, then blue,
    each 32 rows of 32 pixels."""
    return np.stack([np.concatenate([image[c].reshape(-1) for c in range(3)]) for image in images])


class Py2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2's ``str`` (SHORT_BINSTRING/BINSTRING), as cPickle wrote the
    real CIFAR files, instead of Python 3's ``_codecs.encode`` calls."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        size = len(obj)
        if size < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([size]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", size) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def cifar_pickle(
    images: np.ndarray, labels: np.ndarray, *, label_key: bytes = b"labels", py2: bool = False
) -> bytes:
    """One CIFAR python-version file: a protocol-2 pickle of the dict the real files hold."""
    batch = {
        b"batch_label": b"training batch 1 of 5",
        label_key: [int(label) for label in labels],
        b"data": cifar_rows(images),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    }
    if label_key == b"fine_labels":
        batch[b"coarse_labels"] = [int(label) // 5 for label in labels]
    if not py2:
        return pickle.dumps(batch, protocol=2)
    stream = io.BytesIO()
    Py2Pickler(stream, protocol=2).dump(batch)
    # Python 2's numpy was numpy.core; numpy 2 names it numpy._core.
    return stream.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def cifar_binary(images: np.ndarray, labels: np.ndarray, *, coarse: bool = False) -> bytes:
    """One CIFAR binary-version file: per image, the label byte (CIFAR-100: coarse, then fine)
    and the 3072 pixel bytes."""
    records = []
    for row, label in zip(cifar_rows(images), labels, strict=True):
        head = bytes([int(label) // 5, int(label)]) if coarse else bytes([int(label)])
        records.append(head + row.tobytes())
    return b"".join(records)


def write_cifar(
    folder: Path,
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    binary: bool = False,
    py2: bool = False,
) -> Path:
    """Writes CIFAR-10 (``name="cifar10"``, the training set in five batches) or CIFAR-100 into
    ``folder`` (the extracted folder itself, such as ``cifar-10-batches-py``)."""
    folder.mkdir(parents=True, exist_ok=True)
    cifar100 = name == "cifar100"
    pieces = 1 if cifar100 else 5
    train_names = ["train"] if cifar100 else [f"data_batch_{i}" for i in range(1, 6)]
    parts = zip(np.array_split(train[0], pieces), np.array_split(train[1], pieces), strict=True)
    files = [*zip(train_names, parts, strict=True), ("test" if cifar100 else "test_batch", test)]
    for file, (images, labels) in files:
        if binary:
            (folder / f"{file}.bin").write_bytes(cifar_binary(images, labels, coarse=cifar100))
        else:
            key = b"fine_labels" if cifar100 else b"labels"
            (folder / file).write_bytes(cifar_pickle(images, labels, label_key=key, py2=py2))
    return folder


def svhn_mat(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """SVHN's ``.mat``: ``X`` ``(32, 32, 3, N)`` with image i at ``X[:, :, :, i]`` (HWC), and
    ``y`` ``(N, 1)`` with the digit 0 stored as 10."""
    import scipy.io

    x = np.zeros((32, 32, 3, len(images)), np.uint8)
    for i, image in enumerate(images):
        for channel in range(3):
            x[:, :, channel, i] = image[channel]
    y = np.where(labels == 0, 10, labels).astype(np.uint8).reshape(-1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"X": x, "y": y})
    return path


def write_png_folder(
    root: Path, images: np.ndarray, labels: np.ndarray, classes: list[str]
) -> list[Path]:
    """One PNG per image in ``root/<class>/<index>.png``; grey for 1 channel, RGB for 3."""
    from PIL import Image

    paths = []
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / classes[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        path = folder / f"{index:04d}.png"
        Image.fromarray(np.ascontiguousarray(pixels)).save(path)
        paths.append(path)
    return paths
