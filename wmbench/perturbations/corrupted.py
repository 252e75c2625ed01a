"""The suite's ``corruption`` kind: one common corruption at one severity, applied to a whole
batch with the runner's seeded generator (the same corrupted images for every model, and the same
numbers on every run). The corruptions themselves are :mod:`wmbench.perturbations.corruptions`."""

from __future__ import annotations

import torch
from torch import nn

from wmbench.perturbations.base import Perturbation, SharedWork


class CommonCorruption(Perturbation):
    """``corruption`` at ``severity`` (1–5).

    Example:
        >>> foggy = CommonCorruption("fog", 3)(model, images, labels, generator=generator)
    """

    def __init__(self, corruption: str, severity: int) -> None:
        super().__init__(corruption=corruption, severity=severity)
        self.corruption = corruption
        self.severity = int(severity)

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        from wmbench.perturbations.corruptions import corrupt  # its fifteen modules: on use

        generator = shared.generator
        if generator is None:  # called outside a runner: a fixed seed, still repeatable
            generator = torch.Generator(device=images.device).manual_seed(0)
        return corrupt(self.corruption, images, self.severity, generator)
