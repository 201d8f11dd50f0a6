"""Query, reference and control inputs: MIDI folders, paths, pieces or dataset names, read once and named."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from remixmusic._util.text import printable
from remixmusic.errors import RemixError
from remixmusic.io.grid import OFF_GRID
from remixmusic.music.beats import TIMINGS, requantize
from remixmusic.music.notes import Piece

if TYPE_CHECKING:
    from remixmusic.data.datasets import Dataset
    from remixmusic.novelty.index import Index


def piece_name(piece: Piece, i: int) -> str:
    """A piece's name in outputs and indexes: its file name, else its title or id, else ``piece{i}``."""
    if piece.source:
        return printable(Path(piece.source).name)
    return str(piece.metadata.get("title") or piece.metadata.get("id") or f"piece{i}")


def _resolve_reference(
    reference: object, split: str | None, jobs: int, show_progress: bool
) -> tuple[list[Piece], str]:
    """Pieces (and a manifest hash when the reference is a dataset) from any accepted reference form."""
    if isinstance(reference, Piece):
        return [reference], ""
    if hasattr(reference, "pieces") and hasattr(reference, "manifest_hash"):
        return list(reference.pieces(split=split, jobs=jobs)), str(reference.manifest_hash)
    if isinstance(reference, (str, Path)):
        path = Path(reference)
        if not path.exists() or (path / "manifest.json").exists() or (path / "manifest.jsonl").exists():
            from remixmusic.data.datasets import load_dataset

            return _resolve_reference(load_dataset(str(reference)), split, jobs, show_progress)
        return _read(path, jobs, show_progress), ""
    if isinstance(reference, Iterable):
        items = list(reference)
        if all(isinstance(p, Piece) for p in items):
            return items, ""
        if all(isinstance(p, (str, Path)) for p in items):
            return _read(items, jobs, show_progress), ""
    raise RemixError(
        f"cannot index {type(reference).__name__}: give pieces, MIDI paths, a folder or a dataset"
    )


def _read(paths: str | Path | Iterable[str | Path], jobs: int, show_progress: bool) -> list[Piece]:
    from remixmusic.io.folders import read_folder

    return read_folder(paths, jobs=jobs, show_progress=show_progress).pieces


def index_pieces(index: Index, jobs: int = 0) -> list[Piece] | None:
    """The reference pieces ``index`` was built from, read again from its ``piece_sources`` (in its
    piece order), so that a given or saved index can still be checked for control pieces that carry a
    reference tune; ``None`` when a source is not a file at hand (a piece given in memory, a file moved
    or unreadable since). Raises nothing."""
    paths = [Path(s) for s in index.piece_sources]
    if not paths or not all(p.is_file() for p in paths):  # an empty source is Path("."), no file
        return None
    from remixmusic.io.folders import read_folder

    result = read_folder(paths, jobs=jobs, show_progress=False)
    in_order = [p.source for p in result.pieces] == [str(p) for p in paths]
    return result.pieces if in_order and not result.skipped else None


@dataclass
class PieceSet:
    """Pieces read from any accepted input, their display names and what could not be read."""

    pieces: list[Piece]
    names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def repaired(self) -> list[tuple[str, str]]:
        """``(name, repairs)`` of the pieces read with repairs (``metadata["repairs"]``, ``; ``-joined)."""
        return [
            (name, "; ".join(p.metadata["repairs"]))
            for p, name in zip(self.pieces, self.names, strict=True)
            if p.metadata.get("repairs")
        ]

    @property
    def off_grid(self) -> list[tuple[str, float]]:
        """``(name, share)`` of the pieces played with free timing: at least
        :data:`~remixmusic.io.grid.OFF_GRID` of their onsets off the beat grid (``metadata["off_grid"]``)."""
        return [
            (name, float(p.metadata["off_grid"]))
            for p, name in zip(self.pieces, self.names, strict=True)
            if p.metadata.get("off_grid", 0.0) >= OFF_GRID
        ]

    def none_read(self, what: str) -> str:
        """Why there is nothing to analyse in the ``what`` (query, control) pieces: no MIDI file at all
        (the file endings looked for), or every file skipped (how many, and the first with its reason)."""
        if not self.skipped:
            from remixmusic.io.midi import MIDI_SUFFIXES

            endings = ", ".join(MIDI_SUFFIXES)
            return f"no MIDI files in the {what} (files ending {endings}, in any letter case, in any subfolder)"
        path, reason = self.skipped[0]
        more = f" and {len(self.skipped) - 1} more" if len(self.skipped) > 1 else ""
        return f"no readable MIDI in the {what}: {path}: {reason}{more}"


PieceSource: TypeAlias = str | Path | Piece | PieceSet | Iterable[str | Path | Piece]
"""Query or control pieces: a MIDI folder or file, a :class:`Piece`, pieces already read, or an iterable of
MIDI paths or of pieces (not mixed)."""


ReferenceSource: TypeAlias = "Index | Dataset | PieceSource"
"""A reference: an :class:`~remixmusic.novelty.index.Index`, a saved index folder, a
:class:`~remixmusic.data.datasets.Dataset` or a dataset name (its train split), or pieces as
:data:`PieceSource`."""


def read_pieces(items: PieceSource, jobs: int = 0, show_progress: bool = True, timing: str = "file") -> PieceSet:
    """Pieces from a folder, a file, a list of paths or a list of :class:`Piece`, read under ``timing``
    (:func:`with_timing`); bad files, and pieces with no pitched notes (drums or meta events only: reason
    :data:`NO_PITCHED_NOTES`), are skipped (listed in ``skipped`` with a one-line reason).

    Raises:
        RemixError: ``items`` mixes paths and pieces or holds something else.
    """
    result = _read_pieces(items, jobs, show_progress)
    return replace(result, pieces=with_timing(result.pieces, timing))


def _read_pieces(items: PieceSource, jobs: int, show_progress: bool) -> PieceSet:
    from remixmusic.io.folders import read_folder

    if isinstance(items, PieceSet):
        return _pitched_only(items)
    if isinstance(items, Piece):
        items = [items]
    if isinstance(items, (str, Path)):
        result = read_folder(items, jobs=jobs, show_progress=show_progress)
    else:
        if not isinstance(items, Iterable):
            raise RemixError(f"give a MIDI folder, MIDI paths or Piece objects, not {type(items).__name__}")
        given = list(items)
        pieces = [p for p in given if isinstance(p, Piece)]
        if len(pieces) == len(given):
            return _pitched_only(PieceSet(pieces, _names(pieces)))
        paths = [p for p in given if isinstance(p, (str, Path))]
        if len(paths) != len(given):
            raise RemixError("give a MIDI folder, MIDI paths or Piece objects")
        result = read_folder(paths, jobs=jobs, show_progress=show_progress)
    return _pitched_only(PieceSet(result.pieces, _names(result.pieces), list(result.skipped)))


def _names(pieces: list[Piece]) -> list[str]:
    """Each piece's output name: its file name, unique over ``pieces`` (:func:`unique_names`)."""
    return unique_names([piece_name(p, i) for i, p in enumerate(pieces)], [p.source or None for p in pieces])


NO_PITCHED_NOTES = "no pitched notes"
"""The reason a piece with no pitched notes (drums only, or meta events only) is skipped: it has no
melody or harmony to analyse and would count as zeros in group measures."""


def _pitched_only(pieces: PieceSet) -> PieceSet:
    """``pieces`` without those that have no pitched notes, which are added to ``skipped``."""
    keep = [i for i, p in enumerate(pieces.pieces) if len(p.notes) and not p.notes["is_drum"].all()]
    if len(keep) == len(pieces.pieces):
        return pieces
    kept = set(keep)
    dropped = [
        (str(p.source) if p.source else pieces.names[i], NO_PITCHED_NOTES)
        for i, p in enumerate(pieces.pieces)
        if i not in kept
    ]
    return PieceSet(
        [pieces.pieces[i] for i in keep], [pieces.names[i] for i in keep], [*pieces.skipped, *dropped]
    )


def unique_names(names: list[str], sources: list[str | None]) -> list[str]:
    """``names`` made unique, as every output keys a piece by its name: files of one name in different
    folders (``a/x.mid``, ``b/x.mid``) are named by as many of their last path parts as tell them apart;
    what is still the same (one file given twice, pieces without a source) is numbered (``x.mid #2``)."""
    out = list(names)
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    for members in groups.values():
        paths = {i: _parts(source) for i in members if (source := sources[i])}
        distinct = set(paths.values())
        if len(distinct) < 2:
            continue
        depth = max(len(parts) for parts in distinct)
        for d in range(2, depth + 1):
            if len({parts[-d:] for parts in distinct}) == len(distinct):
                depth = d
                break
        for i, parts in paths.items():
            out[i] = "/".join(parts[-depth:])
    counts, seen = Counter(out), Counter[str]()
    for i, name in enumerate(out):
        if counts[name] > 1:
            seen[name] += 1
            if seen[name] > 1:
                out[i] = f"{name} #{seen[name]}"
    return out


def _parts(source: str) -> tuple[str, ...]:
    """A path's parts without its root (``/`` or a drive)."""
    path = Path(source)
    return path.parts[1:] if path.anchor else path.parts


def read_sidecar(piece: Piece) -> dict[str, Any]:
    """The generation sidecar (``piece_000.json`` beside ``piece_000.mid``) of a piece, or ``{}``."""
    if not piece.source:
        return {}
    path = Path(piece.source).with_suffix(".json")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}



def with_timing(pieces: list[Piece], timing: str) -> list[Piece]:
    """``pieces`` read for matching under ``timing`` (:data:`TIMINGS`): under ``tracked`` those played with
    free timing are re-quantized on a tracked beat (their positions in every output are in tracked beats;
    ``metadata["tracked_qpm"]`` holds the beat's tempo), the others are left as they are.

    Raises:
        RemixError: an unknown ``timing``.
    """
    if timing not in TIMINGS:
        raise RemixError(f"timing must be one of {', '.join(TIMINGS)}, not {timing!r}")
    if timing == "file":
        return list(pieces)
    return [requantize(p) if p.metadata.get("off_grid", 0.0) >= OFF_GRID else p for p in pieces]
