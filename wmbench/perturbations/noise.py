"""Random noise of Amer & Maul §4.3, and the clean baseline.

Uniform noise: every pixel gets ``U(0, upper)`` added (the lower bound is always zero, as in the
paper), then each image is renormalised to [0, 1] by its own minimum and maximum — the paper says
only "renormalized to be within the range [0, 1]"; per-image min–max is the natural reading, and
keeps each image's full dynamic range whatever ``upper`` is. An image that comes out constant
(not possible for MNIST with ``upper > 0`` unless the noise is constant) maps to zeros.
"""

from __future__ import annotations

import torch
from torch import nn

from wmbench.perturbations.base import Perturbation, SharedWork


class CleanImages(Perturbation):
    """The images as they are."""

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        return images


def renormalise(images: torch.Tensor) -> torch.Tensor:
    """Per-image min–max rescaling to [0, 1]."""
    low = images.amin(dim=(1, 2, 3), keepdim=True)
    high = images.amax(dim=(1, 2, 3), keepdim=True)
    span = high - low
    return torch.where(span > 0, (images - low) / span.clamp_min(1e-12), torch.zeros_like(images))


class UniformNoise(Perturbation):
    """``renormalise(x + U(0, upper))``.

    Args:
        upper: upper bound of the noise (> 0).

    Example:
        >>> noisy = UniformNoise(upper=0.5)(model, images, labels, generator=generator)
    """

    def __init__(self, upper: float) -> None:
        super().__init__(upper=upper)
        self.upper = float(upper)

    def perturb(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shared: SharedWork
    ) -> torch.Tensor:
        noise = torch.rand(
            images.shape, generator=shared.generator, device=images.device, dtype=images.dtype
        )
        return renormalise(images + self.upper * noise)
