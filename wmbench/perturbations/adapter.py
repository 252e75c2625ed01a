"""The torchattacks catalogue (Kim, arXiv:2010.01950) behind wmbench's perturbation contract.

``apgd`` maps to ``torchattacks.APGD``, ``cw`` to ``torchattacks.CW``, and a ``torchattacks``
entry to any ``torchattacks.Attack`` subclass by class name with its own arguments. The attack
object is built once per model; torchattacks puts the model in eval mode while it attacks. The
output is clamped to [0, 1] (a no-op for the attacks that already clamp).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from wmbench.errors import ConfigError
from wmbench.perturbations.base import Perturbation, SharedWork
from wmbench.perturbations.losses import attack_loss, margin_loss

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
        self.args = args  # the attack class's constructor arguments
        self._cls = cls
        self._model: nn.Module | None = None
        self._attack: Any = None

    def _attack_for(self, model: nn.Module) -> Any:
        if self._model is not model:
            try:
                self._attack = self._cls(model, **self.args)
            except (TypeError, ValueError) as error:
                raise ConfigError(f"{self.attack_name}: {error}") from None
            self._model = model
        return self._attack

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        adversarial = self._attack_for(model)(images, labels)
        return torch.clamp(adversarial.detach(), min=0, max=1)


@functools.cache
def margin_apgd_class() -> type:
    """``torchattacks.APGD`` climbing the C&W margin: built with ``loss="dlr"``, whose slot (its
    ``dlr_loss`` method) returns the margin instead. Made on first use, as torchattacks is
    imported lazily."""
    import torchattacks

    def dlr_loss(self: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return margin_loss(x, y)

    return type("MarginAPGD", (torchattacks.APGD,), {"dlr_loss": dlr_loss})


class ApgdAttack(TorchattacksAttack):
    """Auto-PGD (Croce & Hein, arXiv:2003.01690) via ``torchattacks.APGD`` (seed 0, ρ = 0.75).

    Args:
        eps: radius in ``norm``.
        norm: ``Linf`` or ``L2``.
        steps: iterations per restart.
        restarts: random restarts (each on the images the earlier ones did not break).
        loss: ``ce``, ``dlr``, or ``margin`` (the C&W margin in APGD's DLR slot).
        eot_iter: gradients averaged per step (expectation over transformation).
    """

    def __init__(
        self,
        eps: float,
        norm: str = "Linf",
        steps: int = 100,
        restarts: int = 1,
        loss: str = "ce",
        eot_iter: int = 1,
    ) -> None:
        attack_loss(loss)
        super().__init__(
            "APGD",
            eps=eps,
            norm=norm,
            steps=steps,
            n_restarts=restarts,
            loss="dlr" if loss == "margin" else loss,
            eot_iter=eot_iter,
            seed=0,
        )
        if loss == "margin":
            self._cls = margin_apgd_class()
        self.params = {"eps": eps, "norm": norm, "steps": steps, "restarts": restarts}
        self.params |= {"loss": loss, "eot_iter": eot_iter}


class CwAttack(TorchattacksAttack):
    """Carlini–Wagner L2 (arXiv:1608.04644) via ``torchattacks.CW``."""

    def __init__(self, c: float, kappa: float, steps: int, lr: float) -> None:
        super().__init__("CW", c=c, kappa=kappa, steps=steps, lr=lr)
