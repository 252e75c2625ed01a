"""Value types shared by the file schemas: scalars, sweeps (a scalar or a list of them) and the
strict base model that refuses unknown keys."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Scalar = float | int | str | bool


def as_list(value: Any) -> Any:
    """A scalar is a one-value sweep."""
    return value if isinstance(value, list) else [value]


NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1, strict=True)]
NonNegativeSweep = Annotated[list[NonNegative], BeforeValidator(as_list), Field(min_length=1)]
PositiveSweep = Annotated[list[Positive], BeforeValidator(as_list), Field(min_length=1)]
CountSweep = Annotated[list[Count], BeforeValidator(as_list), Field(min_length=1)]
ScalarSweep = Annotated[list[Scalar], BeforeValidator(as_list), Field(min_length=1)]
Confidence = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]


class StrictModel(BaseModel):
    """A schema object whose unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")
