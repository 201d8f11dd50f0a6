"""Building datasets from music21's corpora and importing MIDI folders: resumable, with a manifest and leak-free splits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remixmusic._util.files import atomic_directory, sha256_bytes, write_bytes, write_json
from remixmusic._util.parallel import parallel_map
from remixmusic._util.text import exception_line
from remixmusic.data.corpora import CORPORA, _bach_chorales, _music21_corpus_dir
from remixmusic.data.datasets import (
    BUNDLED_DATASETS,
    MANIFEST,
    MANIFEST_FORMAT,
    Dataset,
    default_root,
    load_dataset,
)
from remixmusic.data.splits import SplitRule, group_and_split
from remixmusic.data.tune_match import (
    DuplicateRule,
    TuneMatchRule,
    duplicate_rule_from_dict,
    record_fingerprint,
)
from remixmusic.errors import DatasetError, MidiError, RemixError, check_choice
from remixmusic.io.folders import read_folder
from remixmusic.io.midi import piece_to_bytes, read_midi
from remixmusic.io.music21 import TICKS_PER_BEAT, score_to_piece
from remixmusic.music.lines import melody_line
from remixmusic.music.notes import (
    STEPS_PER_BEAT,
    Piece,
)
from remixmusic.music.tune_line import tune

CONVERSION_VERSION = 2  # bump when score_to_piece changes what it produces: invalidates partial builds (2: half)












@contextlib.contextmanager
def _without_beaming() -> Iterator[None]:
    """Parse without music21's automatic beaming (``Stream.makeBeams``).

    music21's ABC import beams every part, which is most of its parse time (4-6x on Essen and O'Neill's
    files) and only affects how notes would be drawn, never their pitch, onset or duration.
    """
    from music21 import stream

    original = stream.Stream.makeBeams
    # setattr: a deliberate monkeypatch of a method, which mypy refuses as a plain assignment
    setattr(stream.Stream, "makeBeams", lambda self, *args, **kwargs: None)  # noqa: B010
    try:
        yield
    finally:
        setattr(stream.Stream, "makeBeams", original)  # noqa: B010


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
            {"source": {"file": relative}, "reason": f"music21 parse: {exception_line(exc)}"}
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
            record["failures"].append({"id": piece_id, "source": source, "reason": exception_line(exc)})
            continue
        record["pieces"].append(_write_piece(piece, piece_id, title or piece_id, source, out))
    write_json(out / ".partial" / f"{relative.replace('/', '__')}.json", record)
    return record


_LINES = ("melody", "tune", "tune_clean")  # what a record holds for grouping until the manifest is written


def _lines(piece: Piece) -> dict[str, Any]:
    """The lines the grouping rules compare: the score skyline (version 1) and the tune (version 2)."""
    found = tune(piece)
    return {"melody": melody_line(piece).tolist(), "tune": found.pitches.tolist(), "tune_clean": found.clean}


def _write_piece(piece: Piece, piece_id: str, title: str, source: Any, dataset_dir: Path) -> dict[str, Any]:
    """Write one piece's MIDI file; its manifest record (with the lines used for grouping)."""
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
        **_lines(piece),
    }




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
    rule: DuplicateRule | None = None,
    split_rule: SplitRule | None = None,
    max_files: int | None = None,
) -> BuildReport:
    """Build dataset ``name`` (one of :data:`CORPORA`) from the music21 corpus into ``root/name``.

    With ``resume``, a complete dataset built with the same parameters is kept as it is, and files
    recorded by an interrupted run are not converted again; without it the dataset folder is rebuilt from
    scratch. ``max_files`` builds from the first corpus files only (a quick trial; the manifest records
    it). ``rule`` groups near-duplicates; by default a complete dataset kept by ``resume`` keeps the rule
    its manifest records (it is never regrouped), and a new build uses version 2
    (:class:`~remixmusic.data.tune_match.TuneMatchRule`).

    Raises:
        DatasetError: an unknown corpus, ``root/name`` holds something other than a build of it (an
            imported dataset, other files: never written into), or music21's corpus lacks its files.
    """
    check_choice("corpus", name, CORPORA, DatasetError)
    spec = CORPORA[name]
    started = time.perf_counter()
    dataset_dir = Path(root or default_root()) / name
    _refuse_foreign(dataset_dir, name)
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
    split_rule = split_rule or SplitRule()
    if resume and (dataset_dir / MANIFEST).is_file():
        existing = load_dataset(dataset_dir)
        recorded = existing.header.get("duplicate_rule") or {}
        wanted = rule.to_dict() if rule is not None else duplicate_rule_from_dict(recorded).to_dict()
        same_rules = (recorded, existing.header.get("split_rule")) == (wanted, split_rule.to_dict())
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


def _refuse_foreign(dataset_dir: Path, name: str) -> None:
    """A folder under a corpus's name that holds something else (a dataset imported under that name by an
    older version, or files of the user's) is never built into or replaced.

    Raises:
        DatasetError: ``dataset_dir`` has a manifest that is not a build of a music21 corpus, or files
            but neither a manifest nor a build's ``.partial`` records.
    """
    if not dataset_dir.exists():
        return
    manifest = dataset_dir / MANIFEST
    if manifest.is_file():
        try:
            source = str(load_dataset(dataset_dir).header.get("build", {}).get("source", ""))
        except (RemixError, OSError):
            source = ""
        if source.startswith("music21"):
            return
        what = f"a dataset imported from {source}" if source else "a dataset remixmusic did not build"
    elif (dataset_dir / ".partial").is_dir() or not any(dataset_dir.iterdir()):
        return
    else:
        what = "files that are not a dataset build"
    raise DatasetError(f"{dataset_dir} holds {what}, not a build of {name}: move it away or build under another --root")


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


NO_PITCHED_NOTES = "no pitched notes"
"""The reason a piece with no pitched notes (drums only, or meta events only) is skipped."""


def import_folder(
    folder: str | Path,
    name: str,
    root: str | Path | None = None,
    jobs: int = 0,
    show_progress: bool = True,
    rule: DuplicateRule | None = None,
    split_rule: SplitRule | None = None,
    overwrite: bool = False,
    strict: bool = False,
) -> BuildReport:
    """Make dataset ``name`` from a folder of MIDI files: same manifest and leak-free splits as a build.

    The folder is walked recursively with symbolic links followed (without loops; dangling links listed,
    see :func:`remixmusic.io.folders.walk_midi_files`). Every readable file is re-written with our writer
    (on the step grid); unreadable files, and pieces with no pitched notes (drums or meta events only),
    are listed in the manifest's ``failures`` with the reason and never put into a split; the rest are
    imported. The dataset is made in a temporary folder beside ``root/name`` and renamed into place only
    when complete, so an interrupted import leaves nothing under the name (run it again: it restarts and
    gives the same dataset), and a failed one leaves an existing dataset as it was. An existing dataset of
    that name is replaced only with ``overwrite``. With ``strict``, an unreadable file fails the import
    before anything is written (an existing dataset stays as it was).

    Raises:
        DatasetError: ``name`` is not a valid dataset name or is a corpus's (:data:`CORPORA`, the bundled
            datasets), ``folder`` is not a folder, the dataset exists
            and ``overwrite`` is not set, the folder holds no readable MIDI file with pitched notes, or
            (``strict``) a file in it is unreadable.
        OSError: the dataset folder cannot be written (an existing dataset is then unchanged).
    """
    started = time.perf_counter()
    folder = Path(folder)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise DatasetError(f"dataset name {name!r} must be letters, digits, '.', '_' or '-'")
    if name.casefold() in {n.casefold() for n in (*CORPORA, *BUNDLED_DATASETS)}:  # Essen is essen on macOS
        # an import under a corpus's name would stand in for that corpus wherever the name is used (the
        # reference of `analyze`, a checkpoint's training data) and be mixed into its next build
        raise DatasetError(
            f"dataset name {name!r} is the name of a corpus remixmusic builds or ships: choose another name"
        )
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    dataset_dir = Path(root or default_root()) / name
    _clean_stale_imports(dataset_dir)
    if dataset_dir.exists() and not overwrite:
        raise DatasetError(f"{dataset_dir} already exists (replace it with --overwrite)")
    try:
        result = read_folder(folder, jobs=jobs, cache=False, show_progress=show_progress)
    except MidiError as exc:
        raise DatasetError(str(exc)) from None
    failures = [{"source": path, "reason": reason} for path, reason in result.skipped]
    if strict and result.skipped:
        listed = "; ".join(f"{path}: {reason}" for path, reason in result.skipped[:3])
        more = f"; and {len(result.skipped) - 3} more" if len(result.skipped) > 3 else ""
        raise DatasetError(
            f"{len(result.skipped)} file(s) in {folder} could not be read (--strict: nothing imported, an "
            f"existing dataset is unchanged): {listed}{more}"
        )
    pieces = []
    for piece in result.pieces:
        if has_pitched_notes(piece):
            pieces.append(piece)
        else:
            failures.append({"source": str(piece.source), "reason": NO_PITCHED_NOTES})
    if not pieces:  # before replacing anything: a failed import leaves an existing dataset alone
        raise DatasetError(
            f"{folder}: no readable MIDI files with pitched notes ({len(failures)} file(s) skipped)"
        )
    build = {
        "source": str(folder.resolve()),
        "steps_per_beat": STEPS_PER_BEAT,
        "ticks_per_beat": TICKS_PER_BEAT,
    }
    with atomic_directory(dataset_dir) as tmp:
        (tmp / _OWNER).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
        records: list[dict[str, Any]] = []
        taken: set[str] = set()
        for piece in pieces:
            # the path as reached from the folder, never resolved: a linked file may live elsewhere
            relative = Path(os.path.relpath(os.path.abspath(str(piece.source)), os.path.abspath(folder)))
            piece_id = _unique(
                re.sub(r"[^A-Za-z0-9._-]+", "_", relative.as_posix().rsplit(".", 1)[0]).strip("_") or "piece",
                taken,
            )
            record = _write_piece(piece, piece_id, piece_id, relative.as_posix(), tmp)
            if piece.metadata.get("repairs"):
                record["repairs"] = piece.metadata["repairs"]
            records.append(record)
        (tmp / _OWNER).unlink()
        dataset = _finish(name, f"imported from {folder}", tmp, records, failures, build, rule, split_rule)
    dataset = dataclasses.replace(dataset, root=dataset_dir)
    return BuildReport(dataset, len(records), 0, failures, time.perf_counter() - started)


def has_pitched_notes(piece: Piece) -> bool:
    """Whether ``piece`` has a note that is not a drum sound. Raises nothing."""
    return bool(len(piece.notes)) and not bool(piece.notes["is_drum"].all())


_OWNER = ".import-owner.json"  # in an import's temporary folder while it is filled: who fills it


def _clean_stale_imports(dataset_dir: Path) -> None:
    """Remove what an import of ``dataset_dir`` that was killed left beside it: temporary folders whose
    importing process (on this machine) is gone, and a previous dataset moved aside by a swap that did not
    finish (put back when nothing took its place). Raises nothing."""
    parent = dataset_dir.parent
    if not parent.is_dir():
        return
    host = socket.gethostname()
    for tmp in parent.glob(f".{glob.escape(dataset_dir.name)}.*.tmp"):
        try:
            owner = json.loads((tmp / _OWNER).read_text())
        except (OSError, ValueError):
            try:  # no owner: complete but not renamed into place (killed at the last step) a while ago?
                stale = time.time() - (tmp / MANIFEST).stat().st_mtime > 60
            except OSError:
                stale = False  # being filled by a process that has not said who it is yet
            if stale:
                shutil.rmtree(tmp, ignore_errors=True)
            continue
        if not isinstance(owner, dict) or owner.get("host") != host or _alive(owner.get("pid")):
            continue
        shutil.rmtree(tmp, ignore_errors=True)
    for old in parent.glob(f".{glob.escape(dataset_dir.name)}.*.old"):
        moved = old / dataset_dir.name
        with contextlib.suppress(OSError):
            if not dataset_dir.exists() and (moved / MANIFEST).is_file():
                os.replace(moved, dataset_dir)
            if not moved.exists():
                old.rmdir()


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # unknown: left alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


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
    rule: DuplicateRule | None,
    split_rule: SplitRule | None,
) -> Dataset:
    """Group near-duplicates, split, and write the manifest (atomically, last, so a dataset with a
    manifest is always complete)."""
    rule = rule or TuneMatchRule()
    split_rule = split_rule or SplitRule()
    if not records:
        raise RemixError(f"{name}: no piece could be converted ({len(failures)} failures)")
    for record in records:  # a piece an interrupted run of an older version wrote: its lines from its file
        if not all(key in record for key in _LINES):
            record.update(_lines(read_midi(dataset_dir / record["file"])))
    ids = [r["id"] for r in records]
    prints = [record_fingerprint(rule, r) for r in records]
    for record in records:
        for key in _LINES:
            record.pop(key)
    grouping = group_and_split(ids, prints, rule, split_rule)
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
