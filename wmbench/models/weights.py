"""A user's weights file read as a state dict, without running anything from it, and loaded
into their model with every mismatch named.

Accepted: a ``.safetensors`` file (read by ``safetensors.torch.load_file``), or a ``.pt`` /
``.pth`` file read by ``torch.load(weights_only=True)`` — PyTorch's restricted unpickler, which
rebuilds tensors and plain containers and refuses any other object — holding a state dict, or a
training checkpoint with the state dict under ``"state_dict"`` or ``"model"``. Keys that all
start with ``"module."`` (a model saved inside ``DataParallel``) lose that prefix. A pickled
whole model is refused: save ``model.state_dict()`` instead.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from wmbench._yaml import one_line
from wmbench.errors import ModelError

NESTED_KEYS = ("state_dict", "model")
WRAPPER_PREFIX = "module."
SHOWN = 3  # names listed in a message before "and N more"


def read_state_dict(path: Path, where: str, source: str | Path | None) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, on the CPU; ``where`` starts every error message.

    Raises:
        ModelError: the file is missing, unreadable, a pickled object or not a state dict.
    """
    if not path.is_file():
        raise ModelError(f"{where}: file not found: {path}", source)
    if path.suffix.lower() == ".safetensors":
        try:
            return load_file(path, device="cpu")
        except (SafetensorError, OSError) as error:
            raise ModelError(
                f"{where}: not a readable safetensors file: {one_line(str(error))}", source
            ) from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ModelError(f"{where}: {_refusal(str(error))}", source) from None
    except (RuntimeError, EOFError, ValueError, OSError) as error:
        raise ModelError(
            f"{where}: not a file torch.load can read: {one_line(str(error))}", source
        ) from None
    return _as_state_dict(data, where, source)


def _refusal(message: str) -> str:
    """torch's many-line refusal said in one line: what it would not unpickle."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", message)
    if found:
        return (
            f"holds a pickled {found.group(1)}, not a state dict of tensors; torch.load with "
            "weights_only=True refuses it (save model.state_dict() instead)"
        )
    cause = message.partition("WeightsUnpickler error:")[2].partition("Check the documentation")[0]
    return f"torch.load with weights_only=True cannot read it: {one_line(cause) or 'not a pickle'}"


def _as_state_dict(data: object, where: str, source: str | Path | None) -> dict[str, torch.Tensor]:
    if isinstance(data, dict):
        nested = next((data[key] for key in NESTED_KEYS if isinstance(data.get(key), dict)), None)
        data = data if nested is None else nested
    if not isinstance(data, dict):
        raise ModelError(
            f"{where}: holds a {type(data).__name__}, not a state dict (a mapping of names to "
            "tensors); save model.state_dict() instead",
            source,
        )
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ModelError(
                f"{where}: entry {key!r} is a {type(value).__name__}, not a tensor; expected a "
                f"state dict, or one under {' or '.join(map(repr, NESTED_KEYS))}",
                source,
            )
    if data and all(key.startswith(WRAPPER_PREFIX) for key in data):
        return {key.removeprefix(WRAPPER_PREFIX): value for key, value in data.items()}
    return dict(data)


def load_state(
    net: nn.Module, state: dict[str, torch.Tensor], where: str, source: str | Path | None
) -> None:
    """Copies ``state`` into ``net`` once every name and shape matches.

    Raises:
        ModelError: missing or unexpected names (a few listed, with counts), or the first shape
            that differs.
    """
    expected = net.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing or unexpected:
        parts = [
            f"{label} {_names(keys)}"
            for label, keys in (("missing", missing), ("unexpected", unexpected))
            if keys
        ]
        raise ModelError(
            f"{where}: does not match the model's state dict: {'; '.join(parts)}", source
        )
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ModelError(
                f"{where}: {key} has shape {tuple(state[key].shape)} in the weights, "
                f"{tuple(tensor.shape)} in the model",
                source,
            )
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as error:  # e.g. a dtype torch cannot copy into the parameter
        raise ModelError(f"{where}: cannot be loaded: {one_line(str(error))}", source) from None


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN])
    more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
    return f"{len(keys)} key{'s' if len(keys) != 1 else ''} ({shown}{more})"
