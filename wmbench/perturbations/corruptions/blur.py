"""MNIST-C's blurs (Mu & Gilmer 2019): glass blur and motion blur, whole batches at once.

Glass blur, as the reference does it on a grey 28x28 image:

1. ``skimage.filters.gaussian(x, sigma, multichannel=True)``. On a 2-D array that flag makes
   skimage treat the columns as channels, so the reference blurs along the rows (vertically)
   only; this is kept, as it is what MNIST-C's images went through. Borders: nearest pixel.
2. ``np.uint8(x * 255)``: truncation to 8 bits. Here ``floor(255 x + 1e-3) / 255``: the small
   guard keeps a saturated pixel at 255 whatever the rounding of the kernel's sum (float32 and
   float64 then agree; the reference's ``np.uint8`` can turn 254.9999999 into 254).
3. ``iterations`` passes over the pixels ``(h, w)``, ``h`` from ``H - d`` down to ``d + 1`` and
   ``w`` likewise (``d`` the largest shift), each pixel swapped with probability 1/2 with the
   pixel ``(h + dy, w + dx)``, ``dx, dy`` uniform integers in ``[-d, d - 1]`` (NumPy's
   ``randint(-d, d)`` excludes ``d``). The swaps are sequential, as in the reference; they run
   for all images at once, one pixel position after the other, on a permutation of pixel
   indices that every channel then follows.
4. The same vertical Gaussian blur again, then clipping to [0, 1].

Motion blur: the reference calls ImageMagick's ``MagickMotionBlurImage(radius, sigma, angle)``
with ``angle ~ U(-45, 45)`` degrees. ImageMagick's kernel is one-sided: ``2 ceil(radius) + 1``
taps weighted ``exp(-i^2 / (2 sigma^2))`` (normalised), tap ``i`` reading the pixel at
``(x + ceil(i cos a - 1/2), y + ceil(i sin a - 1/2))`` (x the column, y the row; computed as
ImageMagick does, from ``hypot``), with edge pixels repeated outside the image (ImageMagick's
default virtual-pixel method). That is what :func:`motion_blur_by` computes, per channel.
Differences: no PNG round trip, so no rounding to 8 bits; ImageMagick's 16-bit quantum
arithmetic is float arithmetic here.

Lengths scale with the image width (``W / 28``): sigma, radius and the largest shift (rounded,
at least 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from wmbench.perturbations.corruptions.filters import gaussian_blur, uniform, windows
from wmbench.perturbations.corruptions.parameters import parameter, pixel_scale

QUANTISATION_GUARD = 1e-3  # in 8-bit levels; see step 2 above


def quantise_8bit(images: torch.Tensor) -> torch.Tensor:
    """``floor(255 x + 1e-3) / 255``: the reference's ``np.uint8(255 x)`` made rounding-proof."""
    return torch.floor(images * 255 + QUANTISATION_GUARD) / 255


def glass_swaps(
    count: int,
    height: int,
    width: int,
    delta: int,
    iterations: int,
    generator: torch.Generator,
    like: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random swaps of glass blur: ``(swap, dy, dx)``, each ``(iterations, H - 2d, W - 2d,
    count)``, indexed by pass, row position and column position in the order of step 3."""
    shape = (iterations, height - 2 * delta, width - 2 * delta, count)
    device = generator.device
    swap = torch.randint(0, 2, shape, generator=generator, device=device) == 1
    dy = torch.randint(-delta, delta, shape, generator=generator, device=device)
    dx = torch.randint(-delta, delta, shape, generator=generator, device=device)
    return swap.to(like.device), dy.to(like.device), dx.to(like.device)


def local_shuffle(
    images: torch.Tensor, delta: int, swap: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor
) -> torch.Tensor:
    """Step 3 of glass blur: the sequential pixel swaps given by ``glass_swaps``' tensors."""
    n, channels, height, width = images.shape
    pixels = height * width
    # order[i * pixels + p]: the pixel of image i that the shuffle has brought to position p
    order = torch.arange(pixels, device=images.device).repeat(n)
    base = torch.arange(n, device=images.device) * pixels
    shifts = torch.where(swap, dy * width + dx, torch.zeros_like(dy)).to(images.device)
    rows = range(height - delta, delta, -1)
    cols = range(width - delta, delta, -1)
    for sweep in shifts:
        for row, row_shifts in zip(rows, sweep, strict=True):
            starts = base + row * width
            for col, shift in zip(cols, row_shifts, strict=True):
                here = starts + col
                there = here + shift
                moving = order[here]
                order[here] = order[there]
                order[there] = moving
    index = order.view(n, 1, pixels).expand(n, channels, pixels)
    return images.reshape(n, channels, pixels).gather(2, index).view_as(images)


def glass_blur_with(
    images: torch.Tensor,
    sigma: float,
    delta: int,
    swap: torch.Tensor,
    dy: torch.Tensor,
    dx: torch.Tensor,
) -> torch.Tensor:
    """Glass blur with given swaps (steps 1-4 above)."""
    blurred = quantise_8bit(gaussian_blur(images, sigma, 0.0, "nearest"))
    shuffled = local_shuffle(blurred, delta, swap, dy, dx)
    return gaussian_blur(shuffled, sigma, 0.0, "nearest").clamp(0, 1)


def glass_settings(severity: int, width: int) -> tuple[float, int, int]:
    """``(sigma, largest shift, iterations)`` of glass blur at ``severity`` for this width."""
    sigma, delta, iterations = parameter("glass_blur", severity)
    scale = pixel_scale(width)
    return sigma * scale, max(1, round(delta * scale)), iterations


def glass_blur(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's glass blur at ``severity`` (see the module docstring)."""
    n, _, height, width = images.shape
    sigma, delta, iterations = glass_settings(severity, width)
    swaps = glass_swaps(n, height, width, delta, iterations, generator, images)
    return glass_blur_with(images, sigma, delta, *swaps)


def motion_kernel(radius: float, sigma: float) -> list[float]:
    """ImageMagick's one-sided motion-blur weights: ``2 ceil(radius) + 1`` of them."""
    taps = int(2.0 * math.ceil(radius) + 1.0)
    weights = [
        math.exp(-(i * i) / (2.0 * sigma * sigma)) / (math.sqrt(2 * math.pi) * sigma)
        for i in range(taps)
    ]
    total = sum(weights)
    return [weight / total for weight in weights]


def motion_offsets(angles: torch.Tensor, taps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Column and row offsets ``(N, taps)`` of each tap, from angles in degrees, computed as
    ImageMagick's ``MotionBlurImage`` does."""
    radians = math.pi * angles.double() / 180.0
    point_x = taps * torch.sin(radians)
    point_y = taps * torch.cos(radians)
    length = torch.hypot(point_x, point_y)
    i = torch.arange(taps, dtype=torch.float64, device=angles.device)
    cols = torch.ceil((i * point_y[:, None]) / length[:, None] - 0.5).long()
    rows = torch.ceil((i * point_x[:, None]) / length[:, None] - 0.5).long()
    return cols, rows


def motion_blur_by(
    images: torch.Tensor, radius: float, sigma: float, angles: torch.Tensor
) -> torch.Tensor:
    """ImageMagick's motion blur of each image along its angle (degrees, ``(N,)``)."""
    n, channels, height, width = images.shape
    weights = motion_kernel(radius, sigma)
    col_shift, row_shift = motion_offsets(angles.to(images.device), len(weights))
    reach = len(weights) - 1  # no offset is longer
    padded = F.pad(images, (reach, reach, reach, reach), mode="replicate")
    out = None
    for tap, weight in enumerate(weights):
        top, left = reach + row_shift[:, tap], reach + col_shift[:, tap]
        term = windows(padded, top, left, height, width) * weight
        out = term if out is None else out + term
    return out.clamp(0, 1)


def motion_settings(severity: int, width: int) -> tuple[float, float]:
    """``(radius, sigma)`` of motion blur at ``severity`` for this width."""
    radius, sigma = parameter("motion_blur", severity)
    scale = pixel_scale(width)
    return radius * scale, sigma * scale


def motion_blur(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's motion blur at ``severity``, each image at an angle drawn from U(-45, 45)."""
    angles = -45.0 + 90.0 * uniform((images.shape[0],), generator, images, dtype=torch.float64)
    return motion_blur_by(images, *motion_settings(severity, images.shape[-1]), angles)
