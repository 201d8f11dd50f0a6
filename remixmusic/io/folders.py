"""MIDI folders: find MIDI files, read them in parallel (bad files skipped with a reason), and the parse cache.

The parse cache
---------------
:func:`read_folder` keeps what it read, so that reading the same files again costs one file load:

* **where**: ``$REMIXMUSIC_CACHE`` if set, else ``$XDG_CACHE_HOME/remixmusic``, else
  ``~/.cache/remixmusic`` (:func:`default_cache_dir`); or the ``cache_dir`` given to :func:`read_folder`;
* **what**: one ``pieces-<key>.npz`` per call, holding every piece read, what was skipped and repaired.
  The key is the SHA-256 of the cache format version and every file's path and contents, so a changed,
  added or removed file (or a new reader version) makes a new entry and a stale one is never served;
* **how big**: about 18 bytes per note plus a few hundred bytes per piece (10,000 folk tunes of 200 notes
  take about 40 MB). The folder is bounded: after each write, the least recently used entries (by
  modification time, which a cache hit refreshes) are deleted until the folder holds at most
  ``$REMIXMUSIC_CACHE_MAX_MB`` megabytes (default 1024; 0 keeps only the entry just written);
* **how to clear**: :func:`clear_cache`, or delete the folder (nothing else is kept there); pass
  ``cache=False`` to :func:`read_folder` to neither read nor write it.
"""

from __future__ import annotations

import errno
import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from remixmusic._util.files import atomic_write, sha256_bytes, sha256_file
from remixmusic._util.parallel import parallel_map
from remixmusic._util.text import one_line
from remixmusic.errors import MidiError
from remixmusic.io.midi import MIDI_SUFFIXES, MidiRepairWarning, read_midi
from remixmusic.music.notes import (
    Piece,
    Track,
)

CACHE_VERSION = 8
"""Bumped whenever reading gives other pieces for the same bytes (2: symusic reader, issue 9 repairs; 3: track
ends without an end-of-track event, padded tempo events, All Notes Off; 4: metadata["off_grid"]; 5: a score's near-half
steps read as half steps; 6: which way a half step was rounded, the notes' ``half``; 7: a setup track's
programs, a note begun at its track's end, stray data bytes at a track's start; 8: a track's running status
carried over from the previous track, All Notes Off in another track or after a program change, running
status after a system exclusive event, a setup track's programs per channel, unison notes of two
instruments of one name, GS and XG drum parts)."""

CACHE_LIMIT_ENV = "REMIXMUSIC_CACHE_MAX_MB"
DEFAULT_CACHE_LIMIT_MB = 1024


def find_midi_files(folder: str | Path) -> list[Path]:
    """All MIDI files under ``folder`` (recursive, by suffix in any letter case, symlinks followed),
    sorted; see :func:`walk_midi_files` for what is left out and why.

    Raises:
        MidiError: ``folder`` does not exist.
    """
    return walk_midi_files(folder)[0]


def unreadable_summary(skipped: list[tuple[str, str]]) -> str:
    """How many files were skipped and why, in one line: ``1 unreadable: a.mid: not a regular file``, or
    ``3 unreadable, the first a.mid: ...`` (for a message that nothing could be read)."""
    if not skipped:
        return "no MIDI file found"
    path, reason = skipped[0]
    first = one_line(f"{path}: {reason}")
    return f"1 unreadable: {first}" if len(skipped) == 1 else f"{len(skipped)} unreadable, the first {first}"


def _broken_link(path: Path) -> str:
    """Why a symbolic link leads nowhere: a loop of links, or a target that does not exist."""
    try:
        path.resolve(strict=True)
    except RuntimeError:
        return "a symbolic link loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
    return "a dangling symbolic link (its target does not exist)"


def walk_midi_files(folder: str | Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """MIDI files under ``folder`` (``.mid .midi .kar .smf .rmi`` in any letter case, nested folders,
    non-ASCII names; :func:`is_midi_name`), sorted, and the ``(path, reason)`` of each entry left out.
    macOS's metadata files are no music and are passed over without a reason, as hidden files are by
    file browsers: the ``__MACOSX`` folder of an unpacked archive and AppleDouble files (``._song.mid``,
    recognised by their magic number).

    Symbolic links are followed, to files and folders, inside ``folder`` or outside it; a folder reached
    again through a link (a loop, or a second way into the same folder) is walked once, and a file reached
    more than once (a link to a file also found directly) is read once, by the path that goes through no
    link when there is one: the others are left out with a reason, as are
    dangling links and folders that cannot be listed. Paths are as reached from ``folder`` (never
    resolved), so ``path.relative_to(folder)`` holds for every one. A file ``folder`` is returned alone
    (when it is a regular file: a named pipe or device is left out with a reason).

    Raises:
        MidiError: ``folder`` does not exist.
    """
    folder = Path(folder)
    if not folder.exists():
        if folder.is_symlink():
            raise MidiError(folder, _broken_link(Path(folder)))
        raise MidiError(folder, "no such file or folder")
    if not folder.is_dir():
        # a named pipe or a device would block the reader, or never end: never opened
        return ([folder], []) if folder.is_file() else ([], [(str(folder), "not a regular file")])
    skipped: list[tuple[str, str]] = []
    seen_dirs: dict[tuple[int, int], Path] = {}
    seen_files: dict[tuple[int, int], list[Path]] = {}

    def walk(directory: Path) -> None:
        if directory.name == APPLE_FOLDER and directory != folder:
            return  # macOS's copies of file metadata in a zip archive: no music
        try:
            info = directory.stat()
        except OSError as exc:
            skipped.append((str(directory), f"cannot be listed ({exc.strerror or type(exc).__name__})"))
            return
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            first = seen_dirs[key]
            loop = first == directory or first in directory.parents
            reason = "a link back to a folder above it (a loop)" if loop else f"the same folder as {first}"
            skipped.append((str(directory), f"{reason}: not walked again"))
            return
        seen_dirs[key] = directory
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((str(directory), f"cannot be listed ({exc.strerror or type(exc).__name__})"))
            return
        for entry in entries:
            path = directory / entry.name
            try:
                is_dir = entry.is_dir()  # follows links
                is_file = not is_dir and entry.is_file()
            except OSError:
                is_dir = is_file = False
            if is_dir:
                walk(path)
                continue
            if not is_midi_name(entry.name):
                continue
            if is_file and _apple_double(path, entry.name):
                continue  # macOS metadata of another file, not music
            if not is_file:
                if entry.is_symlink() and not path.exists():
                    skipped.append((str(path), _broken_link(path)))
                else:
                    skipped.append((str(path), "not a regular file"))
                continue
            try:
                stat = path.stat()
            except OSError as exc:
                skipped.append((str(path), f"unreadable ({exc.strerror or type(exc).__name__})"))
                continue
            seen_files.setdefault((stat.st_dev, stat.st_ino), []).append(path)

    walk(folder)
    files: list[Path] = []
    for paths in seen_files.values():  # one path per file: the one not through a link, else the first
        paths.sort()
        direct = [p for p in paths if os.path.realpath(p) == os.path.abspath(p)]
        keep = (direct or paths)[0]
        files.append(keep)
        skipped += [(str(p), f"the same file as {keep}: read once") for p in paths if p != keep]
    return sorted(files), skipped


APPLE_FOLDER = "__MACOSX"
"""The folder macOS's archiver fills with AppleDouble files (``._song.mid``: the metadata of ``song.mid``,
not MIDI); walks leave it out."""

_APPLE_DOUBLE = b"\x00\x05\x16\x07"


def is_midi_name(name: str) -> bool:
    """Whether a file name is read as MIDI: a :data:`~remixmusic.io.midi.MIDI_SUFFIXES` ending in any letter
    case, after the spaces and dots that Windows drops from the end of a name (``song.MID ``)."""
    return Path(name.rstrip(" .")).suffix.lower() in MIDI_SUFFIXES


def _apple_double(path: Path, name: str) -> bool:
    """Whether ``path`` is an AppleDouble file (``._name``, macOS metadata beside a file copied to a
    volume without resource forks), by its magic number."""
    if not name.startswith("._"):
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == _APPLE_DOUBLE
    except OSError:
        return False


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
        except Exception as exc:  # a reader bug must cost one file, never the whole folder
            detail = str(exc).strip().splitlines()
            return path, None, f"unreadable ({type(exc).__name__}{': ' + detail[0] if detail else ''})"


def default_cache_dir() -> Path:
    """Where the parse cache lives unless told otherwise (module docstring)."""
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
    """Read a folder (recursively, symlinks followed: :func:`walk_midi_files`) or a list of files in
    parallel; bad files, dangling links and loops are skipped with reasons.

    With ``cache``, the parsed result is stored as one compact ``.npz`` keyed by the files' contents
    (their SHA-256), so a corpus is parsed once and any change to any file re-parses; the cache folder is
    bounded in size (see the module docstring).

    Raises:
        MidiError: ``paths`` is a folder or file that does not exist (unreadable files inside are
            skipped with a one-line reason in ``FolderResult.skipped``, never raised).
    """
    left_out: list[tuple[str, str]] = []
    if isinstance(paths, (str, Path)):
        files, left_out = walk_midi_files(paths)
    else:
        files = [Path(p) for p in paths]
    cache_file = None
    if cache and files:
        key = sha256_bytes(
            "\n".join([f"v{CACHE_VERSION}", *(f"{p}\t{_content_key(p)}" for p in files)]).encode(
                "utf-8", "surrogateescape"
            )
        )
        cache_file = Path(cache_dir or default_cache_dir()) / f"pieces-{key[:32]}.npz"
        if cache_file.exists():
            try:
                cached = load_pieces(cache_file)
                os.utime(cache_file)  # recently used: evicted last
                cached.skipped = [*left_out, *cached.skipped]
                return cached
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
        try:
            save_pieces(result, cache_file)
            evict(cache_file.parent, keep=cache_file)
        except OSError:
            pass  # an unwritable cache folder costs speed next time, never this result
    result.skipped = [*left_out, *result.skipped]
    return result


def cache_limit_bytes() -> int:
    """The parse cache's size bound: ``$REMIXMUSIC_CACHE_MAX_MB`` megabytes (default 1024; a value that
    is not a number >= 0 gives the default, with a warning)."""
    text = os.environ.get(CACHE_LIMIT_ENV, "").strip()
    try:
        megabytes = float(text) if text else float(DEFAULT_CACHE_LIMIT_MB)
    except ValueError:
        megabytes = -1.0
    if not 0 <= megabytes < 2**40:
        warnings.warn(
            f"{CACHE_LIMIT_ENV}={text!r} is not a number of megabytes >= 0: using {DEFAULT_CACHE_LIMIT_MB}",
            stacklevel=2,
        )
        megabytes = DEFAULT_CACHE_LIMIT_MB
    return int(megabytes * 2**20)


def evict(cache_dir: str | Path, keep: Path | None = None, limit: int | None = None) -> list[Path]:
    """Delete the least recently used cache entries of ``cache_dir`` until it holds at most ``limit``
    bytes (default :func:`cache_limit_bytes`); ``keep`` is never deleted. Returns what was deleted."""
    limit = cache_limit_bytes() if limit is None else limit
    entries = []
    for path in Path(cache_dir).glob("pieces-*.npz"):
        try:
            info = path.stat()
        except OSError:
            continue  # deleted meanwhile by another process
        entries.append((info.st_mtime, path.name, path, info.st_size))
    total = sum(size for *_, size in entries)
    deleted = []
    for _, _, path, size in sorted(entries):
        if total <= limit:
            break
        if keep is not None and path == keep:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        deleted.append(path)
    return deleted


def clear_cache(cache_dir: str | Path | None = None) -> int:
    """Delete every parse cache entry (of ``cache_dir``, default :func:`default_cache_dir`); returns how
    many were deleted."""
    return len(evict(cache_dir or default_cache_dir(), limit=-1))


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
        np.savez(fh, allow_pickle=False, **arrays)


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
