"""MNIST-C's deterministic tone corruptions (Mu & Gilmer 2019): brightness and stripe.

- Brightness: the reference converts the grey image to RGB, then HSV, adds ``c`` to the value
  channel (clipped to 1) and converts back (``c = 0.5`` on MNIST-C). On a grey image that is
  ``min(x + c, 1)``. On colour images this is the same HSV step: hue and saturation kept, so every
  channel is multiplied by ``min(v + c, 1) / v`` with ``v`` the largest channel, and a black pixel
  becomes grey ``c``. Any number of channels is treated the same way.
- Stripe: the columns 0-6 and 21-27 of the 28 are inverted (``1 - x``), every channel. At other
  widths the band at each side is ``round(7 W / 28)`` columns wide (other severities: their band
  width times ``W / 28``).
"""

from __future__ import annotations

import torch

from wmbench.perturbations.corruptions.parameters import parameter, pixel_scale


def brightness_by(images: torch.Tensor, amount: float) -> torch.Tensor:
    """The HSV value of every pixel raised by ``amount`` and clipped to 1 (grey: ``min(x + c,
    1)``)."""
    if images.shape[1] == 1:
        return (images + amount).clamp(0, 1)
    value = images.amax(dim=1, keepdim=True)
    raised = (value + amount).clamp(0, 1)
    ratio = raised / value.clamp_min(torch.finfo(images.dtype).tiny)
    return torch.where(value > 0, images * ratio, raised.expand_as(images)).clamp(0, 1)


def brightness(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's brightness at ``severity`` (deterministic: ``generator`` is not used)."""
    return brightness_by(images, parameter("brightness", severity))


def invert_side_bands(images: torch.Tensor, band: int) -> torch.Tensor:
    """``1 - x`` in the ``band`` leftmost and ``band`` rightmost columns."""
    width = images.shape[-1]
    columns = torch.arange(width, device=images.device)
    inverted = (columns < band) | (columns >= width - band)
    return torch.where(inverted, 1 - images, images)


def stripe_band(severity: int, width: int) -> int:
    """Columns inverted at each side by ``stripe`` at ``severity`` for this width."""
    return round(parameter("stripe", severity) * pixel_scale(width))


def stripe(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's stripe (deterministic: ``generator`` is not used)."""
    return invert_side_bands(images, stripe_band(severity, images.shape[-1]))
