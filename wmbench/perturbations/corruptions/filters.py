"""Batched image filters the corruptions share: scipy's Gaussian filter, bilinear sampling, draws.

:func:`gaussian_blur` is ``scipy.ndimage.gaussian_filter`` (which skimage's ``gaussian`` calls)
on a whole batch: the same kernel (``truncate`` 4, radius ``int(4 sigma + 0.5)``), the same
borders, and the same order of the sums as scipy's C loop, so that float64 results agree with
scipy to the last bit. :func:`sample_bilinear` is skimage's ``warp`` interpolation (order 1,
``mode="constant"``, ``cval=0``): every corner outside the image counts as 0. :func:`windows`
cuts a differently placed window out of each image, for whole-pixel shifts.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def check_images(images: torch.Tensor) -> None:
    """Raises ValueError unless ``images`` is a floating-point ``(N, C, H, W)`` tensor."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected images of shape (N, C, H, W), got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"expected floating-point images in [0, 1], got {images.dtype}")


def gaussian_weights(sigma: float, truncate: float = 4.0) -> list[float]:
    """scipy's normalised 1-D Gaussian kernel (``_gaussian_kernel1d``), as Python floats."""
    radius = int(truncate * float(sigma) + 0.5)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 / (float(sigma) * float(sigma)) * offsets**2)
    return (weights / weights.sum()).tolist()


def correlate_symmetric(
    images: torch.Tensor, weights: list[float], dim: int, mode: str
) -> torch.Tensor:
    """Correlation with a symmetric kernel along ``dim`` (-2 rows, -1 columns), summed as scipy's
    ``NI_Correlate1D`` does: centre first, then the pairs from the outermost inwards."""
    radius = len(weights) // 2
    if radius == 0:
        return images * weights[0]
    length = images.shape[dim]
    pad = (0, 0, radius, radius) if dim == -2 else (radius, radius, 0, 0)
    if mode == "nearest":
        padded = F.pad(images, pad, mode="replicate")
    elif mode == "constant":
        padded = F.pad(images, pad, mode="constant", value=0.0)
    else:
        raise ValueError(f"unknown border mode {mode!r}")
    out = padded.narrow(dim, radius, length) * weights[radius]
    for offset in range(radius, 0, -1):
        pair = padded.narrow(dim, radius - offset, length) + padded.narrow(
            dim, radius + offset, length
        )
        out = out + pair * weights[radius - offset]
    return out


def gaussian_blur(
    images: torch.Tensor, sigma_rows: float, sigma_cols: float, mode: str = "nearest"
) -> torch.Tensor:
    """``scipy.ndimage.gaussian_filter(image, (sigma_rows, sigma_cols), mode=mode)`` of every
    channel of every image; a sigma of 0 leaves that axis alone, as in scipy.

    Args:
        images: ``(N, C, H, W)``.
        mode: ``"nearest"`` (edge pixels repeated) or ``"constant"`` (zeros outside).
    """
    out = images
    if sigma_rows > 1e-15:
        out = correlate_symmetric(out, gaussian_weights(sigma_rows), -2, mode)
    if sigma_cols > 1e-15:
        out = correlate_symmetric(out, gaussian_weights(sigma_cols), -1, mode)
    return out


def sample_bilinear(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``images`` read at fractional ``(rows, cols)`` by bilinear interpolation, 0 outside.

    ``grid_sample`` with ``align_corners=True`` and zero padding: each corner outside the image
    counts as 0, as in skimage. In float32 its coordinate normalisation costs about 2e-6 pixels.

    Args:
        images: ``(N, C, H, W)``.
        rows, cols: ``(N, H', W')`` coordinates in pixels (0 is the first row or column).

    Returns:
        ``(N, C, H', W')``.
    """
    height, width = images.shape[-2:]
    grid = torch.stack(
        [cols * (2 / max(width - 1, 1)) - 1, rows * (2 / max(height - 1, 1)) - 1], dim=-1
    )
    return F.grid_sample(
        images, grid.to(images.dtype), mode="bilinear", padding_mode="zeros", align_corners=True
    )


def windows(
    padded: torch.Tensor, top: torch.Tensor, left: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """The ``height x width`` window of each padded image starting at its own ``(top, left)``.

    Args:
        padded: ``(N, C, H', W')``.
        top, left: ``(N,)`` integer corners, the windows lying inside ``padded``.

    Returns:
        ``(N, C, height, width)``.
    """
    n, channels, padded_height, padded_width = padded.shape
    rows = torch.arange(height, device=padded.device).view(height, 1) * padded_width
    grid = (rows + torch.arange(width, device=padded.device)).view(1, -1)
    index = (top * padded_width + left).view(n, 1) + grid
    flat = padded.reshape(n, channels, padded_height * padded_width)
    picked = flat.gather(2, index.view(n, 1, -1).expand(n, channels, -1))
    return picked.view(n, channels, height, width)


def uniform(
    shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor, dtype=None
) -> torch.Tensor:
    """``U[0, 1)`` numbers from ``generator`` (on its own device), moved to ``like``'s device."""
    values = torch.rand(shape, generator=generator, device=generator.device, dtype=dtype)
    return values.to(device=like.device, dtype=dtype or like.dtype)


def random_signs(count: int, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """``count`` values of -1 or +1, each with probability 1/2, in ``like``'s dtype and device."""
    bits = torch.randint(0, 2, (count,), generator=generator, device=generator.device)
    return (2 * bits - 1).to(device=like.device, dtype=like.dtype)
