"""Measures one model over every point of a suite: the inner loop of the runner.

Protocol of Amer & Maul §4.3: for every perturbation × parameter value, the test error on the
perturbed images and the mean squared error between the feature-layer activations (the layer the
model names as its ``feature_layer``) for the clean and the perturbed image.

Work is shared where it can be: per batch, one clean forward pass gives the clean predictions,
the clean feature activations (a forward hook) and — when any perturbation can use it — the
input gradient of the loss, which serves every ε of an FGSM sweep. Each perturbed batch then
costs one forward pass, whose hook gives its feature activations. Random noise is drawn from a
generator seeded from (suite seed, perturbation, parameter point, batch), the same for every
model. The sanity checks of :mod:`wmbench.sanity` are called at their places in the loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wmbench import sanity
from wmbench.models import feature_module
from wmbench.perturbations import Perturbation, build_perturbation
from wmbench.results import Cell, ModelOutcome, SanityWarning, describe_point
from wmbench.schema import Scalar, Suite


@dataclass
class SuitePoint:
    """One column of a suite's tables: a perturbation entry at one parameter point."""

    entry_index: int
    point_index: int
    label: str
    kind: str
    params: dict[str, Scalar]
    perturbation: Perturbation


def suite_points(suite: Suite) -> list[SuitePoint]:
    """Every (perturbation, parameter point) of the suite, in suite order, freshly built (so an
    attack that keeps state for its model lives no longer than one model's measurement)."""
    return [
        SuitePoint(
            index, number, entry.label, entry.kind, params, build_perturbation(entry, params)
        )
        for index, entry in enumerate(suite.perturbations)
        for number, params in enumerate(entry.points())
    ]


def point_seed(*parts: int) -> int:
    """A 63-bit seed from integers: the same parts give the same seed on every machine."""
    digest = hashlib.sha256(" ".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class FeatureTap:
    """Keeps the latest output of a model's feature layer (a forward hook)."""

    def __init__(self, model: nn.Module) -> None:
        self.output: torch.Tensor | None = None
        self._handle = feature_module(model).register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        self.output = output

    def take(self) -> torch.Tensor:
        if self.output is None:
            raise RuntimeError("the feature layer did not run in the model's forward pass")
        output, self.output = self.output.detach(), None
        return output

    def close(self) -> None:
        self._handle.remove()


@dataclass
class _CleanPass:
    logits: torch.Tensor
    features: torch.Tensor
    gradient: torch.Tensor | None
    wrong: torch.Tensor


def _clean_pass(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, tap: FeatureTap, needs_gradient: bool
) -> _CleanPass:
    """Predictions, feature activations and (when asked) the loss's input gradient of a batch."""
    gradient = None
    if needs_gradient:
        x_grad = x.clone().requires_grad_(True)
        logits = model(x_grad)
        gradient = torch.autograd.grad(F.cross_entropy(logits, y), x_grad)[0]
        logits = logits.detach()
    else:
        with torch.no_grad():
            logits = model(x)
    return _CleanPass(logits, tap.take(), gradient, (logits.argmax(1) != y).sum())


def _perturb(
    point: SuitePoint,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    clean: _CleanPass,
    seed: int,
) -> tuple[torch.Tensor, torch.Generator]:
    """The perturbed batch, with every random number drawn from ``seed``."""
    device = x.device
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # for torchattacks' own random starts
        perturbed = point.perturbation(
            model, x, y, input_gradient=clean.gradient, generator=generator
        )
    return perturbed, generator


def measure_model(
    label: str,
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    suite: Suite,
    device: torch.device,
    tick: Callable[[str], None],
) -> ModelOutcome:
    """The cells (one per suite point) and sanity warnings of one model."""
    images, labels = data
    points = suite_points(suite)
    tap = FeatureTap(model)
    wrong = torch.zeros(len(points), dtype=torch.long, device=device)
    mse_sum = torch.zeros(len(points), dtype=torch.float64, device=device)
    noise_checked = sanity.noise_checked_points(points)
    noise = sanity.NoiseComparison()
    gradients = sanity.GradientStats()
    warnings: list[SanityWarning] = []
    needs_gradient = any(point.perturbation.uses_input_gradient for point in points)
    try:
        for batch_index, start in enumerate(range(0, len(images), suite.batch_size)):
            x = images[start : start + suite.batch_size].to(device)
            y = labels[start : start + suite.batch_size].to(device)
            clean = _clean_pass(model, x, y, tap, needs_gradient)
            if batch_index == 0 and (found := sanity.output_warning(label, clean.logits)):
                warnings.append(found)
            if clean.gradient is not None:
                gradients.add(clean.gradient)
            for index, point in enumerate(points):
                tick(f"{point.label} {describe_point(point.params)}")
                if point.kind == "clean":
                    wrong[index] += clean.wrong
                    continue
                seed = point_seed(suite.seed, point.entry_index, point.point_index, batch_index)
                perturbed, generator = _perturb(point, model, x, y, clean, seed)
                with torch.no_grad():
                    batch_wrong = (model(perturbed).argmax(1) != y).sum()
                squared = (tap.take() - clean.features).pow_(2).flatten(1)
                wrong[index] += batch_wrong
                mse_sum[index] += squared.mean(1, dtype=torch.float64).sum()
                if batch_index == 0 and index in noise_checked:  # one batch is enough
                    noise.compare(index, model, x, y, noise_checked[index], generator)
                    tap.take()
                    noise.attack_wrong[index] = int(batch_wrong)
    finally:
        tap.close()
    warnings += gradients.warnings(label)
    warnings += noise.warnings(label, points, noise_checked)
    n = len(images)
    cells = [
        Cell(label, point.label, point.kind, dict(point.params), n, int(count), total / n)
        for point, count, total in zip(points, wrong.tolist(), mse_sum.tolist(), strict=True)
    ]
    return ModelOutcome(cells=cells, warnings=warnings)
