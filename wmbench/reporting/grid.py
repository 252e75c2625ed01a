"""The grid of one perturbation, models × parameter points, as every table of results shows it.

The rich tables of the terminal (:mod:`.table`) and the Markdown report (:mod:`.markdown`) draw
the same grid: columns are the parameter points as measured (else as the suite declares them);
headers show the parameters that vary and the constant ones go to the caption; in each column
the lowest error is the best, when two or more models were measured there. A grid is built from
a run (:class:`Results`) or from a results file (:class:`ResultsDocument`). Formats results;
never computes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wmbench.results import (
    Cell,
    CellRow,
    Results,
    ResultsDocument,
    cell_key,
    describe_point,
    suite_summaries,
)
from wmbench.schema import PerturbationEntry, Scalar, TorchattacksEntry

# A measured cell, as a run holds it or as a results file stores it: both have model,
# perturbation, params, error, ci95 and activation_mse.
Shown = Cell | CellRow


@dataclass
class Grid:
    """One perturbation's table before it is drawn.

    Attributes:
        label: the perturbation's label.
        title: the label, followed by its kind when that differs (``"strong (pgd)"``).
        headers: one per column: the parameter values that vary across the columns.
        caption: the parameter values every column shares (empty when there are none).
        rows: per model label, its cell in each column (None where it was not measured).
        best: per column, the lowest error when two or more models were measured there.
    """

    label: str
    title: str
    headers: list[str]
    caption: str
    rows: dict[str, list[Shown | None]]
    best: list[float | None]

    def is_best(self, column: int, cell: Shown | None) -> bool:
        return cell is not None and cell.error == self.best[column]


def perturbation_grids(source: Results | ResultsDocument) -> list[Grid]:
    """One grid per perturbation: a run's in its suite's order, a results file's in the order
    its cells were measured (models likewise)."""
    if isinstance(source, Results):
        models = list(source.suite.models)
        return [
            _grid(
                entry.label,
                _title(entry.label, _kind(entry)),
                models,
                source.of_perturbation(entry.label),
                entry.points(),
            )
            for entry in source.suite.perturbations
        ]
    models = list(dict.fromkeys(row.model for row in source.results))
    kinds: dict[str, str] = {}
    for row in source.results:
        kinds.setdefault(row.perturbation, row.kind)
    return [
        _grid(label, _title(label, kind), models, source.rows_of(label), [])
        for label, kind in kinds.items()
    ]


def _kind(entry: PerturbationEntry) -> str:
    return f"torchattacks.{entry.attack}" if isinstance(entry, TorchattacksEntry) else entry.kind


def _title(label: str, kind: str) -> str:
    return label if kind in (label, "") else f"{label} ({kind})"


def _grid(
    label: str,
    title: str,
    models: list[str],
    cells: Sequence[Shown],
    declared: list[dict[str, Scalar]],
) -> Grid:
    columns = _columns(cells, declared)
    headers, caption = _headers(columns, label)
    measured = {cell.key(): cell for cell in cells}
    rows = {
        model: [measured.get(cell_key(model, label, point)) for point in columns]
        for model in models
    }
    best: list[float | None] = []
    for index in range(len(columns)):
        errors = [row[index].error for row in rows.values() if row[index] is not None]
        # With fewer than two models measured there is nothing to compare.
        best.append(min(errors) if len(errors) > 1 else None)
    return Grid(label, title, headers, caption, rows, best)


def _columns(cells: Sequence[Shown], declared: list[dict[str, Scalar]]) -> list[dict[str, Scalar]]:
    """The parameter points of a perturbation: as measured, else as the suite declares them."""
    seen: dict[tuple, dict[str, Scalar]] = {}
    for cell in cells:
        seen.setdefault(tuple(sorted(cell.params.items())), cell.params)
    return list(seen.values()) if seen else declared


def _headers(columns: list[dict[str, Scalar]], label: str) -> tuple[list[str], str]:
    """Column headers show the parameters that vary; the constant ones go to the caption."""
    keys = list(dict.fromkeys(key for point in columns for key in point))
    varying = [key for key in keys if len({repr(point.get(key)) for point in columns}) > 1]
    if not varying:
        return [describe_point(point) or label for point in columns], ""
    constant = {key: columns[0][key] for key in keys if key not in varying and key in columns[0]}
    headers = [
        describe_point({key: point[key] for key in varying if key in point}) for point in columns
    ]
    return headers, describe_point(constant)


@dataclass
class Breakdown:
    """Which attack of a worst-case protocol broke how many images, for one cell."""

    model: str
    perturbation: str
    point: str
    broken_by: dict[str, int]
    n: int | None

    def describe(self) -> str:
        """``"clean 1 · apgd-ce 152 · apgd-t 0 · … · robust 47"``."""
        parts = [f"{name} {count}" for name, count in self.broken_by.items()]
        if self.n is not None:
            parts.append(f"robust {self.n - sum(self.broken_by.values())}")
        return " · ".join(parts)


def breakdowns(source: Results | ResultsDocument) -> list[Breakdown]:
    """The cells of worst-case protocols (``autoattack``, ``worst-of``), in measured order."""
    cells: Sequence[Shown] = source.cells if isinstance(source, Results) else source.results
    return [
        Breakdown(c.model, c.perturbation, describe_point(c.params), dict(c.broken_by), c.n)
        for c in cells
        if c.broken_by is not None
    ]


CORRUPTION_HEADERS = ["model", "perturbation", "mean CE", "baseline", "mCE", "relative mCE"]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def corruption_rows(source: Results | ResultsDocument) -> list[list[str]]:
    """Per model and ``corruption`` entry, its summary (:mod:`wmbench.results.corruption`) as
    the cells of one row under :data:`CORRUPTION_HEADERS`; empty without corruptions."""
    if isinstance(source, Results):
        summaries = suite_summaries(source.cells, source.suite)
    else:
        summaries = source.corruption
    return [
        [
            s.model,
            s.perturbation,
            _percent(s.mean_ce),
            s.baseline or "—",
            _percent(s.mce),
            _percent(s.relative_mce),
        ]
        for s in summaries
    ]
