"""The state that continues a training run after an epoch, and the check that it belongs to the
run asked for (same model spec, same set-up; only ``epochs`` may grow).

:mod:`wmbench.resume` stores a :class:`ResumeState` as a safetensors file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from wmbench.models import ModelSpec
from wmbench.train.records import EpochStats, TrainConfig


@dataclass
class ResumeState:
    """Everything a run needs to carry on after its ``epoch``-th epoch, as tensors and JSON.

    Attributes:
        epoch: epochs completed.
        spec: the model spec (``ModelSpec.model_dump()``), to refuse resuming another model.
        config: the :class:`TrainConfig` as a dict, to refuse resuming another set-up.
        history: the statistics of the completed epochs.
        best_epoch: the epoch of the best validation error so far.
        best_val: that error.
        seconds: wall time spent so far, in every session together.
        model: the model's ``state_dict`` after ``epoch`` epochs.
        best_model: the ``state_dict`` of ``best_epoch``.
        optimizer: Adam's per-parameter state by parameter index (``step``, ``exp_avg``,
            ``exp_avg_sq``), all tensors.
        rng: ``torch.get_rng_state()``.
        generator: the state of the generator that draws the batch order and crop offsets.
        cuda_rng: ``torch.cuda.get_rng_state()`` of the training GPU, None on CPU.
        source: the file the state was read from, for error messages.
    """

    epoch: int
    spec: dict[str, Any]
    config: dict[str, Any]
    history: list[EpochStats]
    best_epoch: int
    best_val: float
    seconds: float
    model: dict[str, torch.Tensor]
    best_model: dict[str, torch.Tensor]
    optimizer: dict[int, dict[str, torch.Tensor]]
    rng: torch.Tensor
    generator: torch.Tensor
    cuda_rng: torch.Tensor | None = None
    source: Path | None = None


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two JSON documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    return [] if old == new else [f"{prefix[:-1]} (was {old!r}, now {new!r})"]


def resume_mismatch(state: ResumeState, spec: ModelSpec, config: TrainConfig) -> str | None:
    """Why ``state`` cannot continue a run of ``spec`` with ``config``; None when it can.

    Every setting must match except ``epochs``, which may grow (or stay) but not fall below the
    epochs already done; under a learning-rate schedule, whose length it is, it must stay.
    """
    old_spec, new_spec = state.spec, _as_json(spec.model_dump())
    if old_spec.get("name") != new_spec.get("name"):
        return f"resume file is for model {old_spec.get('name')!r}, not {new_spec.get('name')!r}"
    changed = _differences(old_spec, new_spec)
    if changed:
        return f"resume file's spec of {spec.name!r} differs: {', '.join(changed[:3])}"
    changed = _differences(
        {**asdict(TrainConfig()), **state.config, "epochs": None},
        {**_as_json(asdict(config)), "epochs": None},
    )
    if changed:
        return f"resume file's training set-up differs: {', '.join(changed[:3])}"
    length = state.config.get("epochs")  # a schedule's length
    if state.config.get("lr_schedule", "constant") != "constant" and length != config.epochs:
        return (
            f"resume file's learning-rate schedule runs over {length} epochs: "
            f"resume with --epochs {length}, not {config.epochs}"
        )
    if state.epoch > config.epochs:
        return f"resume file has {state.epoch} epochs done, more than the {config.epochs} asked for"
    return None
