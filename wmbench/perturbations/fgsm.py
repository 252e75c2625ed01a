"""FGSM, the fast gradient sign method (Goodfellow et al., arXiv:1412.6572), L∞.

``x_adv = clamp(x + ε · sign(∇x L(f(x), y)), 0, 1)`` with L the mean cross-entropy. Computed
in-house so that one input gradient serves a whole ε sweep (the sign does not depend on ε); the
result equals ``torchattacks.FGSM(model, eps)(x, y)`` exactly (tested).
"""

from __future__ import annotations

import torch
from torch import nn

from wmbench.perturbations.base import Perturbation, SharedWork, loss_input_gradient


class FgsmAttack(Perturbation):
    """FGSM with step ``eps``.

    Args:
        eps: L∞ size of the step (≥ 0).

    Example:
        >>> adv = FgsmAttack(eps=0.1)(model, images, labels)
    """

    uses_input_gradient = True

    def __init__(self, eps: float) -> None:
        super().__init__(eps=eps)
        self.eps = float(eps)

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        gradient = shared.input_gradient
        if gradient is None:
            gradient = loss_input_gradient(model, images, labels)
        return torch.clamp(images + self.eps * gradient.sign(), min=0, max=1)
