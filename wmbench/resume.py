"""Resume files: the state of an unfinished training run, as safetensors, beside its checkpoint.

``wmbench train --out X`` writes ``X.resume.safetensors`` (``.safetensors`` of ``X`` replaced)
after every epoch and deletes it once ``X`` is written; ``--resume`` continues from it. Like a
checkpoint it is plain safetensors and is never unpickled. Tensors:

- ``model.<name>``: the model's ``state_dict`` after the last completed epoch;
- ``best.<name>``: the ``state_dict`` of the best validation epoch so far;
- ``optim.<index>.<key>``: Adam's state of parameter ``index`` (``step``, ``exp_avg``,
  ``exp_avg_sq``);
- ``rng.torch``, ``rng.generator`` (and ``rng.cuda`` on a GPU): the uint8 RNG states.

JSON metadata: ``wmbench.resume`` (the format version), ``wmbench.spec`` (the model spec),
``wmbench.train`` (the :class:`~wmbench.train.TrainConfig`) and ``wmbench.progress`` (epochs done,
history, best epoch and validation error, seconds spent).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from wmbench._io import atomic_path
from wmbench.errors import CheckpointError
from wmbench.train import EpochStats, ResumeState

RESUME_FORMAT = 1
_SUFFIX = ".resume.safetensors"


def resume_path(checkpoint: str | Path) -> Path:
    """Where the resume file of a run writing ``checkpoint`` lives: ``m.safetensors`` →
    ``m.resume.safetensors``; any other name gets ``.resume.safetensors`` appended."""
    checkpoint = Path(checkpoint)
    stem = checkpoint.stem if checkpoint.suffix == ".safetensors" else checkpoint.name
    return checkpoint.with_name(stem + _SUFFIX)


def save_resume_state(path: str | Path, state: ResumeState) -> Path:
    """Writes ``state`` to ``path`` atomically (a killed writer leaves the previous file)."""
    tensors: dict[str, torch.Tensor] = {}
    for prefix, state_dict in (("model", state.model), ("best", state.best_model)):
        for name, tensor in state_dict.items():
            tensors[f"{prefix}.{name}"] = tensor
    for index, moments in state.optimizer.items():
        for key, tensor in moments.items():
            tensors[f"optim.{index}.{key}"] = tensor
    tensors["rng.torch"] = state.rng
    tensors["rng.generator"] = state.generator
    if state.cuda_rng is not None:
        tensors["rng.cuda"] = state.cuda_rng
    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in tensors.items()}
    progress = {
        "epoch": state.epoch,
        "best_epoch": state.best_epoch,
        "best_val": state.best_val,
        "seconds": state.seconds,
        "history": [asdict(stats) for stats in state.history],
    }
    metadata = {
        "wmbench.resume": str(RESUME_FORMAT),
        "wmbench.spec": json.dumps(state.spec),
        "wmbench.train": json.dumps(state.config),
        "wmbench.progress": json.dumps(progress),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_resume_info(path: str | Path) -> dict[str, Any]:
    """The JSON documents of a resume file (``spec``, ``train``, ``progress``), not its tensors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no resume file here: nothing to continue", path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"not a resume file (bad safetensors: {error})", path) from None
    version = metadata.get("wmbench.resume")
    if version != str(RESUME_FORMAT):
        raise CheckpointError(f"not a wmbench resume file (format {version!r})", path)
    try:
        documents = {
            key: json.loads(metadata[f"wmbench.{key}"]) for key in ("spec", "train", "progress")
        }
    except (KeyError, json.JSONDecodeError) as error:
        raise CheckpointError(f"resume file metadata is incomplete ({error})", path) from None
    for key, document in documents.items():
        if not isinstance(document, dict):
            raise CheckpointError(f"resume file metadata wmbench.{key} is not an object", path)
    return documents


def load_resume_state(path: str | Path) -> ResumeState:
    """Reads a resume file written by :func:`save_resume_state` (tensors on the CPU).

    Raises:
        CheckpointError: the file is missing, is not a resume file, or is incomplete.
    """
    path = Path(path)
    documents = read_resume_info(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"corrupt safetensors data: {error}", path) from None
    model: dict[str, torch.Tensor] = {}
    best: dict[str, torch.Tensor] = {}
    optimizer: dict[int, dict[str, torch.Tensor]] = {}
    rng: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        group, _, rest = name.partition(".")
        if group == "model":
            model[rest] = tensor
        elif group == "best":
            best[rest] = tensor
        elif group == "optim":
            index, _, key = rest.partition(".")
            if not index.isdigit():
                raise CheckpointError(f"unexpected tensor {name!r} in resume file", path)
            optimizer.setdefault(int(index), {})[key] = tensor
        elif group == "rng":
            rng[rest] = tensor
        else:
            raise CheckpointError(f"unexpected tensor {name!r} in resume file", path)
    progress = documents["progress"]
    try:
        return ResumeState(
            epoch=int(progress["epoch"]),
            spec=documents["spec"],
            config=documents["train"],
            history=[EpochStats(**stats) for stats in progress["history"]],
            best_epoch=int(progress["best_epoch"]),
            best_val=float(progress["best_val"]),
            seconds=float(progress["seconds"]),
            model=model,
            best_model=best,
            optimizer=dict(sorted(optimizer.items())),
            rng=rng["torch"],
            generator=rng["generator"],
            cuda_rng=rng.get("cuda"),
            source=path,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"resume file is incomplete ({error!r})", path) from None
