"""What a reader tells its caller besides the data: progress callbacks and one-line error text.

The library never prints (see ``wmbench.errors``): a reader reports its stages through a
``Progress`` callback the CLI draws, and puts what went wrong into a one-line ``DataError``.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]  # stage, done, total


def report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    """Calls ``progress(stage, done, total)`` unless ``progress`` is None."""
    if progress is not None:
        progress(stage, done, total)


def one_line(error: BaseException) -> str:
    """An exception's text on one line, or its type's name when it has no text."""
    return " ".join(str(error).split()) or type(error).__name__
