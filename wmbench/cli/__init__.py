"""The ``wmbench`` command line: assembles the command modules and maps errors to exit codes.

Exit codes: 0 success, 1 a gate failed (a finding), 2 bad input or usage. Errors are one line on
stderr, ``error: <file>: <what is wrong>``; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import typer

from wmbench import __version__, distributed
from wmbench.cli import (
    attack,
    compare,
    corruptions,
    data,
    explain,
    export,
    info,
    init,
    layers,
    models,
    plot,
    reproduce,
    suites,
    train,
)
from wmbench.cli._console import stderr
from wmbench.errors import WmbenchError
from wmbench.runtime import tune_allocator

EXIT_OK, EXIT_FINDING, EXIT_BAD_INPUT = 0, 1, 2

app = typer.Typer(
    name="wmbench",
    help="Noise and adversarial robustness benchmark built around the weight map (WM) layer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"wmbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["debug"] = debug


app.command("models")(models.models)
app.command("train")(train.train)
app.command("info")(info.info)
app.command("export")(export.export)
app.command("attack")(attack.attack)
app.command("compare")(compare.compare)
app.command("plot")(plot.plot)
app.command("suites")(suites.suites)
app.command("init")(init.init)
app.command("explain")(explain.explain)
app.command("layers")(layers.layers)
app.command("reproduce")(reproduce.reproduce)
app.add_typer(data.app, name="data")
app.add_typer(corruptions.app, name="corruptions")


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    world = distributed.current()
    if distributed.launched() and not world.active and os.environ.get("RANK", "0") != "0":
        return code  # failed before joining the job, as every rank did: rank 0 says it
    where = f"rank {world.rank}: " if world.active else ""
    stderr.print(f"error: {where}{message}", highlight=False, markup=False, soft_wrap=True)
    return code


def _fail_together(error: WmbenchError | OSError) -> int:
    """One line for an error, printed by the lowest rank that failed; every rank exits 2."""
    world = distributed.current()
    if world.active and not isinstance(error, distributed.LostRankError):
        try:
            if not distributed.agreed(error):
                world.agree(EXIT_BAD_INPUT)
        except distributed.PeerFailedError as peer:
            return peer.code
        except distributed.LostRankError as lost:
            return _fail(str(lost))
    if isinstance(error, OSError):  # a file we could not read or write: the OS's reason
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or error}")
    return _fail(str(error))


def _finish(code: int) -> int:
    """Under torchrun: every rank ends with the worst exit code of any (rank 0's gate verdict),
    then leaves the job."""
    world = distributed.current()
    try:
        if world.active:
            world.agree(code)
    except distributed.PeerFailedError as peer:
        code = peer.code
    except distributed.LostRankError as lost:
        code = _fail(str(lost))
    distributed.stop()
    return code


def run(argv: list[str] | None = None) -> int:
    """Runs the CLI and returns its exit code (used by tests and by :func:`main`)."""
    _state["debug"] = False
    try:
        result = app(args=argv, prog_name="wmbench", standalone_mode=False)
    except distributed.PeerFailedError as peer:
        distributed.stop()
        return peer.code
    except (WmbenchError, OSError) as error:
        if _state["debug"]:
            raise
        code = _fail_together(error)
        distributed.stop()
        return code
    except typer.TyperException as error:
        # Typer's own usage errors (unknown option, bad value): one line, like ours. A bare
        # `wmbench` / `wmbench data` raises one whose message is the help text: show it whole.
        message = error.format_message()
        if type(error).__name__ == "NoArgsIsHelpError":
            stderr.print(message, highlight=False, markup=False)
            return EXIT_BAD_INPUT
        return _fail(" ".join(message.split()), error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        distributed.stop()
        return _fail("interrupted", 130)
    return _finish(result if isinstance(result, int) else EXIT_OK)


def main() -> None:
    tune_allocator()
    sys.exit(run())
