"""The perturbation entries of a suite file: the one vocabulary of perturbation kinds.

Each entry is one ``kind`` with its parameters; a parameter given as a list is a sweep, and an
entry expands to every combination of its swept values (:meth:`PerturbationEntry.points`).
:func:`wmbench.perturbations.build_perturbation` turns an entry at one point into the callable
that perturbs images. See README.md, "Suite format".
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Literal, Union, get_args

from pydantic import Field, field_validator

from wmbench.schema.types import (
    CountSweep,
    NonNegativeSweep,
    PositiveSweep,
    Scalar,
    ScalarSweep,
    StrictModel,
)

_NOT_PARAMETERS = ("kind", "name")


class PerturbationEntry(StrictModel):
    """Base of every perturbation entry: a ``kind``, an optional ``name`` and parameters."""

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
            if key not in _NOT_PARAMETERS and isinstance(value, list)
        }

    def fixed_params(self) -> dict[str, Scalar]:
        return {
            key: value
            for key, value in self.__dict__.items()
            if key not in _NOT_PARAMETERS and not isinstance(value, (list, dict))
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


class Clean(PerturbationEntry):
    """The unperturbed test images."""

    kind: Literal["clean"]


class Uniform(PerturbationEntry):
    """``x + U(0, upper)`` per pixel, then each image min–max renormalised to [0, 1]."""

    kind: Literal["uniform"]
    upper: PositiveSweep


class Fgsm(PerturbationEntry):
    """FGSM (Goodfellow et al., arXiv:1412.6572), L∞: ``clamp(x + eps·sign(∇x loss), 0, 1)``."""

    kind: Literal["fgsm"]
    eps: NonNegativeSweep


class Pgd(PerturbationEntry):
    """PGD (Madry et al., arXiv:1706.06083) through ``torchattacks.PGD``, L∞."""

    kind: Literal["pgd"]
    eps: NonNegativeSweep
    alpha: PositiveSweep = Field(default_factory=lambda: [0.01])
    steps: CountSweep = Field(default_factory=lambda: [10])
    random_start: bool = True


class Cw(PerturbationEntry):
    """Carlini–Wagner L2 (arXiv:1608.04644) through ``torchattacks.CW``."""

    kind: Literal["cw"]
    c: PositiveSweep = Field(default_factory=lambda: [1.0])
    kappa: NonNegativeSweep = Field(default_factory=lambda: [0.0])
    steps: CountSweep = Field(default_factory=lambda: [50])
    lr: PositiveSweep = Field(default_factory=lambda: [0.01])


class TorchattacksEntry(PerturbationEntry):
    """Any other attack of the torchattacks catalogue, by class name, with its arguments."""

    kind: Literal["torchattacks"]
    attack: str = Field(min_length=1)
    args: dict[str, ScalarSweep] = Field(default_factory=dict)

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


ENTRY_TYPES: tuple[type[PerturbationEntry], ...] = (
    Clean,
    Uniform,
    Fgsm,
    Pgd,
    Cw,
    TorchattacksEntry,
)
Perturbation = Annotated[Union[ENTRY_TYPES], Field(discriminator="kind")]  # noqa: UP007
PERTURBATION_KINDS: tuple[str, ...] = tuple(
    get_args(entry.model_fields["kind"].annotation)[0] for entry in ENTRY_TYPES
)
