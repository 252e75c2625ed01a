"""One suite run on every seed's checkpoint of each model, summarised over the seeds.

The models of such a suite are labelled ``MODEL-sSEED`` (``cnn-33-s0``, ``cnn-33-s1``, … as
``scripts/verdict-train`` names its checkpoints and ``suites/verdict.yaml`` its models). For each
model and cell (perturbation and parameter point) :func:`over_seeds` gives the error of every
seed, their mean and sample standard deviation (the spread that training adds), and the Wilson
interval of the pooled counts (Σ wrong / Σ n over the seeds: the test-set sampling, as the gates
use it). :func:`seed_difference` compares two models at a cell with Newcombe's interval of the
pooled counts, as the regression gates do. The seeds of a model see the same test images, and so
do the models: treating the pooled counts as independent samples makes the intervals wider than a
paired analysis would (conservative for a difference), and the seed-to-seed spread is in ``std``,
not in the intervals.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from wmbench.results import ResultsDocument
from wmbench.stats import difference_interval, wilson_interval

SEED_LABEL = re.compile(r"^(?P<model>.+)-s(?P<seed>\d+)$")


@dataclass
class SeedCell:
    """One model's cell over its seeds.

    Attributes:
        model: the model's name (the label without ``-sSEED``).
        perturbation: the perturbation's label.
        params: the parameter point.
        errors: the error of each seed, by seed.
        wrong: misclassified images, summed over the seeds.
        n: images, summed over the seeds.
        activation_mse: the activation MSE of each seed (None where not finite).
    """

    model: str
    perturbation: str
    params: dict[str, object]
    errors: dict[int, float] = field(default_factory=dict)
    wrong: int = 0
    n: int = 0
    activation_mse: dict[int, float | None] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.errors.values())

    @property
    def std(self) -> float:
        """The sample standard deviation over the seeds (NaN with one seed)."""
        values = list(self.errors.values())
        return statistics.stdev(values) if len(values) > 1 else float("nan")

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson's interval of the pooled error ``wrong / n``."""
        return wilson_interval(self.wrong, self.n, confidence)

    @property
    def key(self) -> tuple[str, str]:
        return self.perturbation, json.dumps(self.params, sort_keys=True)


def split_label(label: str) -> tuple[str, int] | None:
    """``("cnn-33", 2)`` for ``cnn-33-s2``; None for a label without a seed."""
    found = SEED_LABEL.match(label)
    return None if found is None else (found["model"], int(found["seed"]))


def model_and_seed(label: str) -> tuple[str, int]:
    """:func:`split_label`, with a label without ``-sSEED`` taken as its model's seed 0."""
    return split_label(label) or (label, 0)


def over_seeds(document: ResultsDocument) -> dict[str, list[SeedCell]]:
    """Every model's cells over its seeds, by model name in the suite's order, cells in the
    order they were measured. Labels without ``-sSEED`` count as a model with seed 0.

    Raises:
        ValueError: a row without counts (a results file older than the counts), or a seed
            measured twice at the same cell.
    """
    models: dict[str, dict[tuple[str, str], SeedCell]] = {}
    for row in document.results:
        model, seed = model_and_seed(row.model)
        if row.wrong is None or row.n is None:
            raise ValueError(f"{row.model} {row.perturbation}: the row has no counts")
        cell = SeedCell(model, row.perturbation, dict(row.params))
        cell = models.setdefault(model, {}).setdefault(cell.key, cell)
        if seed in cell.errors:
            raise ValueError(f"{row.model} {row.perturbation} {row.params}: measured twice")
        cell.errors[seed] = row.error
        cell.activation_mse[seed] = row.activation_mse
        cell.wrong += row.wrong
        cell.n += row.n
    return {model: list(cells.values()) for model, cells in models.items()}


def seed_difference(
    a: SeedCell, b: SeedCell, confidence: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """The pooled error of ``a`` minus ``b`` at the same cell, with Newcombe's interval."""
    if a.key != b.key:
        raise ValueError(f"different cells: {a.key} and {b.key}")
    difference = a.wrong / a.n - b.wrong / b.n
    return difference, difference_interval(a.wrong, a.n, b.wrong, b.n, confidence)


def merge(documents: Iterable[ResultsDocument]) -> ResultsDocument:
    """One document holding the rows, warnings and checkpoints of several runs of a suite (the
    seeds measured at different times, ``wmbench attack SUITE --model '*-s1'``)."""
    documents = list(documents)
    if not documents:
        raise ValueError("no results documents")
    merged = documents[0].model_copy(deep=True)
    for other in documents[1:]:
        merged.results += other.results
        merged.warnings += other.warnings
        merged.checkpoints = {**(merged.checkpoints or {}), **(other.checkpoints or {})}
    return merged
