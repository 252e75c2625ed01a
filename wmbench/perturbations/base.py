"""The one contract every perturbation follows: ``(model, images, labels) -> perturbed images``.

Like torchattacks' ``Attack.forward``, a perturbation takes a batch of images in [0, 1] of shape
``(N, C, H, W)`` and their labels ``(N,)``, and returns perturbed images of the same shape, still
in [0, 1]. The model is in eval mode. Optional inputs let a runner share work: the gradients of
the attack losses with respect to the clean images (one backward pass serves every ε of an FGSM
sweep), the clean logits (a worst-case protocol skips images already misclassified) and a
seeded generator for random noise. An implementation writes :meth:`perturb`; the suite file's
entry (:mod:`wmbench.schema.perturbations`) names it and gives its parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class SharedWork:
    """What a runner may hand a perturbation instead of letting it compute it.

    Attributes:
        input_gradients: by loss name (``ce``, ``margin``, ``dlr``), the gradient of the batch
            mean of that loss w.r.t. the clean images.
        generator: the source of random numbers (seeded per suite, point and batch).
        clean_logits: the model's logits for the clean images.
    """

    input_gradients: Mapping[str, torch.Tensor] = field(default_factory=dict)
    generator: torch.Generator | None = None
    clean_logits: torch.Tensor | None = None

    def subset(self, index: torch.Tensor) -> SharedWork:
        """The same work for the images ``index`` of the batch."""
        logits = None if self.clean_logits is None else self.clean_logits[index]
        gradients = {loss: gradient[index] for loss, gradient in self.input_gradients.items()}
        return SharedWork(gradients, self.generator, logits)


class Perturbation(ABC):
    """Base of every perturbation.

    Attributes:
        gradient_loss: the loss whose clean input gradient :meth:`perturb` can take from the
            runner instead of computing it (None when it takes none).
        params: the parameter values it was built with, by name.
    """

    gradient_loss: str | None = None

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
        shared: SharedWork | None = None,
    ) -> torch.Tensor:
        """Returns the perturbed images (detached, in [0, 1]). ``input_gradient`` is the clean
        cross-entropy gradient (a shorthand for ``shared``'s ``input_gradients["ce"]``)."""
        if shared is None:
            gradients = {} if input_gradient is None else {"ce": input_gradient}
            shared = SharedWork(gradients, generator)
        return self.perturb(model, images.detach(), labels, shared)

    @abstractmethod
    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        """The perturbed images of a detached batch."""

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{type(self).__name__}({args})"
