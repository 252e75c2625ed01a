"""MNIST-C's canny edges (Mu & Gilmer 2019): every channel replaced by its Canny edge map.

The reference calls ``skimage.feature.canny(x)`` with its defaults (sigma 1, thresholds 0.1 and
0.2 for a float image) and returns the edges as 0 or 1. :func:`canny_by` follows the
skimage 0.14-era algorithm it ran, step for step, for the whole batch:

1. Gaussian smoothing with zeros outside, divided by the smoothing of an all-ones image (so the
   borders are not darkened), as skimage's ``smooth_with_function_and_mask``.
2. ``scipy.ndimage.sobel`` along the columns and along the rows (mirrored borders), magnitude
   ``hypot``.
3. Non-maximum suppression: pixels off the 1-pixel border with a non-zero magnitude, sorted
   into four direction sectors by the signs and sizes of the two derivatives, each compared with
   the magnitudes interpolated between two neighbours on either side along the gradient (the
   later sector wins where two overlap, as in skimage).
4. Hysteresis: skimage labels the 8-connected components of the low-threshold maxima and keeps
   those holding a high-threshold one. Here the high-threshold maxima grow by 3x3 dilations
   within the low-threshold maxima until nothing changes: the same set of pixels.

No step is approximated; in float64 the result equals a NumPy/scipy reimplementation pixel for
pixel. In float32 a magnitude within rounding of a threshold or of a neighbour's interpolated
magnitude may come out the other way. Newer skimage releases (0.19 on) rewrote steps 3-4 and
can differ from the reference in a few pixels; this follows the reference's. The smoothing sigma
scales with the width (``W / 28``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wmbench.perturbations.corruptions.filters import correlate_symmetric, gaussian_blur
from wmbench.perturbations.corruptions.parameters import parameter, pixel_scale

LOW_THRESHOLD = 0.1
HIGH_THRESHOLD = 0.2
FLOAT64_EPS = 2.220446049250313e-16  # np.finfo(float).eps, added by skimage before dividing


def _difference(images: torch.Tensor, dim: int) -> torch.Tensor:
    """``x[i + 1] - x[i - 1]`` along ``dim`` with the edge pixel repeated (scipy's ``reflect``)."""
    pad = (0, 0, 1, 1) if dim == -2 else (1, 1, 0, 0)
    padded = F.pad(images, pad, mode="replicate")
    length = images.shape[dim]
    return padded.narrow(dim, 2, length) - padded.narrow(dim, 0, length)


def _sobel(smoothed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d/drow, d/dcolumn)`` as ``scipy.ndimage.sobel(axis=0)`` and ``(axis=1)``."""
    rows = correlate_symmetric(_difference(smoothed, -2), [1.0, 2.0, 1.0], -1, "nearest")
    cols = correlate_symmetric(_difference(smoothed, -1), [1.0, 2.0, 1.0], -2, "nearest")
    return rows, cols


def _local_maxima(
    along_rows: torch.Tensor, along_cols: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 3: where the magnitude is a maximum across the edge, and the magnitude."""
    magnitude = torch.hypot(along_rows, along_cols)
    height, width = magnitude.shape[-2:]
    padded = F.pad(magnitude, (1, 1, 1, 1))

    def at(dr: int, dc: int) -> torch.Tensor:
        return padded[..., 1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width]

    rows = torch.arange(height, device=magnitude.device).view(-1, 1)
    cols = torch.arange(width, device=magnitude.device).view(1, -1)
    interior = (rows > 0) & (rows < height - 1) & (cols > 0) & (cols < width - 1)
    candidates = interior & (magnitude > 0)
    gi, gj = along_rows, along_cols
    ai, aj = gi.abs(), gj.abs()
    same = ((gi >= 0) & (gj >= 0)) | ((gi <= 0) & (gj <= 0))
    opposite = ((gi <= 0) & (gj >= 0)) | ((gi >= 0) & (gj <= 0))
    mostly_rows, mostly_cols = ai >= aj, ai <= aj
    # the direction sector (1-4) of each pixel; where two overlap the later wins, as in skimage
    sector = torch.zeros_like(magnitude, dtype=torch.uint8)
    for number, members in enumerate(
        (same & mostly_rows, same & mostly_cols, opposite & mostly_cols, opposite & mostly_rows),
        start=1,
    ):
        sector = torch.where(members, number, sector)
    first, last = sector == 1, sector == 4
    rising = sector <= 2  # sectors 1 and 2 look to the lower right, 3 and 4 to the upper right
    weight = torch.where(first | last, aj / ai, ai / aj)
    # per sector, the near (axis) and far (diagonal) neighbour on each side of the pixel:
    # 1: (1, 0) (1, 1) | (-1, 0) (-1, -1)    2: (0, 1) (1, 1) | (0, -1) (-1, -1)
    # 3: (0, 1) (-1, 1) | (0, -1) (1, -1)    4: (-1, 0) (-1, 1) | (1, 0) (1, -1)
    ahead_near = torch.where(first, at(1, 0), torch.where(last, at(-1, 0), at(0, 1)))
    ahead_far = torch.where(rising, at(1, 1), at(-1, 1))
    behind_near = torch.where(first, at(-1, 0), torch.where(last, at(1, 0), at(0, -1)))
    behind_far = torch.where(rising, at(-1, -1), at(1, -1))
    peak = (ahead_far * weight + ahead_near * (1 - weight) <= magnitude) & (
        behind_far * weight + behind_near * (1 - weight) <= magnitude
    )
    return peak & candidates & (sector > 0), magnitude


def _hysteresis(strong: torch.Tensor, weak: torch.Tensor) -> torch.Tensor:
    """Step 4: the pixels of ``weak`` 8-connected within ``weak`` to a pixel of ``strong``."""
    edges = strong.float()
    allowed = weak.float()
    while True:
        grown = F.max_pool2d(edges, 3, stride=1, padding=1) * allowed
        if torch.equal(grown, edges):
            return edges
        edges = grown


def canny_by(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """skimage's (0.14) ``feature.canny(x, sigma)`` of every channel, as 0.0 or 1.0."""
    n, channels, height, width = images.shape
    flat = images.reshape(n * channels, 1, height, width)
    smoothed = gaussian_blur(flat, sigma, sigma, "constant")
    ones = torch.ones_like(flat[:1])
    smoothed = smoothed / (gaussian_blur(ones, sigma, sigma, "constant") + FLOAT64_EPS)
    maxima, magnitude = _local_maxima(*_sobel(smoothed))
    strong = maxima & (magnitude >= HIGH_THRESHOLD)
    weak = maxima & (magnitude >= LOW_THRESHOLD)
    return _hysteresis(strong, weak).to(images.dtype).view_as(images)


def canny_edges(images: torch.Tensor, severity: int, generator: torch.Generator) -> torch.Tensor:
    """MNIST-C's canny edges (deterministic: ``generator`` is not used)."""
    return canny_by(images, parameter("canny_edges", severity) * pixel_scale(images.shape[-1]))
