"""The files wmbench ships beside its code: the zoo's specs, its trained checkpoints and the example
suites that run on them.

In a checkout (and in an editable install) they are the repository's top-level ``models/`` and
``suites/``. In an installed wheel they are the package data ``wmbench/_shipped/models`` and
``wmbench/_shipped/suites``: pyproject.toml maps the two folders there at build time, side by side,
so that a suite's ``../models/checkpoints/...`` paths resolve the same way in both. The installed
copies are found through :mod:`importlib.resources` and, where the package is not a folder on the
file system (a zip), materialised once with :func:`importlib.resources.as_file` for the life of
the process (Python 3.12 and later materialise folders).
"""

from __future__ import annotations

import atexit
import functools
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import Literal

PACKAGE_DATA = "_shipped"  # wmbench/_shipped/{models,suites} in a built package
SUITE_SUFFIXES = (".yaml", ".yml")

_materialised = ExitStack()
atexit.register(_materialised.close)


def checkout_root() -> Path | None:
    """The repository wmbench runs from, or None when it runs from an installed package."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "models").is_dir():
        return root
    return None


@functools.cache
def packaged_root() -> Path:
    """The folder holding the installed ``models/`` and ``suites/`` (it may not exist in a
    checkout, whose files are the top-level folders)."""
    traversable = resources.files("wmbench") / PACKAGE_DATA
    return _materialised.enter_context(resources.as_file(traversable))


def shipped_dir(kind: Literal["models", "suites"]) -> Path:
    """``models/`` or ``suites/``: the checkout's when running from one, else the package's."""
    root = checkout_root()
    return (root if root is not None else packaged_root()) / kind


def packaged_suites() -> dict[str, Path]:
    """The example suites by name (the file name without ``.yaml``), sorted."""
    folder = shipped_dir("suites")
    if not folder.is_dir():
        return {}
    files = [file for file in folder.iterdir() if file.suffix in SUITE_SUFFIXES]
    return {file.stem: file for file in sorted(files)}


def find_packaged_suite(name: str | Path) -> Path | None:
    """The example suite a bare name means (``paper-mnist`` or ``paper-mnist.yaml``), or None.

    A name with a folder in it (``suites/x.yaml``, ``./x``) is a path, never an example's name.
    """
    name = str(name)
    if not name or Path(name).name != name or name in (".", ".."):
        return None
    suffix = Path(name).suffix
    stem = name[: -len(suffix)] if suffix in SUITE_SUFFIXES else name
    return packaged_suites().get(stem)
