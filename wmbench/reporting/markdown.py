"""Results as GitHub-flavoured Markdown, for a CI job summary (``$GITHUB_STEP_SUMMARY``) or a
pull-request comment (``wmbench attack --markdown``, ``wmbench compare --markdown``).

A heading with the suite's name and the gates' summary; one table per perturbation (models as
rows, parameter points as columns — the grid of :mod:`.grid`, as the terminal shows it — each
cell the error in percent with its 95% Wilson interval, ★ for the lowest of the column); the
sanity warnings; the verdicts (✅ held, ❌ failed); the baseline and the checkpoints that changed
since. Formats a :class:`ResultsDocument` (of a run, :meth:`ResultsDocument.of_run`, or read from
a file); never computes.
"""

from __future__ import annotations

from pathlib import Path

from wmbench._io import write_text_atomic
from wmbench.reporting.grid import (
    CORRUPTION_HEADERS,
    Grid,
    Shown,
    breakdowns,
    corruption_rows,
    perturbation_grids,
)
from wmbench.reporting.table import BEST, summary_line
from wmbench.results import BaselineRecord, ResultsDocument

PASSED, FAILED = "✅", "❌"


def _text(value: object) -> str:
    """A table cell's text: pipes escaped, on one line."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _table(headers: list[str], rows: list[list[str]], numbers_from: int | None = None) -> list[str]:
    """A Markdown table; the columns from ``numbers_from`` on are right-aligned."""
    rules = [
        "---:" if numbers_from is not None and index >= numbers_from else "---"
        for index in range(len(headers))
    ]
    return [
        "| " + " | ".join(map(_text, headers)) + " |",
        "| " + " | ".join(rules) + " |",
        *("| " + " | ".join(map(_text, row)) + " |" for row in rows),
    ]


def format_cell(cell: Shown | None, best: bool = False) -> str:
    """``"30.00% ★ (27.2–32.9)"``: the error in percent, ★ when it is the column's lowest, and
    its 95% Wilson interval in percent (left out for files that predate it); ``"—"`` for none."""
    if cell is None:
        return "—"
    text = f"{100 * cell.error:.2f}%" + (f" {BEST}" if best else "")
    if cell.ci95 is not None:
        low, high = cell.ci95
        text += f" ({100 * low:.1f}–{100 * high:.1f})"
    return text


def _grid_lines(grid: Grid) -> list[str]:
    rows = [
        [model, *(format_cell(cell, grid.is_best(i, cell)) for i, cell in enumerate(cells))]
        for model, cells in grid.rows.items()
    ]
    lines = [f"### {_text(grid.title)}", "", *_table(["model", *grid.headers], rows, 1)]
    if grid.caption:
        lines += ["", f"At `{grid.caption}`."]
    return lines


def _baseline_lines(baseline: BaselineRecord) -> list[str]:
    changes = baseline.checkpoints_changed
    if not changes:
        return ["### Baseline", "", f"`{baseline.path}`, on the same checkpoints."]
    noun = "checkpoint" if len(changes) == 1 else "checkpoints"
    rows = [[c.model, f"`{c.old_sha256[:12]}`", f"`{c.new_sha256[:12]}`"] for c in changes]
    return [
        "### Checkpoints changed since the baseline",
        "",
        f"`{baseline.path}`: {len(changes)} {noun} changed.",
        "",
        *_table(["model", "old sha256", "new sha256"], rows),
    ]


def markdown_report(document: ResultsDocument) -> str:
    """The whole report, ending with a newline."""
    name = document.suite.name if document.suite is not None else None
    verdicts = document.gates
    mark = "" if not verdicts else (PASSED if document.passed else FAILED) + " "
    sections = [[f"## wmbench: {_text(name or 'results')}", "", mark + summary_line(verdicts)]]
    sections += [_grid_lines(grid) for grid in perturbation_grids(document)]
    if found := breakdowns(document):
        rows = [[b.model, b.perturbation, b.point or "—", b.describe()] for b in found]
        sections.append(
            [
                "### Images broken, by attack",
                "",
                *_table(["model", "perturbation", "point", "broken by"], rows),
            ]
        )
    if rows := corruption_rows(document):
        sections.append(
            ["### Common corruptions", "", *_table(CORRUPTION_HEADERS, rows, numbers_from=2)]
        )
    if document.warnings:
        rows = [[w.model, w.perturbation or "—", w.check, w.message] for w in document.warnings]
        sections.append(
            [
                "### Sanity warnings (numbers that may overstate robustness)",
                "",
                *_table(["model", "perturbation", "check", "detail"], rows),
            ]
        )
    if verdicts:
        rows = [[PASSED if v.passed else FAILED, v.name, v.detail] for v in verdicts]
        sections.append(["### Gates", "", *_table(["", "gate", "detail"], rows)])
    if document.baseline is not None:
        sections.append(_baseline_lines(document.baseline))
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def write_markdown(path: str | Path, text: str) -> Path:
    """Writes the report to ``path`` atomically (replacing it: to append to a job summary, write
    to stdout and redirect with ``>>``)."""
    return write_text_atomic(path, text)
