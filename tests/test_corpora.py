"""music21 conversion, dataset build/import/load and the committed bach-chorales (remixmusic.corpora)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from music21 import corpus
from typer.testing import CliRunner

from remixmusic.cli import app
from remixmusic.data import build, corpora, datasets
from remixmusic.data.splits import NearDuplicateRule, jaccard
from remixmusic.errors import DatasetError
from remixmusic.io import music21 as music21_io
from remixmusic.io.midi import piece_to_bytes, read_midi, write_midi
from remixmusic.music.notes import NOTE_DTYPE, Piece

REPOSITORY = Path(__file__).resolve().parents[1]


def _round_trip(piece: Piece, tmp_path: Path) -> Piece:
    return read_midi(write_midi(piece, tmp_path / "piece.mid"))


def _assert_same(piece: Piece, back: Piece) -> None:
    assert np.array_equal(piece.notes, back.notes)
    assert np.array_equal(piece.time_signatures, back.time_signatures)
    assert np.array_equal(piece.key_signatures, back.key_signatures)


def test_chorale_converts_with_voices_pickup_and_key(tmp_path: Path) -> None:
    score = corpus.parse("bach/bwv269")  # "Aus meines Herzens Grunde": G major, 3/4, one-beat pickup
    piece = music21_io.score_to_piece(score, title="Aus meines Herzens Grunde")
    assert len(piece.tracks) == 4
    assert [t.name for t in piece.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    stripped = score.stripTies()
    assert len(piece) == sum(len(p.flatten().notes) for p in stripped.parts)
    assert piece.key_signatures.tolist() == [(0, 7)]  # G major
    assert tuple(piece.time_signatures[0]) == (0, 3, 4)
    assert piece.notes["onset"].min() == 24  # the pickup is padded so bar lines fall on the downbeats
    _assert_same(piece, _round_trip(piece, tmp_path))


def test_essen_tune_without_meter_gets_its_bar_lengths_as_meter_changes(tmp_path: Path) -> None:
    """ballad10 X:1 is notated "M: none": its bars differ in length, so the meter map changes often."""
    score = corpus.parse("essenFolksong/ballad10", number=1)
    piece = music21_io.score_to_piece(score)
    assert len(piece.time_signatures) > 3
    measures = list(score.parts[0].getElementsByClass("Measure"))
    starts = set(piece.bar_starts().tolist())
    for measure in measures:  # every notated bar line is a bar line of the piece
        assert round(float(measure.offset) * 12) in starts
    _assert_same(piece, _round_trip(piece, tmp_path))


def test_oneills_tune_with_repeats_and_grace_notes(tmp_path: Path) -> None:
    score = corpus.parse("oneills1850/0001-0050", number=5)  # has repeat signs and grace notes
    piece = music21_io.score_to_piece(score)
    grace = [n for n in score.flatten().notes if n.duration.isGrace]
    assert piece.metadata["grace_notes_dropped"] == sum(len(n.pitches) for n in grace)
    assert len(piece) > 30
    assert piece.notes["duration"].min() >= 1
    _assert_same(piece, _round_trip(piece, tmp_path))


def test_the_same_chorale_melody_harmonized_twice_is_one_tune() -> None:
    """'O Haupt voll Blut und Wunden' (BWV 244.54) and 'Befiehl du deine Wege' (BWV 270, 271) share
    Hassler's melody; 'Aus meines Herzens Grunde' (BWV 269) does not."""
    rule = NearDuplicateRule()
    prints = [
        rule.fingerprint(music21_io.score_to_piece(corpus.parse(f"bach/{bwv}")))
        for bwv in ("bwv244.54", "bwv271", "bwv269")
    ]
    assert jaccard(prints[0], prints[1]) >= rule.threshold
    assert jaccard(prints[0], prints[2]) < 0.1
    assert rule.groups(prints).tolist() == [0, 0, 2]


# -- the committed dataset ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chorales() -> datasets.Dataset:
    return datasets.load_dataset("bach-chorales", root=REPOSITORY / "datasets")


def test_committed_bach_chorales_is_complete_and_intact(chorales: datasets.Dataset) -> None:
    assert len(chorales.manifest) >= build.CORPORA["bach-chorales"].minimum
    assert not chorales.header["failures"]
    assert datasets.verify_dataset(chorales) == []
    ids = [r["id"] for r in chorales.manifest]
    assert len(set(ids)) == len(ids)
    assert {r["split"] for r in chorales.manifest} == set(datasets.SPLITS)
    assert sum(len(chorales.files(s)) for s in datasets.SPLITS) == len(ids)
    size = sum(p.stat().st_size for p in chorales.root.rglob("*") if p.is_file())
    assert size < 2_000_000


def test_committed_splits_do_not_leak(chorales: datasets.Dataset) -> None:
    split_of_group: dict[str, str] = {}
    for record in chorales.manifest:
        assert split_of_group.setdefault(record["group"], record["split"]) == record["split"]
    by_id = {r["id"]: r for r in chorales.manifest}
    assert by_id["bwv244.54"]["group"] == by_id["bwv270"]["group"] == by_id["bwv271"]["group"]
    assert chorales.header["counts"]["multi_piece_groups"] > 20


def test_committed_manifest_matches_the_midi_files(chorales: datasets.Dataset) -> None:
    records = chorales.manifest[:5]
    for record in records:
        piece = read_midi(chorales.root / record["file"])
        assert len(piece) == record["n_notes"]
        assert piece.duration_seconds == pytest.approx(record["seconds"], abs=1e-3)
    pieces = chorales.pieces("test", jobs=1)
    assert [p.metadata["id"] for p in pieces] == [r["id"] for r in chorales.manifest if r["split"] == "test"]
    assert len(chorales.manifest_hash) == 64


def test_dataset_info_and_list_commands() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["dataset", "info", "bach-chorales", "--root", str(REPOSITORY / "datasets")])
    assert result.exit_code == 0, result.output
    assert "near-duplicate groups" in result.output
    assert "train" in result.output
    info = datasets.dataset_info("bach-chorales", root=REPOSITORY / "datasets")
    assert info.pieces == sum(info.splits.values()) >= 340
    assert 0.5 < info.hours < 10
    result = runner.invoke(app, ["dataset", "list", "--root", str(REPOSITORY / "datasets")])
    assert result.exit_code == 0 and "bach-chorales" in result.output


def test_dataset_root_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(datasets.ENV_ROOT, str(tmp_path))
    assert datasets.default_root() == tmp_path
    monkeypatch.delenv(datasets.ENV_ROOT)
    assert datasets.default_root() == REPOSITORY / "datasets"
    with pytest.raises(DatasetError, match="build it with"):
        datasets.load_dataset("essen", root=tmp_path)


# -- building and importing ---------------------------------------------------------------------------------


def test_build_resumes_after_an_interrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_map = build.parallel_map

    def interrupted(fn, items, *args, **kwargs):  # the first corpus file finishes, then Ctrl-C
        yield from real_map(fn, items[:1], *args, **kwargs)
        raise KeyboardInterrupt

    files = ["oneills1850/0626-0635.abc", "oneills1850/0731-0731.abc"]  # 10 tunes, then 1: quick
    monkeypatch.setitem(
        build.CORPORA, "tiny", corpora.CorpusSpec("tiny", "two small files", lambda: files, 11)
    )
    monkeypatch.setattr(build, "parallel_map", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build.build_dataset("tiny", root=tmp_path, jobs=1, show_progress=False)
    folder = tmp_path / "tiny"
    assert not (folder / datasets.MANIFEST).exists()  # an interrupted build never looks complete
    first = sorted((folder / "midi").glob("*.mid"))
    stamps = {p: p.stat().st_mtime_ns for p in first}
    monkeypatch.setattr(build, "parallel_map", real_map)
    report = build.build_dataset("tiny", root=tmp_path, jobs=1, show_progress=False)
    assert report.reused == len(first) > 0
    assert report.written > 0
    assert {p: p.stat().st_mtime_ns for p in first} == stamps
    dataset = datasets.load_dataset(folder)
    assert len(dataset.manifest) == report.reused + report.written
    assert dataset.manifest[0]["source"] == {"file": files[0], "tune": "626", "index": 1}
    assert dataset.manifest[-1]["source"] == {"file": files[1], "tune": "731"}  # a one-tune file
    assert not (folder / ".partial").exists()
    again = build.build_dataset(
        "tiny", root=tmp_path, jobs=1, show_progress=False, resume=False, max_files=1
    )
    assert len(again.dataset.manifest) == report.reused
    again = build.build_dataset("tiny", root=tmp_path, jobs=1, show_progress=False, resume=False)
    assert again.dataset.manifest_hash == dataset.manifest_hash  # deterministic
    kept = build.build_dataset("tiny", root=tmp_path, jobs=1, show_progress=False)  # complete: kept
    assert (kept.written, kept.reused) == (0, len(dataset.manifest))


def _simple_piece(pitches: list[int], velocity: int = 90) -> Piece:
    notes = np.zeros(len(pitches), NOTE_DTYPE)
    notes["onset"] = np.arange(len(pitches)) * 12
    notes["duration"] = 12
    notes["pitch"] = pitches
    notes["velocity"] = velocity
    return Piece(notes=notes)


def _tune(seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return (60 + np.cumsum(rng.integers(-4, 5, size=40))).clip(40, 90).tolist()


@pytest.fixture
def messy_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "my midi"
    (folder / "sub").mkdir(parents=True)
    write_midi(_simple_piece(_tune(1)), folder / "a.mid")
    write_midi(_simple_piece([p + 3 for p in _tune(1)]), folder / "sub" / "a transposed.mid")  # same tune
    write_midi(_simple_piece(_tune(2)), folder / "b.mid")
    data = piece_to_bytes(_simple_piece(_tune(3), velocity=100))
    assert data.count(b"\x64") >= 1
    (folder / "loud.mid").write_bytes(
        data.replace(bytes([0x90, _tune(3)[0], 100]), bytes([0x90, _tune(3)[0], 255]))
    )
    (folder / "corrupt.mid").write_bytes(piece_to_bytes(_simple_piece(_tune(4)))[:40])
    (folder / "empty.mid").write_bytes(b"")
    (folder / "notes.mid").write_text("these are not MIDI notes\n")
    return folder


def test_import_folder_processes_valid_files_and_lists_bad_ones(messy_folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "datasets"
    result = runner.invoke(app, ["dataset", "import", str(messy_folder), "mine", "-o", str(out), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert "skipped 3 file(s)" in result.output
    dataset = datasets.load_dataset("mine", root=out)
    assert sorted(r["id"] for r in dataset.manifest) == ["a", "b", "loud", "sub_a_transposed"]
    reasons = {Path(f["source"]).name: f["reason"] for f in dataset.header["failures"]}
    assert set(reasons) == {"corrupt.mid", "empty.mid", "notes.mid"}
    assert "empty" in reasons["empty.mid"] and "not a MIDI file" in reasons["notes.mid"]
    loud = next(r for r in dataset.manifest if r["id"] == "loud")
    assert loud["repairs"] and "repaired" in result.output
    by_id = {r["id"]: r for r in dataset.manifest}
    assert by_id["a"]["group"] == by_id["sub_a_transposed"]["group"] == "a"
    assert by_id["a"]["split"] == by_id["sub_a_transposed"]["split"]
    assert by_id["b"]["group"] == "b"
    assert datasets.verify_dataset(dataset) == []
    manifest = json.loads((out / "mine" / datasets.MANIFEST).read_text())
    assert manifest["counts"]["groups"] == 3 and manifest["counts"]["failures"] == 3


def test_import_strict_fails_on_bad_files_and_never_replaces_a_dataset_unasked(
    messy_folder: Path, tmp_path: Path
) -> None:
    """--strict fails on an unreadable file before anything is written: no dataset is made, and with
    --overwrite the existing one stays as it was (a failed --force leaves the old dataset intact)."""
    command = ["dataset", "import", str(messy_folder), "mine", "-o", str(tmp_path), "-j", "1"]
    result = CliRunner().invoke(app, [*command, "--strict"])
    assert result.exit_code == 1 and "nothing imported" in str(result.exception)
    assert not (tmp_path / "mine").exists()
    assert CliRunner().invoke(app, command).exit_code == 0
    manifest = (tmp_path / "mine" / datasets.MANIFEST).read_bytes()
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1 and "already exists" in str(result.exception)
    assert CliRunner().invoke(app, [*command, "--overwrite", "--strict"]).exit_code == 1
    assert (tmp_path / "mine" / datasets.MANIFEST).read_bytes() == manifest
    assert CliRunner().invoke(app, [*command, "--force"]).exit_code == 0


def test_import_rejects_a_folder_without_midi(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no readable MIDI"):
        build.import_folder(tmp_path / "empty", "nothing", root=tmp_path, show_progress=False)
    with pytest.raises(DatasetError, match="name"):
        build.import_folder(tmp_path / "empty", "../escape", root=tmp_path, show_progress=False)


def test_a_failed_import_with_overwrite_keeps_the_existing_dataset(
    messy_folder: Path, tmp_path: Path
) -> None:
    build.import_folder(messy_folder, "mine", root=tmp_path, jobs=1, show_progress=False)
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / "empty.mid").write_bytes(b"")
    with pytest.raises(DatasetError, match="no readable MIDI"):
        build.import_folder(unreadable, "mine", root=tmp_path, jobs=1, show_progress=False, overwrite=True)
    assert len(datasets.load_dataset("mine", root=tmp_path).manifest) == 4


# -- the big corpora, once built -------------------------------------------------------------------------


def _built(name: str) -> datasets.Dataset:
    try:
        return datasets.load_dataset(name, root=os.environ.get(datasets.ENV_ROOT) or datasets.default_root())
    except DatasetError:
        pytest.skip(f"{name} is not built (remixmusic dataset build {name})")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(build.CORPORA))
def test_built_corpus_is_complete_leak_free_and_round_trips(name: str) -> None:
    dataset = _built(name)
    assert len(dataset.manifest) >= build.CORPORA[name].minimum
    assert dataset.header["build"]["max_files"] is None
    assert (
        dataset.header["counts"]["pieces"] + len(dataset.header["failures"]) >= build.CORPORA[name].minimum
    )
    split_of_group: dict[str, str] = {}
    for record in dataset.manifest:
        assert split_of_group.setdefault(record["group"], record["split"]) == record["split"]
    assert datasets.verify_dataset(dataset) == []
    for piece in dataset.pieces(jobs=2):  # reading and writing again gives the same notes
        back = read_midi(write_midi(piece, Path(os.environ.get("TMPDIR", "/tmp")) / f"rt-{name}.mid"))
        assert np.array_equal(piece.notes, back.notes)


def test_bundled_datasets_are_found_when_the_default_root_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed wheel carries bach-chorales inside the package; it is searched after the default root."""
    bundled = tmp_path / "site-packages" / "remixmusic" / "_datasets"
    shutil.copytree(REPOSITORY / "datasets" / "bach-chorales", bundled / "bach-chorales")
    monkeypatch.setenv(datasets.ENV_ROOT, str(tmp_path / "datasets"))
    monkeypatch.setattr(datasets, "_BUNDLED", bundled)
    monkeypatch.setattr(datasets, "_checkout_root", lambda: None)  # a wheel: no source checkout
    assert datasets.search_roots() == [tmp_path / "datasets", bundled]
    assert datasets.list_datasets() == ["bach-chorales"]
    assert datasets.load_dataset("bach-chorales").root == bundled / "bach-chorales"


def test_build_of_an_unknown_corpus_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dataset", "build", "nope", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert isinstance(result.exception, DatasetError) and "choose one of" in str(result.exception)
