"""Tune groups: which pieces are versions of one tune, for the statistics and for document frequency.

Pieces of one tune (five harmonisations of one hymn tune, variants of one folk tune) are not independent
evidence: the comparisons resample and test them as one cluster
(:mod:`remixmusic.evaluation.significance`), and a phrase they share counts once in a reference
pattern's document frequency (:class:`~remixmusic.novelty.index.Index`).

A dataset's manifest gives every piece a near-duplicate ``group`` (:mod:`remixmusic.data.splits`). A
piece read through :meth:`~remixmusic.data.datasets.Dataset.pieces` carries it in
``metadata["group"]``; a piece read from a dataset's MIDI file by path (``dataset.files("test")``, or
the dataset's ``midi/`` folder) gets it by looking its file up in the manifest of the dataset folder
above it. Any other piece has no known group, written ``""``: it is a group of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from remixmusic.data.datasets import MANIFEST, load_dataset
from remixmusic.errors import RemixError
from remixmusic.music.notes import Piece


def tune_group(piece: Piece) -> str:
    """The tune-group label of ``piece``: its ``metadata["group"]``, else the manifest ``group`` of its
    source file when that file lies in a dataset folder (``ROOT/NAME/midi/ID.mid`` with
    ``ROOT/NAME/manifest.json``), else ``""`` (unknown: a group of its own). Never raises: an unreadable
    manifest means no group."""
    group = piece.metadata.get("group")
    if isinstance(group, str) and group:
        return group
    if not piece.source:
        return ""
    path = Path(piece.source)
    for folder in (path.parent.parent, path.parent):
        manifest = folder / MANIFEST
        try:
            stamp = manifest.stat().st_mtime_ns
        except OSError:
            continue
        return _manifest_groups(str(folder.resolve()), stamp).get(str(path.resolve()), "")
    return ""


def tune_groups(pieces: Iterable[Piece]) -> list[str]:
    """:func:`tune_group` of every piece, in order."""
    return [tune_group(p) for p in pieces]


@functools.lru_cache(maxsize=16)
def _manifest_groups(root: str, stamp: int) -> dict[str, str]:
    """Resolved MIDI path -> group for the dataset in ``root`` (``stamp``: the manifest's modification
    time, so an edited manifest is read again); empty when the manifest cannot be read."""
    del stamp
    try:
        dataset = load_dataset(Path(root))
    except (RemixError, OSError, KeyError, TypeError):
        return {}
    base = Path(root)
    return {
        str((base / r["file"]).resolve()): str(r.get("group") or "")
        for r in dataset.manifest
        if isinstance(r, dict) and "file" in r
    }
