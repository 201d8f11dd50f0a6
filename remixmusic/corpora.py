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

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from remixmusic.errors import DatasetError, MidiError, RemixError
from remixmusic.fileio import sha256_bytes, sha256_file, write_bytes, write_json
from remixmusic.midi import normalize_notes, piece_to_bytes, read_folder
from remixmusic.notes import (
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    STEPS_PER_BEAT,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Piece,
    Track,
)
from remixmusic.splits import NearDuplicateRule, SplitRule, group_and_split, melody_line
from remixmusic.workers import parallel_map

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
CONVERSION_VERSION = 1  # bump when score_to_piece changes what it produces: invalidates partial builds
DEFAULT_VELOCITY = 80
TICKS_PER_BEAT = 480
SPLITS = ("train", "valid", "test")
ENV_ROOT = "REMIXMUSIC_DATASETS"
_PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE_DIR / "_datasets"  # datasets/bach-chorales, shipped inside a (non-editable) wheel


# -- music21 score -> Piece ----------------------------------------------------------------------------


def score_to_piece(score: Any, source: str | None = None, title: str | None = None) -> Piece:
    """Convert a music21 ``Score`` (or a single ``Part``) to a :class:`Piece` (see the module docstring).

    Ties are merged *in place* (copying a score costs more than converting it): pass a copy if you
    still need the tied notation.
    """
    from music21 import chord, harmony, key, meter, note, stream, tempo

    stripped = score.stripTies(inPlace=True) or score
    parts = list(stripped.parts) if isinstance(stripped, stream.Score) else [stripped]
    parts = [p for p in parts if p.flatten().notes] or parts[:1]
    if not parts:
        raise ValueError("score has no parts")
    pad, meters = _meter_events(parts[0], meter, stream)

    def step(offset: float) -> int:
        return round((float(offset) + (pad if offset > 0 else 0.0)) * STEPS_PER_BEAT)

    tracks: list[Track] = []
    rows: list[tuple[int, int, int, int, int, int, bool]] = []
    grace = 0
    for index, part in enumerate(parts):
        instrument = part.getInstrument(returnDefault=True)
        program = instrument.midiProgram if instrument.midiProgram is not None else 0
        tracks.append(Track(name=part.partName or instrument.instrumentName or "", program=int(program)))
        for element in part.flatten().notes:
            if isinstance(element, harmony.Harmony) or not isinstance(element, (note.Note, chord.Chord)):
                continue  # chord symbols are annotations; unpitched percussion has no pitch
            if element.duration.isGrace:
                grace += len(element.pitches)
                continue
            start = float(element.offset) + pad
            onset = round(start * STEPS_PER_BEAT)
            end = round((start + float(element.quarterLength)) * STEPS_PER_BEAT)
            velocity = element.volume.velocity or DEFAULT_VELOCITY
            for pitch in element.pitches:
                if not 0 <= pitch.midi <= 127:
                    raise ValueError(f"pitch {pitch.nameWithOctave} is outside the MIDI range")
                rows.append(
                    (onset, max(end - onset, 1), pitch.midi, int(velocity), index, int(program), False)
                )
    if not rows:
        raise ValueError("no notes")
    notes = normalize_notes(np.array(rows, dtype=NOTE_DTYPE))

    flat = parts[0].flatten()
    keys: dict[int, int] = {}
    for signature in flat.getElementsByClass(key.KeySignature):
        mode = getattr(signature, "mode", None)
        if isinstance(signature, key.Key) and mode in ("major", "minor"):
            keys[step(signature.offset)] = signature.tonic.pitchClass + (12 if mode == "minor" else 0)
        else:
            keys[step(signature.offset)] = (7 * signature.sharps) % 12
    tempos: dict[int, float] = {}
    for mark in flat.getElementsByClass(tempo.MetronomeMark):
        qpm = mark.getQuarterBPM()
        if qpm:
            tempos[step(mark.offset)] = float(qpm)
    return Piece(
        notes=notes,
        tracks=tracks,
        time_signatures=np.array([(at, *sig) for at, sig in meters.items()], TIME_SIGNATURE_DTYPE),
        tempos=np.array(list(tempos.items()), dtype=TEMPO_DTYPE),
        key_signatures=np.array(list(keys.items()), dtype=KEY_SIGNATURE_DTYPE),
        source=source,
        metadata={"title": title, "grace_notes_dropped": grace},
    )


def _meter_events(part: Any, meter: Any, stream: Any) -> tuple[float, dict[int, tuple[int, int]]]:
    """Pickup padding (quarter lengths) and the meter map {step: (numerator, denominator)} of a part.

    Follows the measures. Consecutive short measures that add up to at most one bar of the notated meter
    are one bar (a bar split by a repeat sign, 2 + 1 beats in 3/4); a bar of the notated meter's length
    keeps that meter; any other bar (except a first-bar pickup, which is padded instead) gets a meter
    of its actual length.
    """
    measures = [m for m in part.getElementsByClass(stream.Measure) if m.duration.quarterLength > 0]
    if not measures:
        signatures = part.flatten().getElementsByClass(meter.TimeSignature)
        return 0.0, {
            round(float(ts.offset) * STEPS_PER_BEAT): (ts.numerator, ts.denominator) for ts in signatures
        }
    bars: list[list[Any]] = []  # [offset, length, time signature in force or None]
    current = None
    for measure in measures:
        if measure.timeSignature is not None:
            current = measure.timeSignature
        length = float(measure.duration.quarterLength)
        nominal = float(current.barDuration.quarterLength) if current is not None else None
        if bars and nominal and bars[-1][2] is current:
            short, fits = bars[-1][1] < nominal - 1e-9, bars[-1][1] + length <= nominal + 1e-9
        else:
            short = fits = False
        if short and fits:
            bars[-1][1] += length
        else:
            bars.append([float(measure.offset), length, current])
    first_nominal = float(bars[0][2].barDuration.quarterLength) if bars[0][2] is not None else None
    pad = first_nominal - bars[0][1] if first_nominal and bars[0][1] < first_nominal else 0.0
    events: dict[int, tuple[int, int]] = {}
    previous: tuple[int, int] | None = None
    for index, (offset, length, signature_in_force) in enumerate(bars):
        nominal = (
            float(signature_in_force.barDuration.quarterLength) if signature_in_force is not None else None
        )
        if nominal is not None and (abs(length - nominal) < 1e-9 or (index == 0 and pad)):
            signature: tuple[int, int] | None = (
                int(signature_in_force.numerator),
                int(signature_in_force.denominator),
            )
        else:
            denominator = int(signature_in_force.denominator) if signature_in_force is not None else 4
            signature = _meter_of_length(length, denominator)
        if signature is None or signature == previous:
            continue
        events[round((offset + (pad if index else 0.0)) * STEPS_PER_BEAT)] = signature
        previous = signature
    return pad, events


def _meter_of_length(quarter_length: float, preferred_denominator: int) -> tuple[int, int] | None:
    """The time signature whose bar lasts ``quarter_length`` beats, preferring the current denominator."""
    for denominator in (preferred_denominator, 4, 8, 16, 32):
        numerator = quarter_length * denominator / 4
        if abs(numerator - round(numerator)) < 1e-9 and 1 <= round(numerator) <= 255:
            return round(numerator), denominator
    return None


# -- music21 corpora --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusSpec:
    """A dataset that can be built from the music21 corpus: which files, and how to name their pieces."""

    name: str
    description: str
    files: Callable[[], list[str]]  # paths relative to music21's corpus folder
    minimum: int  # the number of pieces a complete build yields at least (a sanity check in tests)


def _music21_corpus_dir() -> Path:
    from music21 import common

    return Path(common.getCorpusFilePath())


@cache
def _bach_chorales() -> dict[str, tuple[str, list[int]]]:
    """Chorale file (relative path) -> (title, Riemenschneider numbers), from music21's chorale list."""
    from music21.corpus import chorales

    listing = chorales.ChoraleListRKBWV().byRiemenschneider
    files = chorales.Iterator(returnType="filename")
    out: dict[str, tuple[str, list[int]]] = {}
    corpus_dir = _music21_corpus_dir()
    for number, stem in zip(sorted(listing), files, strict=True):
        folder, base = (corpus_dir / stem).parent, Path(stem).name
        matches = [
            folder / f"{base}{suffix}"
            for suffix in (".mxl", ".xml")
            if (folder / f"{base}{suffix}").is_file()
        ]
        if not matches:
            continue
        relative = matches[0].relative_to(corpus_dir).as_posix()
        title, numbers = out.get(relative, (listing[number]["title"], []))
        out[relative] = (title, [*numbers, number])
    return out


def _abc_files(folder: str) -> Callable[[], list[str]]:
    def files() -> list[str]:
        base = _music21_corpus_dir()
        return sorted(p.relative_to(base).as_posix() for p in (base / folder).glob("*.abc"))

    return files


CORPORA: dict[str, CorpusSpec] = {
    spec.name: spec
    for spec in (
        CorpusSpec(
            "bach-chorales",
            "J.S. Bach's four-part chorales in music21 (Riemenschneider numbering, one file each)",
            lambda: sorted(_bach_chorales()),
            340,
        ),
        CorpusSpec(
            "essen",
            "Essen folk song collection in music21 (essenFolksong ABC files)",
            _abc_files("essenFolksong"),
            8400,
        ),
        CorpusSpec(
            "oneills",
            "O'Neill's Music of Ireland (1850) in music21 (oneills1850 ABC files)",
            _abc_files("oneills1850"),
            1900,
        ),
    )
}


@contextlib.contextmanager
def _without_beaming() -> Iterator[None]:
    """Parse without music21's automatic beaming (``Stream.makeBeams``).

    music21's ABC import beams every part, which is most of its parse time (4-6x on Essen and O'Neill's
    files) and only affects how notes would be drawn, never their pitch, onset or duration.
    """
    from music21 import stream

    original = stream.Stream.makeBeams
    stream.Stream.makeBeams = lambda self, *args, **kwargs: None
    try:
        yield
    finally:
        stream.Stream.makeBeams = original


def _convert_file(task: tuple[str, str, str]) -> dict[str, Any]:
    """Worker: convert every piece of one corpus file, write their MIDI files, record the file as done."""
    from music21 import converter, stream

    name, relative, dataset_dir = task
    out = Path(dataset_dir)
    record: dict[str, Any] = {
        "file": relative,
        "conversion": CONVERSION_VERSION,
        "pieces": [],
        "failures": [],
    }
    try:
        with _without_beaming():
            parsed = converter.parse(_music21_corpus_dir() / relative, forceSource=True)
    except Exception as exc:  # music21 raises many types; any of them means this file cannot be parsed
        record["failures"].append(
            {"source": {"file": relative}, "reason": f"music21 parse: {_one_line(exc)}"}
        )
        parsed = None
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [] if parsed is None else [parsed]
    stem = Path(relative).stem
    for index, score in enumerate(scores, start=1):
        number = score.metadata.number if score.metadata is not None else None
        source: dict[str, Any] = {"file": relative}
        if number is not None:
            source["tune"] = number  # the ABC reference number (X:)
        if len(scores) > 1:
            source["index"] = index  # position in the file, which tells tunes apart if an X: repeats
        if name == "bach-chorales":
            piece_id = stem
            title, numbers = _bach_chorales().get(relative, (None, []))
            source["riemenschneider"] = numbers
        else:
            piece_id = f"{stem}-{index:04d}"
            title = score.metadata.title if score.metadata is not None else None
        try:
            piece = score_to_piece(score, source=relative, title=title)
        except Exception as exc:  # a tune music21 parsed but we cannot convert: listed, never dropped
            record["failures"].append({"id": piece_id, "source": source, "reason": _one_line(exc)})
            continue
        record["pieces"].append(_write_piece(piece, piece_id, title or piece_id, source, out))
    write_json(out / ".partial" / f"{relative.replace('/', '__')}.json", record)
    return record


def _write_piece(piece: Piece, piece_id: str, title: str, source: Any, dataset_dir: Path) -> dict[str, Any]:
    """Write one piece's MIDI file; its manifest record (with the melody line, used for grouping)."""
    data = piece_to_bytes(piece, TICKS_PER_BEAT)
    file = f"midi/{piece_id}.mid"
    write_bytes(dataset_dir / file, data)
    return {
        "id": piece_id,
        "title": title,
        "source": source,
        "n_notes": len(piece),
        "seconds": round(piece.duration_seconds, 3),
        "sha256": sha256_bytes(data),
        "file": file,
        "melody": melody_line(piece).tolist(),
    }


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


# -- dataset roots and loading -----------------------------------------------------------------------------


def default_root() -> Path:
    """Where datasets are built: ``$REMIXMUSIC_DATASETS``, else the source checkout's ``datasets/``,
    else ``./datasets``."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env)
    repository = _PACKAGE_DIR.parent
    if (repository / "pyproject.toml").exists():
        return repository / "datasets"
    return Path.cwd() / "datasets"


def search_roots(root: str | Path | None = None) -> list[Path]:
    """Folders searched for datasets by name: the explicit root only, else the default root and then the
    datasets bundled inside the installed package."""
    if root is not None:
        return [Path(root)]
    return [default_root(), _BUNDLED]


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
        if split is not None and split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return [r for r in self.manifest if split is None or r["split"] == split]

    def files(self, split: str | None = None) -> list[Path]:
        return [self.root / r["file"] for r in self.records(split)]

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
    """Load a dataset by name (searched in :func:`search_roots`) or by the path of its folder."""
    candidates = [Path(name_or_path)] if Path(name_or_path).is_dir() else []
    candidates += [r / str(name_or_path) for r in search_roots(root)]
    for folder in candidates:
        manifest = folder / MANIFEST
        if manifest.is_file():
            try:
                header = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise DatasetError(f"{manifest}: unreadable manifest ({_one_line(exc)})") from None
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
    names: list[str] = []
    for folder in search_roots(root):
        if folder.is_dir():
            names += [
                p.parent.name for p in sorted(folder.glob(f"*/{MANIFEST}")) if p.parent.name not in names
            ]
    return names


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


# -- building and importing ----------------------------------------------------------------------------------


@dataclass
class BuildReport:
    """What a build or import did."""

    dataset: Dataset
    written: int  # pieces converted and written by this run
    reused: int  # pieces kept from an interrupted earlier run (resume)
    failures: list[dict[str, Any]]
    seconds: float

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """Failures as (where, reason) pairs, for :func:`remixmusic.cli.common.report_skipped`."""
        return [(_describe_source(f), f["reason"]) for f in self.failures]


def _describe_source(failure: dict[str, Any]) -> str:
    source = failure.get("source", {})
    if isinstance(source, str):
        return source
    tune = f" tune {source['index']} (X:{source.get('tune')})" if "index" in source else ""
    return f"{source.get('file', '?')}{tune}"


def build_dataset(
    name: str,
    root: str | Path | None = None,
    jobs: int = 0,
    resume: bool = True,
    show_progress: bool = True,
    rule: NearDuplicateRule | None = None,
    split_rule: SplitRule | None = None,
    max_files: int | None = None,
) -> BuildReport:
    """Build dataset ``name`` (one of :data:`CORPORA`) from the music21 corpus into ``root/name``.

    With ``resume``, a complete dataset built with the same parameters is kept as it is, and files
    recorded by an interrupted run are not converted again; without it the dataset folder is rebuilt from
    scratch. ``max_files`` builds from the first corpus files only (a quick trial; the manifest records
    it).
    """
    if name not in CORPORA:
        raise DatasetError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    spec = CORPORA[name]
    started = time.perf_counter()
    dataset_dir = Path(root or default_root()) / name
    if not resume and dataset_dir.exists():
        shutil.rmtree(dataset_dir)
    files = spec.files()[:max_files]
    if not files:
        raise DatasetError(f"music21's corpus has no files for {name!r} (is music21 fully installed?)")
    import music21

    build = {
        "source": f"music21 {music21.__version__} corpus",
        "conversion": CONVERSION_VERSION,
        "steps_per_beat": STEPS_PER_BEAT,
        "ticks_per_beat": TICKS_PER_BEAT,
        "files": len(files),
        "max_files": max_files,
    }
    rule, split_rule = rule or NearDuplicateRule(), split_rule or SplitRule()
    if resume and (dataset_dir / MANIFEST).is_file():
        existing = load_dataset(dataset_dir)
        same_rules = (existing.header.get("duplicate_rule"), existing.header.get("split_rule")) == (
            rule.to_dict(),
            split_rule.to_dict(),
        )
        if existing.header.get("build") == build and same_rules:
            failures = existing.header.get("failures", [])
            return BuildReport(existing, 0, len(existing.manifest), failures, time.perf_counter() - started)
    done: dict[str, dict[str, Any]] = {}
    for relative in files:
        record = _load_partial(dataset_dir, relative)
        if record is not None:
            done[relative] = record
    tasks = [(name, relative, str(dataset_dir)) for relative in files if relative not in done]
    fresh = {
        r["file"]: r for r in parallel_map(_convert_file, tasks, jobs, f"converting {name}", show_progress)
    }
    per_file = [done.get(relative) or fresh[relative] for relative in files]
    records = [piece for record in per_file for piece in record["pieces"]]
    failures = [failure for record in per_file for failure in record["failures"]]
    dataset = _finish(name, spec.description, dataset_dir, records, failures, build, rule, split_rule)
    shutil.rmtree(dataset_dir / ".partial", ignore_errors=True)
    reused = sum(len(done[f]["pieces"]) for f in done)
    return BuildReport(dataset, len(records) - reused, reused, failures, time.perf_counter() - started)


def _load_partial(dataset_dir: Path, relative: str) -> dict[str, Any] | None:
    """The record of a file finished by an earlier run, if it is complete and current."""
    path = dataset_dir / ".partial" / f"{relative.replace('/', '__')}.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("conversion") != CONVERSION_VERSION:
        return None
    if not all((dataset_dir / piece["file"]).is_file() for piece in record["pieces"]):
        return None
    return record


def import_folder(
    folder: str | Path,
    name: str,
    root: str | Path | None = None,
    jobs: int = 0,
    show_progress: bool = True,
    rule: NearDuplicateRule | None = None,
    split_rule: SplitRule | None = None,
    overwrite: bool = False,
) -> BuildReport:
    """Make dataset ``name`` from a folder of MIDI files: same manifest and leak-free splits as a build.

    Every readable file is re-written with our writer (on the step grid); unreadable files are listed in
    the manifest's ``failures`` with the reason, and the rest are imported. An existing dataset of that
    name is replaced only with ``overwrite``.
    """
    started = time.perf_counter()
    folder = Path(folder)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise DatasetError(f"dataset name {name!r} must be letters, digits, '.', '_' or '-'")
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    dataset_dir = Path(root or default_root()) / name
    if dataset_dir.exists() and not overwrite:
        raise DatasetError(f"{dataset_dir} already exists (overwrite it with --force)")
    try:
        result = read_folder(folder, jobs=jobs, cache=False, show_progress=show_progress)
    except MidiError as exc:
        raise DatasetError(str(exc)) from None
    if not result.pieces:  # before replacing anything: a failed import leaves an existing dataset alone
        raise DatasetError(f"{folder}: no readable MIDI files ({len(result.skipped)} unreadable)")
    if dataset_dir.exists():
        shutil.rmtree(dataset_dir)
    records: list[dict[str, Any]] = []
    taken: set[str] = set()
    for piece in result.pieces:
        relative = Path(piece.source or "piece").resolve().relative_to(folder.resolve()).as_posix()
        piece_id = _unique(
            re.sub(r"[^A-Za-z0-9._-]+", "_", relative.rsplit(".", 1)[0]).strip("_") or "piece", taken
        )
        record = _write_piece(piece, piece_id, piece_id, relative, dataset_dir)
        if piece.metadata.get("repairs"):
            record["repairs"] = piece.metadata["repairs"]
        records.append(record)
    failures = [{"source": path, "reason": reason} for path, reason in result.skipped]
    build = {
        "source": str(folder.resolve()),
        "steps_per_beat": STEPS_PER_BEAT,
        "ticks_per_beat": TICKS_PER_BEAT,
    }
    dataset = _finish(
        name, f"imported from {folder}", dataset_dir, records, failures, build, rule, split_rule
    )
    return BuildReport(dataset, len(records), 0, failures, time.perf_counter() - started)


def _unique(candidate: str, taken: set[str]) -> str:
    name, n = candidate, 1
    while name in taken:
        n += 1
        name = f"{candidate}-{n}"
    taken.add(name)
    return name


def _finish(
    name: str,
    description: str,
    dataset_dir: Path,
    records: list[dict[str, Any]],
    failures: list[dict[str, Any]],
    build: dict[str, Any],
    rule: NearDuplicateRule | None,
    split_rule: SplitRule | None,
) -> Dataset:
    """Group near-duplicates, split, and write the manifest (atomically, last, so a dataset with a
    manifest is always complete)."""
    rule = rule or NearDuplicateRule()
    split_rule = split_rule or SplitRule()
    if not records:
        raise RemixError(f"{name}: no piece could be converted ({len(failures)} failures)")
    ids = [r["id"] for r in records]
    grouping = group_and_split(
        ids, [rule.fingerprint(np.array(r.pop("melody"), np.int16)) for r in records], rule, split_rule
    )
    pieces = []
    for record, group, split in zip(records, grouping.group, grouping.split, strict=True):
        pieces.append({**record, "split": split, "group": group})
    multi = grouping.multi_piece_groups()
    header: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "name": name,
        "description": description,
        "build": build,
        "duplicate_rule": rule.to_dict(),
        "split_rule": split_rule.to_dict(),
        "counts": {
            "pieces": len(pieces),
            "notes": sum(r["n_notes"] for r in pieces),
            "failures": len(failures),
            "splits": {s: grouping.split.count(s) for s in split_rule.names},
            "groups": grouping.n_groups,
            "multi_piece_groups": len(multi),
            "pieces_in_multi_piece_groups": sum(multi.values()),
        },
        "failures": failures,
    }
    write_json(dataset_dir / MANIFEST, {**header, "pieces": pieces})
    return Dataset(name=name, root=dataset_dir, manifest=pieces, header=header)


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
