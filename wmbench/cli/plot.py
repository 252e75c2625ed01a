"""``wmbench plot RESULTS.json``: sweep curves (error and activation MSE) from a results file."""

from __future__ import annotations

from pathlib import Path

import typer

from wmbench.cli._console import note
from wmbench.errors import ConfigError
from wmbench.results import ResultsDocument


def plot(
    results: Path = typer.Argument(..., help="A results file written by `wmbench attack --json`."),
    out: Path = typer.Option(Path("figures"), "--out", "-o", help="Folder for the PNG files."),
) -> None:
    """Draw error and activation-MSE curves of every one-parameter sweep, one panel per family."""
    from wmbench.reporting.plots import plot_sweeps, require_matplotlib

    require_matplotlib()
    document = ResultsDocument.read(results)
    if out.exists() and not out.is_dir():
        raise ConfigError("exists and is not a folder", out)
    written = plot_sweeps(document, out)
    if not written:
        raise ConfigError("no one-parameter sweep to plot (e.g. uniform upper, fgsm eps)", results)
    for path in written:
        note(f"wrote {path}")
