"""The weight map (WM) layers of Amer & Maul, arXiv:1905.00568, §3, eqs. 1–4.

Literal form. For every input channel c_i and output channel c_o the layer scales the input map
element-wise by a learned weight map, ``m = W[c_i, c_o] ⊙ x[c_i]`` (eq. 1). The smoothing variant
sums the maps of an output channel with a k×k kernel of ones and adds a bias map (eq. 2); the
unsharp variant takes ``s = 2m − m * ones(k×k)`` with "same" zero padding and sums ``s`` over c_i
before adding the bias map (eqs. 3–4).

The layers compute the exact efficient form instead (one channel mix, then one box filter; see
:mod:`wmbench.layers.functional`); :mod:`wmbench.layers.reference` keeps the literal one.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from wmbench.layers.functional import box_sum, weight_map

__all__ = ["SmoothingWeightMap2d", "UnsharpWeightMap2d", "WeightMap2d", "box_sum"]


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (int(height), int(width))


WEIGHT_MAP_INITS = ("he", "glorot-map")


class WeightMap2d(nn.Module):
    """Base of the WM layers: parameters, initialisation, shape checks and the forward pass.

    A variant sets ``unsharp`` (which filter follows the channel mix) and ``paddings`` (the
    padding modes it takes, its default first); the base is not used on its own.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        input_size: spatial size (H, W) of the input; an int means square. The weight maps have
            this size.
        kernel_size: k, odd; side of the kernel of ones.
        padding: ``"valid"`` pads by ``(k − 3) / 2``, so every k shrinks the map by 2 as in the
            paper's small CNNs; ``"same"`` pads by ``(k − 1) / 2`` and keeps the size. None: the
            variant's default.
        stride: take every stride-th output pixel, as a strided convolution would.
        init: the weight maps' initialisation, ``he`` or ``glorot-map`` (:meth:`reset_parameters`).
    """

    unsharp: ClassVar[bool]
    paddings: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: int | tuple[int, int],
        kernel_size: int = 3,
        *,
        padding: str | None = None,
        stride: int = 1,
        init: str = "he",
    ) -> None:
        super().__init__()
        if init not in WEIGHT_MAP_INITS:
            raise ValueError(f"init must be one of {', '.join(WEIGHT_MAP_INITS)}, got {init!r}")
        self.init = init
        padding = self.paddings[0] if padding is None else padding
        if padding not in self.paddings:
            modes = " or ".join(repr(mode) for mode in self.paddings)
            raise ValueError(f"padding must be {modes}, got {padding!r}")
        if padding == "valid" and kernel_size < 3:
            raise ValueError("padding='valid' needs kernel_size >= 3")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_size = _pair(input_size)
        self.kernel_size = kernel_size
        self.padding = (kernel_size - 3) // 2 if padding == "valid" else (kernel_size - 1) // 2
        self.stride = stride
        height, width = self.input_size
        full_h = height + 2 * self.padding - kernel_size + 1
        full_w = width + 2 * self.padding - kernel_size + 1
        if full_h < 1 or full_w < 1:
            raise ValueError(
                f"input_size {self.input_size} is too small for kernel_size {kernel_size}"
            )
        self.output_size = ((full_h - 1) // stride + 1, (full_w - 1) // stride + 1)
        # Stored pixel-major (H, W, C_in, C_out) and exposed as a (C_in, C_out, H, W) view, so the
        # matmul reads it without a copy and its gradient lands in the same layout.
        storage = torch.empty(height, width, in_channels, out_channels)
        self.weight = nn.Parameter(storage.permute(2, 3, 0, 1))
        self.bias = nn.Parameter(torch.empty(out_channels, *self.output_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-uniform weight maps (``init="he"``, the default), zero bias maps.

        Every output pixel is a signed sum of ``C_in · k²`` weighted inputs (k² window terms per
        input channel, for both variants), followed by a ReLU, so the weights are drawn from
        U(−b, b) with ``b = sqrt(6 / (C_in · k²))``. With Adam at its default settings this trains
        the paper's MNIST models to below 1% test error in a few epochs.

        ``init="glorot-map"``: U(−b, b) with ``b = sqrt(6 / (H·W·(C_in + C_out)))``, what Keras'
        default ``glorot_uniform`` gives a weight of shape (H, W, C_in, C_out) (its receptive
        field H·W) — the paper leaves the initialisation open, and a Keras layer declaring its
        map with ``add_weight`` would start there, about 50× smaller than He's on MNIST's first
        layer. The same random numbers are drawn either way.
        """
        if self.init == "glorot-map":
            height, width = self.input_size
            fan_sum = height * width * (self.in_channels + self.out_channels)
            bound = math.sqrt(6.0 / fan_sum)
        else:
            bound = math.sqrt(6.0 / (self.in_channels * self.kernel_size**2))
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bias.zero_()

    @property
    def macs_per_image(self) -> int:
        """Multiply-accumulates of the channel mix for one image (the box filter only adds)."""
        return self.in_channels * self.out_channels * self.input_size[0] * self.input_size[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != self.input_size:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (B, {self.in_channels}, "
                f"{self.input_size[0]}, {self.input_size[1]}), got {tuple(x.shape)}"
            )
        return weight_map(
            x, self.weight, self.bias, self.kernel_size, self.padding, self.stride, self.unsharp
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
            f"kernel_size={self.kernel_size}, padding={self.padding}, stride={self.stride}"
        )


class SmoothingWeightMap2d(WeightMap2d):
    """Smoothing weight map layer (Amer & Maul, eqs. 1–2).

    ``o[c_o] = Σ_ci (W[c_i, c_o] ⊙ x[c_i]) * ones(k×k) + b[c_o]``.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        input_size: spatial size (H, W) of the input; an int means square. The weight maps have
            this size.
        kernel_size: k, odd; side of the kernel of ones.
        padding: ``"valid"`` (default) pads by ``(k − 3) / 2``, so every k shrinks the map by 2
            as in the paper's small CNNs (k=3: no padding; k=9: padding 3); ``"same"`` pads by
            ``(k − 1) / 2`` and keeps the size (used inside ResNet and DenseNet).
        stride: take every stride-th output pixel, as a strided convolution would.

    Shapes:
        input ``(B, C_in, H, W)``; output ``(B, C_out, H_out, W_out)``; ``weight``
        ``(C_in, C_out, H, W)``; ``bias`` ``(C_out, H_out, W_out)``.

    Example:
        >>> layer = SmoothingWeightMap2d(1, 32, 28)
        >>> layer(torch.rand(4, 1, 28, 28)).shape
        torch.Size([4, 32, 26, 26])
    """

    unsharp = False
    paddings = ("valid", "same")


class UnsharpWeightMap2d(WeightMap2d):
    """Unsharp weight map layer (Amer & Maul, eqs. 1, 3–4).

    ``s = 2m − m * ones(k×k)`` with "same" zero padding, ``o[c_o] = Σ_ci s[c_i, c_o] + b[c_o]``.
    The spatial size is kept (or divided by the stride).

    Args:
        in_channels: C_in.
        out_channels: C_out.
        input_size: spatial size (H, W) of the input; an int means square.
        kernel_size: k, odd; side of the kernel of ones.
        padding: only ``"same"`` (the default): eq. 3 keeps the size.
        stride: take every stride-th output pixel, as a strided "same" convolution would.

    Shapes:
        input ``(B, C_in, H, W)``; output ``(B, C_out, ⌈H/stride⌉, ⌈W/stride⌉)``; ``weight``
        ``(C_in, C_out, H, W)``; ``bias`` ``(C_out, H_out, W_out)``.

    Example:
        >>> layer = UnsharpWeightMap2d(1, 32, 28)
        >>> layer(torch.rand(4, 1, 28, 28)).shape
        torch.Size([4, 32, 28, 28])
    """

    unsharp = True
    paddings = ("same",)
