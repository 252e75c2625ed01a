"""Measures of the ANVA hypothesis of Amer & Maul §5 (Adaptive Noise-Variance Amplification).

The paper: "the weight magnitude at a given input pixel will be proportional to the importance of
this pixel in explaining the output", so that the network learns to tolerate large variances at
the pixels that matter. Testable pieces, per input pixel (or per position of a layer's map):

- :func:`pixel_importance`: the mean |∂CE/∂x| over images (gradient saliency), averaged over
  channels;
- :func:`weight_map_magnitude`: a WM layer's mean |weight| over its input and output channels
  (the change from the initial weights — the first WM layer of the model built again with the
  training seed — separates learning from the random start);
- :func:`noise_variance`: a layer's activations under the paper's uniform noise
  (``renormalise(x + U(0, upper))``, several draws per image): the variance over the draws,
  averaged over images and channels, beside the variance of the clean activations over images;
- :func:`rank_correlation` (Spearman, scipy) and :func:`partial_rank_correlation` (with a control
  held fixed: where the data varies, the pixel's standard deviation over the training images,
  since a pixel that is always 0 gives its weights no gradient at all).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata, spearmanr
from torch import nn

from wmbench.layers import SmoothingWeightMap2d, UnsharpWeightMap2d
from wmbench.perturbations.noise import renormalise

WEIGHT_MAPS = (SmoothingWeightMap2d, UnsharpWeightMap2d)


def pixel_importance(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500
) -> torch.Tensor:
    """The mean over ``images`` of |∂CE/∂x| per pixel, averaged over channels: ``(H, W)``.

    The model is used as it is (put it in eval mode first); its parameters get no gradient.
    """
    total = torch.zeros(images.shape[2:], dtype=torch.float64)
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), labels[start : start + batch_size], reduction="sum")
        (gradient,) = torch.autograd.grad(loss, x)
        total += gradient.abs().mean(1).sum(0).double().cpu()
    return total / len(images)


def first_weight_map(model: nn.Module) -> nn.Module | None:
    """The first WM layer of ``model`` in registration order; None for a model without one."""
    return next((m for m in model.modules() if isinstance(m, WEIGHT_MAPS)), None)


def weight_map_magnitude(layer: nn.Module, initial: nn.Module | None = None) -> torch.Tensor:
    """A WM layer's mean |W| per pixel over input and output channels: ``(H, W)``; with
    ``initial`` (the same layer before training), the mean |W − W₀| instead."""
    weight = layer.weight.detach()
    if initial is not None:
        weight = weight - initial.weight.detach()
    return weight.abs().mean((0, 1)).double().cpu()


def noise_variance(
    model: nn.Module,
    layer: nn.Module,
    images: torch.Tensor,
    *,
    upper: float = 1.0,
    draws: int = 8,
    seed: int = 0,
    renormalised: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``layer``'s activation variance under noise and over clean images: two ``(H', W')`` maps.

    The first is the variance over ``draws`` draws of ``x + upper·U(0, 1)`` (min–max
    renormalised per image as the paper's uniform noise, unless ``renormalised`` is False) per
    unit, averaged over images and channels; the second the variance of the clean activations
    over the images, averaged over channels. Without gradients, in the model's current mode.
    """
    kept: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda module, inputs, output: kept.append(output))
    generator = torch.Generator(device=images.device).manual_seed(seed)
    try:
        with torch.no_grad():
            model(images)
            clean = kept.pop().detach().double()
            for _ in range(draws):
                noise = torch.rand(images.shape, generator=generator, device=images.device)
                noisy = images + upper * noise
                model(renormalise(noisy) if renormalised else noisy)
    finally:
        handle.remove()
    stacked = torch.stack([output.detach().double() for output in kept])  # draws, N, C, H, W
    return stacked.var(0).mean((0, 1)).cpu(), clean.var(0).mean(0).cpu()


def rank_correlation(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """Spearman's ρ of two maps of the same size (flattened)."""
    return float(spearmanr(np.ravel(a), np.ravel(b))[0])


def partial_rank_correlation(
    a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, control: torch.Tensor | np.ndarray
) -> float:
    """Spearman's ρ of ``a`` and ``b`` with ``control`` held fixed: Pearson's correlation of
    the residuals of their ranks after a least-squares line on the control's ranks."""
    ranks = [rankdata(np.ravel(values)) for values in (a, b, control)]
    design = np.column_stack([np.ones(len(ranks[0])), ranks[2]])
    residuals = [r - design @ np.linalg.lstsq(design, r, rcond=None)[0] for r in ranks[:2]]
    return float(np.corrcoef(*residuals)[0, 1])


def at_size(values: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A pixel map averaged down to a layer map's size (itself when the sizes agree)."""
    if tuple(values.shape) == tuple(shape):
        return values
    return F.adaptive_avg_pool2d(values[None, None].double(), tuple(shape))[0, 0]
