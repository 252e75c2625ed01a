"""The per-image worst case over several attacks, as AutoAttack evaluates (Croce & Hein,
arXiv:2003.01690) and RobustBench ranks: an image counts as broken when any attack broke it.

The attacks run one after another, each only on the images that are still classified
correctly, each starting from the clean image; images the model already gets wrong are not
attacked. The result keeps, per image, the adversarial example that broke it; an image no attack
broke keeps the last attack's output (AutoAttack's attacks return the clean image there), and how
many images each attack broke.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from wmbench.perturbations.base import Perturbation, SharedWork

# An attack on a sub-batch: (images, labels, the shared work of those images) -> adversarials.
SubAttack = Callable[[torch.Tensor, torch.Tensor, SharedWork], torch.Tensor]


@dataclass
class WorstCase:
    """What a worst-case protocol found on one batch.

    Attributes:
        images: per image, the adversarial that broke it, else the last attack's output.
        wrong: per image, True when it ends misclassified (clean mistakes included).
        broken_by: ``"clean"`` (images misclassified before any attack), then each attack's
            name in running order, with the number of images it broke.
        zero_gradient: per loss name, images (of those correctly classified) whose input
            gradient at the clean image is exactly zero; filled by protocols that start from
            gradients (see :mod:`wmbench.sanity.masking`).
        checked: how many images ``zero_gradient`` was counted over.
    """

    images: torch.Tensor
    wrong: torch.Tensor
    broken_by: dict[str, int]
    zero_gradient: dict[str, int] = field(default_factory=dict)
    checked: int = 0


class WorstCasePerturbation(Perturbation):
    """Base of the protocols that run attacks in turn on the images still correct."""

    @abstractmethod
    def sub_attacks(self, model: nn.Module, num_classes: int) -> list[tuple[str, SubAttack]]:
        """The attacks to run, by name, in order, for a model with ``num_classes`` outputs."""

    def worst_case(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> WorstCase:
        """Runs every attack on the images still correct and keeps the per-image worst case."""
        images = images.detach()
        logits = shared.clean_logits
        if logits is None:
            with torch.no_grad():
                logits = model(images)
        correct = logits.argmax(1) == labels
        worst = images.clone()
        broken_by = {"clean": int((~correct).sum())}
        for name, attack in self.sub_attacks(model, logits.shape[1]):
            index = correct.nonzero().flatten()
            if len(index) == 0:
                broken_by[name] = 0
                continue
            adversarial = attack(images[index], labels[index], shared.subset(index))
            adversarial = torch.clamp(adversarial.detach(), 0, 1)
            with torch.no_grad():
                broke = model(adversarial).argmax(1) != labels[index]
            worst[index] = adversarial
            correct[index[broke]] = False
            broken_by[name] = int(broke.sum())
        return WorstCase(worst, ~correct, broken_by)

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        return self.worst_case(model, images, labels, shared).images


class WorstOfAttack(WorstCasePerturbation):
    """``kind: worst-of``: the per-image worst case of the perturbations it is given.

    Args:
        parts: (label, perturbation) pairs, in the order they run.
    """

    def __init__(self, parts: list[tuple[str, Perturbation]]) -> None:
        super().__init__()  # its parts carry the parameters
        self.parts = parts

    def sub_attacks(self, model: nn.Module, num_classes: int) -> list[tuple[str, SubAttack]]:
        def run(part: Perturbation) -> SubAttack:
            return lambda x, y, shared: part(model, x, y, shared=shared)

        return [(label, run(part)) for label, part in self.parts]

    def __repr__(self) -> str:
        return f"WorstOfAttack({', '.join(f'{label}={part!r}' for label, part in self.parts)})"
