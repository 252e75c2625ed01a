"""MNIST-C's drawn corruptions (Mu & Gilmer 2019): dotted line and zigzag, whole batches at once.

Both add a bright line to the image and clip to 1. The reference's ``line_from_points(c0, r0, c1,
r1)`` draws, between the columns ``floor(c0)`` (included) and ``ceil(c1)`` (excluded), the value
``clip(log(1 - d / 2.3) + 1, 0, 1)`` where ``d`` is the *vertical* distance of a pixel from the
straight line through the two points (so the line fades out about 1.45 pixels above and below
it). :func:`line_map` sums that function over a batch of segments (the reference adds the
segments one at a time, clipping after each: the same for lines that only add); the fade
distance 2.3 is the severity's parameter.

- Dotted line: one line from ``(0, r0)`` to ``(W - 1, r1)``, rows ``r0, r1`` uniform integers in
  ``[0, H - 2]`` (``randint(0, 27)`` on 28 rows), kept only in the columns ``c`` with
  ``floor(c / 2)`` odd (2, 3, 6, 7, ..., 26; column 27 is outside ``[0, ceil(27))``).
- Zigzag: from column 2 to 25, starting at row ``r0`` uniform in ``[0, H - 2]`` and heading for
  row ``r0 + k``, ``k`` uniform in ``[-5, 4]``: a zigzag of legs of 2 pixels across and +-2
  pixels up and down, along a line of length ``d = 23 / cos(atan(k / 23))``, ending with the
  reference's own final point ``(d, r / (2 (d - 20)))`` (``r`` the last leg's height, ``20 =
  4 floor(d / 4)``), rotated by ``atan(k / 23)``: seven segments, each drawn with
  ``line_from_points``.

Differences, all documented choices: every length (columns, rows, fade, dashes, legs, ``k``)
scales with the width ``W / 28`` (exactly the reference on MNIST); the draws come from a torch
generator rather than NumPy's. The reference's notebook runs Python 2, where ``(r1 - r0) / (c1 -
c0)`` of two integers is floor division (slopes of 0 or -1 only); the slopes here are the true
quotients, as in Python 3, which is how the reference reads.
"""

from __future__ import annotations

import math

import torch

from wmbench.perturbations.corruptions.parameters import parameter, pixel_scale


def line_map(
    height: int,
    width: int,
    c0: torch.Tensor,
    r0: torch.Tensor,
    c1: torch.Tensor,
    r1: torch.Tensor,
    fade: float,
) -> torch.Tensor:
    """The sum over segments of the reference's ``line_from_points``: ``(N, H, W)``.

    Args:
        c0, r0, c1, r1: ``(N, S)`` ends of ``S`` segments per image (columns and rows); a
            segment with ``c1 == c0`` draws nothing, as in the reference.
        fade: the distance (pixels) at which a line fades out (the reference's 2.3).

    A line is non-zero within ``fade (1 - 1/e)`` of its centre, so only the few rows around the
    centre of each column are evaluated (with the reference's formula) and added in place.
    """
    n, segments = c0.shape
    upright = c1 == c0
    slope = (r1 - r0) / torch.where(upright, torch.ones_like(c0), c1 - c0)
    cols = torch.arange(width, device=c0.device, dtype=c0.dtype)
    centre = slope[..., None] * (cols - c0[..., None]) + r0[..., None]  # (N, S, W)
    reach = fade * (1 - math.exp(-1))
    count = math.ceil(2 * reach) + 1  # rows that can be within reach of a centre
    first = torch.floor(centre.clamp(-2.0 * height, 3.0 * height) - reach)
    rows = first[..., None] + torch.arange(count, device=c0.device, dtype=c0.dtype)
    distance = (rows - centre[..., None]).abs().clamp(0, fade - 1e-10)  # (N, S, W, count)
    value = (torch.log(1 - distance / fade) + 1).clamp(0, 1)
    drawn = (cols >= torch.floor(c0)[..., None]) & (cols < torch.ceil(c1)[..., None])
    keep = (drawn & ~upright[..., None])[..., None] & (rows >= 0) & (rows < height)
    index = (rows.clamp(0, height - 1).long() * width + cols.long()[:, None]).view(n, -1)
    value = torch.where(keep, value, torch.zeros_like(value)).view(n, -1)
    out = value.new_zeros(n, height * width).scatter_add_(1, index, value)
    return out.view(n, height, width)


def line_rows(count: int, height: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` rows uniform in ``[0, H - 2]`` (the reference's ``randint(0, 27)``)."""
    return torch.randint(0, height - 1, (count,), generator=generator, device=generator.device)


def dotted_line_through(
    images: torch.Tensor, r0: torch.Tensor, r1: torch.Tensor, fade: float
) -> torch.Tensor:
    """The dotted line from ``(0, r0)`` to ``(W - 1, r1)`` (rows per image) added to each image.

    ``fade`` is in pixels of these images; dashes are ``2 W / 28`` columns long.
    """
    n, _, height, width = images.shape
    r0, r1 = (rows.to(device=images.device, dtype=images.dtype) for rows in (r0, r1))
    start = torch.zeros_like(r0).view(-1, 1)
    line = line_map(height, width, start, r0.view(-1, 1), start + (width - 1), r1.view(-1, 1), fade)
    cols = torch.arange(width, device=images.device, dtype=images.dtype)
    dashes = torch.floor(cols / (2 * pixel_scale(width))).remainder(2) == 1
    return (images + (line * dashes.to(line.dtype)).unsqueeze(1)).clamp(0, 1)


def dotted_line(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's dotted line, at a random height and slope per image."""
    n, _, height, width = images.shape
    r0, r1 = line_rows(n, height, generator), line_rows(n, height, generator)
    fade = parameter("dotted_line", severity) * pixel_scale(width)
    return dotted_line_through(images, r0, r1, fade)


def zigzag_points(
    r0: torch.Tensor, k: torch.Tensor, scale: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Corner points of the zigzags: columns and rows ``(N, P)`` and the validity ``(N, P - 1)``
    of each segment between consecutive points (all seven are valid for ``k`` in [-5, 4])."""
    leg, height = 2.0 * scale, 2.0 * scale  # the reference's a and b
    first, last = 2.0 * scale, 25.0 * scale
    r0 = r0.double()
    theta = torch.atan((k.double() * scale) / (last - first))
    length = (last - first) / torch.cos(theta)
    legs = (torch.div(length - leg, 2 * leg, rounding_mode="floor") + 1).long()
    most = int(legs.max())
    index = torch.arange(most, dtype=torch.float64, device=r0.device)
    cols = torch.zeros(len(r0), most + 2, dtype=torch.float64, device=r0.device)
    rows = torch.zeros_like(cols)
    cols[:, 1 : most + 1] = (2 * index + 1) * leg
    rows[:, 1 : most + 1] = torch.where(index.remainder(2) == 0, height, -height)
    whole = (2 * leg) * torch.div(length, 2 * leg, rounding_mode="floor")
    final_height = torch.where((legs - 1).remainder(2) == 0, height, -height)
    ends = (legs + 1).view(-1, 1)
    cols.scatter_(1, ends, length.view(-1, 1))
    rows.scatter_(1, ends, (final_height / (2 * (length - whole))).view(-1, 1))
    points = legs + 1 + (length != whole).long()  # the start, the legs and the final point
    valid = torch.arange(most + 1, device=r0.device).view(1, -1) + 1 < points.view(-1, 1)
    cos, sin = torch.cos(theta).view(-1, 1), torch.sin(theta).view(-1, 1)
    turned_cols = cos * cols - sin * rows + first
    turned_rows = sin * cols + cos * rows + r0.view(-1, 1)
    return turned_cols, turned_rows, valid


def zigzag_through(
    images: torch.Tensor, r0: torch.Tensor, k: torch.Tensor, fade: float
) -> torch.Tensor:
    """The zigzag starting at row ``r0`` and heading ``k`` rows up or down (per image, in rows
    of a 28-row image) added to each image; ``fade`` is in pixels of these images."""
    height, width = images.shape[-2:]
    cols, rows, valid = zigzag_points(r0.to(images.device), k.to(images.device), pixel_scale(width))
    cols, rows = cols.to(images.dtype), rows.to(images.dtype)
    # an invalid segment is made upright (c1 == c0), which draws nothing
    ends = torch.where(valid, cols[:, 1:], cols[:, :-1])
    total = line_map(height, width, cols[:, :-1], rows[:, :-1], ends, rows[:, 1:], fade)
    return (images + total.unsqueeze(1)).clamp(0, 1)


def zigzag_draws(
    count: int, height: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Start rows in ``[0, H - 2]`` and slopes ``k`` in ``[-5, 4]`` (the reference's draws)."""
    k = torch.randint(-5, 5, (count,), generator=generator, device=generator.device)
    return line_rows(count, height, generator), k


def zigzag(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's zigzag, at a random height and slope per image."""
    n, _, height, width = images.shape
    r0, k = zigzag_draws(n, height, generator)
    fade = parameter("zigzag", severity) * pixel_scale(width)
    return zigzag_through(images, r0, k, fade)
