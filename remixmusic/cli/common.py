"""Option definitions and console helpers shared by every command group, so names stay consistent."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from remixmusic._util.text import one_line

console = Console()
console_err = Console(stderr=True)

OUT_HELP = "Output path."

JobsOption = Annotated[int, typer.Option("-j", "--jobs", help="Worker processes (0 = one per CPU core).")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same result.")]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Exit 1 if any input file is unreadable, listing each with its reason (analyze and stats "
        "first process the readable ones and write their outputs; dataset import then imports nothing).",
    ),
]


def out_option(help: str = OUT_HELP) -> Any:
    """The ``-o/--out`` declaration, for ``out: Annotated[Path, out_option("...")] = default``."""
    return typer.Option("-o", "--out", help=help)


def report_skipped(skipped: list[tuple[str, str]], strict: bool) -> None:
    """Print files that were skipped with their reasons; with ``strict``, make that an error."""
    if not skipped:
        return
    console_err.print(f"[yellow]skipped {len(skipped)} file(s):[/yellow]")
    for path, reason in skipped:
        console_err.print(f"  {one_line(path)}: {one_line(reason)}", highlight=False, markup=False, soft_wrap=True)
    if strict:
        from remixmusic.errors import RemixError

        raise RemixError(
            f"{len(skipped)} input file(s) could not be read (--strict; the outputs for the others are written)"
        )
