"""The comparison measure of Layer Sustainability Analysis and the most vulnerable layers
(Khalooei et al., "Layer-wise Regularized Adversarial Training using Layers Sustainability
Analysis", arXiv:2202.02626, §3).

The comparison measure of layer l is the relative error of its representation φ_l between a
clean image x and its perturbed version x̂. Two forms are computed, from the same passes:

- **per image**: ``CM_l,i = ‖φ_l(x_i) − φ_l(x̂_i)‖_F / ‖φ_l(x_i)‖_F``, summarised by its mean,
  its sample standard deviation and a 95% interval of the mean by the normal approximation,
  ``mean ± 1.96·sd/√n``. An image whose clean representation is all zeros (every ReLU of the
  layer off) has no relative error; it is left out of these and counted as ``undefined``.
- **LSA's batch form**, as the reference code computes it (``np.linalg.norm(clean − adv) /
  np.linalg.norm(clean)`` over the whole batch tensor): ``‖Φ_l(X) − Φ_l(X̂)‖_F / ‖Φ_l(X)‖_F``.
  The squared per-image norms are summed over images and batches in float64, so over N images it
  is the same number whatever the batch size.

The most vulnerable layers (MVL) are those with ``CM_l − μ > η·σ``, μ and σ the mean and the
population standard deviation of the CMs over the layers. The paper and its code give no
default η; wmbench uses η = 1, one standard deviation above the mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from wmbench.lsa.taps import LayerTap, TapPoint

DEFAULT_ETA = 1.0
Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal


def layer_relative_error(clean: torch.Tensor, perturbed: torch.Tensor) -> torch.Tensor:
    """LSA's batch form ``‖clean − perturbed‖_F / ‖clean‖_F`` over the whole tensors, as a
    differentiable scalar (for a training loss; the denominator is kept above 1e-12)."""
    difference = torch.linalg.vector_norm(clean - perturbed)
    return difference / torch.linalg.vector_norm(clean).clamp_min(1e-12)


def layer_errors_for_training(
    model: nn.Module,
    x: torch.Tensor,
    x_adv: torch.Tensor,
    layers: Sequence[str] | Sequence[TapPoint] | LayerTap | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The differentiable CM of each layer, for layer-wise regularised adversarial training
    (AT-LR: ``loss = J(θ, x̂, y) + Σ_{l ∈ MVL} γ·CM_l(x, x̂)``).

    One forward pass of ``x`` and one of ``x_adv``, in the model's current mode (in training
    mode the clean pass updates BatchNorm statistics too); gradients flow through both. For
    gradients through the adversarial side only, take the clean outputs with
    ``LayerTap.run`` under ``torch.no_grad`` and call :func:`layer_relative_error` yourself.

    Args:
        model: the model being trained.
        x: clean images.
        x_adv: their perturbed versions (e.g. from a wmbench perturbation).
        layers: layer names (their taps are planned with a probe pass each call), a plan from
            :func:`~wmbench.lsa.plan_taps` or a :class:`~wmbench.lsa.LayerTap` (no probe: build
            it once before the loop); None: every monitored layer.

    Returns:
        ``(logits of x_adv, {layer: CM_l as a 0-d tensor})``; the logits give ``J(θ, x̂, y)``
        without a third forward pass.
    """
    tap = layers if isinstance(layers, LayerTap) else LayerTap(model, x, layers)
    _, clean = tap.run(x, detach=False)
    logits, perturbed = tap.run(x_adv, detach=False)
    return logits, {layer: layer_relative_error(clean[layer], perturbed[layer]) for layer in clean}


@dataclass
class LayerError:
    """The comparison measure of one layer over a set of images.

    Attributes:
        layer: the monitored layer's dotted name.
        reads: the module whose output was compared (the layer or its activation).
        cm: LSA's batch form over all the images.
        image_mean: mean of the per-image CMs.
        image_std: their sample standard deviation (NaN for fewer than 2).
        image_ci95: ``image_mean ± 1.96·image_std/√images`` (normal approximation).
        images: images with a defined per-image CM.
        undefined: images whose clean representation at this layer is all zeros.
        values: the per-image CMs (NaN where undefined), in image order.
    """

    layer: str
    reads: str
    cm: float
    image_mean: float
    image_std: float
    image_ci95: tuple[float, float]
    images: int
    undefined: int
    values: torch.Tensor = field(repr=False)


class ErrorSums:
    """Squared norms per image and layer, added batch by batch, and the CMs they give."""

    def __init__(self, points: Sequence[TapPoint]) -> None:
        self.points = list(points)
        self._difference: dict[str, list[torch.Tensor]] = {p.layer: [] for p in self.points}
        self._clean: dict[str, list[torch.Tensor]] = {p.layer: [] for p in self.points}

    def add(self, clean: Mapping[str, torch.Tensor], perturbed: Mapping[str, torch.Tensor]) -> None:
        """One batch: each layer's outputs for the clean and the perturbed images."""
        for layer in self._clean:
            reference = clean[layer].detach().flatten(1)
            moved = perturbed[layer].detach().flatten(1)
            # Per-image norms in the outputs' precision (a vectorised reduction, a fraction of
            # a forward pass), their squares summed over images in float64.
            difference = torch.linalg.vector_norm(reference - moved, dim=1).double().square()
            self._difference[layer].append(difference.cpu())
            self._clean[layer].append(
                torch.linalg.vector_norm(reference, dim=1).double().square().cpu()
            )

    def spread(self, starts: Sequence[int], count: int) -> dict[str, torch.Tensor]:
        """Every layer's two per-image columns laid over all ``count`` images, in image order,
        zero where another process measured (this one added the batches starting at ``starts``,
        in that order): summed over processes, they give the one-process columns exactly."""
        columns = {}
        for name, kept in (("difference", self._difference), ("clean", self._clean)):
            for layer, parts in kept.items():
                full = torch.zeros(count, dtype=torch.float64)
                for start, part in zip(starts, parts, strict=True):
                    full[start : start + len(part)] = part
                columns[f"{name}/{layer}"] = full
        return columns

    def take(self, columns: Mapping[str, torch.Tensor]) -> None:
        """Replaces what was added with whole columns (from :meth:`spread`, summed)."""
        for layer in self._clean:
            self._difference[layer] = [columns[f"difference/{layer}"]]
            self._clean[layer] = [columns[f"clean/{layer}"]]

    def result(self) -> dict[str, LayerError]:
        """Every layer's CMs, in forward-execution order."""
        return {point.layer: self._layer(point) for point in self.points}

    def summary(self) -> dict[str, dict[str, float]]:
        """``{layer: {"cm": batch form, "cm_image_mean": per-image mean}}``."""
        return {
            layer: {"cm": error.cm, "cm_image_mean": error.image_mean}
            for layer, error in self.result().items()
        }

    def _layer(self, point: TapPoint) -> LayerError:
        difference = torch.cat(self._difference[point.layer] or [torch.zeros(0)]).double()
        clean = torch.cat(self._clean[point.layer] or [torch.zeros(0)]).double()
        total = float(clean.sum())
        cm = math.sqrt(float(difference.sum()) / total) if total > 0 else math.nan
        defined = clean > 0
        values = torch.full_like(clean, math.nan)
        values[defined] = (difference[defined] / clean[defined]).sqrt()
        kept = values[defined]
        n = len(kept)
        mean = float(kept.mean()) if n else math.nan
        std = float(kept.std(correction=1)) if n > 1 else math.nan
        half = Z95 * std / math.sqrt(n) if n > 1 else math.nan
        return LayerError(
            point.layer,
            point.reads,
            cm,
            mean,
            std,
            (mean - half, mean + half),
            n,
            int((~defined).sum()),
            values,
        )


def relative_errors(
    model: nn.Module,
    clean: torch.Tensor,
    perturbed: torch.Tensor,
    layers: Sequence[str] | Sequence[TapPoint] | None = None,
    batch_size: int = 500,
) -> dict[str, LayerError]:
    """The CM of every monitored layer (or of ``layers``) between ``clean`` and ``perturbed``.

    One probe pass of two images plans the taps; then each batch costs one forward pass of its
    clean and one of its perturbed images, which read every layer at once. Runs without
    gradients, in the model's current mode (put it in eval mode first), on its device.
    """
    device = next(iter(model.parameters()), torch.zeros(())).device
    tap = LayerTap(model, clean.to(device), layers)
    sums = ErrorSums(tap.points)
    with torch.no_grad():
        for start in range(0, len(clean), batch_size):
            _, reference = tap.run(clean[start : start + batch_size].to(device))
            _, moved = tap.run(perturbed[start : start + batch_size].to(device))
            sums.add(reference, moved)
    return sums.result()


def layer_spread(cm: Mapping[str, float]) -> tuple[float, float]:
    """The mean and the population standard deviation of the finite CMs over the layers."""
    values = [value for value in cm.values() if math.isfinite(value)]
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((value - mean) ** 2 for value in values) / len(values))


def most_vulnerable_layers(cm: Mapping[str, float], eta: float = DEFAULT_ETA) -> list[str]:
    """The layers with ``CM_l − μ > η·σ`` (μ, σ: :func:`layer_spread`), in ``cm``'s order.

    A layer whose CM is not finite takes no part. ``η`` = 1 by default: one (population)
    standard deviation above the mean; LSA's paper and code leave it to the user.
    """
    mean, sigma = layer_spread(cm)
    return [
        layer for layer, value in cm.items() if math.isfinite(value) and value - mean > eta * sigma
    ]
