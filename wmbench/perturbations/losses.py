"""The losses gradient attacks climb, per image: cross-entropy, the C&W margin and AutoAttack's DLR.

- ``ce``: cross-entropy of the logits ``z`` and the label ``y``. It saturates: once softmax
  rounds to one in float32 the loss and its gradient are exactly zero (common on MNIST).
- ``margin``: ``max_{j≠y} z_j − z_y``, the logit margin of Carlini & Wagner (arXiv:1608.04644,
  their f6 with κ = 0, sign flipped so that the attack maximises it).
- ``dlr``: the difference of logits ratio of Croce & Hein (arXiv:2003.01690, eq. 6),
  ``−(z_y − max_{j≠y} z_j) / (z_π1 − z_π3)`` with ``z_π`` the logits sorted in decreasing order;
  invariant to shifting and scaling the logits. Needs at least three classes.

Margin and DLR are differences of logits, so they keep a gradient where softmax has saturated.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from wmbench.errors import ConfigError

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _largest_other(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``max_{j≠y} z_j`` per row."""
    others = logits.scatter(1, labels[:, None], float("-inf"))
    return others.amax(1)


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-image cross-entropy."""
    return F.cross_entropy(logits, labels, reduction="none")


def margin_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-image ``max_{j≠y} z_j − z_y``: positive exactly when the image is misclassified."""
    true = logits.gather(1, labels[:, None])[:, 0]
    return _largest_other(logits, labels) - true


def dlr_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-image difference of logits ratio (AutoAttack's untargeted DLR)."""
    if logits.shape[1] < 3:
        raise ConfigError(f"the dlr loss needs at least 3 classes, the model has {logits.shape[1]}")
    top = logits.sort(1, descending=True).values
    return margin_loss(logits, labels) / (top[:, 0] - top[:, 2] + 1e-12)


LOSSES: dict[str, LossFunction] = {
    "ce": cross_entropy_loss,
    "margin": margin_loss,
    "dlr": dlr_loss,
}


def attack_loss(name: str) -> LossFunction:
    """The per-image loss called ``name`` (``ce``, ``margin`` or ``dlr``)."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}") from None


def mean_loss(name: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The batch mean of a loss. For ``ce`` this is ``F.cross_entropy`` itself, as torchattacks
    computes it, so that gradient signs match torchattacks bit for bit."""
    if name == "ce":
        return F.cross_entropy(logits, labels)
    return attack_loss(name)(logits, labels).mean()


def loss_input_gradient(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, loss: str = "ce"
) -> torch.Tensor:
    """Gradient of the batch-mean loss with respect to the images."""
    images = images.detach().clone().requires_grad_(True)
    value = mean_loss(loss, model(images), labels)
    return torch.autograd.grad(value, images)[0]
