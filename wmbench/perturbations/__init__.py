"""Perturbations: uniform noise, FGSM, and the torchattacks catalogue behind one contract.

``build_perturbation(kind, params)`` turns one point of a suite's sweep into a callable
``(model, images, labels) -> perturbed images`` (see :mod:`wmbench.perturbations.base`).
"""

from __future__ import annotations

from typing import Any

from wmbench.perturbations.adapter import (
    Cw,
    Pgd,
    TorchattacksPerturbation,
    torchattacks_class,
    torchattacks_names,
)
from wmbench.perturbations.base import Perturbation, loss_input_gradient
from wmbench.perturbations.fgsm import Fgsm
from wmbench.perturbations.noise import Clean, UniformNoise, renormalise

_KINDS: dict[str, type[Perturbation]] = {
    cls.kind: cls for cls in (Clean, UniformNoise, Fgsm, Pgd, Cw, TorchattacksPerturbation)
}


def build_perturbation(
    kind: str, params: dict[str, Any], attack: str | None = None
) -> Perturbation:
    """The perturbation of ``kind`` at one parameter point (``attack``: torchattacks class)."""
    if kind == "torchattacks":
        return TorchattacksPerturbation(attack or "", **params)
    return _KINDS[kind](**params)


__all__ = [
    "Clean",
    "Cw",
    "Fgsm",
    "Perturbation",
    "Pgd",
    "TorchattacksPerturbation",
    "UniformNoise",
    "build_perturbation",
    "loss_input_gradient",
    "renormalise",
    "torchattacks_class",
    "torchattacks_names",
]
