"""Defence-aware gradient attacks (Tramèr et al. 2020, "On Adaptive Attacks to Adversarial
Example Defenses"): FGSM or PGD crafted on a differentiable view of a defended model and judged,
as every attack, on the model itself.

The defence they adapt to is EWAS (:mod:`wmbench.layers.ewas`), whose mask is the row of its
auxiliary classifier's argmax: piecewise constant in the input, so a plain gradient never sees
the mask switch. The views:

- ``soft-mask``: every EWAS layer scales by the rows weighted by ``softmax(auxiliary logits)``,
  a differentiable surrogate of the choice (BPDA-style: the forward pass differs only where the
  auxiliary classifier is unsure).
- ``both-heads``: the view's logits are ``log_softmax(main) + Σ log_softmax(auxiliary)``, the
  log of the product of the heads' distributions, so a loss on them pushes the main classifier
  and every auxiliary one (whose argmax picks the mask) away from the label together.
- ``fixed-mask``: every EWAS layer scales by its true label's row (the mask of training), the
  same for every step.

On a model without EWAS every view computes the model's own gradient directions, so the attack
equals the standard one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wmbench.layers import ElementWiseActivationScaling, ewas_mask
from wmbench.perturbations.base import Perturbation, SharedWork

VIEWS = ("soft-mask", "both-heads", "fixed-mask")


class DefenceAwareView(nn.Module):
    """The model an adaptive attack differentiates (see the module's docstring).

    Args:
        model: the defended model, in eval mode.
        view: ``soft-mask``, ``both-heads`` or ``fixed-mask``.
        labels: the batch's labels (the rows of ``fixed-mask``); the view takes that batch only.
    """

    def __init__(self, model: nn.Module, view: str, labels: torch.Tensor) -> None:
        super().__init__()
        if view not in VIEWS:
            raise ValueError(f"unknown defence-aware view {view!r} (one of {', '.join(VIEWS)})")
        self.model = model
        self.view = view
        self.labels = labels
        self.ewas = [m for m in model.modules() if isinstance(m, ElementWiseActivationScaling)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.view == "soft-mask":
            with ewas_mask(self.model, "soft"):
                return self.model(x)
        if self.view == "fixed-mask":
            if len(x) != len(self.labels):
                raise ValueError("the fixed-mask view takes the whole batch it was made for")
            with ewas_mask(self.model, "fixed", fixed_rows=self.labels):
                return self.model(x)
        logits = F.log_softmax(self.model(x), dim=1)
        for layer in self.ewas:
            assert layer.last_aux_logits is not None  # set by the pass just made
            logits = logits + F.log_softmax(layer.last_aux_logits, dim=1)
        return logits


class DefenceAwareAttack(Perturbation):
    """A gradient attack crafted on :class:`DefenceAwareView`.

    Args:
        attack: the attack (FGSM or PGD), built without the option.
        view: ``soft-mask``, ``both-heads`` or ``fixed-mask``.
        params: every parameter of the point, the option included (for tables and repr).
    """

    def __init__(self, attack: Perturbation, view: str, **params: object) -> None:
        super().__init__(**params)
        if view not in VIEWS:
            raise ValueError(f"unknown defence-aware view {view!r} (one of {', '.join(VIEWS)})")
        self.attack = attack
        self.view = view

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        surrogate = DefenceAwareView(model, self.view, labels)
        # The runner's clean gradients are the model's own, not the view's: leave them out.
        own = SharedWork(generator=shared.generator, clean_logits=shared.clean_logits)
        return self.attack.perturb(surrogate, images, labels, own)
