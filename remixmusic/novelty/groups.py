"""Tune groups: which pieces are versions of one tune, for the statistics and for document frequency.

Pieces of one tune (five harmonisations of one hymn tune, variants of one folk tune) are not independent
evidence: the comparisons resample and test them as one cluster
(:mod:`remixmusic.evaluation.significance`), and a phrase they share counts once in a reference
pattern's document frequency (:class:`~remixmusic.novelty.index.Index`).

A dataset's manifest gives every piece a near-duplicate ``group`` (:mod:`remixmusic.data.splits`). A
piece read through :meth:`~remixmusic.data.datasets.Dataset.pieces` carries it in
``metadata["group"]``; a piece read from a dataset's MIDI file by path (``dataset.files("test")``, or
the dataset's ``midi/`` folder) gets it by looking its file up in the manifest of the dataset folder
above it. Other pieces (a folder of MIDI files) are grouped among themselves by the same near-duplicate
rule that dataset splits use (:func:`inferred_tune_groups`); a piece that rule joins to no other has no
group, written ``""``: a group of its own.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from remixmusic.data.datasets import MANIFEST, load_dataset
from remixmusic.data.tune_match import TuneMatchRule
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


INFERRED = "~"
"""Prefix of a tune-group label the near-duplicate rule found (``~`` and the name of the group's first
piece), where no manifest gave one."""


def inferred_tune_groups(pieces: Sequence[Piece], names: Sequence[str], known: Sequence[str]) -> list[str]:
    """``known`` labels (``""``: unknown), with the unknown ones filled in where the near-duplicate rule of
    dataset splits (:class:`~remixmusic.data.tune_match.TuneMatchRule`: versions of one tune, arranged,
    performed or varied) joins pieces among themselves: each group of two or more gets the label
    :data:`INFERRED` + the name of its first piece (and `` #`` + its position when another group's first
    piece has that name too); a piece joined to no other stays ``""`` (its own
    group). Ten variants of one folk tune in a control folder are one cluster for the bootstrap and the
    tests, as they would be in a dataset. Raises nothing."""
    out = list(known)
    unknown = [i for i, g in enumerate(known) if not g]
    if len(unknown) < 2:
        return out
    rule = TuneMatchRule()
    labels = rule.groups([rule.fingerprint(pieces[i]) for i in unknown]).tolist()
    sizes = Counter(labels)
    firsts = sorted({lab for lab in labels if sizes[lab] > 1})
    taken = Counter(names[unknown[lab]] for lab in firsts)
    # two groups whose first pieces share a name (a/x.mid, b/x.mid) get distinct labels
    label_of = {
        lab: INFERRED + names[unknown[lab]] + (f" #{unknown[lab]}" if taken[names[unknown[lab]]] > 1 else "")
        for lab in firsts
    }
    for k, i in enumerate(unknown):
        if sizes[labels[k]] > 1:
            out[i] = label_of[labels[k]]
    return out


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
