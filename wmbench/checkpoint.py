"""Self-describing checkpoints: safetensors weights with the model spec in the header metadata.

A checkpoint is a plain safetensors file (https://github.com/huggingface/safetensors): the tensors
of the model's ``state_dict`` and, in the string metadata of its header, JSON documents under keys
``wmbench.*`` — format version, model spec, training configuration, data set, seed, measured errors
and library versions. ``wmbench attack`` rebuilds the model from the file alone. Loading never
unpickles anything; a pickle is refused before it is read.

The header is read by the library (``safe_open``: metadata, tensor names and shapes; it also
checks dtypes, offsets and that the tensors fill the file exactly). Two things stay by hand: a
look at the first 9 bytes, which refuses a pickle, an empty file or a folder before the library
opens anything, and, only when the library refuses a header, a reading of its JSON to say what is
wrong (truncated by how much, which entry) as wmbench always has.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from wmbench._io import atomic_path
from wmbench.errors import CheckpointError, ConfigError, ModelError
from wmbench.models import BenchmarkModel, ModelSpec, build_model, parse_spec, state_shapes

FORMAT_VERSION = 1
_PREFIX = "wmbench."
_MAX_HEADER = 100 * 1024 * 1024  # about safetensors' own limit on the JSON header (10^8 bytes)


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
        model: a model built by :func:`wmbench.models.create_model` (its ``spec`` is set).
        **documents: JSON-serialisable documents stored as ``wmbench.<key>``.
    """
    spec = model.spec if isinstance(model, BenchmarkModel) else None
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


def _refuse_non_safetensors(path: Path) -> int:
    """Looks at the first 9 bytes and returns the header length, refusing anything that cannot be
    a safetensors file before any reader opens it.

    Kept by hand: the library reads a pickle or a torch.save zip as "header too large" and an
    empty file as "header too small", and a folder as an OSError; wmbench names each of them.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(9)
    except FileNotFoundError:
        raise CheckpointError("no such file", path) from None
    except IsADirectoryError:
        raise CheckpointError("is a folder, not a checkpoint file", path) from None
    file_size = path.stat().st_size
    if not head:
        raise CheckpointError("empty file, not a safetensors checkpoint", path)
    if len(head) < 9:
        raise CheckpointError("not a safetensors file (too short)", path)
    (size,) = struct.unpack("<Q", head[:8])
    if head[8:9] != b"{" or size > min(_MAX_HEADER, file_size - 8):
        if head[:1] == b"\x80" or head[:2] == b"PK":
            raise CheckpointError(
                "is a pickle / torch.save file, not safetensors; wmbench never "
                "unpickles checkpoints (re-save the weights with safetensors)",
                path,
            )
        if head[8:9] == b"{":
            raise CheckpointError(
                f"not a safetensors file (bad header: its length is {size:,} bytes, "
                f"the file has {file_size:,}); truncated?",
                path,
            )
        raise CheckpointError("not a safetensors file (bad header)", path)
    return size


def _read_tensor_list(path: Path) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """The string metadata and the shape of every tensor, read by the safetensors library (which
    checks the header: dtypes, shapes against offsets, tensors filling the data exactly)."""
    header_size = _refuse_non_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            names = handle.keys()  # a safe_open handle is not iterable itself
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in names}
    except SafetensorError as error:
        raise _explain(path, header_size, error) from None
    return metadata, shapes


def _explain(path: Path, header_size: int, error: SafetensorError) -> CheckpointError:
    """The error for a header the library refused, in wmbench's words where there are some.

    The library gives one message for a truncated file and for bytes after the last tensor, and
    "invalid JSON" for any malformed entry; saying which (and how many bytes) needs the JSON
    header itself, so it is read here, only on this error path.
    """
    with path.open("rb") as handle:
        handle.seek(8)
        raw = handle.read(header_size)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return CheckpointError("not a safetensors file (header is not JSON)", path)
    if not isinstance(header, dict):
        return CheckpointError("not a safetensors file (header is not a JSON object)", path)
    problem = _data_size_problem(header, path.stat().st_size - 8 - header_size)
    if problem:
        return CheckpointError(problem, path)
    if not isinstance(header.get("__metadata__") or {}, dict):
        return CheckpointError("not a safetensors file (__metadata__ is not a JSON object)", path)
    return CheckpointError(f"corrupt safetensors data: {error}", path)


def _data_size_problem(header: dict[str, Any], data_size: int) -> str | None:
    """What is wrong unless every tensor entry is well formed and together they fill
    ``data_size``."""
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(x, int) and x >= 0 for x in offsets)
            or offsets[1] < offsets[0]
            or not isinstance(shape, list)
            or not all(isinstance(x, int) and x >= 0 for x in shape)
        ):
            return f"corrupt safetensors header: tensor {name!r} has no valid shape and offsets"
        end = max(end, offsets[1])
    if end > data_size:
        return (
            f"corrupt safetensors data: truncated (its tensors need {end:,} bytes after the "
            f"header, the file has {data_size:,})"
        )
    if end < data_size:
        return f"corrupt safetensors data: {data_size - end:,} bytes after the last tensor"
    return None


def _check_shapes(spec: ModelSpec, found: dict[str, tuple[int, ...]], path: Path) -> None:
    """Raises unless the file holds exactly the tensors, of the shapes, that the spec needs."""
    try:
        expected = state_shapes(spec)
    except ModelError as error:
        raise CheckpointError(f"embedded model spec: {error.message}", path) from None
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CheckpointError(f"weights do not match the spec of {spec.name!r}: {detail}", path)
    for name, shape in found.items():
        if shape != expected[name]:
            raise CheckpointError(
                f"weights do not match the spec of {spec.name!r}: {name} has shape {shape}, "
                f"the spec needs {expected[name]}",
                path,
            )


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Reads and validates a checkpoint's metadata, and the names and shapes of its tensors
    against its spec (from the header: the weights themselves are not read)."""
    path = Path(path)
    metadata, shapes = _read_tensor_list(path)
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
    except (ConfigError, ModelError) as error:
        raise CheckpointError(f"embedded model spec: {error.message}", path) from None
    _check_shapes(spec, shapes, path)
    return CheckpointInfo(path=path, sha256=file_sha256(path), spec=spec, meta=documents)


def load_checkpoint(
    path: str | Path, device: str | torch.device | None = None
) -> tuple[nn.Module, CheckpointInfo]:
    """Rebuilds the model a checkpoint describes, loads its weights, returns it in eval mode."""
    info = read_checkpoint_info(path)  # checks the tensors' names and shapes against the spec
    try:
        model = build_model(info.spec)
    except ModelError as error:
        raise CheckpointError(f"embedded model spec: {error.message}", info.path) from None
    try:
        tensors = load_file(str(info.path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"corrupt safetensors data: {error}", info.path) from None
    model.load_state_dict(tensors)
    if device is not None:
        model.to(device)
    return model.eval(), info


def load_model(path: str | Path, device: str | torch.device | None = None) -> nn.Module:
    """The model of a checkpoint, in eval mode with its weights loaded, for users' own scripts."""
    return load_checkpoint(path, device)[0]
