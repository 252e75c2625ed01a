"""Image batches for training: uint8 to float, and batched augmentation.

Augmentation is the padded random crop and the horizontal flip of the ResNet paper (He et al.,
arXiv:1512.03385, §4.2), each done for a whole batch at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, H, W)`` -> float32 ``(N, 1, H, W)`` in [0, 1] (divided by 255)."""
    if images.dtype != torch.uint8 or images.ndim != 3:
        raise ValueError(f"expected uint8 (N, H, W), got {images.dtype} {tuple(images.shape)}")
    return images.unsqueeze(1).to(torch.float32).div_(255)


def images_to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` -> float32 in [0, 1] (divided by 255); float32 is returned as is.

    Float32 images are those a reader already checked to lie in [0, 1] (a float ``.npz``).
    """
    if images.ndim != 4 or images.dtype not in (torch.uint8, torch.float32):
        raise ValueError(
            f"expected uint8 or float32 (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
        )
    return images if images.dtype == torch.float32 else images.to(torch.float32).div_(255)


def random_horizontal_flip(
    images: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5
) -> torch.Tensor:
    """Mirrors each image left-right with probability ``p``.

    Args:
        images: ``(N, C, H, W)``.
        generator: the source of the coin flips (on any device); torch's default RNG when None.
        p: the probability of flipping one image.

    Returns:
        ``(N, C, H, W)``, a new tensor.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    draw_on = generator.device if generator is not None else images.device
    flip = torch.rand(len(images), generator=generator, device=draw_on).to(images.device) < p
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def random_crop(
    images: torch.Tensor, padding: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero-pads each side by ``padding`` and crops back to H×W at a random offset per image.

    Args:
        images: ``(N, C, H, W)``.
        padding: pixels of zeros added on each side; 0 returns the input unchanged.
        generator: the source of offsets (on any device); torch's default RNG when None.

    Returns:
        ``(N, C, H, W)``, one gather over the whole batch.
    """
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if padding == 0:
        return images
    n, c, h, w = images.shape
    device = images.device
    draw_on = generator.device if generator is not None else device
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator, device=draw_on)
    offsets = offsets.to(device)
    padded = F.pad(images, (padding, padding, padding, padding))
    rows = offsets[0, :, None] + torch.arange(h, device=device)  # (N, H)
    cols = offsets[1, :, None] + torch.arange(w, device=device)  # (N, W)
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]
