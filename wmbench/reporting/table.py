"""Results and verdicts as rich tables for the terminal.

One table per perturbation: a row per model, a column per parameter point, each cell the test
error and the activation MSE; the lowest error of each column is marked. The caller prints them
(only the CLI talks to the terminal).
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from wmbench.results import Cell, Results, Verdict, describe_point
from wmbench.schema import Scalar, TorchattacksEntry

BEST = "★"
_BEST_STYLE = "bold green"


def _title(results: Results, label: str) -> str:
    entry = results.suite.perturbation(label)
    if entry is None:
        return label
    kind = f"torchattacks.{entry.attack}" if isinstance(entry, TorchattacksEntry) else entry.kind
    return label if kind == label else f"{label} ({kind})"


def _columns(results: Results, label: str) -> list[dict[str, Scalar]]:
    """The parameter points of a perturbation: as measured, else as the suite declares them."""
    seen: dict[tuple, dict[str, Scalar]] = {}
    for cell in results.of_perturbation(label):
        seen.setdefault(tuple(sorted(cell.params.items())), cell.params)
    if seen:
        return list(seen.values())
    entry = results.suite.perturbation(label)
    return entry.points() if entry is not None else []


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


def format_cell(cell: Cell, best: bool = False) -> Text:
    """``"12.34%\\n10.5–14.3\\nMSE 1.23e-02"``: the error in percent, its 95% Wilson interval in
    percent, and the activation MSE (3 significant digits)."""
    mse = "0" if cell.activation_mse == 0 else f"{cell.activation_mse:.2e}"
    error = f"{100 * cell.error:.2f}%"
    low, high = cell.ci95
    interval = Text(f"\n{100 * low:.1f}–{100 * high:.1f}", style="dim")
    if best:
        return Text(f"{error} {BEST}", style=_BEST_STYLE) + interval + Text(f"\nMSE {mse}")
    return Text(error) + interval + Text(f"\nMSE {mse}")


def perturbation_table(results: Results, label: str) -> Table:
    """The table of one perturbation: models × parameter points."""
    columns = _columns(results, label)
    headers, caption = _headers(columns, label)
    table = Table(title=_title(results, label), caption=caption or None, show_lines=True)
    table.add_column("model", style="bold")
    for header in headers:
        table.add_column(header, justify="right")
    measured = {cell.key(): cell for cell in results.of_perturbation(label)}
    grid = {
        model: [measured.get((model, label, tuple(sorted(point.items())))) for point in columns]
        for model in results.suite.models
    }
    best: list[float | None] = []
    for index in range(len(columns)):
        errors = [row[index].error for row in grid.values() if row[index] is not None]
        # With fewer than two models measured there is nothing to compare.
        best.append(min(errors) if len(errors) > 1 else None)
    for model, row in grid.items():
        texts = [
            Text("—", style="dim")
            if cell is None
            else format_cell(cell, best=cell.error == best[index])
            for index, cell in enumerate(row)
        ]
        table.add_row(model, *texts)
    return table


def perturbation_tables(results: Results) -> list[Table]:
    """One table per perturbation of the suite, in the suite's order."""
    return [perturbation_table(results, entry.label) for entry in results.suite.perturbations]


def verdict_table(verdicts: list[Verdict]) -> Table:
    """One row per verdict: PASS or FAIL, what was checked, and why."""
    table = Table(title="gates")
    table.add_column("")
    table.add_column("gate")
    table.add_column("detail")
    for verdict in verdicts:
        status = (
            Text("PASS", style="bold green") if verdict.passed else Text("FAIL", style="bold red")
        )
        table.add_row(status, verdict.name, verdict.detail)
    return table


def warning_table(results: Results) -> Table:
    """The sanity checks that fired, one row each."""
    table = Table(title="sanity warnings (numbers that may overstate robustness)")
    for column in ("model", "perturbation", "check", "detail"):
        table.add_column(column)
    for warning in results.warnings:
        table.add_row(warning.model, warning.perturbation or "—", warning.check, warning.message)
    return table


def summary_line(verdicts: list[Verdict]) -> str:
    """``"3 gates: 2 passed, 1 failed"`` (``"no gates"`` when there are none)."""
    if not verdicts:
        return "no gates"
    passed = sum(verdict.passed for verdict in verdicts)
    noun = "gate" if len(verdicts) == 1 else "gates"
    return f"{len(verdicts)} {noun}: {passed} passed, {len(verdicts) - passed} failed"
