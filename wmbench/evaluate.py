"""``wmbench.evaluate``: run a suite on a model already in memory, from Python.

RobustBench's ``benchmark(model, ...)`` is the anchor: hand over an ``nn.Module`` (any
classifier that takes images in [0, 1] and returns logits) and a suite (a file, a mapping or a
:class:`~wmbench.schema.Suite`), get back the typed results document with every cell and every
gate's verdict. The suite's own ``models:`` are replaced by the given model; its perturbations,
gates, seed and batch size are used as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from wmbench._yaml import read_yaml
from wmbench.errors import ConfigError
from wmbench.gates import evaluate_gates
from wmbench.models import as_benchmark_model
from wmbench.results import ResultsDocument
from wmbench.schema import Suite
from wmbench.suites.loader import LoadedSuite, parse_suite
from wmbench.suites.runner import ProgressCallback, run_suite, suite_data
from wmbench.suites.sources import ModuleSource

IN_MEMORY = "<in memory>"


def evaluate(
    model: nn.Module,
    suite: str | Path | Suite | dict[str, Any],
    *,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    label: str = "model",
    feature_layer: str | None = None,
    device: str | None = None,
    progress: ProgressCallback | None = None,
    randomised: bool = False,
) -> ResultsDocument:
    """Measures ``model`` under every perturbation of ``suite`` and judges its gates.

    Args:
        model: a classifier taking ``(B, C, H, W)`` images in [0, 1] and returning logits; a
            wmbench model, or any module (its feature layer is then ``feature_layer``, or its
            last ``Conv2d`` or WM layer). It is moved to the suite's device and put in eval
            mode in place (as ``nn.Module.to`` and ``eval`` do) and left so; tensors it keeps
            must be parameters or buffers to move with it.
        suite: a suite file, its content as a mapping (``models`` may be left out), or a
            validated :class:`Suite`.
        data: ``(images, labels)`` to use instead of the suite's data set: float NCHW in
            [0, 1] and integer labels.
        label: the model's name in the results and in the suite's gates.
        feature_layer: dotted name of the layer whose activations the MSE compares.
        device: ``auto``, ``cpu`` or ``cuda``; default the suite's.
        progress: called with (done, total, description) as cells are measured.
        randomised: the model is a randomised defence whose outputs may differ between
            identical calls (evaluate it with ``autoattack`` ``version: rand``).

    Raises:
        ConfigError: the suite is malformed, or a gate names another model than ``label``.
        ModelError: the model does not take the images or does not return logits.
    """
    checked, source = _suite(suite, label)
    loaded = LoadedSuite(suite=checked, source=source)
    images, labels = data if data is not None else suite_data(loaded)
    if images.dim() != 4 or len(images) != len(labels):
        raise ConfigError(
            f"data: expected images (N, C, H, W) and N labels, got {tuple(images.shape)} "
            f"and {tuple(labels.shape)}"
        )
    wrapped = as_benchmark_model(
        model, tuple(images.shape[1:]), feature_layer=feature_layer, randomised=randomised
    )
    loaded.models[label] = ModuleSource(label, wrapped)
    results = run_suite(loaded, images=images, labels=labels, device=device, progress=progress)
    return ResultsDocument.of_run(results, evaluate_gates(results))


def _suite(suite: str | Path | Suite | dict[str, Any], label: str) -> tuple[Suite, Path | None]:
    """The suite with its models replaced by ``label``, and the file it came from."""
    if isinstance(suite, (str, Path)):
        source: Path | None = Path(suite)
        document = read_yaml(source)
    elif isinstance(suite, Suite):
        source, document = None, suite.model_dump(mode="json")
    else:
        source, document = None, dict(suite)
    if not isinstance(document, dict):
        raise ConfigError("expected a mapping with keys name, perturbations", source or "suite")
    document = {**document, "models": {label: IN_MEMORY}}
    return parse_suite(document, source or "suite"), source
