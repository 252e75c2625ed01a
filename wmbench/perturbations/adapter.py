"""The torchattacks catalogue (Kim, arXiv:2010.01950) behind wmbench's perturbation contract.

``pgd`` maps to ``torchattacks.PGD``, ``cw`` to ``torchattacks.CW``, and a ``torchattacks``
entry to any ``torchattacks.Attack`` subclass by class name with its own arguments. The attack
object is built once per model; torchattacks puts the model in eval mode while it attacks. The
output is clamped to [0, 1] (a no-op for the attacks that already clamp).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wmbench.errors import ConfigError
from wmbench.perturbations.base import Perturbation, SharedWork

# Wrappers that are not attacks on their own, and the identity "attack".
_EXCLUDED = {"Attack", "MultiAttack", "LGV", "VANILA"}


def torchattacks_names() -> list[str]:
    """Class names of every attack torchattacks offers."""
    import torchattacks
    from torchattacks.attack import Attack

    return sorted(
        name
        for name in getattr(torchattacks, "__all__", dir(torchattacks))
        if name not in _EXCLUDED
        and isinstance(getattr(torchattacks, name, None), type)
        and issubclass(getattr(torchattacks, name), Attack)
    )


def torchattacks_class(name: str) -> type | None:
    """The torchattacks attack class called ``name``, or None."""
    import torchattacks

    return getattr(torchattacks, name) if name in torchattacks_names() else None


class TorchattacksAttack(Perturbation):
    """Runs ``torchattacks.<attack>(model, **args)`` on each batch.

    The attack object is kept for the model it was last built for, and only that one: a suite
    measures its models one after another, so a new model replaces the old attack (and lets the
    old model be freed) instead of piling up one attack per model.

    Args:
        attack: class name in torchattacks, e.g. ``"PGD"`` or ``"DeepFool"``.
        **args: the attack's constructor arguments.
    """

    def __init__(self, attack: str, **args: Any) -> None:
        super().__init__(**args)
        cls = torchattacks_class(attack)
        if cls is None:
            raise ConfigError(f"{attack!r} is not an attack of torchattacks")
        self.attack_name = attack
        self._cls = cls
        self._model: nn.Module | None = None
        self._attack: Any = None

    def _attack_for(self, model: nn.Module) -> Any:
        if self._model is not model:
            try:
                self._attack = self._cls(model, **self.params)
            except (TypeError, ValueError) as error:
                raise ConfigError(f"{self.attack_name}: {error}") from None
            self._model = model
        return self._attack

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        adversarial = self._attack_for(model)(images, labels)
        return torch.clamp(adversarial.detach(), min=0, max=1)


class PgdAttack(TorchattacksAttack):
    """Projected gradient descent, L∞ (Madry et al., arXiv:1706.06083) via ``torchattacks.PGD``."""

    def __init__(self, eps: float, alpha: float, steps: int, random_start: bool = True) -> None:
        super().__init__("PGD", eps=eps, alpha=alpha, steps=steps, random_start=random_start)


class CwAttack(TorchattacksAttack):
    """Carlini–Wagner L2 (arXiv:1608.04644) via ``torchattacks.CW``."""

    def __init__(self, c: float, kappa: float, steps: int, lr: float) -> None:
        super().__init__("CW", c=c, kappa=kappa, steps=steps, lr=lr)
