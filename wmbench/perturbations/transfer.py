"""Transfer attacks: an attack crafted on another model (a surrogate, e.g. the same architecture
without the defence) and judged on the model under test. A defence that only hides its gradient
(gradient masking) falls to examples made on a model whose gradient is not hidden; one of the
checks Tramèr et al. 2020 ask of a defence, and gradient-free besides."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from wmbench.checkpoint import load_checkpoint
from wmbench.perturbations.base import Perturbation, SharedWork


class TransferAttack(Perturbation):
    """``attack`` crafted on the checkpoint ``source``.

    Args:
        attack: the attack (FGSM, PGD or APGD), built with its own parameters.
        surrogate: the source checkpoint; loaded on the first batch, onto the batch's device.
        params: every parameter of the point, ``source`` included (for tables and repr).
    """

    def __init__(self, attack: Perturbation, surrogate: Path, **params: object) -> None:
        super().__init__(**params)
        self.attack = attack
        self.source = surrogate
        self._surrogate: nn.Module | None = None

    def surrogate(self, device: torch.device) -> nn.Module:
        """The source model on ``device``, in eval mode."""
        if self._surrogate is None or next(self._surrogate.parameters()).device != device:
            self._surrogate = load_checkpoint(self.source, device)[0].eval()
        return self._surrogate

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        # The runner's clean gradients are the target's: the surrogate computes its own.
        own = SharedWork(generator=shared.generator)
        return self.attack.perturb(self.surrogate(images.device), images, labels, own)
