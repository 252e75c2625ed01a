"""Our numbers in the shape of Amer & Maul's Tables 2 and 5 and Figures 2–3: per model, its size,
its cost and its test error over the seeds trained (beside the paper's), and per perturbation,
each model's error or activation MSE at every value of the sweep."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from wmbench.metrics import count_macs, count_parameters
from wmbench.models import create_model, get_spec
from wmbench.results import ResultsDocument

Training = dict[str, list[dict[str, Any]]]
"""Per model, the stored ``metrics`` of each seed's checkpoint (``test_error``, ``history``...)."""


@dataclass(frozen=True)
class ModelRow:
    """One model of Table 2 or 5, ours beside the paper's.

    Attributes:
        model: the zoo name.
        family: ``cnn`` (Table 2), ``resnet`` or ``densenet`` (Table 5).
        params: trainable parameters.
        macs: multiply-accumulates of one forward pass.
        test_errors: the test error of each seed trained, as fractions.
        mean_error: their mean; None without seeds.
        std_error: their sample standard deviation; None with fewer than two seeds.
        epochs: the distinct numbers of epochs the seeds were trained for, ascending.
        paper_params: the parameter count the paper states (e.g. ``"1.49M"``), if any.
        paper_error: the paper's test error in percent, if it states one.
        paper_error_std: its standard deviation in percent, if stated.
    """

    model: str
    family: str
    params: int
    macs: int
    test_errors: tuple[float, ...]
    mean_error: float | None
    std_error: float | None
    epochs: tuple[int, ...]
    paper_params: str | None
    paper_error: float | None
    paper_error_std: float | None


def model_rows(training: Training) -> list[ModelRow]:
    """A row per trained model, in ``training``'s order."""
    rows = []
    for model, runs in training.items():
        spec = get_spec(model)
        network = create_model(spec)
        errors = tuple(run["test_error"] for run in runs)
        paper = spec.paper
        rows.append(
            ModelRow(
                model=model,
                family=spec.family,
                params=count_parameters(network),
                macs=count_macs(network, spec.input_shape),
                test_errors=errors,
                mean_error=statistics.mean(errors) if errors else None,
                std_error=statistics.stdev(errors) if len(errors) > 1 else None,
                epochs=tuple(sorted({len(run.get("history", [])) for run in runs})),
                paper_params=paper.params if paper and paper.params else None,
                paper_error=paper.test_error if paper else None,
                paper_error_std=paper.test_error_std if paper else None,
            )
        )
    return rows


def sweep_values(
    document: ResultsDocument, perturbation: str, metric: str = "error"
) -> dict[str, dict[float, float]]:
    """Per model, ``metric`` (``error`` or ``activation_mse``) at each value of a one-parameter
    sweep such as ``uniform`` (``upper``) or ``fgsm`` (``eps``)."""
    table: dict[str, dict[float, float]] = {}
    for row in document.rows_of(perturbation):
        (value,) = row.params.values()
        table.setdefault(row.model, {})[value] = getattr(row, metric)
    return table
