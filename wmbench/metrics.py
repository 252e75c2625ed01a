"""What wmbench measures on a model: test error, parameters and multiply-accumulates.

Activation MSE of the feature layer (Amer & Maul §4.3) joins these with the attack suites.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from wmbench.layers import WeightMap2d


@torch.no_grad()
def error_rate(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000
) -> float:
    """Fraction of ``images`` that ``model`` misclassifies (model put in eval mode)."""
    model.eval()
    wrong = 0
    for start in range(0, len(images), batch_size):
        logits = model(images[start : start + batch_size])
        wrong += (logits.argmax(1) != labels[start : start + batch_size]).sum().item()
    return wrong / max(len(images), 1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass on one image.

    Matrix products and convolutions are counted by torch's FLOP counter (FLOPs / 2); a WM layer
    counts as its channel mix, ``C_in · C_out · H · W`` (whether it runs as a batched matmul or,
    for one input channel, as a broadcast product); elementwise work (the box filter's additions,
    ReLU, pooling) is not counted, as is the convention.
    """
    was_training = model.training
    model.eval()
    parameter = next(model.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, *input_shape, device=parameter.device))
    model.train(was_training)
    counts = counter.get_flop_counts()
    prefix = type(model).__name__
    weight_maps = {
        name: module for name, module in model.named_modules() if isinstance(module, WeightMap2d)
    }
    counted_inside = sum(sum(counts.get(f"{prefix}.{name}", {}).values()) for name in weight_maps)
    analytic = sum(layer.macs_per_image for layer in weight_maps.values())
    return (counter.get_total_flops() - counted_inside) // 2 + analytic
