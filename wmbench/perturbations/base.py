"""The one contract every perturbation follows: ``(model, images, labels) -> perturbed images``.

Like torchattacks' ``Attack.forward``, a perturbation takes a batch of images in [0, 1] of shape
``(N, C, H, W)`` and their labels ``(N,)``, and returns perturbed images of the same shape, still
in [0, 1]. The model is in eval mode. Two optional inputs let a runner share work: the gradient of
the cross-entropy loss with respect to the clean images (one backward pass serves every ε of an
FGSM sweep) and a seeded generator for random noise. An implementation writes :meth:`perturb`;
the suite file's entry (:mod:`wmbench.schema.perturbations`) names it and gives its parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class SharedWork:
    """What a runner may hand a perturbation instead of letting it compute it.

    Attributes:
        input_gradient: the gradient of the mean cross-entropy loss w.r.t. the clean images.
        generator: the source of random numbers (seeded per suite, point and batch).
    """

    input_gradient: torch.Tensor | None = None
    generator: torch.Generator | None = None


class Perturbation(ABC):
    """Base of every perturbation.

    Attributes:
        uses_input_gradient: True when :meth:`perturb` can take the clean input gradient
            instead of computing it.
        params: the parameter values it was built with, by name.
    """

    uses_input_gradient: ClassVar[bool] = False

    def __init__(self, **params: object) -> None:
        self.params = params

    def __call__(
        self,
        model: nn.Module,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        input_gradient: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Returns the perturbed images (detached, in [0, 1])."""
        return self.perturb(model, images.detach(), labels, SharedWork(input_gradient, generator))

    @abstractmethod
    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        """The perturbed images of a detached batch."""

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{type(self).__name__}({args})"


def loss_input_gradient(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Gradient of the mean cross-entropy loss with respect to the images, as torchattacks
    computes it (same loss, same reduction, so its sign is bit-for-bit the same)."""
    images = images.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(images), labels)
    return torch.autograd.grad(loss, images)[0]
