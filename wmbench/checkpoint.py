"""Self-describing checkpoints: safetensors weights with the model spec in the header metadata.

A checkpoint is a plain safetensors file (https://github.com/huggingface/safetensors): the tensors
of the model's ``state_dict`` and, in the string metadata of its header, JSON documents under keys
``wmbench.*`` — format version, model spec, training configuration, data set, seed, measured errors
and library versions. ``wmbench attack`` rebuilds the model from the file alone. Loading never
unpickles anything; a pickle is refused before it is read.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from wmbench._io import atomic_path
from wmbench.errors import CheckpointError, ConfigError, ModelError
from wmbench.models import ModelSpec, build_model, parse_spec

FORMAT_VERSION = 1
_PREFIX = "wmbench."
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


@dataclass
class CheckpointInfo:
    """What a checkpoint file says about itself.

    Attributes:
        path: the file.
        sha256: hex digest of the whole file.
        spec: the model spec the weights belong to.
        meta: the other ``wmbench.*`` documents (``train``, ``metrics``, ``dataset``,
            ``versions``, ...), decoded from JSON.
    """

    path: Path
    sha256: str
    spec: ModelSpec
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "format": FORMAT_VERSION,
            "spec": self.spec.model_dump(),
            **self.meta,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_checkpoint(path: str | Path, model: nn.Module, **documents: Any) -> Path:
    """Writes ``model``'s weights and spec, plus ``documents`` as JSON metadata, atomically.

    Args:
        path: destination; its folder is created. An existing file is replaced only once the new
            one is complete.
        model: a model built by :func:`wmbench.models.create_model` (it carries ``spec``).
        **documents: JSON-serialisable documents stored as ``wmbench.<key>``.
    """
    spec: ModelSpec | None = getattr(model, "spec", None)
    if spec is None:
        raise ModelError("model has no spec; build it with wmbench.create_model")
    metadata = {
        f"{_PREFIX}format": str(FORMAT_VERSION),
        f"{_PREFIX}spec": json.dumps(spec.model_dump()),
    }
    for key, value in documents.items():
        metadata[f"{_PREFIX}{key}"] = json.dumps(value)
    tensors = {
        name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def _read_header(path: Path) -> dict[str, Any]:
    """Reads the safetensors JSON header without touching the tensor data."""
    try:
        with path.open("rb") as handle:
            head = handle.read(9)
            if len(head) < 9:
                raise CheckpointError("not a safetensors file (too short)", path)
            (size,) = struct.unpack("<Q", head[:8])
            if head[8:9] != b"{" or size > min(_MAX_HEADER, path.stat().st_size - 8):
                if head[:1] == b"\x80" or head[:2] == b"PK":
                    raise CheckpointError(
                        "is a pickle / torch.save file, not safetensors; wmbench never "
                        "unpickles checkpoints (re-save the weights with safetensors)",
                        path,
                    )
                raise CheckpointError("not a safetensors file (bad header)", path)
            handle.seek(8)
            header = json.loads(handle.read(size))
    except FileNotFoundError:
        raise CheckpointError("no such file", path) from None
    except IsADirectoryError:
        raise CheckpointError("is a folder, not a checkpoint file", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError("not a safetensors file (header is not JSON)", path) from None
    if not isinstance(header, dict):
        raise CheckpointError("not a safetensors file (header is not a JSON object)", path)
    return header


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Reads and validates a checkpoint's metadata (not its weights)."""
    path = Path(path)
    header = _read_header(path)
    metadata = header.get("__metadata__") or {}
    if f"{_PREFIX}spec" not in metadata:
        raise CheckpointError(
            "safetensors file without wmbench metadata (not written by `wmbench train`)", path
        )
    version = metadata.get(f"{_PREFIX}format")
    if version != str(FORMAT_VERSION):
        raise CheckpointError(f"unsupported checkpoint format {version!r}", path)
    documents: dict[str, Any] = {}
    for key, text in metadata.items():
        if not key.startswith(_PREFIX) or key == f"{_PREFIX}format":
            continue
        try:
            documents[key[len(_PREFIX) :]] = json.loads(text)
        except json.JSONDecodeError:
            raise CheckpointError(f"metadata {key}: not valid JSON", path) from None
    try:
        spec = parse_spec(documents.pop("spec"), path)
    except ConfigError as error:
        raise CheckpointError(f"embedded model spec: {error.message}", path) from None
    return CheckpointInfo(path=path, sha256=file_sha256(path), spec=spec, meta=documents)


def load_checkpoint(
    path: str | Path, device: str | torch.device | None = None
) -> tuple[nn.Module, CheckpointInfo]:
    """Rebuilds the model a checkpoint describes, loads its weights, returns it in eval mode."""
    info = read_checkpoint_info(path)
    try:
        model = build_model(info.spec)
    except ModelError as error:
        raise CheckpointError(f"embedded model spec: {error.message}", info.path) from None
    try:
        tensors = load_file(str(info.path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"corrupt safetensors data: {error}", info.path) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CheckpointError(
            f"weights do not match the spec of {info.spec.name!r}: {detail}", info.path
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"weights do not match the spec of {info.spec.name!r}: {name} has shape "
                f"{tuple(tensor.shape)}, the spec needs {tuple(expected[name].shape)}",
                info.path,
            )
    model.load_state_dict(tensors)
    if device is not None:
        model.to(device)
    return model.eval(), info


def load_model(path: str | Path, device: str | torch.device | None = None) -> nn.Module:
    """The model of a checkpoint, in eval mode with its weights loaded, for users' own scripts."""
    return load_checkpoint(path, device)[0]
