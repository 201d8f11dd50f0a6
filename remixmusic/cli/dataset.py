"""``remixmusic dataset ...``: build, import, list and describe MIDI datasets (see remixmusic.corpora)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    dataset_app = typer.Typer(help="Build, import and inspect MIDI datasets.", no_args_is_help=True)
    app.add_typer(dataset_app, name="dataset")
