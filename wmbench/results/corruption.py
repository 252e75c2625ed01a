"""Per-model summaries of a suite's common corruptions (Hendrycks & Dietterich 2019, "Benchmarking
Neural Network Robustness to Common Corruptions and Perturbations", §3):

- **mean CE**: the mean error over every corruption × severity cell of the entry;
- **mCE**: ``CE_c = Σ_s E(c, s) / Σ_s E_base(c, s)`` per corruption c, averaged over c — the
  error normalised by the baseline model's on the same corruption (the baseline scores 1);
- **relative mCE**: ``Σ_s (E(c, s) − E_clean) / Σ_s (E_base(c, s) − E_base,clean)`` averaged over
  c — how much accuracy a model loses to corruption, relative to how much the baseline loses
  (needs a ``clean`` entry in the suite).

A corruption whose denominator is zero (the baseline never erred on it, or lost nothing) is left
out of that model's average, and the summary says how many corruptions the average covers.
"""

from __future__ import annotations

from dataclasses import dataclass

from wmbench.results.measured import Cell
from wmbench.schema import Corruption, Suite


@dataclass(frozen=True)
class CorruptionSummary:
    """One model's summary of one ``corruption`` entry.

    Attributes:
        model: the model's label.
        perturbation: the entry's label.
        mean_ce: mean error over its cells (a fraction).
        baseline: the baseline model's label, or None when the entry names none.
        mce: mean normalised corruption error (1.0: the baseline's), or None.
        relative_mce: mean relative corruption error, or None.
        corruptions: how many corruptions the mCE averages over.
    """

    model: str
    perturbation: str
    mean_ce: float
    baseline: str | None = None
    mce: float | None = None
    relative_mce: float | None = None
    corruptions: int = 0


def _errors(cells: list[Cell]) -> dict[str, dict[str, list[float]]]:
    """model → corruption → errors over severities (in the cells' order)."""
    table: dict[str, dict[str, list[float]]] = {}
    for cell in cells:
        name = str(cell.params["corruption"])
        table.setdefault(cell.model, {}).setdefault(name, []).append(cell.wrong / cell.n)
    return table


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def corruption_summaries(
    cells: list[Cell], baselines: dict[str, str | None]
) -> list[CorruptionSummary]:
    """The summaries of every ``corruption`` entry of a run, per model.

    Args:
        cells: every cell of the run (those of kind ``corruption`` and ``clean`` are read).
        baselines: per ``corruption`` entry label, its baseline model (or None).
    """
    clean = {cell.model: cell.wrong / cell.n for cell in cells if cell.kind == "clean"}
    summaries = []
    for label, baseline in baselines.items():
        entry_cells = [c for c in cells if c.kind == "corruption" and c.perturbation == label]
        errors = _errors(entry_cells)
        base = errors.get(baseline or "", {})
        for model, per_corruption in errors.items():
            every = [error for values in per_corruption.values() for error in values]
            normalised, relative = [], []
            for name, values in per_corruption.items():
                reference = base.get(name)
                if not reference or len(reference) != len(values):
                    continue
                if sum(reference) > 0:
                    normalised.append(sum(values) / sum(reference))
                if model in clean and baseline in clean:
                    lost = sum(reference) - len(reference) * clean[baseline]  # type: ignore[index]
                    if lost > 0:
                        relative.append((sum(values) - len(values) * clean[model]) / lost)
            summaries.append(
                CorruptionSummary(
                    model=model,
                    perturbation=label,
                    mean_ce=sum(every) / len(every),
                    baseline=baseline,
                    mce=_mean(normalised) if baseline else None,
                    relative_mce=_mean(relative) if baseline else None,
                    corruptions=len(normalised),
                )
            )
    return summaries


def suite_summaries(cells: list[Cell], suite: Suite) -> list[CorruptionSummary]:
    """:func:`corruption_summaries` of a run of ``suite`` (its corruption entries' baselines)."""
    baselines = {
        entry.label: entry.baseline
        for entry in suite.perturbations
        if isinstance(entry, Corruption)
    }
    return corruption_summaries(cells, baselines)
