"""The gates of a suite file: the robustness claims a run must uphold (judged by wmbench.gates).

``max_error`` bounds one cell's error; ``relative`` says one model is not worse than another at
every parameter value of a perturbation; ``no_warnings`` says no sanity check fired; a corruption
gate bounds a model's summary of common corruptions (mean CE, mCE or relative mCE).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from wmbench.schema.types import Confidence, Scalar, StrictModel


class MaxErrorGate(BaseModel):
    """Holds when the error of one cell (model × perturbation × parameter values) is at most
    ``max_error``. Parameter values are given by name, e.g. ``eps: 0.1``."""

    model_config = ConfigDict(extra="allow")
    model: str
    perturbation: str
    max_error: float = Field(ge=0, le=1, allow_inf_nan=False)
    confidence: Confidence | None = None

    @property
    def params(self) -> dict[str, Scalar]:
        return dict(self.model_extra or {})

    def describe(self) -> str:
        values = "".join(f" {key}={value}" for key, value in self.params.items())
        return f"{self.model} {self.perturbation}{values}: error <= {self.max_error:g}"


class RelativeGate(StrictModel):
    """Holds when model ``better``'s error is not above model ``than``'s at every parameter
    value of ``perturbation``."""

    better: str
    than: str
    perturbation: str
    confidence: Confidence | None = None

    def describe(self) -> str:
        return f"{self.better} not worse than {self.than} under {self.perturbation}"


class NoWarningsGate(StrictModel):
    """Holds when no sanity check fired (for ``model`` only, when given)."""

    no_warnings: Literal[True]
    model: str | None = None

    def describe(self) -> str:
        return f"no sanity warnings{f' for {self.model}' if self.model else ''}"


CORRUPTION_METRICS = ("mean_ce", "mce", "relative_mce")


class CorruptionGate(StrictModel):
    """Holds when a model's summary of a ``corruption`` entry is at most the bound: its mean
    corruption error (``max_mean_ce``, a fraction), or its mCE or relative mCE against the
    entry's baseline (``max_mce``, ``max_relative_mce``; 1.0 is the baseline's)."""

    model: str
    perturbation: str
    max_mean_ce: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    max_mce: float | None = Field(None, ge=0, allow_inf_nan=False)
    max_relative_mce: float | None = Field(None, ge=0, allow_inf_nan=False)

    @property
    def bound(self) -> tuple[str, float]:
        """The metric bounded and its bound."""
        for metric in CORRUPTION_METRICS:
            value = getattr(self, f"max_{metric}")
            if value is not None:
                return metric, value
        raise ValueError("a corruption gate needs max_mean_ce, max_mce or max_relative_mce")

    @model_validator(mode="after")
    def _one_bound(self) -> CorruptionGate:
        given = [m for m in CORRUPTION_METRICS if getattr(self, f"max_{m}") is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of max_mean_ce, max_mce, max_relative_mce")
        return self

    def describe(self) -> str:
        metric, value = self.bound
        return f"{self.model} {self.perturbation}: {metric.replace('_', ' ')} <= {value:g}"


GATE_KINDS = ("max_error", "relative", "no_warnings", "corruption")


def _gate_kind(value: Any) -> str | None:
    if isinstance(value, RelativeGate):
        return "relative"
    if isinstance(value, MaxErrorGate):
        return "max_error"
    if isinstance(value, NoWarningsGate):
        return "no_warnings"
    if isinstance(value, CorruptionGate):
        return "corruption"
    if isinstance(value, dict):
        if "no_warnings" in value:
            return "no_warnings"
        if any(f"max_{metric}" in value for metric in CORRUPTION_METRICS):
            return "corruption"
        if "better" in value or "than" in value:
            return "relative"
        if "max_error" in value:
            return "max_error"
    return None


Gate = Annotated[
    Annotated[MaxErrorGate, Tag("max_error")]
    | Annotated[RelativeGate, Tag("relative")]
    | Annotated[NoWarningsGate, Tag("no_warnings")]
    | Annotated[CorruptionGate, Tag("corruption")],
    Discriminator(
        _gate_kind,
        custom_error_type="gate_kind",
        custom_error_message=(
            "a gate needs max_error, or better, than and perturbation, or no_warnings, or "
            "max_mean_ce, max_mce or max_relative_mce"
        ),
    ),
]
