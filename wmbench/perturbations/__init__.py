"""Perturbations: uniform noise, FGSM, and the torchattacks catalogue behind one contract.

:func:`build_perturbation` turns a suite entry (:mod:`wmbench.schema.perturbations`, the one
vocabulary of kinds) at one point of its sweep into a callable
``(model, images, labels) -> perturbed images`` (see :mod:`wmbench.perturbations.base`).
A new kind is one schema entry there and one implementation here, joined in ``_IMPLEMENTATIONS``.
"""

from __future__ import annotations

from wmbench.perturbations.adapter import (
    ApgdAttack,
    CwAttack,
    TorchattacksAttack,
    torchattacks_class,
    torchattacks_names,
)
from wmbench.perturbations.adaptive import VIEWS, DefenceAwareAttack, DefenceAwareView
from wmbench.perturbations.autoattack import VERSIONS, AutoAttackProtocol
from wmbench.perturbations.base import Perturbation, SharedWork
from wmbench.perturbations.corrupted import CommonCorruption
from wmbench.perturbations.fgsm import FgsmAttack
from wmbench.perturbations.losses import (
    LOSSES,
    attack_loss,
    dlr_loss,
    loss_input_gradient,
    margin_loss,
)
from wmbench.perturbations.noise import CleanImages, UniformNoise, renormalise
from wmbench.perturbations.pgd import PgdAttack
from wmbench.perturbations.transfer import TransferAttack
from wmbench.perturbations.worst import WorstCase, WorstCasePerturbation, WorstOfAttack
from wmbench.schema import (
    Apgd,
    AutoAttack,
    Clean,
    Corruption,
    Cw,
    Fgsm,
    PerturbationEntry,
    Pgd,
    Scalar,
    TorchattacksEntry,
    Transfer,
    Uniform,
    WorstOf,
)

_IMPLEMENTATIONS: dict[type[PerturbationEntry], type[Perturbation]] = {
    Clean: CleanImages,
    Uniform: UniformNoise,
    Fgsm: FgsmAttack,
    Pgd: PgdAttack,
    Apgd: ApgdAttack,
    Cw: CwAttack,
    Corruption: CommonCorruption,
}


def build_perturbation(entry: PerturbationEntry, params: dict[str, Scalar]) -> Perturbation:
    """The perturbation a suite entry describes, at one point of its sweep (``entry.points()``)."""
    if isinstance(entry, TorchattacksEntry):
        return TorchattacksAttack(entry.attack, **params)
    if isinstance(entry, AutoAttack):
        return AutoAttackProtocol(**params, attacks=entry.attacks)  # type: ignore[arg-type]
    if isinstance(entry, Transfer):
        inner = {key: value for key, value in params.items() if key != "source"}
        attack = build_perturbation(entry.attack, inner)
        return TransferAttack(attack, entry.source_path, **params)
    if isinstance(entry, WorstOf):
        return WorstOfAttack(
            [(part.label, build_perturbation(part, part.points()[0])) for part in entry.of]
        )
    view = params.get("defence_aware", "none")
    if view != "none":
        inner = {key: value for key, value in params.items() if key != "defence_aware"}
        attack = _IMPLEMENTATIONS[type(entry)](**inner)
        return DefenceAwareAttack(attack, str(view), **params)
    params = {key: value for key, value in params.items() if key != "defence_aware"}
    return _IMPLEMENTATIONS[type(entry)](**params)


__all__ = [
    "LOSSES",
    "VERSIONS",
    "VIEWS",
    "ApgdAttack",
    "AutoAttackProtocol",
    "CleanImages",
    "CommonCorruption",
    "CwAttack",
    "DefenceAwareAttack",
    "DefenceAwareView",
    "FgsmAttack",
    "Perturbation",
    "PgdAttack",
    "SharedWork",
    "TorchattacksAttack",
    "TransferAttack",
    "UniformNoise",
    "WorstCase",
    "WorstCasePerturbation",
    "WorstOfAttack",
    "attack_loss",
    "build_perturbation",
    "dlr_loss",
    "loss_input_gradient",
    "margin_loss",
    "renormalise",
    "torchattacks_class",
    "torchattacks_names",
]
