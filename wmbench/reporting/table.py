"""Results and verdicts as rich tables for the terminal.

One table per perturbation: a row per model, a column per parameter point (the grid of
:mod:`.grid`), each cell the test error and the activation MSE; the lowest error of each column
is marked. Then, for worst-case protocols, how many images each attack broke; the sanity
warnings; the verdicts; and the checkpoints that changed since a baseline. The caller prints them
(only the CLI talks to the terminal).
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from wmbench.reporting.grid import (
    CORRUPTION_HEADERS,
    Grid,
    Shown,
    breakdowns,
    corruption_rows,
    perturbation_grids,
)
from wmbench.results import CheckpointChange, Results, ResultsDocument, Verdict

BEST = "★"
_BEST_STYLE = "bold green"


def format_cell(cell: Shown, best: bool = False) -> Text:
    """``"12.34%\\n10.5–14.3\\nMSE 1.23e-02"``: the error in percent, its 95% Wilson interval in
    percent, and the activation MSE (3 significant digits)."""
    mse = "0" if cell.activation_mse == 0 else f"{cell.activation_mse:.2e}"
    if cell.activation_mse is None:  # not finite when it was measured
        mse = "—"
    error = f"{100 * cell.error:.2f}%"
    interval = Text("")
    if cell.ci95 is not None:
        low, high = cell.ci95
        interval = Text(f"\n{100 * low:.1f}–{100 * high:.1f}", style="dim")
    if best:
        return Text(f"{error} {BEST}", style=_BEST_STYLE) + interval + Text(f"\nMSE {mse}")
    return Text(error) + interval + Text(f"\nMSE {mse}")


def perturbation_table(grid: Grid) -> Table:
    """The table of one perturbation: models × parameter points."""
    table = Table(title=grid.title, caption=grid.caption or None, show_lines=True)
    table.add_column("model", style="bold")
    for header in grid.headers:
        table.add_column(header, justify="right")
    for model, row in grid.rows.items():
        texts = [
            Text("—", style="dim")
            if cell is None
            else format_cell(cell, best=grid.is_best(index, cell))
            for index, cell in enumerate(row)
        ]
        table.add_row(model, *texts)
    return table


def perturbation_tables(source: Results | ResultsDocument) -> list[Table]:
    """One table per perturbation (see :func:`.grid.perturbation_grids` for the order)."""
    return [perturbation_table(grid) for grid in perturbation_grids(source)]


def breakdown_table(source: Results | ResultsDocument) -> Table | None:
    """Per worst-case cell, how many images each attack broke (None when there are none)."""
    found = breakdowns(source)
    if not found:
        return None
    table = Table(title="images broken, by attack (each ran on the images still correct)")
    for column in ("model", "perturbation", "point", "broken by"):
        table.add_column(column)
    for row in found:
        table.add_row(row.model, row.perturbation, row.point or "—", row.describe())
    return table


def corruption_table(source: Results | ResultsDocument) -> Table | None:
    """Per model, the summary of each ``corruption`` entry (None when there is none)."""
    rows = corruption_rows(source)
    if not rows:
        return None
    table = Table(title="common corruptions: mean error, and mCE relative to the baseline")
    for index, column in enumerate(CORRUPTION_HEADERS):
        table.add_column(column, justify="right" if index >= 2 and column != "baseline" else "left")
    for row in rows:
        table.add_row(*row)
    return table


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


def checkpoint_table(changes: list[CheckpointChange]) -> Table:
    """The models whose checkpoint is not the one the baseline ran on: old and new sha256."""
    table = Table(title="checkpoints changed since the baseline")
    for column in ("model", "old sha256", "new sha256"):
        table.add_column(column)
    for change in changes:
        table.add_row(change.model, change.old_sha256[:12] + "…", change.new_sha256[:12] + "…")
    return table


def summary_line(verdicts: list[Verdict]) -> str:
    """``"3 gates: 2 passed, 1 failed"`` (``"no gates"`` when there are none)."""
    if not verdicts:
        return "no gates"
    passed = sum(verdict.passed for verdict in verdicts)
    noun = "gate" if len(verdicts) == 1 else "gates"
    return f"{len(verdicts)} {noun}: {passed} passed, {len(verdicts) - passed} failed"
