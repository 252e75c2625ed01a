"""Layer Sustainability Analysis of one model under one perturbation, over a set of images
(Khalooei et al., arXiv:2202.02626, §3): every monitored layer's comparison measure, the spread
of the measures over the layers and the most vulnerable layers. Computes, never prints.

Per batch: one forward pass of the clean images (which also gives the input gradient a gradient
attack such as FGSM needs, as the suite runner shares it), the perturbation, and one forward pass
of the perturbed images; the hooks of :class:`~wmbench.lsa.LayerTap` read every layer in those
two passes. Random draws (uniform noise, PGD's random start) come from ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from wmbench.lsa.relative import (
    DEFAULT_ETA,
    ErrorSums,
    LayerError,
    layer_spread,
    most_vulnerable_layers,
)
from wmbench.lsa.taps import LayerTap
from wmbench.perturbations import Perturbation, SharedWork
from wmbench.perturbations.losses import mean_loss


@dataclass
class LayerAnalysis:
    """What the analysis found.

    Attributes:
        errors: per monitored layer, in forward-execution order.
        eta: the η of the MVL rule.
        mvl: the most vulnerable layers, by LSA's batch-form CM.
        mean: μ, the mean of the batch-form CMs over the layers.
        sigma: σ, their population standard deviation.
        n: images.
        wrong_clean: clean images the model misclassified.
        wrong_perturbed: perturbed images it misclassified.
    """

    errors: dict[str, LayerError]
    eta: float
    mvl: list[str]
    mean: float
    sigma: float
    n: int
    wrong_clean: int
    wrong_perturbed: int

    @property
    def cm(self) -> dict[str, float]:
        return {layer: error.cm for layer, error in self.errors.items()}


def _clean_pass(
    tap: LayerTap, x: torch.Tensor, y: torch.Tensor, loss: str | None
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Clean logits, layer outputs and (for a gradient attack) its loss's input gradient."""
    if loss is None:
        with torch.no_grad():
            logits, layers = tap.run(x)
        return logits, layers, {}
    x_grad = x.clone().requires_grad_(True)
    logits, layers = tap.run(x_grad)
    gradient = torch.autograd.grad(mean_loss(loss, logits, y), x_grad)[0]
    return logits.detach(), layers, {loss: gradient}


def analyse_layers(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    perturbation: Perturbation,
    *,
    batch_size: int = 500,
    eta: float = DEFAULT_ETA,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> LayerAnalysis:
    """Every monitored layer's CM between ``images`` and their perturbed versions.

    Args:
        model: in eval mode, on the device to use.
        images: float ``(N, C, H, W)`` in [0, 1] (moved to the model's device batch by batch).
        labels: ``(N,)``.
        perturbation: built by :func:`wmbench.perturbations.build_perturbation`.
        batch_size: images per forward pass; the batch-form CM does not depend on it.
        eta: the MVL threshold in standard deviations.
        seed: seeds the perturbation's random draws.
        progress: called with (images done, images in all) after each batch.
    """
    device = next(iter(model.parameters()), torch.zeros(())).device
    tap = LayerTap(model, images[:2].to(device))
    sums = ErrorSums(tap.points)
    wrong_clean = wrong_perturbed = 0
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # torchattacks' own random starts
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device)
            y = labels[start : start + batch_size].to(device)
            logits, clean, gradients = _clean_pass(tap, x, y, perturbation.gradient_loss)
            shared = SharedWork(gradients, generator, logits)
            perturbed = perturbation(model, x, y, shared=shared)
            with torch.no_grad():
                moved_logits, moved = tap.run(perturbed)
            sums.add(clean, moved)
            wrong_clean += int((logits.argmax(1) != y).sum())
            wrong_perturbed += int((moved_logits.argmax(1) != y).sum())
            if progress is not None:
                progress(start + len(x), len(images))
    errors = sums.result()
    cm = {layer: error.cm for layer, error in errors.items()}
    mean, sigma = layer_spread(cm)
    return LayerAnalysis(
        errors=errors,
        eta=eta,
        mvl=most_vulnerable_layers(cm, eta),
        mean=mean,
        sigma=sigma,
        n=len(images),
        wrong_clean=wrong_clean,
        wrong_perturbed=wrong_perturbed,
    )
