"""The ``wmbench`` command line: assembles the command modules and maps errors to exit codes.

Exit codes: 0 success, 1 a gate failed (a finding), 2 bad input or usage. Errors are one line on
stderr, ``error: <file>: <what is wrong>``; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import typer

from wmbench import __version__
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
    stderr.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """Runs the CLI and returns its exit code (used by tests and by :func:`main`)."""
    _state["debug"] = False
    try:
        result = app(args=argv, prog_name="wmbench", standalone_mode=False)
    except WmbenchError as error:
        if _state["debug"]:
            raise
        return _fail(str(error))
    except typer.TyperException as error:
        # Typer's own usage errors (unknown option, bad value): one line, like ours. A bare
        # `wmbench` / `wmbench data` raises one whose message is the help text: show it whole.
        message = error.format_message()
        if type(error).__name__ == "NoArgsIsHelpError":
            stderr.print(message, highlight=False, markup=False)
            return EXIT_BAD_INPUT
        return _fail(" ".join(message.split()), error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        return _fail("interrupted", 130)
    return result if isinstance(result, int) else EXIT_OK


def main() -> None:
    tune_allocator()
    sys.exit(run())
