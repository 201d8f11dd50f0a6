"""MIDI datasets: built from the corpus that ships inside music21, or imported from a folder.

A dataset is a folder ``ROOT/NAME/`` holding ``midi/ID.mid`` files and a ``manifest.json`` (written
atomically) with one record per piece (id, title, source, split, n_notes, seconds, sha256, group, file)
plus dataset-level information: build parameters, counts, near-duplicate groups, failures and the split
rule. Splits are leak-free: near-duplicates (the same tune twice) always share a split, see
:mod:`remixmusic.splits`.

**music21 conversion.** Notes are taken from music21's own parse and written with our MIDI writer
(music21's MIDI writer fails on meter changes in about 11% of the Essen tunes, "TimeSignature already
found", and on some repeat structures in O'Neill's). What :func:`score_to_piece` does:

* parts become tracks (program from the part's instrument, else 0); notes and chords become notes with
  onsets and ends rounded to the 12-steps-per-beat grid (durations at least one step); ties are merged
  (music21 ``stripTies``);
* grace notes are dropped and counted in ``metadata["grace_notes_dropped"]``: they have no written
  duration, and giving them one would either shorten the main note or stack a chord on it;
* repeats are *not* expanded: the piece is the notated order, once (first and second endings follow
  each other), so literal repeats do not inflate a tune and no repeat structure can make it fail;
* a pickup bar is padded with a leading rest so bar lines fall where the meter says; any other bar whose
  notated length differs from its meter (a second-ending half bar, the Essen "M: none" tunes without a
  meter) gets a time signature of its actual length, so bar lines follow the notation;
* keys become key numbers (0-11 major, 12-23 minor; modal keys use their signature's major key),
  metronome marks become tempos (an unmarked piece plays at 120 qpm); velocity is the note's own when
  music21 has one, else 80.

Building is parallel over corpus files (an ABC file holding hundreds of tunes is parsed once, as an
Opus, and without music21's notation-only beaming, which is most of its parse time) and resumable: each finished file is recorded in ``NAME/.partial/`` next to its MIDI files, and a
rerun skips recorded files. A tune that fails is listed in the manifest's ``failures`` with the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remixmusic._util.display import dict_frame, summary_html
from remixmusic._util.files import sha256_bytes, sha256_file
from remixmusic._util.text import exception_line
from remixmusic.data.corpora import CORPORA
from remixmusic.errors import DatasetError, check_choice
from remixmusic.io.folders import read_folder
from remixmusic.music.notes import (
    Piece,
)

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = "manifest.json"


MANIFEST_FORMAT = 1


SPLITS = ("train", "valid", "test")


TABLE_COLUMNS = ("id", "title", "split", "group", "n_notes", "seconds", "file", "sha256", "source")
"""The columns of :meth:`Dataset.table`: the keys of a manifest record."""


ENV_ROOT = "REMIXMUSIC_DATASETS"


_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # remixmusic/


_BUNDLED = _PACKAGE_DIR / "_datasets"  # datasets/bach-chorales, shipped inside a (non-editable) wheel


BUNDLED_DATASETS = ("bach-chorales",)
"""Datasets committed under ``datasets/`` and shipped as package data of a wheel: always found by name."""


def _checkout_root() -> Path | None:
    """The source checkout's ``datasets/`` (an editable install or a clone), else ``None``."""
    repository = _PACKAGE_DIR.parent
    return repository / "datasets" if (repository / "pyproject.toml").exists() else None


def default_root() -> Path:
    """Where datasets are built: ``$REMIXMUSIC_DATASETS``, else the source checkout's ``datasets/``,
    else ``./datasets``."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env)
    return _checkout_root() or Path.cwd() / "datasets"


def search_roots(root: str | Path | None = None) -> list[Path]:
    """Folders searched for datasets by name, first match first: ``root`` (else :func:`default_root`),
    searched for any dataset, then the folders remixmusic ships :data:`BUNDLED_DATASETS` in (the source
    checkout's ``datasets/``, the package's own copy in a wheel), searched for those only. So the bundled
    ``bach-chorales`` is found whatever ``root`` or ``$REMIXMUSIC_DATASETS`` say, and a dataset built in
    the checkout is not found when another root is chosen. Raises nothing."""
    first = Path(root) if root is not None else default_root()
    roots = [first, *(r for r in (_checkout_root(), _BUNDLED) if r is not None)]
    unique: list[Path] = []
    for folder in roots:
        if all(folder.resolve() != seen.resolve() for seen in unique):
            unique.append(folder)
    return unique


def _dataset_folders(root: str | Path | None) -> list[tuple[Path, tuple[str, ...] | None]]:
    """The search roots, each with the names it may hold (``None``: any)."""
    first, *shipped = search_roots(root)
    return [(first, None), *((folder, BUNDLED_DATASETS) for folder in shipped)]


@dataclass
class Dataset:
    """A dataset on disk: ``root`` is its folder, ``manifest`` its piece records, ``header`` the rest."""

    name: str
    root: Path
    manifest: list[dict[str, Any]]
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest_hash(self) -> str:
        """SHA-256 of what defines the dataset (ids, files, checksums, splits, groups): a model trained
        on it records this, so an analysis can tell whether it compares against the same data."""
        keys = ("id", "file", "sha256", "split", "group")
        canonical = [{k: record[k] for k in keys} for record in self.manifest]
        return sha256_bytes(json.dumps(canonical, sort_keys=True).encode())

    def records(self, split: str | None = None) -> list[dict[str, Any]]:
        if split is not None:
            check_choice("split", split, SPLITS, DatasetError)
        return [r for r in self.manifest if split is None or r["split"] == split]

    def files(self, split: str | None = None) -> list[Path]:
        return [self.root / r["file"] for r in self.records(split)]

    def table(self, split: str | None = None) -> pd.DataFrame:
        """The manifest records of ``split`` (all when ``None``) as a DataFrame, one row per piece, columns
        :data:`TABLE_COLUMNS` (the manifest's keys: ``n_notes`` int64, ``seconds`` float64)."""
        return dict_frame(self.records(split), TABLE_COLUMNS, {"n_notes": "int64", "seconds": "float64"})

    def __repr__(self) -> str:
        splits = ", ".join(f"{s} {n}" for s, n in self._split_sizes().items())
        return f"Dataset({self.name!r}: {len(self.manifest)} pieces ({splits}) in {str(self.root)!r})"

    def _repr_html_(self) -> str:
        """A short summary for notebooks (a few hundred characters whatever the dataset size)."""
        facts = [
            ("pieces", f"{len(self.manifest):,}"),
            ("splits", ", ".join(f"{s} {n:,}" for s, n in self._split_sizes().items())),
            ("tune groups", f"{len({r.get('group') for r in self.manifest}):,}"),
            ("notes", f"{sum(int(r.get('n_notes', 0)) for r in self.manifest):,}"),
            ("hours", f"{sum(float(r.get('seconds', 0.0)) for r in self.manifest) / 3600:.2f}"),
            ("description", self.header.get("description", "")),
            ("folder", str(self.root)),
        ]
        hint = "Pieces: .table(split) (a DataFrame of the manifest), .pieces(split) (parsed)."
        return summary_html(f"remixmusic dataset {self.name}", facts, hint=hint)

    def _split_sizes(self) -> dict[str, int]:
        return {s: sum(r.get("split") == s for r in self.manifest) for s in SPLITS}

    def pieces(self, split: str | None = None, jobs: int = 0, show_progress: bool = False) -> list[Piece]:
        """Parse the dataset's MIDI files (cached by content); each piece's metadata carries its record."""
        records = self.records(split)
        result = read_folder([self.root / r["file"] for r in records], jobs=jobs, show_progress=show_progress)
        if result.skipped:
            path, reason = result.skipped[0]
            raise DatasetError(f"dataset {self.name!r} is damaged: {path}: {reason}")
        for piece, record in zip(result.pieces, records, strict=True):
            piece.metadata.update(
                id=record["id"], title=record["title"], split=record["split"], group=record["group"]
            )
        return result.pieces


def load_dataset(name_or_path: str | Path, root: str | Path | None = None) -> Dataset:
    """Load a dataset by name (searched in :func:`search_roots`) or by the path of its folder.

    Raises:
        DatasetError: no such dataset (the message lists those available), or an unreadable manifest.
    """
    candidates = [Path(name_or_path)] if Path(name_or_path).is_dir() else []
    candidates += [
        folder / str(name_or_path)
        for folder, names in _dataset_folders(root)
        if names is None or str(name_or_path) in names
    ]
    for folder in candidates:
        manifest = folder / MANIFEST
        if manifest.is_file():
            try:
                header = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise DatasetError(f"{manifest}: unreadable manifest ({exception_line(exc)})") from None
            if header.get("format") != MANIFEST_FORMAT:
                raise DatasetError(f"{manifest}: unknown manifest format {header.get('format')!r}")
            records = header.pop("pieces")
            return Dataset(name=header.get("name", folder.name), root=folder, manifest=records, header=header)
    known = ", ".join(list_datasets(root)) or "none"
    hint = (
        f"; build it with `remixmusic dataset build {name_or_path}`" if str(name_or_path) in CORPORA else ""
    )
    raise DatasetError(f"no dataset {str(name_or_path)!r} (available: {known}){hint}")


def list_datasets(root: str | Path | None = None) -> list[str]:
    """Names of the datasets found in the search roots (first root wins on a name clash)."""
    found: list[str] = []
    for folder, names in _dataset_folders(root):
        if folder.is_dir():
            found += [
                p.parent.name
                for p in sorted(folder.glob(f"*/{MANIFEST}"))
                if p.parent.name not in found and (names is None or p.parent.name in names)
            ]
    return found


@dataclass
class DatasetInfo:
    """What ``remixmusic dataset info`` shows."""

    name: str
    root: Path
    description: str
    pieces: int
    notes: int
    hours: float
    splits: dict[str, int]
    split_notes: dict[str, int]
    groups: int
    multi_piece_groups: int
    pieces_in_multi_piece_groups: int
    failures: list[dict[str, Any]]
    manifest_hash: str


def dataset_info(name_or_path: str | Path, root: str | Path | None = None) -> DatasetInfo:
    dataset = load_dataset(name_or_path, root)
    records = dataset.manifest
    sizes: dict[str, int] = {}
    for record in records:
        sizes[record["group"]] = sizes.get(record["group"], 0) + 1
    return DatasetInfo(
        name=dataset.name,
        root=dataset.root,
        description=dataset.header.get("description", ""),
        pieces=len(records),
        notes=sum(r["n_notes"] for r in records),
        hours=sum(r["seconds"] for r in records) / 3600.0,
        splits={s: sum(r["split"] == s for r in records) for s in SPLITS},
        split_notes={s: sum(r["n_notes"] for r in records if r["split"] == s) for s in SPLITS},
        groups=len(sizes),
        multi_piece_groups=sum(size > 1 for size in sizes.values()),
        pieces_in_multi_piece_groups=sum(size for size in sizes.values() if size > 1),
        failures=dataset.header.get("failures", []),
        manifest_hash=dataset.manifest_hash,
    )


def verify_dataset(dataset: Dataset) -> list[tuple[str, str]]:
    """Files whose checksum does not match the manifest (or that are missing), with the reason."""
    problems = []
    for record in dataset.manifest:
        path = dataset.root / record["file"]
        if not path.is_file():
            problems.append((str(path), "missing"))
        elif sha256_file(path) != record["sha256"]:
            problems.append((str(path), "checksum differs from the manifest"))
    return problems
