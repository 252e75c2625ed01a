"""AutoAttack (Croce & Hein, arXiv:2003.01690), as its reference implementation runs it
(github.com/fra31/auto-attack, ``autoattack.py``), built from torchattacks' ``APGD``, ``APGDT``,
``FAB`` and ``Square``.

Versions and settings, as the reference sets them (``set_version``):

- ``standard`` (L∞ and L2): APGD-CE (100 iterations, 1 restart), APGD-T (targeted DLR, the 9
  most likely other classes, 100 iterations, 1 restart), FAB-T (9 targets, 100 iterations,
  1 restart), Square (5,000 queries, p_init 0.8, 1 restart, no rescaled schedule).
- ``plus``: APGD-CE and APGD-DLR with 5 restarts, FAB (untargeted, 5 restarts), Square, APGD-T,
  FAB-T.
- ``rand`` (randomised defences): APGD-CE and APGD-DLR, 1 restart, expectation over 20 draws
  (EOT) of the gradient per step.

APGD's momentum and step-size rule use ρ = 0.75; every attack is seeded with 0 on each batch.
Not torchattacks' ``AutoAttack`` wrapper, which keeps torchattacks' 10 iterations
(torchattacks issue #196). With fewer than 10 classes the targeted attacks use every other class;
APGD-DLR needs 3 classes and APGD-T 4, and are skipped below that (a sanity warning says so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from wmbench.perturbations.base import SharedWork
from wmbench.perturbations.losses import loss_input_gradient
from wmbench.perturbations.worst import SubAttack, WorstCase, WorstCasePerturbation

VERSIONS: dict[str, tuple[str, ...]] = {
    "standard": ("apgd-ce", "apgd-t", "fab-t", "square"),
    "plus": ("apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"),
    "rand": ("apgd-ce", "apgd-dlr"),
}
ITERATIONS = 100
SQUARE_QUERIES = 5000
TARGETS = 9  # target classes of APGD-T and FAB-T
MIN_CLASSES = {"apgd-dlr": 3, "apgd-t": 4}


def version_settings(version: str) -> dict[str, dict[str, Any]]:
    """Constructor arguments of each torchattacks attack for an AutoAttack version."""
    restarts = 5 if version == "plus" else 1
    common = {"steps": ITERATIONS, "seed": 0}
    apgd = {**common, "n_restarts": restarts, "eot_iter": 20 if version == "rand" else 1}
    return {
        "apgd-ce": {**apgd, "loss": "ce", "rho": 0.75},
        "apgd-dlr": {**apgd, "loss": "dlr", "rho": 0.75},
        "apgd-t": {**common, "n_restarts": 1, "eot_iter": 1, "rho": 0.75},
        "fab": {**common, "n_restarts": restarts, "multi_targeted": False},
        "fab-t": {**common, "n_restarts": 1, "multi_targeted": True},
        "square": {
            "n_queries": SQUARE_QUERIES,
            "n_restarts": 1,
            "p_init": 0.8,
            "loss": "margin",
            "resc_schedule": False,
            "seed": 0,
        },
    }


def build_attack(
    name: str, model: nn.Module, eps: float, norm: str, version: str, num_classes: int
) -> Any:
    """The torchattacks object of one of AutoAttack's attacks, with the version's settings."""
    import torchattacks

    settings = version_settings(version)[name]
    classes = {"n_classes": min(num_classes, TARGETS + 1)}  # torchattacks: targets = n_classes - 1
    constructors: dict[str, Callable[..., Any]] = {
        "apgd-ce": torchattacks.APGD,
        "apgd-dlr": torchattacks.APGD,
        "apgd-t": lambda m, **kw: torchattacks.APGDT(m, **kw, **classes),
        "fab": lambda m, **kw: torchattacks.FAB(m, **kw, **classes),
        "fab-t": lambda m, **kw: torchattacks.FAB(m, **kw, **classes),
        "square": torchattacks.Square,
    }
    return constructors[name](model, norm=norm, eps=eps, **settings)


class AutoAttackProtocol(WorstCasePerturbation):
    """``kind: autoattack``: the per-image worst case of AutoAttack's attacks.

    Args:
        eps: radius in ``norm``.
        norm: ``Linf`` or ``L2``.
        version: ``standard``, ``plus`` or ``rand``.
        attacks: a subset (in the order given) to run with the version's settings.

    Example:
        >>> adv = AutoAttackProtocol(eps=0.3)(model, images, labels)
    """

    def __init__(
        self,
        eps: float,
        norm: str = "Linf",
        version: str = "standard",
        attacks: list[str] | None = None,
    ) -> None:
        super().__init__(eps=eps, norm=norm, version=version)
        self.eps, self.norm, self.version = float(eps), norm, version
        self.attacks = tuple(attacks) if attacks else VERSIONS[version]
        self._model: nn.Module | None = None
        self._built: dict[str, Any] = {}

    def runnable(self, num_classes: int) -> list[str]:
        """The attacks that can run on a model with ``num_classes`` outputs."""
        return [name for name in self.attacks if num_classes >= MIN_CLASSES.get(name, 2)]

    def sub_attacks(self, model: nn.Module, num_classes: int) -> list[tuple[str, SubAttack]]:
        if self._model is not model:  # one set of attack objects, for the latest model only
            self._model, self._built = model, {}
        names = self.runnable(num_classes)
        for name in names:
            if name not in self._built:
                self._built[name] = build_attack(
                    name, model, self.eps, self.norm, self.version, num_classes
                )

        def run(attack: Any) -> SubAttack:
            return lambda x, y, shared: attack(x, y)

        return [(name, run(self._built[name])) for name in names]

    def worst_case(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> WorstCase:
        logits = shared.clean_logits
        if logits is None:
            with torch.no_grad():
                logits = model(images)
        shared = SharedWork(shared.input_gradients, shared.generator, logits)
        outcome = super().worst_case(model, images, labels, shared)
        if any(name.startswith("apgd") for name in self.attacks):
            correct = (logits.argmax(1) == labels).nonzero().flatten()
            found = zero_gradients(model, images[correct], labels[correct], logits.shape[1])
            outcome.zero_gradient, outcome.checked = found, len(correct)
        return outcome


def zero_gradients(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> dict[str, int]:
    """By loss (``ce``, and ``dlr`` with 3 classes or more), how many of the images have an input
    gradient of exactly zero where APGD starts: AutoAttack's ``check_zero_gradients``, taken at
    the clean image (APGD's random start lies within ε of it)."""
    if len(images) == 0:
        return {}
    losses = ("ce", "dlr") if num_classes >= 3 else ("ce",)
    found = {}
    with torch.enable_grad():
        for loss in losses:
            gradient = loss_input_gradient(model, images, labels, loss)
            found[loss] = int((gradient.flatten(1) == 0).all(1).sum())
    return found
