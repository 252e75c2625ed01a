"""FGSM, the fast gradient sign method (Goodfellow et al., arXiv:1412.6572), L∞.

``x_adv = clamp(x + ε · sign(∇x L(f(x), y)), 0, 1)`` with L the batch mean of the chosen loss
(:mod:`wmbench.perturbations.losses`: cross-entropy by default, or the C&W margin or
AutoAttack's DLR, which keep a gradient where the softmax has saturated). Computed in-house so
that one input gradient serves a whole ε sweep (the sign does not depend on ε); with the
cross-entropy the result equals ``torchattacks.FGSM(model, eps)(x, y)`` exactly (tested).
"""

from __future__ import annotations

import torch
from torch import nn

from wmbench.perturbations.base import Perturbation, SharedWork
from wmbench.perturbations.losses import attack_loss, loss_input_gradient


class FgsmAttack(Perturbation):
    """FGSM with step ``eps``.

    Args:
        eps: L∞ size of the step (≥ 0).
        loss: ``ce`` (cross-entropy), ``margin`` or ``dlr``.

    Example:
        >>> adv = FgsmAttack(eps=0.1, loss="margin")(model, images, labels)
    """

    def __init__(self, eps: float, loss: str = "ce") -> None:
        attack_loss(loss)  # refuses an unknown name now rather than mid-run
        super().__init__(eps=eps, **({} if loss == "ce" else {"loss": loss}))
        self.eps = float(eps)
        self.gradient_loss = loss

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        gradient = shared.input_gradients.get(self.gradient_loss)
        if gradient is None:
            gradient = loss_input_gradient(model, images, labels, self.gradient_loss)
        return torch.clamp(images + self.eps * gradient.sign(), min=0, max=1)
