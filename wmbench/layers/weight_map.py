"""The weight map (WM) layers of Amer & Maul, arXiv:1905.00568, §3, eqs. 1–4.

Literal form. For every input channel c_i and output channel c_o the layer scales the input map
element-wise by a learned weight map, ``m = W[c_i, c_o] ⊙ x[c_i]`` (eq. 1). The smoothing variant
sums the maps of an output channel with a k×k kernel of ones and adds a bias map (eq. 2); the
unsharp variant takes ``s = 2m − m * ones(k×k)`` with "same" zero padding and sums ``s`` over c_i
before adding the bias map (eqs. 3–4).

Exact efficient form. A convolution with a kernel of ones is linear and the same for every c_i,
so ``Σ_ci (m * ones) = (Σ_ci m) * ones``. The sum over input channels is therefore a per-pixel
channel mix ``y[b, c_o, p] = Σ_ci W[c_i, c_o, p] · x[b, c_i, p]`` — one batched matmul over the
H·W pixels — followed by a single box filter. The ``B × C_in × C_out × H × W`` tensor of the
literal form is never built.

Memory layout. The matmul wants pixel-major operands, ``(H·W, B, C)``. The weight is stored in
that order (the parameter is a permuted view, so its shape is still ``(C_in, C_out, H, W)``) and
the output is returned as an NCHW-shaped view of a pixel-major buffer; elementwise layers keep
that layout, so a stack of WM layers passes activations between them without copies.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SmoothingWeightMap2d", "UnsharpWeightMap2d", "box_sum"]


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (int(height), int(width))


def box_sum(y: torch.Tensor, kernel_size: int, padding: int) -> torch.Tensor:
    """Sums every ``k×k`` window over the first two dimensions of ``y`` (stride 1).

    Equivalent to a convolution with a kernel of ones and zero padding, applied to each of the
    trailing dimensions independently; exact (shifted additions, no prefix sums).

    Args:
        y: tensor of shape ``(H, W, *rest)``.
        kernel_size: k, the side of the window.
        padding: zeros added on each side of both spatial dimensions.

    Returns:
        Tensor of shape ``(H + 2p − k + 1, W + 2p − k + 1, *rest)``.
    """
    height, width = y.shape[0], y.shape[1]
    if padding:
        padded = y.new_zeros((height + 2 * padding, width + 2 * padding, *y.shape[2:]))
        padded[padding : padding + height, padding : padding + width] = y
        y = padded
    out_h = y.shape[0] - kernel_size + 1
    out_w = y.shape[1] - kernel_size + 1
    rows = y[0:out_h].clone() if kernel_size == 1 else y[0:out_h] + y[1 : 1 + out_h]
    for i in range(2, kernel_size):
        rows += y[i : i + out_h]
    out = (
        rows[:, 0:out_w].clone() if kernel_size == 1 else rows[:, 0:out_w] + rows[:, 1 : 1 + out_w]
    )
    for j in range(2, kernel_size):
        out += rows[:, j : j + out_w]
    return out


def _filter(mixed: torch.Tensor, kernel_size: int, padding: int, unsharp: bool) -> torch.Tensor:
    """The reduction after the channel mix: box filter (eq. 2) or ``2m − box(m)`` (eq. 3)."""
    if not unsharp:
        return box_sum(mixed, kernel_size, padding)
    out = box_sum(mixed, kernel_size, padding)
    out.mul_(-1).add_(mixed, alpha=2)
    return out


def _filter_transpose(
    grad: torch.Tensor, kernel_size: int, padding: int, unsharp: bool
) -> torch.Tensor:
    """Adjoint of :func:`_filter`: the kernel of ones is symmetric, so the adjoint of a box sum
    with padding p is a box sum with padding k − 1 − p ("full" minus the forward padding); the
    unsharp filter ("same" padding) is its own adjoint."""
    if unsharp:
        return _filter(grad, kernel_size, padding, unsharp=True)
    return box_sum(grad, kernel_size, kernel_size - 1 - padding)


class _WeightMapFunction(torch.autograd.Function):
    """Channel mix + filter with a hand-written backward.

    Autograd's own backward of the slices and of a batched matmul over permuted views spends
    most of its time zero-filling and copying (one zero tensor per slice, one copy per pixel);
    the adjoint written out is two batched matmuls and one box filter on contiguous tensors.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        geometry: tuple[int, int, int, bool],
    ) -> torch.Tensor:
        kernel_size, padding, stride, unsharp = geometry
        batch, in_channels, height, width = x.shape
        out_channels = weight.shape[1]
        # Views when x is already pixel-major (the output of another WM layer), else one copy.
        pixels = x.permute(2, 3, 0, 1).contiguous().view(height * width, batch, in_channels)
        matrices = weight.permute(2, 3, 0, 1).reshape(height * width, in_channels, out_channels)
        if in_channels == 1:  # a broadcast product; bmm with an inner size of 1 loops per pixel
            mixed = (pixels * matrices).view(height, width, batch, out_channels)
        else:
            mixed = torch.bmm(pixels, matrices).view(height, width, batch, out_channels)
        out = _filter(mixed, kernel_size, padding, unsharp)
        if stride > 1:
            out = out[::stride, ::stride]
        ctx.save_for_backward(pixels, matrices)
        ctx.geometry = geometry
        ctx.full_size = (
            height + 2 * padding - kernel_size + 1,
            width + 2 * padding - kernel_size + 1,
        )
        return out.permute(2, 3, 0, 1) + bias

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor):  # type: ignore[override]
        pixels, matrices = ctx.saved_tensors
        kernel_size, padding, stride, unsharp = ctx.geometry
        pixel_count, batch, in_channels = pixels.shape
        out_channels = matrices.shape[2]
        grad_out = grad.permute(2, 3, 0, 1)  # (H', W', B, C_out): contiguous for our outputs
        grad_bias = None
        if ctx.needs_input_grad[2]:  # summed over the batch in pixel-major order: a fast reduction
            grad_bias = grad_out.sum(2).permute(2, 0, 1)
        if stride > 1:
            full = grad.new_zeros((*ctx.full_size, batch, out_channels))
            full[::stride, ::stride] = grad_out
            grad_out = full
        grad_mixed = _filter_transpose(grad_out.contiguous(), kernel_size, padding, unsharp)
        height, width = grad_mixed.shape[0], grad_mixed.shape[1]
        grad_mixed = grad_mixed.reshape(pixel_count, batch, out_channels)
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.bmm(grad_mixed, matrices.transpose(1, 2))
            grad_x = grad_x.view(height, width, batch, in_channels).permute(2, 3, 0, 1)
        if ctx.needs_input_grad[1] and in_channels == 1:
            grad_weight = (pixels * grad_mixed).sum(1, keepdim=True)
            grad_weight = grad_weight.view(height, width, in_channels, out_channels)
            grad_weight = grad_weight.permute(2, 3, 0, 1)
        elif ctx.needs_input_grad[1]:
            grad_weight = torch.bmm(pixels.transpose(1, 2), grad_mixed)
            grad_weight = grad_weight.view(height, width, in_channels, out_channels)
            grad_weight = grad_weight.permute(2, 3, 0, 1)
        return grad_x, grad_weight, grad_bias, None


class _WeightMap2d(nn.Module):
    """Shared parameters and channel mix of the two WM variants."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: int | tuple[int, int],
        kernel_size: int,
        padding: int,
        stride: int,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_size = _pair(input_size)
        self.kernel_size = kernel_size
        self.padding = padding
        self.stride = stride
        height, width = self.input_size
        full_h = height + 2 * padding - kernel_size + 1
        full_w = width + 2 * padding - kernel_size + 1
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
        """He-uniform weight maps, zero bias maps.

        Every output pixel is a signed sum of ``C_in · k²`` weighted inputs (k² window terms per
        input channel, for both variants), followed by a ReLU, so the weights are drawn from
        U(−b, b) with ``b = sqrt(6 / (C_in · k²))``. With Adam at its default settings this trains
        the paper's MNIST models to below 1% test error in a few epochs.
        """
        fan_in = self.in_channels * self.kernel_size**2
        bound = math.sqrt(6.0 / fan_in)
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
        geometry = (self.kernel_size, self.padding, self.stride, self._unsharp)
        return _WeightMapFunction.apply(x, self.weight, self.bias, geometry)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
            f"kernel_size={self.kernel_size}, padding={self.padding}, stride={self.stride}"
        )


class SmoothingWeightMap2d(_WeightMap2d):
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

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: int | tuple[int, int],
        kernel_size: int = 3,
        *,
        padding: str = "valid",
        stride: int = 1,
    ) -> None:
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        if padding == "valid" and kernel_size < 3:
            raise ValueError("padding='valid' needs kernel_size >= 3")
        pad = (kernel_size - 3) // 2 if padding == "valid" else (kernel_size - 1) // 2
        super().__init__(in_channels, out_channels, input_size, kernel_size, pad, stride)

    _unsharp = False


class UnsharpWeightMap2d(_WeightMap2d):
    """Unsharp weight map layer (Amer & Maul, eqs. 1, 3–4).

    ``s = 2m − m * ones(k×k)`` with "same" zero padding, ``o[c_o] = Σ_ci s[c_i, c_o] + b[c_o]``.
    The spatial size is kept (or divided by the stride).

    Args:
        in_channels: C_in.
        out_channels: C_out.
        input_size: spatial size (H, W) of the input; an int means square.
        kernel_size: k, odd; side of the kernel of ones.
        stride: take every stride-th output pixel, as a strided "same" convolution would.

    Shapes:
        input ``(B, C_in, H, W)``; output ``(B, C_out, ⌈H/stride⌉, ⌈W/stride⌉)``; ``weight``
        ``(C_in, C_out, H, W)``; ``bias`` ``(C_out, H_out, W_out)``.

    Example:
        >>> layer = UnsharpWeightMap2d(1, 32, 28)
        >>> layer(torch.rand(4, 1, 28, 28)).shape
        torch.Size([4, 32, 28, 28])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: int | tuple[int, int],
        kernel_size: int = 3,
        *,
        stride: int = 1,
    ) -> None:
        super().__init__(
            in_channels, out_channels, input_size, kernel_size, (kernel_size - 1) // 2, stride
        )

    _unsharp = True
