"""Parallel map over worker processes with a rich progress bar.

Folder-wide work (parsing MIDI, converting corpora, analyzing pieces) is embarrassingly parallel; this
is the one place that decides how it is spread over processes and shown to the user.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


R = TypeVar("R")


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def progress_console() -> Console:
    """Where progress goes: standard error, so standard output carries only results (pipeable)."""
    return Console(stderr=True)


def progress_bar(transient: bool = False, disable: bool = False) -> Progress:
    """The progress bar style used for all long work, drawn on standard error."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=progress_console(),
        transient=transient,
        disable=disable,
    )


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    jobs: int | None = None,
    description: str = "working",
    show_progress: bool = True,
    chunksize: int = 8,
) -> Iterator[R]:
    """Yield ``fn(item)`` for each item, in input order, using ``jobs`` processes (1 = in-process).

    ``fn`` must be a picklable top-level function and should catch its own expected errors and return
    them as values, so one bad item never stops the rest.
    """
    items = list(items)
    jobs = default_jobs() if jobs is None or jobs <= 0 else jobs
    jobs = min(jobs, max(1, len(items)))
    with progress_bar(disable=not show_progress) as progress:
        task = progress.add_task(description, total=len(items))
        if jobs == 1:
            for item in items:
                yield fn(item)
                progress.advance(task)
            return
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for result in pool.map(
                fn, items, chunksize=max(1, min(chunksize, len(items) // (jobs * 4) or 1))
            ):
                yield result
                progress.advance(task)
