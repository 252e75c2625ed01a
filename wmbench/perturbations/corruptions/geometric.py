"""MNIST-C's affine corruptions (Mu & Gilmer 2019): shear, scale, rotate and translate.

The reference warps each image with ``skimage.transform.warp(x, inverse_map=AffineTransform(...))``
(bilinear, zeros outside) about the image centre ``((W - 1) / 2, (H - 1) / 2)`` (13.5 on MNIST).
The affine map given to ``warp`` sends an output pixel to the input position it reads, so in
``(x, y) = (column, row)`` coordinates relative to the centre:

- rotate: input = ``[[cos a, -sin a], [sin a, cos a]] @ output``: positive ``a`` turns the content
  counter-clockwise as displayed (row 0 at the top), like ``torch.rot90``; ``a = ±0.4`` with a
  random sign on MNIST-C.
- shear: skimage's (pre-0.19) ``AffineTransform(shear=s)`` is ``[[1, -sin s], [0, cos s]]``: a
  horizontal shear with a vertical stretch by ``1 / cos s``; ``s = ±0.4`` with a random sign.
- scale: ``AffineTransform(scale=1 / f)``: the content scaled by ``f`` about the centre; ``f =
  0.7`` (deterministic).
- translate: the reference's ``AffineTransform(translation=(tx, ty))`` moves the content by
  ``(-tx, -ty)`` with ``tx, ty = ±3`` (signs random and independent): always 3 pixels along each
  axis, never fewer. :func:`translate_by` takes the movement of the content itself.

Every channel of an image is warped alike. Shifts scale with the width (``W / 28``, rounded, at
least 1); angles and factors do not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wmbench.perturbations.corruptions.filters import random_signs, sample_bilinear, windows
from wmbench.perturbations.corruptions.parameters import parameter, pixel_scale


def warp_about_centre(
    images: torch.Tensor, matrix: torch.Tensor, shift: torch.Tensor | None = None
) -> torch.Tensor:
    """Each image read at ``matrix @ (p - centre) + centre + shift`` for every output pixel ``p``.

    Args:
        images: ``(N, C, H, W)``.
        matrix: ``(N, 2, 2)`` acting on ``(column, row)`` offsets from the centre.
        shift: ``(N, 2)`` ``(column, row)`` offsets added to the input position, or None.
    """
    n, _, height, width = images.shape
    matrix = matrix.to(device=images.device, dtype=images.dtype)
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    x = (torch.arange(width, device=images.device, dtype=images.dtype) - centre_x).view(1, 1, -1)
    y = (torch.arange(height, device=images.device, dtype=images.dtype) - centre_y).view(1, -1, 1)
    a, b = matrix[:, 0, 0].view(n, 1, 1), matrix[:, 0, 1].view(n, 1, 1)
    c, d = matrix[:, 1, 0].view(n, 1, 1), matrix[:, 1, 1].view(n, 1, 1)
    cols = a * x + b * y + centre_x
    rows = c * x + d * y + centre_y
    if shift is not None:
        shift = shift.to(device=images.device, dtype=images.dtype)
        cols = cols + shift[:, 0].view(n, 1, 1)
        rows = rows + shift[:, 1].view(n, 1, 1)
    return sample_bilinear(images, rows, cols).clamp(0, 1)


def _per_image(values: torch.Tensor | float, images: torch.Tensor) -> torch.Tensor:
    values = torch.as_tensor(values, dtype=torch.float64)
    return values.expand(images.shape[0]) if values.ndim == 0 else values


def rotate_by(images: torch.Tensor, angles: torch.Tensor | float) -> torch.Tensor:
    """Each image turned by its angle (radians; positive: counter-clockwise as displayed) about
    its centre, bilinear, zeros outside (the reference's ``AffineTransform(rotation=angle)``)."""
    angles = _per_image(angles, images)
    cos, sin = torch.cos(angles), torch.sin(angles)
    matrix = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    return warp_about_centre(images, matrix)


def shear_by(images: torch.Tensor, shears: torch.Tensor | float) -> torch.Tensor:
    """Each image warped by skimage's ``AffineTransform(shear=s)`` about its centre: input
    position ``(x - sin(s) y, cos(s) y)`` for output ``(x, y)`` (offsets from the centre)."""
    shears = _per_image(shears, images)
    zeros, ones = torch.zeros_like(shears), torch.ones_like(shears)
    matrix = torch.stack(
        [torch.stack([ones, -torch.sin(shears)], -1), torch.stack([zeros, torch.cos(shears)], -1)],
        -2,
    )
    return warp_about_centre(images, matrix)


def scale_by(images: torch.Tensor, factor: float) -> torch.Tensor:
    """The content scaled by ``factor`` about the centre (0.7: to 70 % of its size)."""
    inverse = 1.0 / factor
    matrix = torch.tensor([[inverse, 0.0], [0.0, inverse]], dtype=torch.float64)
    return warp_about_centre(images, matrix.expand(images.shape[0], 2, 2))


def translate_by(
    images: torch.Tensor, dx: torch.Tensor | int, dy: torch.Tensor | int
) -> torch.Tensor:
    """The content moved ``dx`` whole pixels right and ``dy`` down (per image or for all), zeros
    where it leaves: what the reference's bilinear warp gives for whole-pixel shifts, exactly.

    Raises:
        ValueError: if a shift is not a whole number of pixels.
    """
    n, _, height, width = images.shape
    dx, dy = (torch.as_tensor(v, device=images.device).expand(n) for v in (dx, dy))
    whole = torch.equal(dx, dx.round()) and torch.equal(dy, dy.round())
    if (dx.is_floating_point() or dy.is_floating_point()) and not whole:
        raise ValueError("translate_by moves images by whole pixels only")
    dx, dy = dx.long(), dy.long()
    margin = int(torch.cat([dx.abs(), dy.abs(), dx.new_zeros(1)]).max())
    padded = F.pad(images, (margin, margin, margin, margin))
    return windows(padded, margin - dy, margin - dx, height, width)


def shear(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's shear: ``shear_by`` the severity's angle with a random sign per image."""
    signs = random_signs(images.shape[0], generator, images).double()
    return shear_by(images, signs * parameter("shear", severity))


def rotate(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's rotation: ``rotate_by`` the severity's angle with a random sign per image."""
    signs = random_signs(images.shape[0], generator, images).double()
    return rotate_by(images, signs * parameter("rotate", severity))


def scale(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's scale: deterministic (``generator`` is not used)."""
    return scale_by(images, parameter("scale", severity))


def translation_shift(severity: int, width: int) -> int:
    """Pixels moved along each axis by ``translate`` at ``severity`` for this width."""
    return max(1, round(parameter("translate", severity) * pixel_scale(width)))


def translate(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's translation: the content moved by the severity's shift along both axes, each
    direction drawn at random per image."""
    shift = translation_shift(severity, images.shape[-1])
    sign_x = random_signs(images.shape[0], generator, images).double()
    sign_y = random_signs(images.shape[0], generator, images).double()
    return translate_by(images, (shift * sign_x).long(), (shift * sign_y).long())
