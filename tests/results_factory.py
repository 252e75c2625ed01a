"""Hand-built :class:`Results` for the gate and reporting tests (no model is run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wmbench.results import Cell, CheckpointRecord, Results
from wmbench.schema import Suite

N = 1000

SUITE: dict[str, Any] = {
    "name": "quick",
    "models": {"cnn": "a.safetensors", "wm": "b.safetensors"},
    "perturbations": [
        {"kind": "clean"},
        {"kind": "uniform", "upper": [0.5, 1.0]},
        {"kind": "fgsm", "eps": [0.1, 0.2]},
    ],
    "gates": [
        {"model": "wm", "perturbation": "fgsm", "eps": 0.1, "max_error": 0.3},
        {"better": "wm", "than": "cnn", "perturbation": "uniform"},
    ],
}

# Misclassified images out of N, by (model, perturbation, parameter value or None).
WRONG: dict[tuple[str, str, float | None], int] = {
    ("cnn", "clean", None): 10,
    ("wm", "clean", None): 12,
    ("cnn", "uniform", 0.5): 50,
    ("wm", "uniform", 0.5): 40,
    ("cnn", "uniform", 1.0): 105,
    ("wm", "uniform", 1.0): 120,
    ("cnn", "fgsm", 0.1): 400,
    ("wm", "fgsm", 0.1): 300,
    ("cnn", "fgsm", 0.2): 700,
    ("wm", "fgsm", 0.2): 500,
}

_PARAM = {"clean": None, "uniform": "upper", "fgsm": "eps"}


def make_results(
    wrong: dict[tuple[str, str, float | None], int] | None = None,
    suite: dict[str, Any] | None = None,
    n: int = N,
) -> Results:
    """Results of the suite above, with ``wrong`` overriding some counts (``-1`` drops a cell)."""
    counts = {**WRONG, **(wrong or {})}
    cells = [
        Cell(
            model=model,
            perturbation=perturbation,
            kind=perturbation,
            params={} if value is None else {_PARAM[perturbation]: value},
            n=n,
            wrong=count,
            activation_mse=0.0 if value is None else count / 8192,
        )
        for (model, perturbation, value), count in counts.items()
        if count >= 0
    ]
    return Results(
        suite=Suite.model_validate(suite or SUITE),
        source=Path("suites/quick.yaml"),
        cells=cells,
        checkpoints={
            "cnn": CheckpointRecord("cnn", Path("a.safetensors"), "0" * 64, "cnn-33"),
            "wm": CheckpointRecord("wm", Path("b.safetensors"), "1" * 64, "wm-unsharp-32"),
        },
        device="cpu",
        versions={"wmbench": "0.1.0", "torch": "2.13.0"},
        started="2025-01-01T00:00:00+00:00",
        duration_s=12.5,
    )
