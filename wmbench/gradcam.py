"""Grad-CAM (Selvaraju et al., arXiv:1610.02391) on a model's feature layer, as in Amer & Maul,
Figure 4.

For the predicted class c, each channel k of the feature-layer activation A is weighted by the
spatial mean of ∂y_c/∂A_k; the map is ``ReLU(Σ_k α_k A_k)``, upsampled bilinearly to the input
size and scaled to [0, 1] per image. Computed, never drawn (drawing is in reporting/plots.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wmbench.models import BenchmarkModel, feature_module


def grad_cam(model: BenchmarkModel, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM maps of ``images`` for the classes the model predicts.

    Args:
        model: a model that keeps the :class:`~wmbench.models.BenchmarkModel` contract (its
            ``feature_layer`` is hooked), in eval mode.
        images: ``(N, C, H, W)`` in [0, 1].

    Returns:
        ``(maps, predictions)``: maps ``(N, H, W)`` in [0, 1], predicted classes ``(N,)``.

    Raises:
        ModelError: the model's feature layer is not one of its submodules.
    """
    captured: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        output.retain_grad()
        captured.append(output)

    layer = feature_module(model)
    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(images.detach().clone().requires_grad_(True))
            predictions = logits.argmax(1)
            logits.gather(1, predictions[:, None]).sum().backward()
    finally:
        handle.remove()
    activation = captured[-1]
    weights = activation.grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=images.shape[2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    return cam / peak, predictions.detach()
