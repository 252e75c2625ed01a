"""The suite file format (version 1), validated with pydantic.

A suite names a data set, the checkpoints to compare (label → path), a list of perturbations
(each parameter a scalar or a list; a list is a sweep) and optional gates. Unknown keys are
rejected, not ignored. See README.md, "Suite format", for the reference.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

Scalar = float | int | str | bool


def _as_list(value: Any) -> Any:
    """A scalar is a one-value sweep."""
    return value if isinstance(value, list) else [value]


def _finite(values: list[float]) -> list[float]:
    for value in values:
        if not math.isfinite(value):
            raise ValueError("values must be finite numbers")
    return values


NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1, strict=True)]
NonNegativeSweep = Annotated[list[NonNegative], BeforeValidator(_as_list), Field(min_length=1)]
PositiveSweep = Annotated[list[Positive], BeforeValidator(_as_list), Field(min_length=1)]
CountSweep = Annotated[list[Count], BeforeValidator(_as_list), Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Perturbation(_Strict):
    name: str | None = Field(
        None, min_length=1, description="Label in tables and gates; defaults to the kind."
    )

    @property
    def label(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]

    def sweep_params(self) -> dict[str, list[Scalar]]:
        """The swept parameters, in declaration order (``kind`` and ``name`` excluded)."""
        return {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("kind", "name") and isinstance(value, list)
        }

    def fixed_params(self) -> dict[str, Scalar]:
        return {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("kind", "name") and not isinstance(value, (list, dict))
        }

    def points(self) -> list[dict[str, Scalar]]:
        """Every combination of the swept values with the fixed ones, in declaration order."""
        swept = self.sweep_params()
        fixed = self.fixed_params()
        order = [key for key in self.__dict__ if key in swept or key in fixed]
        order += [key for key in swept if key not in order]  # torchattacks' free-form args
        combos = itertools.product(*swept.values())
        return [
            {key: {**fixed, **dict(zip(swept, combo, strict=True))}[key] for key in order}
            for combo in combos
        ]


class Clean(_Perturbation):
    """The unperturbed test images."""

    kind: Literal["clean"]


class Uniform(_Perturbation):
    """``x + U(0, upper)`` per pixel, then each image min–max renormalised to [0, 1]."""

    kind: Literal["uniform"]
    upper: PositiveSweep


class Fgsm(_Perturbation):
    """FGSM (Goodfellow et al., arXiv:1412.6572), L∞: ``clamp(x + eps·sign(∇x loss), 0, 1)``."""

    kind: Literal["fgsm"]
    eps: NonNegativeSweep


class Pgd(_Perturbation):
    """PGD (Madry et al., arXiv:1706.06083) through ``torchattacks.PGD``, L∞."""

    kind: Literal["pgd"]
    eps: NonNegativeSweep
    alpha: PositiveSweep = Field(default_factory=lambda: [0.01])
    steps: CountSweep = Field(default_factory=lambda: [10])
    random_start: bool = True


class Cw(_Perturbation):
    """Carlini–Wagner L2 (arXiv:1608.04644) through ``torchattacks.CW``."""

    kind: Literal["cw"]
    c: PositiveSweep = Field(default_factory=lambda: [1.0])
    kappa: NonNegativeSweep = Field(default_factory=lambda: [0.0])
    steps: CountSweep = Field(default_factory=lambda: [50])
    lr: PositiveSweep = Field(default_factory=lambda: [0.01])


ArgValue = Annotated[list[Scalar], BeforeValidator(_as_list), Field(min_length=1)]


class TorchattacksEntry(_Perturbation):
    """Any other attack of the torchattacks catalogue, by class name, with its arguments."""

    kind: Literal["torchattacks"]
    attack: str = Field(min_length=1)
    args: dict[str, ArgValue] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.attack.lower()

    def sweep_params(self) -> dict[str, list[Scalar]]:
        return dict(self.args)

    def fixed_params(self) -> dict[str, Scalar]:
        return {}

    @field_validator("args")
    @classmethod
    def _finite_numbers(cls, args: dict[str, list[Scalar]]) -> dict[str, list[Scalar]]:
        for key, values in args.items():
            numbers = [v for v in values if isinstance(v, float)]
            if any(not math.isfinite(v) for v in numbers):
                raise ValueError(f"{key}: values must be finite numbers")
        return args


Perturbation = Annotated[
    Clean | Uniform | Fgsm | Pgd | Cw | TorchattacksEntry, Field(discriminator="kind")
]
PERTURBATION_KINDS = ("clean", "uniform", "fgsm", "pgd", "cw", "torchattacks")


class DatasetSpec(_Strict):
    name: Literal["mnist"] = "mnist"
    split: Literal["test", "val"] = "test"
    limit: Count | None = None


class MaxErrorGate(BaseModel):
    """Holds when the error of one cell (model × perturbation × parameter values) is at most
    ``max_error``. Parameter values are given by name, e.g. ``eps: 0.1``."""

    model_config = ConfigDict(extra="allow")
    model: str
    perturbation: str
    max_error: float = Field(ge=0, le=1, allow_inf_nan=False)
    confidence: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)

    @property
    def params(self) -> dict[str, Scalar]:
        return dict(self.model_extra or {})

    def describe(self) -> str:
        values = "".join(f" {key}={value}" for key, value in self.params.items())
        return f"{self.model} {self.perturbation}{values}: error <= {self.max_error:g}"


class RelativeGate(_Strict):
    """Holds when model ``better``'s error is not above model ``than``'s at every parameter
    value of ``perturbation``."""

    better: str
    than: str
    perturbation: str
    confidence: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)

    def describe(self) -> str:
        return f"{self.better} not worse than {self.than} under {self.perturbation}"


class NoWarningsGate(_Strict):
    """Holds when no sanity check fired (for ``model`` only, when given)."""

    no_warnings: Literal[True]
    model: str | None = None

    def describe(self) -> str:
        return f"no sanity warnings{f' for {self.model}' if self.model else ''}"


def _gate_kind(value: Any) -> str | None:
    if isinstance(value, RelativeGate):
        return "relative"
    if isinstance(value, MaxErrorGate):
        return "max_error"
    if isinstance(value, NoWarningsGate):
        return "no_warnings"
    if isinstance(value, dict):
        if "no_warnings" in value:
            return "no_warnings"
        if "better" in value or "than" in value:
            return "relative"
        if "max_error" in value:
            return "max_error"
    return None


Gate = Annotated[
    Annotated[MaxErrorGate, Tag("max_error")]
    | Annotated[RelativeGate, Tag("relative")]
    | Annotated[NoWarningsGate, Tag("no_warnings")],
    Discriminator(
        _gate_kind,
        custom_error_type="gate_kind",
        custom_error_message=(
            "a gate needs max_error, or better, than and perturbation, or no_warnings"
        ),
    ),
]


class Suite(_Strict):
    """A whole suite file."""

    name: str = Field(min_length=1)
    dataset: DatasetSpec = DatasetSpec()
    batch_size: Count = 500
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    models: dict[str, str] = Field(min_length=1)
    perturbations: list[Perturbation] = Field(min_length=1)
    gates: list[Gate] = Field(default_factory=list)

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

    def perturbation(self, label: str) -> _Perturbation | None:
        return next((p for p in self.perturbations if p.label == label), None)
