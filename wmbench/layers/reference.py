"""A literal, slow implementation of the WM equations (Amer & Maul eqs. 1–4), for checking.

One map ``m = W[c_i, c_o] ⊙ x[c_i]`` per channel pair, each convolved with the kernel of ones on
its own — the ``B × C_in × C_out × H × W`` work that the layers' exact fast form avoids. The tests
compare the fast layers with it; the benchmarks time it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wmbench.layers.weight_map import UnsharpWeightMap2d, WeightMap2d


def literal_weight_map(layer: WeightMap2d, x: torch.Tensor) -> torch.Tensor:
    """The output of ``layer`` on ``x`` computed straight from eqs. 1–4."""
    unsharp = isinstance(layer, UnsharpWeightMap2d)  # by type, not by the flag the fast path reads
    k, pad, stride = layer.kernel_size, layer.padding, layer.stride
    ones = torch.ones(1, 1, k, k, dtype=x.dtype, device=x.device)
    outputs = []
    for co in range(layer.out_channels):
        total = 0
        for ci in range(layer.in_channels):
            m = layer.weight[ci, co] * x[:, ci]  # eq. 1
            smoothed = F.conv2d(m[:, None], ones, padding=pad)[:, 0]  # m * k
            total = total + (2 * m - smoothed if unsharp else smoothed)  # eq. 3 / eq. 2
        outputs.append(total[:, ::stride, ::stride] + layer.bias[co])  # eqs. 2, 4
    return torch.stack(outputs, dim=1)
