"""The ``corruption`` perturbation entry: MNIST-C's common corruptions by name and severity."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from wmbench.schema.entry import PerturbationEntry
from wmbench.schema.types import Scalar, as_list

CORRUPTIONS = (
    "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
    "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag", "canny_edges",
)  # fmt: skip
"""MNIST-C's fifteen corruptions (Mu & Gilmer 2019), in its order."""
Severity = Annotated[int, Field(ge=1, le=5, strict=True)]


class Corruption(PerturbationEntry):
    """Common corruptions (:mod:`wmbench.perturbations.corruptions`): each of ``corruption``
    (names, or ``all``) at each ``severity`` (1–5; 3 is MNIST-C's published setting). With
    ``baseline`` (a model of the suite) the tables add each model's mCE relative to it."""

    kind: Literal["corruption"]
    corruption: Annotated[
        list[Literal[(*CORRUPTIONS, "all")]],  # type: ignore[valid-type]
        BeforeValidator(as_list),
        Field(min_length=1),
    ] = Field(default_factory=lambda: ["all"])
    severity: Annotated[list[Severity], BeforeValidator(as_list), Field(min_length=1)] = Field(
        default_factory=lambda: [3]
    )
    baseline: str | None = Field(None, min_length=1)

    @property
    def names(self) -> list[str]:
        """The corruptions to run, ``all`` expanded, in the order given."""
        if "all" in self.corruption:
            return list(CORRUPTIONS)
        return list(dict.fromkeys(self.corruption))

    def fixed_params(self) -> dict[str, Scalar]:
        return {}

    def sweep_params(self) -> dict[str, list[Scalar]]:
        return {"corruption": list(self.names), "severity": list(self.severity)}
