"""Where data lives: a local folder named by ``$WMBENCH_DATA``, and the download cache."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "WMBENCH_DATA"
CACHE_ENV = "WMBENCH_CACHE"


def default_cache_dir() -> Path:
    """``$WMBENCH_CACHE``, else ``~/.cache/wmbench``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wmbench"


def default_data_dir() -> Path | None:
    """``$WMBENCH_DATA`` (a folder of IDX files), or None when it is not set."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else None
