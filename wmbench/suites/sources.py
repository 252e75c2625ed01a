"""Where a suite's models come from: a wmbench checkpoint, a user's own factory (a callable in
their ``.py`` file with weights), or a module already in memory (``wmbench.evaluate``).

Each source knows its identity (a :class:`~wmbench.results.CheckpointRecord`, recorded in the
results file and compared with a baseline's) and builds its model, in eval mode, on a device.
The loader makes the sources, checking every file before any model is measured; the runner only
calls :meth:`ModelSource.load`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from wmbench.checkpoint import CheckpointInfo, load_checkpoint
from wmbench.errors import ModelError
from wmbench.models import FactoryRecord, load_factory_model
from wmbench.results import CheckpointRecord
from wmbench.schema import FactoryModelEntry


class ModelSource(Protocol):
    """One model of a suite: its identity, and how to build it."""

    label: str

    @property
    def record(self) -> CheckpointRecord: ...

    def load(self, device: torch.device) -> nn.Module: ...


def check_takes(record: CheckpointRecord, model: nn.Module, shape: tuple[int, ...]) -> None:
    """Raises :class:`ModelError` naming the model's file when it does not take ``shape`` images."""
    expected = tuple(model.input_shape)
    if expected != tuple(shape):
        raise ModelError(
            f"model {record.model!r} takes {expected} inputs, the data set has {tuple(shape)}",
            record.path,
        )


@dataclass
class CheckpointSource:
    """A wmbench checkpoint; its header was read (and checked) by the loader."""

    label: str
    path: Path
    info: CheckpointInfo

    @property
    def record(self) -> CheckpointRecord:
        metrics = self.info.meta.get("metrics", {})
        return CheckpointRecord(
            label=self.label,
            path=self.path,
            sha256=self.info.sha256,
            model=self.info.spec.name,
            family=self.info.spec.family,
            metrics={key: value for key, value in metrics.items() if key != "history"},
            adversarial=self.info.meta.get("train", {}).get("adversarial"),
        )

    def load(self, device: torch.device) -> nn.Module:
        return load_checkpoint(self.path, device)[0]


@dataclass
class FactorySource:
    """A user's own model: ``factory`` + ``weights`` of a suite's ``models:`` entry."""

    label: str
    entry: FactoryModelEntry
    base_dir: Path
    suite_path: Path
    factory: FactoryRecord
    checked: nn.Module | None = None  # the model the loader built and checked, until used

    @property
    def record(self) -> CheckpointRecord:
        return CheckpointRecord(
            label=self.label,
            path=Path(self.factory.weights or self.factory.source_file),
            sha256=self.factory.identity,
            model=self.entry.factory,
            family="factory",
            factory=self.factory.to_json(),
        )

    def load(self, device: torch.device) -> nn.Module:
        """The model the loader already built and checked on the CPU (handed over once, so the
        suite does not keep it), else built, loaded and checked again on ``device``."""
        model, self.checked = self.checked, None
        if model is not None and device.type == "cpu":
            return model
        model, _ = load_factory_model(self.entry, self.base_dir, self.suite_path, device)
        return model


@dataclass
class ModuleSource:
    """A model already in memory, as :func:`wmbench.evaluate` is given one."""

    label: str
    module: nn.Module

    @property
    def record(self) -> CheckpointRecord:
        return CheckpointRecord(
            label=self.label,
            path=Path("<in memory>"),
            sha256=module_sha256(self.module),
            model=type(self.module).__name__,
            family="in-memory",
        )

    def load(self, device: torch.device) -> nn.Module:
        return self.module.to(device).eval()


def module_sha256(module: nn.Module) -> str:
    """A digest of a module's state dict (names, shapes, dtypes and values), its identity."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(value.shape)}:{value.dtype}".encode())
        digest.update(value.flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
