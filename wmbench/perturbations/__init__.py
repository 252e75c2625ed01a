"""Perturbations: uniform noise, FGSM, and the torchattacks catalogue behind one contract.

:func:`build_perturbation` turns a suite entry (:mod:`wmbench.schema.perturbations`, the one
vocabulary of kinds) at one point of its sweep into a callable
``(model, images, labels) -> perturbed images`` (see :mod:`wmbench.perturbations.base`).
A new kind is one schema entry there and one implementation here, joined in ``_IMPLEMENTATIONS``.
"""

from __future__ import annotations

from wmbench.perturbations.adapter import (
    CwAttack,
    PgdAttack,
    TorchattacksAttack,
    torchattacks_class,
    torchattacks_names,
)
from wmbench.perturbations.base import Perturbation, SharedWork, loss_input_gradient
from wmbench.perturbations.fgsm import FgsmAttack
from wmbench.perturbations.noise import CleanImages, UniformNoise, renormalise
from wmbench.schema import (
    Clean,
    Cw,
    Fgsm,
    PerturbationEntry,
    Pgd,
    Scalar,
    TorchattacksEntry,
    Uniform,
)

_IMPLEMENTATIONS: dict[type[PerturbationEntry], type[Perturbation]] = {
    Clean: CleanImages,
    Uniform: UniformNoise,
    Fgsm: FgsmAttack,
    Pgd: PgdAttack,
    Cw: CwAttack,
}


def build_perturbation(entry: PerturbationEntry, params: dict[str, Scalar]) -> Perturbation:
    """The perturbation a suite entry describes, at one point of its sweep (``entry.points()``)."""
    if isinstance(entry, TorchattacksEntry):
        return TorchattacksAttack(entry.attack, **params)
    return _IMPLEMENTATIONS[type(entry)](**params)


__all__ = [
    "CleanImages",
    "CwAttack",
    "FgsmAttack",
    "Perturbation",
    "PgdAttack",
    "SharedWork",
    "TorchattacksAttack",
    "UniformNoise",
    "build_perturbation",
    "loss_input_gradient",
    "renormalise",
    "torchattacks_class",
    "torchattacks_names",
]
