"""``wmbench compare OLD.json NEW.json``: the regression check of two results files, without
running anything (``wmbench.gates.compare_to_baseline``, as ``wmbench attack --baseline`` does).

Exit code 0 when every cell shared by the two files held, 1 when one regressed (a finding), 2 for
bad input. The verdict table, and the checkpoints that changed, go to stdout (to stderr when
``--json -`` or ``--markdown -`` claims stdout). ``--json`` writes NEW's document with the
comparison's verdicts as its ``gates`` and the ``baseline`` it was compared with.
"""

from __future__ import annotations

from pathlib import Path

import typer

from wmbench.cli._outputs import (
    CONFIDENCE,
    MARKDOWN,
    SAME_CHECKPOINTS,
    TOLERANCE,
    check_outputs,
    exit_on_failure,
    output_console,
    print_verdicts,
    write_outputs,
)
from wmbench.gates import judge_against_baseline
from wmbench.results import ResultsDocument


def compare(
    old: Path = typer.Argument(..., help="The baseline: an earlier `wmbench attack --json`."),
    new: Path = typer.Argument(..., help="The results file to judge against it."),
    tolerance: float = TOLERANCE,
    confidence: float | None = CONFIDENCE,
    same_checkpoints: bool = SAME_CHECKPOINTS,
    json_out: str | None = typer.Option(
        None, "--json", help="Write NEW with the comparison's verdicts to this path ('-': stdout)."
    ),
    junit_out: Path | None = typer.Option(
        None, "--junit", help="Write one JUnit test case per compared cell to this path."
    ),
    markdown_out: str | None = MARKDOWN,
) -> None:
    """Compare two results files: fail when a cell's error rose by more than the tolerance."""
    check_outputs(json_out, junit_out, markdown_out)
    baseline = ResultsDocument.read(old)
    current = ResultsDocument.read(new)
    verdicts, record = judge_against_baseline(
        current, baseline, old, tolerance, confidence, same_checkpoints, current_path=new
    )
    document = current.model_copy(
        update={
            "gates": verdicts,
            "passed": all(verdict.passed for verdict in verdicts),
            "baseline": record,
        }
    )
    print_verdicts(output_console(json_out, markdown_out), document)
    write_outputs(document, json_out, junit_out, markdown_out)
    exit_on_failure(verdicts)
