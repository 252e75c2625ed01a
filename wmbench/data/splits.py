"""Seeded train/validation splits of a training set, independent of torch's global RNG."""

from __future__ import annotations

import torch


def train_val_split(
    n: int = 60000, val_fraction: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split of ``range(n)`` into sorted train and validation indices.

    A private generator keeps the split the same whatever else has drawn from torch's global RNG.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = round(n * val_fraction)
    return order[n_val:].sort().values, order[:n_val].sort().values
