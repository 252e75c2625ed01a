"""The model spec: one zoo variant as data (a family and the arguments of its builder).

Read from ``models/*.yaml`` and embedded in every checkpoint (:mod:`wmbench.checkpoint`); this
module owns the schema, :mod:`wmbench.models._registry` reads and builds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wmbench.errors import ModelError


class InputSpec(BaseModel):
    """Shape of one input image."""

    model_config = ConfigDict(extra="forbid")
    channels: int = Field(1, ge=1)
    size: int = Field(28, ge=1)


class PaperFigures(BaseModel):
    """What the paper reports for this variant (as printed there), for side-by-side tables."""

    model_config = ConfigDict(extra="forbid")
    table: int
    params: str | None = None
    gflops: float | None = None
    test_error: float | None = None
    test_error_std: float | None = None


class ModelSpec(BaseModel):
    """One model of the zoo: a family and the arguments of its builder."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    family: str
    description: str = ""
    input: InputSpec = InputSpec()
    num_classes: int = Field(10, ge=2)
    args: dict[str, Any] = {}
    paper: PaperFigures | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one input image."""
        return (self.input.channels, self.input.size, self.input.size)


def check_input_shape(
    spec: ModelSpec, shape: tuple[int, ...], source: str | Path | None, data: str = "the data set"
) -> None:
    """Raises :class:`ModelError` naming ``source`` when ``spec`` does not take ``shape`` images."""
    if tuple(shape) != spec.input_shape:
        raise ModelError(
            f"model {spec.name!r} takes {spec.input_shape} inputs, {data} has {tuple(shape)}",
            source,
        )
