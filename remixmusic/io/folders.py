"""MIDI folders: find MIDI files, read them in parallel (bad files skipped with a reason), and the parse cache.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from remixmusic._util.files import atomic_write, sha256_bytes, sha256_file
from remixmusic._util.parallel import parallel_map
from remixmusic.errors import MidiError
from remixmusic.io.midi import MIDI_SUFFIXES, MidiRepairWarning, read_midi
from remixmusic.music.notes import (
    Piece,
    Track,
)

CACHE_VERSION = 1


def find_midi_files(folder: str | Path) -> list[Path]:
    """All MIDI files under ``folder`` (recursive, by suffix, case-insensitive), sorted."""
    folder = Path(folder)
    if not folder.exists():
        raise MidiError(folder, "no such file or folder")
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


@dataclass
class FolderResult:
    """What reading many files gave: pieces in input order, plus what was skipped or repaired, and why."""

    pieces: list[Piece] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    repaired: list[tuple[str, str]] = field(default_factory=list)


def _read_one(path: str) -> tuple[str, Piece | None, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MidiRepairWarning)
        try:
            return path, read_midi(path), ""
        except MidiError as exc:
            return path, None, exc.reason


def default_cache_dir() -> Path:
    root = os.environ.get("REMIXMUSIC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "remixmusic"
    )
    return Path(root)


def read_folder(
    paths: str | Path | Iterable[str | Path],
    jobs: int = 0,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    show_progress: bool = True,
) -> FolderResult:
    """Read a folder (recursively) or a list of files in parallel; bad files are skipped with reasons.

    With ``cache``, the parsed result is stored as one compact ``.npz`` keyed by the files' contents
    (their SHA-256), so a corpus is parsed once and any change to any file re-parses.
    """
    files = find_midi_files(paths) if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    cache_file = None
    if cache and files:
        key = sha256_bytes(
            "\n".join([f"v{CACHE_VERSION}", *(f"{p}\t{_content_key(p)}" for p in files)]).encode()
        )
        cache_file = Path(cache_dir or default_cache_dir()) / f"pieces-{key[:32]}.npz"
        if cache_file.exists():
            try:
                return load_pieces(cache_file)
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache is rebuilt below
    result = FolderResult()
    for path, piece, reason in parallel_map(
        _read_one, [str(p) for p in files], jobs, "reading MIDI", show_progress
    ):
        if piece is None:
            result.skipped.append((path, reason))
            continue
        result.pieces.append(piece)
        for repair in piece.metadata.get("repairs", []):
            result.repaired.append((path, repair))
    if cache_file is not None:
        save_pieces(result, cache_file)
    return result


def _content_key(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError:
        return "unreadable"


def save_pieces(result: FolderResult, path: str | Path) -> None:
    """Store many pieces in one ``.npz``: concatenated arrays plus offsets and a JSON header."""
    pieces = result.pieces
    header = {
        "version": CACHE_VERSION,
        "skipped": result.skipped,
        "repaired": result.repaired,
        "pieces": [
            {
                "source": p.source,
                "metadata": p.metadata,
                "tracks": [[t.name, t.program, t.is_drum] for t in p.tracks],
            }
            for p in pieces
        ],
    }
    arrays: dict[str, np.ndarray] = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    for name in ("notes", "time_signatures", "tempos", "key_signatures"):
        parts = [getattr(p, name) for p in pieces]
        arrays[name] = np.concatenate(parts) if parts else np.zeros(0)
        arrays[f"{name}_offsets"] = np.cumsum([0, *(len(a) for a in parts)])
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays)


def load_pieces(path: str | Path) -> FolderResult:
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(bytes(data["header"]).decode())
        if header.get("version") != CACHE_VERSION:
            raise ValueError("cache version mismatch")
        split = {
            name: np.split(data[name], data[f"{name}_offsets"][1:-1])
            for name in ("notes", "time_signatures", "tempos", "key_signatures")
        }
    pieces = [
        Piece(
            notes=split["notes"][i],
            tracks=[Track(name, program, is_drum) for name, program, is_drum in info["tracks"]],
            time_signatures=split["time_signatures"][i],
            tempos=split["tempos"][i],
            key_signatures=split["key_signatures"][i],
            source=info["source"],
            metadata=info["metadata"],
        )
        for i, info in enumerate(header["pieces"])
    ]
    return FolderResult(
        pieces=pieces,
        skipped=[tuple(s) for s in header["skipped"]],
        repaired=[tuple(r) for r in header["repaired"]],
    )
