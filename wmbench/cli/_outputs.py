"""What ``wmbench attack`` and ``wmbench compare`` share: the baseline options, where tables go,
the results, JUnit and Markdown files they write, and the exit code of failed verdicts."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from wmbench.cli._console import note, stderr, stdout
from wmbench.errors import ConfigError
from wmbench.reporting.junit import junit_xml, write_junit
from wmbench.reporting.markdown import markdown_report, write_markdown
from wmbench.reporting.table import checkpoint_table, summary_line, verdict_table
from wmbench.results import ResultsDocument, Verdict

EXIT_GATE_FAILED = 1

# The options `wmbench compare` shares: one definition, the same meaning in both commands.
TOLERANCE = typer.Option(
    0.01, min=0.0, max=1.0, help="Error increase (fraction) allowed per cell against the baseline."
)
CONFIDENCE = typer.Option(
    None,
    min=0.5,
    max=0.9999,
    help="With a baseline: fail only when a rise is significant at this level (e.g. 0.95).",
)
SAME_CHECKPOINTS = typer.Option(
    False,
    "--same-checkpoints",
    help="Refuse (exit 2) a baseline that ran on other checkpoint files.",
)
MARKDOWN = typer.Option(
    None,
    "--markdown",
    help="Write the tables and verdicts as GitHub Markdown to this path ('-': stdout, e.g. "
    ">> $GITHUB_STEP_SUMMARY).",
)


def check_outputs(json_out: str | None, junit_out: Path | None, markdown_out: str | None) -> None:
    """Refuses output paths that cannot be written, before any work is done."""
    for target in (json_out, junit_out, markdown_out):
        if target not in (None, "-") and Path(target).is_dir():
            raise ConfigError("is a folder; give a file path", target)
    if json_out == "-" and markdown_out == "-":
        raise ConfigError("--json - and --markdown - cannot both write to stdout")


def output_console(json_out: str | None, markdown_out: str | None) -> Console:
    """Where the tables go: stdout, unless a document claims it."""
    return stderr if "-" in (json_out, markdown_out) else stdout


def print_verdicts(console: Console, document: ResultsDocument) -> None:
    """The verdict table, and the checkpoints that changed since the baseline."""
    if document.gates:
        console.print(verdict_table(document.gates))
    if document.baseline is not None and document.baseline.checkpoints_changed:
        console.print(checkpoint_table(document.baseline.checkpoints_changed))


def write_outputs(
    document: ResultsDocument,
    json_out: str | None,
    junit_out: Path | None,
    markdown_out: str | None,
) -> None:
    """Writes the results, JUnit and Markdown files asked for ('-': stdout)."""
    if json_out == "-":
        print(document.to_json())
    elif json_out is not None:
        note(f"results written to {document.write(json_out)}")
    if junit_out is not None:
        xml = junit_xml(document, document.gates)
        note(f"JUnit written to {write_junit(junit_out, xml)}")
    if markdown_out == "-":
        print(markdown_report(document), end="")
    elif markdown_out is not None:
        note(f"Markdown written to {write_markdown(markdown_out, markdown_report(document))}")


def exit_on_failure(verdicts: list[Verdict]) -> None:
    """The summary line, then one ``FAILED`` line per failed verdict and exit code 1."""
    failed = [verdict for verdict in verdicts if not verdict.passed]
    if verdicts:
        note(summary_line(verdicts))
    if failed:
        for verdict in failed:
            # One line each, however long: CI logs are searched line by line.
            line = f"FAILED {verdict.name}: {verdict.detail}"
            stderr.print(line, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_GATE_FAILED)
