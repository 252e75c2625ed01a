"""Typed exceptions of wmbench.

The library raises these and never prints; only the CLI turns them into one line
``error: <file>: <what is wrong>`` and an exit code (see ``wmbench.cli``).
"""

from __future__ import annotations

from pathlib import Path


class WmbenchError(Exception):
    """Base of every error wmbench raises on purpose.

    Args:
        message: what is wrong, in one line.
        path: the file (or other source) the problem is in, if there is one.
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(WmbenchError):
    """A file the user gave (suite, model spec) does not match its schema."""


class ModelError(WmbenchError):
    """An unknown model name or a model that cannot be built as asked."""


class DataError(WmbenchError):
    """A data set file is missing, corrupt or not what it claims to be."""


class CheckpointError(WmbenchError):
    """A checkpoint is missing, not a safetensors file, or does not match its spec."""


class DeviceError(WmbenchError):
    """The device asked for is not available here."""
