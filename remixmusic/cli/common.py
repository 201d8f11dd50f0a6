"""Option definitions and console helpers shared by every command group, so names stay consistent."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()
console_err = Console(stderr=True)

OUT_HELP = "Output path."


def out_option(default: Path | None, help: str = OUT_HELP) -> Path | None:
    return typer.Option(default, "-o", "--out", help=help)


def seed_option(default: int = 0) -> int:
    return typer.Option(default, "--seed", help="Random seed; the same seed gives the same result.")


def jobs_option() -> int:
    return typer.Option(0, "-j", "--jobs", help="Worker processes (0 = one per CPU core).")


def strict_option() -> bool:
    return typer.Option(False, "--strict", help="Fail (exit 1) if any input file is unreadable.")


def report_skipped(skipped: list[tuple[str, str]], strict: bool) -> None:
    """Print files that were skipped with their reasons; with ``strict``, make that an error."""
    if not skipped:
        return
    console_err.print(f"[yellow]skipped {len(skipped)} file(s):[/yellow]")
    for path, reason in skipped:
        console_err.print(f"  {path}: {reason}", highlight=False, markup=False, soft_wrap=True)
    if strict:
        from remixmusic.errors import RemixError

        raise RemixError(f"{len(skipped)} input file(s) could not be read (--strict)")
