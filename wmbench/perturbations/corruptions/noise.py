"""MNIST-C's noise corruptions (Mu & Gilmer 2019): shot noise and impulse noise, per pixel.

Both act on every channel of every pixel independently, as the reference's NumPy code does on a
grey image.

- Shot noise: ``clip(Poisson(c x) / c, 0, 1)`` (reference: ``np.random.poisson``); MNIST-C's
  ``c`` is 3. A black pixel stays black.
- Impulse noise: skimage's ``random_noise(mode="s&p", amount=a)``: each value becomes 1 with
  probability ``a / 2`` and 0 with probability ``a / 2``; MNIST-C's ``a`` is 0.17. skimage draws
  "flipped" and "salted" masks separately; here one uniform number per value decides both
  (salt below ``a / 2``, pepper from ``a / 2`` to ``a``), which has the same distribution.
"""

from __future__ import annotations

import torch

from wmbench.perturbations.corruptions.filters import uniform
from wmbench.perturbations.corruptions.parameters import parameter


def shot_noise(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """``clip(Poisson(c x) / c, 0, 1)`` with the Poisson rate ``c`` of ``severity``."""
    rate = float(parameter("shot_noise", severity))
    expected = (images * rate).to(device=generator.device)
    counts = torch.poisson(expected, generator=generator).to(images.device)
    return (counts / rate).clamp(0, 1)


def salt_and_pepper(images: torch.Tensor, salt: torch.Tensor, pepper: torch.Tensor) -> torch.Tensor:
    """``images`` with 1 where ``salt`` and 0 where ``pepper`` (boolean masks of their shape)."""
    out = torch.where(salt, torch.ones_like(images), images)
    return torch.where(pepper, torch.zeros_like(images), out)


def impulse_masks(
    images: torch.Tensor, amount: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The salt and pepper masks of :func:`impulse_noise`: each value is salt with probability
    ``amount / 2`` and pepper with probability ``amount / 2``, never both."""
    draws = uniform(tuple(images.shape), generator, images, dtype=torch.float64)
    salt = draws < amount / 2
    return salt, ~salt & (draws < amount)


def impulse_noise(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """Salt-and-pepper noise on the fraction of values that ``severity`` gives."""
    salt, pepper = impulse_masks(images, float(parameter("impulse_noise", severity)), generator)
    return salt_and_pepper(images, salt, pepper)
