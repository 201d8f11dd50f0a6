"""Descriptors checked against values computed by hand on tiny pieces."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.evaluation.descriptors import (
    DESCRIPTORS,
    compare,
    describe,
    describe_pieces,
    groove_consistency,
    overlapping_area,
)
from remixmusic.music.notes import NOTE_DTYPE, Piece, Track


def make_piece(rows: list[tuple[int, int, int]], drums: list[tuple[int, int, int]] = ()) -> Piece:
    """Notes from (onset, duration, pitch) rows; ``drums`` rows become drum notes."""
    notes = np.zeros(len(rows) + len(drums), NOTE_DTYPE)
    for i, (onset, duration, pitch) in enumerate([*rows, *drums]):
        notes[i] = (onset, duration, pitch, 80, 0, 0, i >= len(rows), 0)
    return Piece(notes=notes)


# C4+E4 on beat 1, G4 on beat 2, nothing on beat 3, C5 on beat 4 (one 4/4 bar, 48 steps).
TRIAD = make_piece([(0, 12, 60), (0, 12, 64), (12, 12, 67), (36, 12, 72)])


def test_hand_computed_values() -> None:
    d = describe(TRIAD)
    assert d["n_notes"] == 4 and d["n_bars"] == 1
    assert d["pitch_range"] == 12
    assert d["n_pitches"] == 4
    assert d["n_pitch_classes"] == 3
    # pitch classes C, C, E, G -> p = (1/2, 1/4, 1/4) -> 0.5 + 0.5 + 0.5 bits
    assert d["pitch_class_entropy"] == pytest.approx(1.5)
    assert d["scale_consistency"] == 1.0
    # sounding pitches: 2 for 12 steps, 1 for 12 steps, 0 for 12 steps, 1 for 12 steps
    assert d["polyphony"] == pytest.approx(48 / 36)
    assert d["polyphony_rate"] == pytest.approx(12 / 48)
    assert d["empty_beat_rate"] == pytest.approx(1 / 4)
    assert d["note_density"] == pytest.approx(1.0)
    assert math.isnan(d["groove_consistency"])  # one bar: no neighbouring bars to compare
    assert list(d) == list(DESCRIPTORS)


def test_drums_count_for_rhythm_only() -> None:
    d = describe(make_piece([(0, 12, 60), (0, 12, 64), (12, 12, 67), (36, 12, 72)], drums=[(24, 3, 36)]))
    assert d["pitch_range"] == 12 and d["n_pitches"] == 4  # the drum's pitch 36 is a sound, not a pitch
    assert d["polyphony_rate"] == pytest.approx(12 / 48)
    assert d["empty_beat_rate"] == 0.0  # the kick fills beat 3
    assert d["n_notes"] == 5


def test_scale_consistency_of_chromatic_scale() -> None:
    d = describe(make_piece([(12 * i, 12, 60 + i) for i in range(12)]))
    assert d["scale_consistency"] == pytest.approx(7 / 12)
    assert d["pitch_class_entropy"] == pytest.approx(math.log2(12))


def test_groove_consistency_hand_computed() -> None:
    # Bar 1 onsets on all four beats, bar 2 on beats 1 and 3: two of 48 slots differ.
    piece = make_piece([(0, 12, 60), (12, 12, 62), (24, 12, 64), (36, 12, 65), (48, 24, 67), (72, 24, 65)])
    assert groove_consistency(piece) == pytest.approx(1 - 2 / 48)
    same = make_piece([(0, 12, 60), (24, 12, 62), (48, 12, 64), (72, 12, 65), (96, 12, 60), (120, 12, 62)])
    assert groove_consistency(same) == 1.0


def test_empty_piece_is_all_nan_but_counts() -> None:
    d = describe(Piece())
    assert d["n_notes"] == 0 and d["n_bars"] == 0
    assert all(math.isnan(d[k]) for k in DESCRIPTORS if k not in ("n_notes", "n_bars"))


note_rows = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 40), st.integers(30, 90)), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(note_rows, st.integers(-12, 12))
def test_ranges_and_transposition_invariance(rows, shift) -> None:
    piece = make_piece(rows)
    d = describe(piece)
    assert 1 <= d["n_pitch_classes"] <= 12 and d["n_pitch_classes"] <= d["n_pitches"]
    assert 0 <= d["pitch_class_entropy"] <= math.log2(12) + 1e-9
    assert 7 / 12 - 1e-9 <= d["scale_consistency"] <= 1
    for key in ("polyphony_rate", "empty_beat_rate"):
        assert 0 <= d[key] <= 1
    assert d["polyphony"] >= 1
    moved = describe(piece.transpose(shift))
    for key in DESCRIPTORS:
        assert moved[key] == pytest.approx(d[key], nan_ok=True), key


def test_folder_aggregate_and_overlap(tmp_path) -> None:
    from remixmusic.evaluation.descriptors import describe_folder
    from remixmusic.io.midi import write_midi

    write_midi(TRIAD, tmp_path / "a.mid")
    write_midi(TRIAD.transpose(2), tmp_path / "b.mid")
    (tmp_path / "bad.mid").write_bytes(b"not midi")
    stats = describe_folder(tmp_path, jobs=1, show_progress=False)
    assert len(stats.files) == 2
    assert [p for p, _ in stats.skipped] == [str(tmp_path / "bad.mid")]
    assert stats.mean["pitch_range"] == 12 and stats.std["pitch_range"] == 0
    assert math.isnan(stats.mean["groove_consistency"])
    json.dumps(stats.to_dict(), allow_nan=False)  # NaN must not reach JSON

    other = describe_pieces([make_piece([(0, 6, 60 + i)]) for i in range(3)])
    assert compare(stats, stats)["pitch_range"] == 1.0
    assert compare(stats, other)["pitch_range"] == 0.0


def test_overlapping_area() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 400)
    assert overlapping_area(a, a) == pytest.approx(1.0, abs=1e-3)
    assert overlapping_area(a, a + 20) < 1e-3
    assert 0.5 < overlapping_area(a, a + 0.5) < 0.9


def test_stats_cli(tmp_path) -> None:
    from typer.testing import CliRunner

    from remixmusic.cli import app
    from remixmusic.io.midi import write_midi

    for name, piece in (("a", TRIAD), ("b", TRIAD.transpose(-3))):
        write_midi(piece, tmp_path / "gen" / f"{name}.mid")
    write_midi(TRIAD, tmp_path / "ref" / "c.mid")
    runner = CliRunner()
    result = runner.invoke(app, ["stats", str(tmp_path / "gen"), "--json", "-j", "1"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["folders"][0]["n_files"] == 2
    assert payload["folders"][0]["mean"]["pitch_range"] == 12
    table = runner.invoke(
        app, ["stats", str(tmp_path / "gen"), "--compare", str(tmp_path / "ref"), "-j", "1"]
    )
    assert table.exit_code == 0, table.output
    assert "pitch_class_entropy" in table.stdout and "overlap" in table.stdout
    said = " ".join(table.stdout.split())
    assert "overlap: the overlapping area" in said and "no pitch descriptors" not in said  # none lacks notes
    drums = TRIAD.notes.copy()
    drums["is_drum"] = True
    write_midi(Piece(drums, [Track(is_drum=True)]), tmp_path / "gen" / "drums.mid")
    said = " ".join(runner.invoke(app, ["stats", str(tmp_path / "gen"), "-j", "1"]).stdout.split())
    assert "1 file(s) without pitched notes have no pitch descriptors" in said


def test_a_folder_without_readable_midi_is_a_one_line_error(tmp_path) -> None:
    from typer.testing import CliRunner

    from remixmusic.cli import app
    from remixmusic.errors import RemixError

    (tmp_path / "notes.mid").write_text("not midi")
    result = CliRunner().invoke(app, ["stats", str(tmp_path)])
    assert isinstance(result.exception, RemixError)
    assert "no readable MIDI files (1 unreadable: " in str(result.exception)
    assert str(result.exception).endswith("notes.mid: not a MIDI file (no MThd header))")


def _dense_descriptors(piece: Piece) -> dict[str, float]:
    """Polyphony, empty beats and groove from step-by-step arrays (the definitions read literally): the
    reference the sparse computation must equal."""
    notes, end = piece.notes, piece.end
    pitched = notes[~notes["is_drum"]]
    roll = np.zeros((end + 1, 128), np.int64)
    np.add.at(roll, (pitched["onset"], pitched["pitch"]), 1)
    np.add.at(roll, (pitched["onset"] + pitched["duration"], pitched["pitch"]), -1)
    voices = (np.cumsum(roll[:end], axis=0) > 0).sum(axis=1)
    sounding = np.zeros(end + 1, np.int64)
    np.add.at(sounding, notes["onset"], 1)
    np.add.at(sounding, notes["onset"] + notes["duration"], -1)
    n_beats = -(-end // 12)
    beats = np.zeros(n_beats * 12, bool)
    beats[:end] = np.cumsum(sounding[:end]) > 0
    starts = piece.bar_starts(end)
    bounds = np.append(starts, max(end, int(starts[-1]) + 1))
    width = int(np.diff(bounds).max())
    bar = np.searchsorted(starts, notes["onset"], side="right") - 1
    grooves = np.zeros((len(starts), width), bool)
    grooves[bar, notes["onset"] - starts[bar]] = True
    out = {
        "polyphony": float(voices[voices > 0].mean()) if (voices > 0).any() else math.nan,
        "polyphony_rate": float((voices >= 2).sum() / end),
        "empty_beat_rate": float(1 - beats.reshape(n_beats, 12).any(axis=1).mean()),
        "groove_consistency": float(1 - (grooves[:-1] != grooves[1:]).sum(axis=1).mean() / width)
        if len(starts) >= 2 else math.nan,
        "n_bars": float(len(starts)),
    }
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(1, 60), st.integers(58, 66), st.booleans()), min_size=1, max_size=25),
    st.lists(st.tuples(st.integers(1, 300), st.sampled_from([(3, 4), (2, 4), (6, 8), (5, 8), (7, 16)])), max_size=3),
)
def test_sparse_descriptors_equal_the_step_by_step_definitions(rows, meters):
    """Polyphony, empty beats, groove and bar counts are computed from note boundaries (their cost follows
    the notes, not the span: a note 10^8 steps out once took 51 GiB); they equal the definitions read step
    by step, under overlapping same-pitch notes, drums and meter changes."""
    from remixmusic.music.notes import TIME_SIGNATURE_DTYPE

    notes = np.zeros(len(rows), NOTE_DTYPE)
    for i, (onset, duration, pitch, drum) in enumerate(rows):
        notes[i] = (onset, duration, pitch, 80, 0, 0, drum, 0)
    ts = np.array(sorted({o: (o, n, d) for o, (n, d) in meters}.values()), TIME_SIGNATURE_DTYPE)
    piece = Piece(notes=notes, time_signatures=ts)
    got, want = describe(piece), _dense_descriptors(piece)
    for key, value in want.items():
        if key.startswith("polyphony") and notes["is_drum"].all():
            continue
        assert got[key] == pytest.approx(value, nan_ok=True), key


def test_a_note_far_out_costs_nothing():
    """A note 1.6e9 steps out (a delta time of 2^27 ticks at 1 tick a beat, inside the reader's limits):
    the descriptors come back at once instead of allocating 51 GiB."""
    piece = make_piece([(0, 12, 60), (12, 12, 64), (1_600_000_000, 12, 67)])
    d = describe(piece)
    assert d["n_bars"] == pytest.approx(1_600_000_012 / 48, abs=1)
    assert d["empty_beat_rate"] == pytest.approx(1 - 3 / (1_600_000_012 / 12))
    assert d["polyphony"] == 1.0
