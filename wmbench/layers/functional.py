"""The exact efficient form of the WM layers (Amer & Maul, arXiv:1905.00568, eqs. 1–4).

A convolution with a kernel of ones is linear and the same for every c_i, so
``Σ_ci (m * ones) = (Σ_ci m) * ones``. The sum over input channels is therefore a per-pixel
channel mix ``y[b, c_o, p] = Σ_ci W[c_i, c_o, p] · x[b, c_i, p]`` — one batched matmul over the
H·W pixels — followed by a single box filter. The ``B × C_in × C_out × H × W`` tensor of the
literal form is never built.

Memory layout. The matmul wants pixel-major operands, ``(H·W, B, C)``. The layers store their
weight in that order (the parameter is a permuted view, so its shape is still
``(C_in, C_out, H, W)``) and the output is returned as an NCHW-shaped view of a pixel-major
buffer; elementwise layers keep that layout, so a stack of WM layers passes activations between
them without copies.
"""

from __future__ import annotations

import torch

__all__ = ["box_sum", "weight_map"]


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


def weight_map(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    kernel_size: int,
    padding: int,
    stride: int = 1,
    unsharp: bool = False,
) -> torch.Tensor:
    """The WM layer as a function: channel mix, then the box filter (eq. 2) or the unsharp filter
    ``2m − box(m)`` (eq. 3), every ``stride``-th pixel, plus the bias map.

    Args:
        x: ``(B, C_in, H, W)``.
        weight: ``(C_in, C_out, H, W)``, fastest when stored pixel-major (see the module notes).
        bias: ``(C_out, H_out, W_out)``.
        kernel_size: k, odd; side of the kernel of ones.
        padding: zeros added on each side before the box filter.
        stride: take every stride-th output pixel.
        unsharp: the unsharp variant (eqs. 3–4) instead of the smoothing one (eq. 2).

    Returns:
        ``(B, C_out, H_out, W_out)``.
    """
    return _WeightMapFunction.apply(x, weight, bias, (kernel_size, padding, stride, unsharp))
