import os
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.errors import MidiError
from remixmusic.io import folders
from remixmusic.io.folders import clear_cache, find_midi_files, read_folder
from remixmusic.io.midi import MidiRepairWarning, normalize_notes, piece_to_bytes, read_midi, write_midi
from remixmusic.music.notes import (
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Piece,
    Track,
)

TRACKS = [Track("piano", 0, False), Track("strings", 48, False), Track("drums", 0, True)]


@st.composite
def pieces(draw):
    n = draw(st.integers(0, 60))
    ints = lambda lo, hi: st.lists(st.integers(lo, hi), min_size=n, max_size=n)  # noqa: E731
    notes = np.zeros(n, NOTE_DTYPE)
    notes["onset"] = draw(ints(0, 2000))
    notes["duration"] = draw(ints(1, 100))
    notes["pitch"] = draw(ints(0, 127))
    notes["velocity"] = draw(ints(1, 127))
    notes["track"] = draw(ints(0, 2))
    notes["program"] = np.array([0, 48, 0])[notes["track"]]
    notes["is_drum"] = notes["track"] == 2
    meters = draw(
        st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 12), st.sampled_from([2, 4, 8])), max_size=3)
    )
    tempos = draw(
        st.lists(st.tuples(st.integers(0, 2000), st.sampled_from([60.0, 90.0, 120.0, 150.0])), max_size=3)
    )
    keys = draw(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 23)), max_size=2))
    dedupe = lambda events: list({e[0]: e for e in events}.values())  # noqa: E731
    return Piece(
        notes=normalize_notes(notes),
        tracks=TRACKS,
        time_signatures=np.array(dedupe(meters), TIME_SIGNATURE_DTYPE),
        tempos=np.array(dedupe(tempos), TEMPO_DTYPE),
        key_signatures=np.array(dedupe(keys), KEY_SIGNATURE_DTYPE),
    )


@settings(max_examples=60, deadline=None)
@given(pieces())
def test_write_then_read_is_identity_on_normalized_pieces(tmp_path_factory, piece):
    path = tmp_path_factory.mktemp("rt") / "p.mid"
    write_midi(piece, path)
    back = read_midi(path)
    expected = piece.drop_empty_tracks()
    assert np.array_equal(back.notes, expected.notes)
    assert back.tracks == expected.tracks
    assert np.array_equal(back.meter_map(), piece.meter_map())
    assert np.array_equal(back.key_signatures, piece.key_signatures)
    assert np.array_equal(back.tempo_map()["onset"], piece.tempo_map()["onset"])
    assert np.allclose(back.tempo_map()["qpm"], piece.tempo_map()["qpm"], rtol=1e-4)


def test_normalize_merges_duplicates_and_cuts_same_pitch_overlaps():
    notes = np.zeros(4, NOTE_DTYPE)
    notes["onset"] = [0, 0, 6, 6]
    notes["duration"] = [4, 12, 12, 3]
    notes["pitch"] = [60, 60, 60, 64]
    notes["velocity"] = 90
    out = normalize_notes(notes)
    assert out[["onset", "pitch", "duration"]].tolist() == [(0, 60, 6), (6, 60, 12), (6, 64, 3)]


def _normalize_reference(notes: np.ndarray) -> list[tuple]:
    """normalize_notes written plainly: per (track, pitch, onset) the longest note (then the loudest),
    each cut at the next onset of its track and pitch; sorted by onset, track, pitch."""
    best: dict[tuple, tuple] = {}
    for n in notes.tolist():
        onset, duration, pitch, velocity, track = n[:5]
        key = (track, pitch, onset)
        if key not in best or (duration, velocity) > (best[key][1], best[key][3]):
            best[key] = n
    kept = sorted(best.values(), key=lambda n: (n[4], n[2], n[0]))
    out = []
    for i, n in enumerate(kept):
        after = kept[i + 1] if i + 1 < len(kept) else None
        if after is not None and (after[4], after[2]) == (n[4], n[2]) and n[0] + n[1] > after[0]:
            n = (n[0], after[0] - n[0], *n[2:])
        out.append(tuple(n))
    return sorted(out, key=lambda n: (n[0], n[4], n[2]))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_normalize_notes_matches_a_plain_reference(data):
    n = data.draw(st.integers(0, 40))
    notes = np.zeros(n, NOTE_DTYPE)
    wide = data.draw(st.booleans())  # also values no file gives (negative onsets, pitches past 127)
    lo, hi = (-3000, 3000) if wide else (0, 40)
    for field, values in [
        ("onset", st.integers(lo, hi)),
        ("duration", st.integers(1, 30)),
        ("pitch", st.integers(-5, 200) if wide else st.integers(58, 62)),
        ("velocity", st.integers(1, 127)),
        ("track", st.integers(0, 2)),
    ]:
        notes[field] = data.draw(st.lists(values, min_size=n, max_size=n))
    notes["program"] = notes["track"] * 10
    assert normalize_notes(notes).tolist() == _normalize_reference(notes)
    assert normalize_notes(notes[::-1].copy()).tolist() == _normalize_reference(notes)  # order-free


def test_zero_length_and_unquantized_notes_are_quantized(tmp_path):
    import mido

    track = mido.MidiTrack(
        [
            mido.Message("note_on", note=60, velocity=64, time=0),
            mido.Message("note_off", note=60, velocity=0, time=0),  # zero length
            mido.Message("note_on", note=62, velocity=64, time=49),  # slightly late eighth
            mido.Message("note_off", note=62, velocity=0, time=46),
        ]
    )
    mido.MidiFile(ticks_per_beat=96, tracks=[track]).save(tmp_path / "x.mid")
    piece = read_midi(tmp_path / "x.mid")
    assert piece.notes[["onset", "duration", "pitch"]].tolist() == [(0, 1, 60), (6, 6, 62)]


def test_bad_files_raise_one_typed_error(tmp_path):
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "text.mid").write_text("this is not MIDI")
    good = piece_to_bytes(Piece(notes=_scale_notes()))
    (tmp_path / "trunc.mid").write_bytes(good[:18])  # cut before its first track: nothing to read
    for name, reason in [("empty.mid", "empty"), ("text.mid", "not a MIDI"), ("trunc.mid", "truncated")]:
        with pytest.raises(MidiError) as info:
            read_midi(tmp_path / name)
        assert reason in info.value.reason
        assert info.value.path.endswith(name)
    with pytest.raises(MidiError, match="no such file"):
        find_midi_files(tmp_path / "missing")


def _scale_notes() -> np.ndarray:
    notes = np.zeros(8, NOTE_DTYPE)
    notes["onset"] = np.arange(8) * 12
    notes["duration"] = 12
    notes["pitch"] = [60, 62, 64, 65, 67, 69, 71, 72]
    notes["velocity"] = 100
    return notes


def velocity_255_bytes() -> bytes:
    """A valid file whose first note-on velocity byte is patched to 255, as seen in real files."""
    data = bytearray(piece_to_bytes(Piece(notes=_scale_notes())))
    at = data.index(bytes([0x90, 60, 100]))
    data[at + 2] = 0xFF
    return bytes(data)


def test_velocity_255_is_repaired_with_a_warning(tmp_path):
    (tmp_path / "v.mid").write_bytes(velocity_255_bytes())
    with pytest.warns(MidiRepairWarning):
        piece = read_midi(tmp_path / "v.mid")
    assert piece.notes["velocity"][0] == 127
    assert len(piece) == 8
    assert piece.metadata["repairs"]


def test_read_folder_skips_bad_files_and_caches(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    write_midi(Piece(notes=_scale_notes()), data / "good.mid")
    (data / "sub").mkdir()
    write_midi(Piece(notes=_scale_notes()[:3]), data / "sub" / "good2.MID")
    (data / "empty.mid").write_bytes(b"")
    (data / "v255.mid").write_bytes(velocity_255_bytes())
    (data / "notes.txt").write_text("ignored: not a MIDI suffix")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = read_folder(data, jobs=1, cache_dir=tmp_path / "cache", show_progress=False)
    assert sorted(len(p) for p in first.pieces) == [3, 8, 8]
    assert [s[0].split("/")[-1] for s in first.skipped] == ["empty.mid"]
    assert [r[0].split("/")[-1] for r in first.repaired] == ["v255.mid"]
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    again = read_folder(data, jobs=1, cache_dir=tmp_path / "cache", show_progress=False)
    assert [p.source for p in again.pieces] == [p.source for p in first.pieces]
    assert all(np.array_equal(a.notes, b.notes) for a, b in zip(again.pieces, first.pieces, strict=True))
    # Any content change re-parses instead of serving a stale cache.
    write_midi(Piece(notes=_scale_notes()[:5]), data / "good.mid")
    changed = read_folder(data, jobs=1, cache_dir=tmp_path / "cache", show_progress=False)
    assert sorted(len(p) for p in changed.pieces) == [3, 5, 8]


def test_parse_cache_is_bounded_and_evicts_the_least_recently_used(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    inputs = []
    for k in range(3):
        (tmp_path / f"in{k}").mkdir()
        write_midi(Piece(notes=_scale_notes()[: 4 + k]), tmp_path / f"in{k}" / "a.mid")
        inputs.append(tmp_path / f"in{k}")

    def read(k: int) -> set[str]:
        read_folder(inputs[k], jobs=1, cache_dir=cache, show_progress=False)
        return {p.name for p in cache.glob("pieces-*.npz")}

    first = read(0)
    size = max(p.stat().st_size for p in cache.glob("*.npz"))
    monkeypatch.setenv("REMIXMUSIC_CACHE_MAX_MB", str(2.5 * size / 2**20))  # room for two entries
    both = read(1)
    assert len(both) == 2
    now = time.time()
    for age, name in enumerate(sorted(both, key=lambda n: n in first)):  # entry 1 newer than entry 0
        os.utime(cache / name, (now - 100 + age, now - 100 + (1 - age)))
    assert read(0) == both  # a hit: entry 0 is now the most recently used
    after = read(2)
    assert len(after) == 2 and first <= after and not (both - first) & after  # entry 1 evicted
    monkeypatch.setenv("REMIXMUSIC_CACHE_MAX_MB", "0")
    assert len(read(1)) == 1  # only the entry just written stays
    assert clear_cache(cache) == 1 and not list(cache.glob("*.npz"))


def test_a_bad_cache_limit_warns_and_keeps_the_default(monkeypatch):
    monkeypatch.setenv("REMIXMUSIC_CACHE_MAX_MB", "lots")
    with pytest.warns(UserWarning, match="REMIXMUSIC_CACHE_MAX_MB"):
        assert folders.cache_limit_bytes() == 1024 * 2**20


def test_a_reader_failure_costs_one_file_never_the_folder(tmp_path, monkeypatch):
    write_midi(Piece(notes=_scale_notes()), tmp_path / "good.mid")
    write_midi(Piece(notes=_scale_notes()), tmp_path / "odd.mid")
    real = folders.read_midi

    def flaky(path):
        if str(path).endswith("odd.mid"):
            raise RuntimeError("unexpected\nsecond line")
        return real(path)

    monkeypatch.setattr(folders, "read_midi", flaky)
    result = read_folder(tmp_path, jobs=1, cache=False, show_progress=False)
    assert len(result.pieces) == 1
    assert [(p.rsplit("/", 1)[1], r) for p, r in result.skipped] == [("odd.mid", "unreadable (RuntimeError: unexpected)")]


def test_bar_and_time_maps():
    ts = np.array([(0, 3, 4), (72, 6, 8)], TIME_SIGNATURE_DTYPE)
    piece = Piece(notes=_scale_notes(), time_signatures=ts, tempos=np.array([(0, 60.0)], TEMPO_DTYPE))
    assert piece.bar_starts(120).tolist() == [0, 36, 72, 108]
    assert piece.bar_of(np.array([0, 35, 36, 80])).tolist() == [0, 0, 1, 2]
    assert piece.seconds(24) == pytest.approx(2.0)
    assert piece.transpose(2).notes["pitch"][0] == 62
    with pytest.raises(ValueError):
        piece.transpose(100)


def test_type0_multichannel_file_with_drums_and_meter_change(tmp_path):
    import mido

    track = mido.MidiTrack(
        [
            mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
            mido.MetaMessage("set_tempo", tempo=500000, time=0),
            mido.Message("program_change", channel=0, program=40, time=0),
            mido.Message("note_on", channel=0, note=64, velocity=70, time=0),
            mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
            mido.Message("note_off", channel=9, note=36, velocity=0, time=100),
            mido.Message("note_off", channel=0, note=64, velocity=0, time=20),
            mido.MetaMessage("time_signature", numerator=6, denominator=8, time=240),
            mido.Message("note_on", channel=0, note=67, velocity=70, time=0),
            mido.Message("note_off", channel=0, note=67, velocity=0, time=60),
        ]
    )
    mido.MidiFile(type=0, ticks_per_beat=120, tracks=[track]).save(tmp_path / "t0.mid")
    piece = read_midi(tmp_path / "t0.mid")
    assert sorted((t.program, t.is_drum) for t in piece.tracks) == [(0, True), (40, False)]
    # Tracks follow (file track, channel, program): channel 1 (program 40) before channel 10 (drums).
    assert [(t.program, t.is_drum) for t in piece.tracks] == [(40, False), (0, True)]
    assert sorted(piece.notes[["onset", "duration", "pitch", "is_drum"]].tolist()) == [
        (0, 10, 36, True),
        (0, 12, 64, False),
        (36, 6, 67, False),
    ]
    assert piece.meter_map()[["onset", "numerator", "denominator"]].tolist() == [(0, 3, 4), (36, 6, 8)]


def test_meters_finer_than_the_grid_are_dropped(tmp_path):
    import mido

    track = mido.MidiTrack(
        [
            mido.MetaMessage("time_signature", numerator=1, denominator=64, time=0),
            mido.Message("note_on", note=60, velocity=64, time=0),
            mido.Message("note_off", note=60, velocity=0, time=96),
        ]
    )
    mido.MidiFile(ticks_per_beat=96, tracks=[track]).save(tmp_path / "m.mid")
    piece = read_midi(tmp_path / "m.mid")
    assert len(piece.time_signatures) == 0
    assert piece.n_bars == 1


def test_bar_of_agrees_with_bar_starts_and_ignores_how_far_out_a_step_is():
    ts = np.array([(0, 3, 4), (60, 6, 8), (100, 2, 2)], TIME_SIGNATURE_DTYPE)
    piece = Piece(notes=_scale_notes(), time_signatures=ts)
    steps = np.arange(0, 400)
    expected = np.searchsorted(piece.bar_starts(400), steps, side="right") - 1
    assert piece.bar_of(steps).tolist() == expected.tolist()
    # Two bars start in each of the first two segments (0, 36 and 60, 96), then 2/2 bars of 48 steps.
    assert piece.bar_of(np.array([2_000_000_000])).tolist() == [4 + (2_000_000_000 - 100) // 48]
    assert piece.bar_of(np.array([], np.int64)).tolist() == []
