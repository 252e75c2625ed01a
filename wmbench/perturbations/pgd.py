"""PGD, projected gradient descent in L∞ (Madry et al., arXiv:1706.06083).

From a uniform random start in the ε-ball (or the clean image), ``steps`` times:
``x ← clip_[0,1](x_0 + clip_[−ε,ε](x + α · sign(∇x L) − x_0))`` with L the batch mean of the
chosen loss (:mod:`wmbench.perturbations.losses`). With the cross-entropy this is the same
computation as ``torchattacks.PGD``, operation for operation, and its output equals torchattacks'
exactly under the same random seed (tested); the margin and DLR losses are what torchattacks does
not offer. The random start draws from torch's global generator, which the runner seeds per point
and batch.
"""

from __future__ import annotations

import torch
from torch import nn

from wmbench.perturbations.base import Perturbation, SharedWork
from wmbench.perturbations.losses import attack_loss, mean_loss


class PgdAttack(Perturbation):
    """L∞ PGD.

    Args:
        eps: L∞ radius (≥ 0).
        alpha: step size.
        steps: number of steps.
        random_start: start from a uniform random point of the ε-ball.
        loss: ``ce`` (cross-entropy), ``margin`` or ``dlr``.

    Example:
        >>> adv = PgdAttack(eps=0.1, alpha=0.01, steps=100, loss="margin")(model, x, y)
    """

    def __init__(
        self, eps: float, alpha: float, steps: int, random_start: bool = True, loss: str = "ce"
    ) -> None:
        attack_loss(loss)
        extra = {} if loss == "ce" else {"loss": loss}
        super().__init__(eps=eps, alpha=alpha, steps=steps, random_start=random_start, **extra)
        self.eps, self.alpha, self.steps = float(eps), float(alpha), int(steps)
        self.random_start = bool(random_start)
        self.loss = loss

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        adversarial = images.clone().detach()
        if self.random_start:
            adversarial = adversarial + torch.empty_like(adversarial).uniform_(-self.eps, self.eps)
            adversarial = torch.clamp(adversarial, min=0, max=1).detach()
        for _ in range(self.steps):
            adversarial.requires_grad_(True)
            loss = mean_loss(self.loss, model(adversarial), labels)
            gradient = torch.autograd.grad(loss, adversarial)[0]
            adversarial = adversarial.detach() + self.alpha * gradient.sign()
            delta = torch.clamp(adversarial - images, min=-self.eps, max=self.eps)
            adversarial = torch.clamp(images + delta, min=0, max=1).detach()
        return adversarial
