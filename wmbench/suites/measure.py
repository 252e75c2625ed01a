"""Measures one model over every point of a suite: the inner loop of the runner.

Protocol of Amer & Maul §4.3: for every perturbation × parameter value, the test error on the
perturbed images and the mean squared error between the feature-layer activations (the layer the
model names as its ``feature_layer``) for the clean and the perturbed image.

Work is shared where it can be: per batch, one clean forward pass gives the clean predictions,
the clean feature activations (a forward hook) and — for each loss some perturbation can use —
the input gradient of that loss, which serves every ε of an FGSM sweep. Each perturbed batch then
costs one forward pass, whose hook gives its feature activations. A worst-case protocol
(AutoAttack, ``worst-of``) gets the clean logits, attacks only the images still correct, and
reports which attack broke how many; its error is the per-image worst case it found. Random
noise is drawn from a generator seeded from (suite seed, perturbation, parameter point, batch),
the same for every model. The sanity checks of :mod:`wmbench.sanity` are called at their
places in the loop. With the suite's ``per_layer``, the hooks of :class:`wmbench.lsa.LayerTap`
read every monitored layer in those same clean and perturbed passes (Layer Sustainability
Analysis, Khalooei et al., arXiv:2202.02626): no extra pass, no extra perturbation.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from wmbench import sanity
from wmbench.distributed import ONE_PROCESS, World
from wmbench.lsa import ErrorSums, LayerTap
from wmbench.models import feature_module
from wmbench.perturbations import (
    Perturbation,
    SharedWork,
    WorstCase,
    WorstCasePerturbation,
    build_perturbation,
)
from wmbench.perturbations.losses import mean_loss
from wmbench.results import Cell, ModelOutcome, describe_point
from wmbench.schema import Scalar, Suite
from wmbench.suites.shards import Tally, combine


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
    gradients: dict[str, torch.Tensor]
    wrong: torch.Tensor


def _clean_pass(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, tap: FeatureTap, losses: list[str]
) -> _CleanPass:
    """Predictions, feature activations and the input gradient of each of ``losses`` (one
    forward pass, one backward pass per loss) of a batch."""
    gradients = {}
    if losses:
        x_grad = x.clone().requires_grad_(True)
        logits = model(x_grad)
        for number, loss in enumerate(losses):
            value = mean_loss(loss, logits, y)
            keep = number < len(losses) - 1
            gradients[loss] = torch.autograd.grad(value, x_grad, retain_graph=keep)[0]
        logits = logits.detach()
    else:
        with torch.no_grad():
            logits = model(x)
    return _CleanPass(logits, tap.take(), gradients, (logits.argmax(1) != y).sum())


def _perturb(
    point: SuitePoint,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    clean: _CleanPass,
    seed: int,
) -> tuple[torch.Tensor, torch.Generator, WorstCase | None]:
    """The perturbed batch, with every random number drawn from ``seed`` (and what a worst-case
    protocol found on it)."""
    device = x.device
    generator = torch.Generator(device=device).manual_seed(seed)
    shared = SharedWork(clean.gradients, generator, clean.logits)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # for torchattacks' own random starts
        if isinstance(point.perturbation, WorstCasePerturbation):
            found = point.perturbation.worst_case(model, x, y, shared)
            return found.images, generator, found
        return point.perturbation(model, x, y, shared=shared), generator, None


@dataclass
class Measured:
    """What one model's batches added up to (this rank's batches, until combined)."""

    label: str
    points: list[SuitePoint]
    tally: Tally
    noise_checked: dict[int, float]
    images: int

    def combine(self, world: World) -> None:
        """Adds the other ranks' batches (a collective: :func:`wmbench.suites.shards.combine`)."""
        if world.active:
            combine(world, self.tally, self.images)

    def outcome(self) -> ModelOutcome:
        """The cells (one per suite point) and sanity warnings."""
        return _outcome(self.label, self.points, self.tally, self.noise_checked, self.images)


def measure_model(
    label: str,
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    suite: Suite,
    device: torch.device,
    tick: Callable[[str], None],
    world: World = ONE_PROCESS,
) -> Measured:
    """Measures one model over every suite point, on the batches this rank owns.

    With a ``world`` of several ranks, global batch ``b`` is rank ``b mod N``'s; no collective
    is called here (a failure meets the other ranks at an agreement), so the caller
    :meth:`Measured.combine`s afterwards: then every rank has one process's cells.
    """
    images, labels = data
    points = suite_points(suite)
    layer_tap = LayerTap(model, images[:2].to(device)) if suite.per_layer else None

    def layers_read() -> contextlib.AbstractContextManager[dict[str, torch.Tensor]]:
        return contextlib.nullcontext({}) if layer_tap is None else layer_tap.capture()

    batches = -(-len(images) // suite.batch_size)
    tally = Tally(len(points), batches, device)
    if layer_tap is not None:
        tally.layer_sums = {
            index: ErrorSums(layer_tap.points)
            for index, point in enumerate(points)
            if point.kind != "clean"
        }
    tap = FeatureTap(model)
    noise_checked = sanity.noise_checked_points(points)
    losses = sorted({p.perturbation.gradient_loss for p in points} - {None})  # type: ignore[arg-type]
    try:
        for batch_index, start in enumerate(range(0, len(images), suite.batch_size)):
            if not world.owns(batch_index):
                continue
            tally.starts.append(start)
            x = images[start : start + suite.batch_size].to(device)
            y = labels[start : start + suite.batch_size].to(device)
            with layers_read() as clean_layers:
                clean = _clean_pass(model, x, y, tap, losses)
            if batch_index == 0:
                tally.warnings += sanity.first_batch_warnings(label, model, x, clean.logits, points)
                tap.output = None  # the checks' own forward passes
            if "ce" in clean.gradients:
                tally.gradients.add(clean.gradients["ce"])
            for index, point in enumerate(points):
                tick(f"{point.label} {describe_point(point.params)}")
                if point.kind == "clean":
                    tally.wrong[index] += clean.wrong
                    continue
                seed = point_seed(suite.seed, point.entry_index, point.point_index, batch_index)
                perturbed, generator, found = _perturb(point, model, x, y, clean, seed)
                with torch.no_grad(), layers_read() as perturbed_layers:
                    batch_wrong = (model(perturbed).argmax(1) != y).sum()
                if index in tally.layer_sums:
                    tally.layer_sums[index].add(clean_layers, perturbed_layers)
                squared = (tap.take() - clean.features).pow_(2).flatten(1)
                if found is not None:  # the protocol's own verdict per image
                    batch_wrong = found.wrong.sum()
                    counts = tally.broken.setdefault(index, {})
                    for name, count in found.broken_by.items():
                        counts[name] = counts.get(name, 0) + count
                    tally.masking.add(index, found)
                tally.wrong[index] += batch_wrong
                tally.batch_mse[index, batch_index] = squared.mean(1, dtype=torch.float64).sum()
                if batch_index == 0 and index in noise_checked:  # one batch is enough
                    tally.noise.compare(index, model, x, y, noise_checked[index], generator)
                    tap.take()
                    tally.noise.attack_wrong[index] = int(batch_wrong)
    finally:
        tap.close()
    return Measured(label, points, tally, noise_checked, len(images))


def _outcome(
    label: str, points: list[SuitePoint], tally: Tally, noise_checked: dict[int, float], n: int
) -> ModelOutcome:
    warnings = tally.warnings + tally.gradients.warnings(label)
    warnings += tally.noise.warnings(label, points, noise_checked)
    mse_sum = torch.zeros(len(points), dtype=torch.float64, device=tally.batch_mse.device)
    for column in tally.batch_mse.unbind(1):  # in batch order, as the batches came
        mse_sum += column
    cells = [
        Cell(
            label,
            point.label,
            point.kind,
            dict(point.params),
            n,
            int(count),
            total / n,
            broken_by=tally.broken.get(index),
            per_layer=tally.layer_sums[index].summary() if index in tally.layer_sums else None,
        )
        for index, (point, count, total) in enumerate(
            zip(points, tally.wrong.tolist(), mse_sum.tolist(), strict=True)
        )
    ]
    warnings += tally.masking.warnings(label, points, cells)
    return ModelOutcome(cells=cells, warnings=warnings)
