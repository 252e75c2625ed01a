"""What wmbench measures on a model: test error, parameters and multiply-accumulates.

Activation MSE of the feature layer (Amer & Maul §4.3) joins these with the attack suites.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


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
    """Multiply-accumulates of one forward pass on one image, as counted by torch's FLOP counter.

    Matrix products and convolutions are counted (FLOPs / 2); elementwise work (the WM layers' box
    filter additions, ReLU, pooling) is not, as is the convention.
    """
    was_training = model.training
    model.eval()
    parameter = next(model.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, *input_shape, device=parameter.device))
    model.train(was_training)
    return counter.get_total_flops() // 2
