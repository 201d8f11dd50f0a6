"""``remixmusic stats FOLDER``: symbolic-music descriptors of MIDI files (see remixmusic.stats)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from remixmusic.cli.common import JobsOption, StrictOption, console, report_skipped


def _fmt(mean: float, std: float) -> str:
    return "–" if math.isnan(mean) else f"{mean:.3f} ± {std:.3f}"


def register(app: typer.Typer) -> None:
    @app.command("stats")
    def stats_command(
        folder: Annotated[Path, typer.Argument(help="Folder (or file) of MIDI files, or a dataset name.")],
        compare_to: Annotated[
            Path | None,
            typer.Option(
                "--compare",
                help="A second folder, file or dataset name (all its pieces) shown side by side.",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
        jobs: JobsOption = 0,
        strict: StrictOption = False,
    ) -> None:
        """Pitch, polyphony and rhythm descriptors (mean ± std over files), optionally vs a 2nd folder or
        dataset."""
        from remixmusic.evaluation.descriptors import DESCRIPTORS, compare, describe_folder, json_safe

        sets = [describe_folder(folder, jobs=jobs, show_progress=not as_json)]
        if compare_to is not None:
            sets.append(describe_folder(compare_to, jobs=jobs, show_progress=not as_json))
        for result in sets:
            report_skipped(result.skipped, strict)
        overlap = compare(*sets) if len(sets) == 2 else None
        if as_json:
            payload: dict[str, Any] = {"folders": [s.to_dict() for s in sets]}
            if overlap is not None:
                payload["overlapping_area"] = json_safe(overlap)
            typer.echo(json.dumps(payload, indent=2))
            return
        notes: list[str] = []
        unpitched = sum(math.isnan(float(v)) for s in sets for v in s.values["pitch_range"])
        if unpitched:  # said only when there is such a file
            notes.append(f"{unpitched} file(s) without pitched notes have no pitch descriptors: their means leave them out")
        if overlap is not None:
            notes.append(
                "overlap: the overlapping area of the two folders' distributions of the descriptor "
                "(1 the same, 0 disjoint; Yang & Lerch 2020)"
            )
        caption = "; ".join(notes) or None
        table = Table(title="descriptors (mean ± std over files)", caption=caption)
        table.add_column("descriptor")
        for s in sets:
            table.add_column(f"{s.folder} ({len(s.files)} files)", justify="right")
        if overlap is not None:
            table.add_column("overlap", justify="right")
        summaries = [(s.mean, s.std) for s in sets]
        for key in DESCRIPTORS:
            cells = [_fmt(mean[key], std[key]) for mean, std in summaries]
            if overlap is not None:
                cells.append("–" if math.isnan(overlap[key]) else f"{overlap[key]:.2f}")
            table.add_row(key, *cells)
        console.print(table)
