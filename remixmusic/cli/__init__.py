"""The ``remixmusic`` command line: a thin typer shell over the Python API.

Each command group lives in a module of its own that exposes ``register(app)``; this module only
assembles them and turns user errors into one-line messages (exit 1). Usage errors exit 2 (click).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from remixmusic._util.meta import __version__
from remixmusic.cli import analyze, dataset, experiment, generate, stats, train
from remixmusic.cli.common import console_err
from remixmusic.errors import RemixError

app = typer.Typer(
    name="remixmusic",
    help="Generate symbolic music and measure how much of it is recombined from a training corpus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain click help: flags read "--overwrite", not "--overwrite <bool>" as rich help panels show them.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"remixmusic {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """remixmusic: generation and novelty analysis for symbolic music."""


for group in (dataset, stats, generate, analyze, train, experiment):
    group.register(app)


def _with_option(message: str) -> str:
    """A config check's message (``"<stage> <field> ..."``) with the command-line option of the field named
    when the command line has one (``sampling prompt_bars must be at least 1`` -> ``--prompt-bars must be
    at least 1 (sampling prompt_bars)``)."""
    parts = message.split(" ", 2)
    if len(parts) < 3 or not parts[1].isidentifier():
        return message
    option = "--" + parts[1].replace("_", "-")
    command: Any = typer.main.get_command(app)
    for word in sys.argv[1:]:  # the command run: `dataset import` is a command of a group
        if word not in getattr(command, "commands", {}):
            break
        command = command.commands[word]
    known = {o for p in command.params for o in getattr(p, "opts", [])}
    if option not in known:
        return message
    return f"{option} {parts[2]} ({parts[0]} {parts[1]})"


def main() -> None:
    try:
        app(prog_name="remixmusic")  # also under `python -m remixmusic`
    except RemixError as exc:
        console_err.print(f"[red]error:[/red] {_with_option(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as exc:  # typer turns Ctrl-C into a silent exit 130
        if exc.code == 130:
            _interrupted()
        raise


def _interrupted() -> None:
    """Say so on Ctrl-C (outputs are written atomically: nothing half-written is left) and exit 130."""
    sys.stderr.write("\ninterrupted\n")
    sys.stderr.flush()
    sys.exit(130)
