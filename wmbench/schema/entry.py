"""The base of every perturbation entry of a suite file: a ``kind``, an optional ``name`` and
parameters, each a scalar or a list (a sweep) that :meth:`PerturbationEntry.points` expands."""

from __future__ import annotations

import itertools
from typing import ClassVar

from pydantic import Field

from wmbench.schema.types import Scalar, StrictModel

_NOT_PARAMETERS = ("kind", "name")


class PerturbationEntry(StrictModel):
    """Base of every perturbation entry: a ``kind``, an optional ``name`` and parameters."""

    name: str | None = Field(
        None, min_length=1, description="Label in tables and gates; defaults to the kind."
    )

    # Parameters added after results format 1 that a point leaves out at their default value, so
    # the cells of older suites keep their keys (and their baselines keep matching).
    quiet_defaults: ClassVar[dict[str, Scalar]] = {}

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
            if key not in _NOT_PARAMETERS
            and not isinstance(value, (list, dict))
            and not (key in self.quiet_defaults and self.quiet_defaults[key] == value)
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
