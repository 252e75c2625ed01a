"""MNIST-C's fog and spatter (Mu & Gilmer 2019), whole batches at once.

Fog, as the reference: a plasma fractal (diamond-square on a 256x256 torus, first wibble 100,
divided by ``decay`` at each halving of the step; ``wibble * U(-wibble, wibble)`` added at each
new point), shifted and divided to span [0, 1] over the whole 256x256 map, and its top-left
``H x W`` corner used: ``clip((x + c F) max(x) / (max(x) + c), 0, 1)`` with ``max(x)`` the
image's largest value (``c, decay = 3, 1.4`` on MNIST-C). One fractal per image, shared by its
channels; images larger than 256 get the next power-of-two map. The maps are built a few hundred
images at a time to bound memory, level by level as dense grids rather than by strided writes
into one array; the arithmetic (and its order) is the reference's, so float64 results agree.

Spatter (the reference's "mud" variant, the only one its MNIST code has): a liquid layer
``N(mean, std)`` per pixel, Gaussian-blurred (sigma ``s1``, nearest borders); the pixels above
``threshold`` form a mask, blurred (sigma ``s2``) and zeroed below 0.8; the image is mixed with
grey 63/255 by that mask: ``clip(x (1 - m) + 63/255 m, 0, 1)``. Differences: one liquid layer per
image shared by its channels (the reference draws one per value of the array it is given); the
mask's blur is kept in the images' precision (the reference rounds it to float32).

Sigmas scale with the width (``W / 28``); the fractal does not (its pixels are the image's).
"""

from __future__ import annotations

import torch

from wmbench.perturbations.corruptions.filters import gaussian_blur
from wmbench.perturbations.corruptions.parameters import parameter, pixel_scale

PLASMA_SIZE = 256
FIRST_WIBBLE = 100.0
MUD = 63 / 255
FOG_CHUNK = 256  # images per batch of fractal maps: 256 maps of 256x256 float32 are 64 MiB


def plasma_size(height: int, width: int) -> int:
    """Side of the fractal map: 256, or the next power of two for larger images."""
    size = PLASMA_SIZE
    while size < max(height, width):
        size *= 2
    return size


def plasma_uniforms(
    count: int, size: int, generator: torch.Generator, like: torch.Tensor
) -> list[torch.Tensor]:
    """The U[0, 1) draws of ``count`` fractals: per level (step ``size / 2**level``) a tensor
    ``(count, 3, 2**level, 2**level)`` for its square, first and second diamond points."""
    draws = []
    for level in range(size.bit_length() - 1):
        side = 2**level
        values = torch.rand(
            (count, 3, side, side), generator=generator, device=generator.device, dtype=like.dtype
        )
        draws.append(values.to(like.device))
    return draws


def _interleave(
    corners: torch.Tensor, across: torch.Tensor, down: torch.Tensor, centres: torch.Tensor
) -> torch.Tensor:
    """The ``(N, 2n, 2n)`` grid with ``corners`` at even rows and columns, ``across`` at even rows
    and odd columns, ``down`` at odd rows and even columns, ``centres`` at odd rows and columns."""
    n, rows, cols = corners.shape
    even = torch.stack([corners, across], dim=-1).reshape(n, rows, 2 * cols)
    odd = torch.stack([down, centres], dim=-1).reshape(n, rows, 2 * cols)
    return torch.stack([even, odd], dim=2).reshape(n, 2 * rows, 2 * cols)


def plasma_fractal(
    uniforms: list[torch.Tensor], decay: float, height: int, width: int
) -> torch.Tensor:
    """The top-left ``height x width`` corner of the reference's ``plasma_fractal`` of each image
    (normalised over the whole map) from given draws.

    The map is built coarse to fine as dense grids (each level's points interleaved with the
    previous level's), which is the reference's strided filling with the same arithmetic; the
    finest level is only reduced to its extremes and the corner.

    Returns:
        ``(N, height, width)`` in [0, 1].
    """
    grid = uniforms[0].new_zeros(uniforms[0].shape[0], 1, 1)  # the corner point (0, 0)
    wibble = FIRST_WIBBLE
    for level, draws in enumerate(uniforms):
        # wibble * U(-wibble, wibble), in NumPy's order: wibble * (low + (high - low) * u)
        noise = draws.mul(wibble - -wibble).add_(-wibble).mul_(wibble)
        corners = grid
        total = corners + corners.roll(-1, 1)
        centres = total.add_(total.roll(-1, 2)).div_(4).add_(noise[:, 0])
        across = (centres + centres.roll(1, 1)).add_(corners + corners.roll(-1, 2))
        across = across.div_(4).add_(noise[:, 1])
        down = (centres + centres.roll(1, 2)).add_(corners + corners.roll(-1, 1))
        down = down.div_(4).add_(noise[:, 2])
        wibble /= decay
        if level < len(uniforms) - 1:
            grid = _interleave(corners, across, down, centres)
            continue
        parts = (corners, across, down, centres)
        low = torch.stack([part.amin(dim=(1, 2)) for part in parts]).amin(0).view(-1, 1, 1)
        high = torch.stack([part.amax(dim=(1, 2)) for part in parts]).amax(0).view(-1, 1, 1)
        rows, cols = (height + 1) // 2, (width + 1) // 2
        corner = _interleave(*(part[:, :rows, :cols] for part in parts))[:, :height, :width]
        return (corner - low) / (high - low)
    raise ValueError("plasma_fractal needs the draws of at least one level")


def fog_with(images: torch.Tensor, fractal: torch.Tensor, strength: float) -> torch.Tensor:
    """Fog from given fractals ``(N, >=H, >=W)`` (their top-left corner is used)."""
    height, width = images.shape[-2:]
    top_left = fractal[:, None, :height, :width].to(images.dtype)
    brightest = images.amax(dim=(1, 2, 3), keepdim=True)
    foggy = images + strength * top_left
    return (foggy * brightest / (brightest + strength)).clamp(0, 1)


def fog(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's fog at ``severity``."""
    strength, decay = parameter("fog", severity)
    size = plasma_size(*images.shape[-2:])
    parts = []
    for start in range(0, images.shape[0], FOG_CHUNK):
        chunk = images[start : start + FOG_CHUNK]
        draws = plasma_uniforms(len(chunk), size, generator, chunk)
        fractal = plasma_fractal(draws, decay, *chunk.shape[-2:])
        parts.append(fog_with(chunk, fractal, strength))
    return torch.cat(parts) if parts else images.clone()


def spatter_settings(severity: int, width: int) -> tuple[float, float, float, float, float]:
    """``(mean, std, liquid sigma, threshold, mud sigma)`` at ``severity`` for this width."""
    mean, std, liquid_sigma, threshold, mud_sigma = parameter("spatter", severity)
    scale = pixel_scale(width)
    return mean, std, liquid_sigma * scale, threshold, mud_sigma * scale


def spatter_with(
    images: torch.Tensor,
    normal: torch.Tensor,
    settings: tuple[float, float, float, float, float],
) -> torch.Tensor:
    """Spatter from given standard-normal draws ``(N, 1, H, W)`` and ``spatter_settings``."""
    mean, std, liquid_sigma, threshold, mud_sigma = settings
    liquid = mean + std * normal.to(device=images.device, dtype=images.dtype)
    liquid = gaussian_blur(liquid, liquid_sigma, liquid_sigma, "nearest")
    mask = (liquid > threshold).to(images.dtype)
    mud = gaussian_blur(mask, mud_sigma, mud_sigma, "nearest")
    mud = torch.where(mud < 0.8, torch.zeros_like(mud), mud)
    return (images * (1 - mud) + MUD * mud).clamp(0, 1)


def spatter(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's spatter at ``severity``."""
    n, _, height, width = images.shape
    normal = torch.randn(
        (n, 1, height, width), generator=generator, device=generator.device, dtype=images.dtype
    )
    return spatter_with(images, normal, spatter_settings(severity, width))
