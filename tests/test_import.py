"""``dataset import`` on real-world folders (issue 9 kinds 5 and 6): symlinks, odd names and extensions,
interrupted and failed imports, and pieces with no pitched notes (also in ``analyze``)."""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from remixmusic.cli import app
from remixmusic.data import build, datasets
from remixmusic.errors import DatasetError
from remixmusic.io.folders import walk_midi_files
from remixmusic.io.midi import piece_to_bytes, write_midi
from remixmusic.music.notes import NOTE_DTYPE, Piece, Track
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.inputs import NO_PITCHED_NOTES


def _piece(pitches: list[int], drums: bool = False) -> Piece:
    notes = np.zeros(len(pitches), NOTE_DTYPE)
    notes["onset"] = np.arange(len(pitches)) * 12
    notes["duration"] = 12
    notes["pitch"] = pitches
    notes["velocity"] = 90
    notes["is_drum"] = drums
    return Piece(notes=notes, tracks=[Track(is_drum=drums)])


def _tune(seed: int, n: int = 40) -> list[int]:
    rng = np.random.default_rng(seed)
    return (60 + np.cumsum(rng.integers(-4, 5, size=n))).clip(40, 90).tolist()


def _meta_only_bytes() -> bytes:
    """shared/midi-cases/21_meta_only: two tracks of meta events, not a single note."""

    def track(events: bytes) -> bytes:
        return b"MTrk" + struct.pack(">I", len(events)) + events

    t0 = track(b"\x00\xff\x03\x05Tempo\x00\xff\x51\x03\x07\xa1\x20\x00\xff\x58\x04\x03\x02\x18\x08\x00\xff\x2f\x00")
    t1 = track(b"\x00\xff\x03\x05Piano\x8f\x00\xff\x06\x05Intro\x8f\x00\xff\x2f\x00")
    return b"MThd" + struct.pack(">IHHH", 6, 1, 2, 480) + t0 + t1


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """shared/midi-cases/17_folder_layout, plus a symlink loop and a .kar file: returns the ``in`` folder."""
    root = tmp_path / "layout"
    (root / "in" / "sub" / "deeper").mkdir(parents=True)
    (root / "elsewhere" / "linked_dir").mkdir(parents=True)
    files = {
        "in/Chorale Nº 1 – été.MID": 1,
        "in/sub/deeper/piece.midi": 2,
        "in/sub/UPPER.MIDI": 3,
        "in/sub/mixed.Mid": 4,
        "in/sub/karaoke.KAR": 5,
        "elsewhere/real.mid": 6,
        "elsewhere/linked_dir/inside.mid": 7,
    }
    for relative, seed in files.items():
        write_midi(_piece(_tune(seed)), root / relative)
    os.symlink("../elsewhere/real.mid", root / "in" / "link_to_file.mid")
    os.symlink("../elsewhere/linked_dir", root / "in" / "link_to_dir")
    os.symlink("../elsewhere/does_not_exist.mid", root / "in" / "dangling.mid")
    os.symlink("..", root / "in" / "sub" / "loop")  # back to "in": walked once
    return root / "in"


REAL = {
    "Chorale Nº 1 – été.MID",
    "sub/deeper/piece.midi",
    "sub/UPPER.MIDI",
    "sub/mixed.Mid",
    "sub/karaoke.KAR",
    "link_to_file.mid",
    "link_to_dir/inside.mid",
}


def test_the_walk_follows_links_once_and_lists_dangling_ones_and_loops(layout: Path) -> None:
    files, skipped = walk_midi_files(layout)
    assert {p.relative_to(layout).as_posix() for p in files} == REAL
    reasons = {Path(p).relative_to(layout).as_posix(): r for p, r in skipped}
    assert set(reasons) == {"dangling.mid", "sub/loop"}
    assert "dangling" in reasons["dangling.mid"] and "loop" in reasons["sub/loop"]
    (layout / "again.mid").symlink_to("sub/UPPER.MIDI")  # a second way to a file: read once
    files, skipped = walk_midi_files(layout)
    assert len(files) == len(REAL)
    assert [r for p, r in skipped if p.endswith("again.mid")] == [f"the same file as {layout}/sub/UPPER.MIDI: read once"]


def test_import_of_a_messy_layout_imports_every_real_file(layout: Path, tmp_path: Path) -> None:
    out = tmp_path / "datasets"
    result = CliRunner().invoke(app, ["dataset", "import", str(layout), "mine", "-o", str(out), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert result.exception is None
    dataset = datasets.load_dataset("mine", root=out)
    assert {r["source"] for r in dataset.manifest} == REAL
    assert all(r["n_notes"] == 40 for r in dataset.manifest)
    failures = {Path(f["source"]).name: f["reason"] for f in dataset.header["failures"]}
    assert set(failures) == {"dangling.mid", "loop"}
    assert "dangling symbolic link" in failures["dangling.mid"]
    assert "dangling.mid" in result.output and "skipped 2" in result.output
    assert datasets.verify_dataset(dataset) == []
    assert [p.name for p in out.iterdir()] == ["mine"]  # no temporary folder left


def test_an_interrupted_import_run_again_gives_the_same_dataset(
    layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "whole"
    build.import_folder(layout, "mine", root=whole, jobs=1, show_progress=False)
    expected = json.loads((whole / "mine" / datasets.MANIFEST).read_text())

    root = tmp_path / "interrupted"
    original = build._write_piece
    calls = []

    def write_then_interrupt(*args, **kwargs):  # three pieces written, then Ctrl-C
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(build, "_write_piece", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        build.import_folder(layout, "mine", root=root, jobs=1, show_progress=False)
    assert len(calls) == 3
    assert not (root / "mine").exists() and list(root.iterdir()) == []  # nothing half-made
    monkeypatch.setattr(build, "_write_piece", original)
    build.import_folder(layout, "mine", root=root, jobs=1, show_progress=False)
    again = json.loads((root / "mine" / datasets.MANIFEST).read_text())
    assert again == expected  # same ids, files, sha256, splits, groups, failures
    assert [r["sha256"] for r in again["pieces"]] == [r["sha256"] for r in expected["pieces"]]


def test_an_import_killed_before_renaming_leaves_nothing_that_blocks_the_next(
    layout: Path, tmp_path: Path
) -> None:
    """A killed process cannot clean up: its temporary folder is removed by the next import."""
    build.import_folder(layout, "mine", root=tmp_path, jobs=1, show_progress=False)
    expected = (tmp_path / "mine" / datasets.MANIFEST).read_bytes()
    (tmp_path / "mine").rename(tmp_path / "done")
    stale = tmp_path / ".mine.abc123.tmp"  # what a killed import leaves: a part-filled folder
    (stale / "midi").mkdir(parents=True)
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)  # a process id that is no longer running
    (stale / build._OWNER).write_text(json.dumps({"host": os.uname().nodename, "pid": dead}))
    build.import_folder(layout, "mine", root=tmp_path, jobs=1, show_progress=False)
    assert (tmp_path / "mine" / datasets.MANIFEST).read_bytes() == expected
    assert not stale.exists()


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_failed_force_import_leaves_the_old_dataset_byte_identical(layout: Path, tmp_path: Path) -> None:
    out = tmp_path / "datasets"
    build.import_folder(layout, "mine", root=out, jobs=1, show_progress=False)
    before = _tree(out / "mine")
    unreadable = tmp_path / "unreadable"
    (unreadable / "deep").mkdir(parents=True)
    (unreadable / "empty.mid").write_bytes(b"")
    (unreadable / "deep" / "text.MIDI").write_text("not MIDI\n")
    (unreadable / "meta.mid").write_bytes(_meta_only_bytes())
    (unreadable / "dangling.mid").symlink_to("nowhere.mid")
    result = CliRunner().invoke(
        app, ["dataset", "import", str(unreadable), "mine", "-o", str(out), "-j", "1", "--force"]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, DatasetError) and "no readable MIDI" in str(result.exception)
    assert _tree(out / "mine") == before
    assert [p.name for p in out.iterdir()] == ["mine"]


def test_a_successful_force_import_replaces_the_dataset(layout: Path, tmp_path: Path) -> None:
    build.import_folder(layout, "mine", root=tmp_path, jobs=1, show_progress=False)
    other = tmp_path / "other"
    other.mkdir()
    write_midi(_piece(_tune(9)), other / "only.mid")
    report = build.import_folder(other, "mine", root=tmp_path, jobs=1, show_progress=False, overwrite=True)
    assert report.dataset.root == tmp_path / "mine"
    assert [r["id"] for r in datasets.load_dataset("mine", root=tmp_path).manifest] == ["only"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layout", "mine", "other"]


@pytest.fixture
def with_unpitched(tmp_path: Path) -> Path:
    folder = tmp_path / "query"
    folder.mkdir()
    for seed in (11, 12, 13):
        write_midi(_piece(_tune(seed, 60)), folder / f"tune{seed}.mid")
    write_midi(_piece([36, 38, 42, 46] * 10, drums=True), folder / "drums.mid")
    (folder / "meta.mid").write_bytes(_meta_only_bytes())
    return folder


def test_import_never_puts_a_piece_without_pitched_notes_into_a_split(
    with_unpitched: Path, tmp_path: Path
) -> None:
    report = build.import_folder(with_unpitched, "mine", root=tmp_path / "d", jobs=1, show_progress=False)
    assert sorted(r["id"] for r in report.dataset.manifest) == ["tune11", "tune12", "tune13"]
    assert sorted((Path(s).name, r) for s, r in report.skipped) == [
        ("drums.mid", NO_PITCHED_NOTES),
        ("meta.mid", NO_PITCHED_NOTES),
    ]
    assert report.dataset.header["counts"]["failures"] == 2
    assert sum(report.dataset.header["counts"]["splits"].values()) == 3


def test_analyze_skips_pieces_without_pitched_notes_and_never_counts_them(
    with_unpitched: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    for seed in range(20, 26):
        tune = _tune(seed, 60)
        write_midi(_piece(tune), reference / f"ref{seed}.mid")
    # the query shares passages with the reference, so that the measures are not all zero
    (with_unpitched / "tune11.mid").write_bytes(piece_to_bytes(_piece(_tune(20, 60)[:30] + _tune(21, 60)[:30])))
    normal = sorted(with_unpitched / f"tune{seed}.mid" for seed in (11, 12, 13))
    options = {"jobs": 1, "show_progress": False, "originality": False}
    report = analyze(with_unpitched, reference, **options)
    alone = analyze(normal, reference, **options)
    assert sorted((Path(p).name, r) for p, r in report.skipped) == [
        ("drums.mid", NO_PITCHED_NOTES),
        ("meta.mid", NO_PITCHED_NOTES),
    ]
    assert alone.skipped == []
    assert len(report.piece_records) == 3
    got = {row["measure"]: row["query"] for row in report.measure_table()}
    want = {row["measure"]: row["query"] for row in alone.measure_table()}
    assert set(got) == set(want)
    for name, value in want.items():
        assert (math.isnan(value) and math.isnan(got[name])) or got[name] == pytest.approx(value), name
    assert want["longest_copied_notes"] > 0


@pytest.mark.parametrize("name", ["bach-chorales", "essen", "oneills"])
def test_an_import_cannot_take_a_corpus_name(layout: Path, tmp_path: Path, name: str) -> None:
    """An import named bach-chorales stood in for the bundled chorales everywhere (the reference of
    analyze, the shipped checkpoint's training data: "dataset changed since bach-small was trained"),
    and one named essen was mixed into the next `dataset build essen`. Refused, nothing written."""
    with pytest.raises(DatasetError, match="name of a corpus"):
        build.import_folder(layout, name, root=tmp_path / "ds", jobs=1, show_progress=False)
    assert not (tmp_path / "ds").exists()


def test_a_build_never_writes_into_a_folder_that_holds_an_import(layout: Path, tmp_path: Path) -> None:
    """A folder under a corpus's name holding an imported dataset (made by an older version) was built
    into without a word: corpus files mixed with the user's. The build refuses, the folder unchanged."""
    out = tmp_path / "ds"
    build.import_folder(layout, "mine", root=out, jobs=1, show_progress=False)
    (out / "mine").rename(out / "essen")
    before = _tree(out / "essen")
    with pytest.raises(DatasetError, match="imported from"):
        build.build_dataset("essen", root=out, jobs=1, show_progress=False, max_files=1)
    assert _tree(out / "essen") == before


def test_analyze_says_which_files_it_read_with_repairs(tmp_path: Path) -> None:
    """analyze read a file cut off mid-download or with a note never released and said nothing (only
    dataset import listed repairs): report.json and the terminal summary list them."""
    import io

    from rich.console import Console

    from tests.test_midi_cases import MELODY, encode_track, notes, smf

    folder = tmp_path / "q"
    folder.mkdir()
    (folder / "unclosed.mid").write_bytes(smf(encode_track(notes(MELODY * 3)[:-1])))
    (folder / "fine.mid").write_bytes(smf(encode_track(notes(MELODY * 3))))
    report = analyze(folder, [_piece(_tune(3))], jobs=1, show_progress=False, originality=False)
    assert report.repaired == [("unclosed.mid", "track 0: 1 note never released, closed at the end of the track")]
    assert report.to_dict()["repaired"] == [{"piece": "unclosed.mid", "repairs": report.repaired[0][1]}]
    out = io.StringIO()
    report.print_summary(Console(file=out, width=200))
    assert "1 file(s) read with repairs" in out.getvalue()
