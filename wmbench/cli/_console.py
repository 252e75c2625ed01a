"""The terminal: data on stdout, everything else (progress, notes, errors) on stderr."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from wmbench import distributed

# Piped or redirected, tables keep their full width instead of rich's default 80 columns.
stdout = Console(width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True)


def progress_bar() -> Progress:
    """A progress display on stderr, off when stderr is not a terminal (rich would print the
    bar's last frame there, an extra line in logs and after one-line errors)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=False,
        disable=not stderr.is_terminal or not distributed.current().leader,
    )


def note(message: str) -> None:
    """A line of information for the person at the terminal (stderr); under torchrun, rank 0's
    only. Into a log or a pipe it stays one line (rich would wrap it at 80 columns, splitting a
    long path), so that logs can be searched."""
    if distributed.current().leader:
        stderr.print(message, highlight=False, soft_wrap=not stderr.is_terminal)
