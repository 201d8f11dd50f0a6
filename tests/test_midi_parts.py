"""Program changes inside one part (found by a size tester): a channel that changes patch in the middle of
its melody is one part, not one track per program. Readers made one instrument per (file track, channel,
program): a melody with a patch change every few notes became tracks of a few notes each, too short to
analyse, and a copy across a change was cut in two."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.io.midi import midi_bytes_to_piece, piece_to_bytes
from remixmusic.io.parts import MAX_OVERLAP, merge_program_runs
from remixmusic.music.lines import extract_lines
from remixmusic.music.notes import Track
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index
from tests import test_match
from tests.test_match import _melody
from tests.test_midi_cases import encode_track, read_all, smf


def _patch_changing(pitches: list[int], every: int, programs: list[int], legato: int = 0) -> bytes:
    """One type-0 track on channel 1 playing ``pitches`` as quarter notes (480 ticks a beat), with a
    program change before every ``every``-th note, cycling through ``programs``; each note held
    ``legato`` ticks into the next."""
    events: list[tuple[int, bytes]] = [(0, b"\xff\x03\x04Lead")]
    for k, pitch in enumerate(pitches):
        if k % every == 0:
            events.append((480 * k, bytes([0xC0, programs[(k // every) % len(programs)]])))
        events.append((480 * k, bytes([0x90, pitch, 80])))
        events.append((480 * (k + 1) + legato, bytes([0x80, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] != 0x80, e[1][0] != 0xC0))
    return smf(encode_track(events), fmt=0)


MELODY = [62, 64, 66, 67, 69, 67, 66, 64, 62, 69, 71, 73, 74, 73, 71, 69, 67, 66, 64, 62, 61, 62, 64, 62]


@pytest.mark.parametrize("legato", [0, 60])
def test_a_melody_changing_patch_every_three_notes_is_one_part(legato):
    """Eight program runs of 3 notes (four programs, each used twice): one track, every note with the
    program in force at its note-on, and one line of all 24 notes. A legato touch (each note held an
    eighth of a beat into the next, across the changes) keeps it one part."""
    programs = [0, 40, 73, 19]
    piece = read_all(_patch_changing(MELODY, 3, programs, legato))
    assert piece.tracks == [Track(name="Lead", program=0, is_drum=False)]
    assert piece.notes["pitch"].tolist() == MELODY
    assert piece.notes["track"].tolist() == [0] * 24
    assert piece.notes["program"].tolist() == [programs[(k // 3) % 4] for k in range(24)]
    lines = extract_lines(piece)
    assert [len(line.notes) for line in lines] == [24]


def test_the_program_runs_are_written_back():
    """Written and read again: the same notes, programs and single track."""
    piece = read_all(_patch_changing(MELODY, 5, [0, 40]))
    again = midi_bytes_to_piece(piece_to_bytes(piece))
    np.testing.assert_array_equal(again.notes, piece.notes)
    assert again.tracks == piece.tracks
    assert set(again.notes["program"].tolist()) == {0, 40}


def test_two_instruments_of_one_name_playing_together_stay_apart():
    """One type-0 track named "Band": a melody on channel 1 (flute) over a held accompaniment on channel
    2 (strings): they sound together, so they are two parts, as before."""
    events: list[tuple[int, bytes]] = [(0, b"\xff\x03\x04Band"), (0, b"\xc0\x49"), (0, b"\xc1\x30")]
    for k, pitch in enumerate(MELODY[:16]):
        events += [(480 * k, bytes([0x90, pitch, 80])), (480 * k + 480, bytes([0x80, pitch, 0]))]
    for bar in range(4):
        events += [(1920 * bar, bytes([0x91, 50, 60])), (1920 * bar + 1920, bytes([0x81, 50, 0]))]
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80))
    piece = read_all(smf(encode_track(events), fmt=0))
    assert [(t.name, t.program) for t in piece.tracks] == [("Band", 73), ("Band", 48)]
    assert np.bincount(piece.notes["track"]).tolist() == [16, 4]


def test_a_patch_change_held_over_is_two_parts():
    """A chord held through a program change while the new patch plays over it (a pad under a lead on
    one channel): they sound together most of the time, so they stay apart."""
    events: list[tuple[int, bytes]] = [(0, b"\xc0\x58")]
    events += [(0, bytes([0x90, p, 60])) for p in (48, 52, 55)]
    events += [(480, b"\xc0\x51")]
    for k, pitch in enumerate(MELODY[:6]):
        events += [
            (480 + 240 * k, bytes([0x90, pitch + 12, 80])),
            (720 + 240 * k, bytes([0x80, pitch + 12, 0])),
        ]
    events += [(1920, bytes([0x80, p, 0])) for p in (48, 52, 55)]
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80))
    piece = read_all(smf(encode_track(events), fmt=0))
    assert sorted(t.program for t in piece.tracks) == [81, 88]


def test_a_copy_across_patch_changes_is_found_whole():
    """A reference tune played with a program change every 4 notes is that tune: analysed against the
    reference it is copied from it from its first note to its last."""
    reference = test_match.reference.__wrapped__(test_match.essen.__wrapped__())  # type: ignore[attr-defined]
    source = next(p for p in reference if len(_melody(p)) >= 24)
    pitches = _melody(source)["pitch"][:24].tolist()
    rows = _melody(source)[:24]
    events: list[tuple[int, bytes]] = [(0, b"\xff\x03\x06Melody")]
    for k, (pitch, onset, duration) in enumerate(
        zip(pitches, rows["onset"].tolist(), rows["duration"].tolist(), strict=True)
    ):
        tick = 40 * (onset - int(rows["onset"][0]))
        if k % 4 == 0:
            events.append((tick, bytes([0xC0, [0, 40][(k // 4) % 2]])))
        events += [(tick, bytes([0x90, pitch, 80])), (tick + 40 * duration, bytes([0x80, pitch, 0]))]
    events.sort(key=lambda e: (e[0], e[1][0] != 0x80, e[1][0] != 0xC0))
    query = midi_bytes_to_piece(smf(encode_track(events), fmt=0), source="query.mid")
    assert len(query.tracks) == 1
    report = analyze([query], Index.build(reference), jobs=1, show_progress=False, originality=False)
    copied = [p for p in report.passage_records if p.label == "copied"]
    assert any(p.start_note == 0 and p.end_note == 24 and source.source in p.sources for p in copied)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.data())
def test_merging_keeps_every_note_and_program_and_never_joins_parts_that_sound_together(data):
    n_tracks = data.draw(st.integers(1, 6))
    tracks = [
        Track(
            name=data.draw(st.sampled_from(["", "A"])),
            program=data.draw(st.integers(0, 3)),
            is_drum=data.draw(st.booleans()),
        )
        for _ in range(n_tracks)
    ]
    n = data.draw(st.integers(n_tracks, 30))
    track = np.array(
        list(range(n_tracks))
        + data.draw(st.lists(st.integers(0, n_tracks - 1), min_size=n - n_tracks, max_size=n - n_tracks)),
        np.int64,
    )
    onset = np.array(data.draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), np.int64)
    end = onset + np.array(data.draw(st.lists(st.integers(1, 12), min_size=n, max_size=n)), np.int64)
    parts, part, program = merge_program_runs(tracks, onset, end, track)
    assert program.tolist() == [tracks[t].program for t in track.tolist()]
    assert len(part) == n and len(parts) <= n_tracks
    for p in range(len(parts)):
        members = sorted(set(track[part == p].tolist()))
        assert len({tracks[t].program for t in members}) == len(members)
        assert {(tracks[t].name, tracks[t].is_drum) for t in members} == {(parts[p].name, parts[p].is_drum)}
        for a in members:
            for b in members:
                if a < b:  # two members sound together for at most the allowed share of the shorter
                    sa, sb = _sounding(onset, end, track == a), _sounding(onset, end, track == b)
                    assert len(sa & sb) <= MAX_OVERLAP * min(len(sa), len(sb))


def _sounding(onset: np.ndarray, end: np.ndarray, mask: np.ndarray) -> set[int]:
    return {t for s, e in zip(onset[mask].tolist(), end[mask].tolist(), strict=True) for t in range(s, e)}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 9)), max_size=30), st.lists(st.tuples(st.integers(0, 60), st.integers(1, 9)), max_size=30))
def test_the_overlap_of_two_interval_sets_is_the_time_both_cover(a, b):
    from remixmusic._util.arrays import interval_union
    from remixmusic.io.parts import _overlap

    sa = interval_union(np.array([s for s, _ in a], np.int64), np.array([s + d for s, d in a], np.int64))
    sb = interval_union(np.array([s for s, _ in b], np.int64), np.array([s + d for s, d in b], np.int64))
    cover_a = {t for s, d in a for t in range(s, s + d)}
    cover_b = {t for s, d in b for t in range(s, s + d)}
    assert _overlap(*sa, *sb) == len(cover_a & cover_b)


def test_unnamed_instruments_taking_turns_stay_apart():
    """Two unnamed tracks (as a piece written with programs has) that take turns were read back as one
    track, mixing a melody and a bass line (a code reviewer's find): without a name nothing says they are
    one part."""
    from remixmusic.music.notes import NOTE_DTYPE, Piece

    notes = np.zeros(16, NOTE_DTYPE)
    notes["onset"] = np.arange(16) * 12
    notes["duration"], notes["velocity"] = 12, 80
    notes["pitch"] = [72, 74, 76, 77] * 2 + [40, 43, 45, 47] * 2
    notes["track"] = [0] * 8 + [1] * 8
    notes["onset"][8:] += 96  # the bass plays after the melody
    notes["program"] = [73] * 8 + [33] * 8
    piece = Piece(notes=notes, tracks=[Track(program=73), Track(program=33)])
    again = midi_bytes_to_piece(piece_to_bytes(piece))
    assert [t.program for t in again.tracks] == [73, 33]
    np.testing.assert_array_equal(again.notes["track"], piece.notes["track"])


def test_an_unnamed_channel_changing_patch_is_one_part_and_its_neighbour_channel_another():
    """A type-0 file with no track name (as many files on the web are): channel 1's melody changes patch
    every 4 notes, channel 2's bass plays under it. The melody was four tracks of 4 notes (too short to
    analyse); the exact pass knows each run's file track and channel, so the runs of one channel are one
    part, and the bass, of another channel, stays its own, by every reader."""
    melody = [60, 62, 64, 65, 67, 69, 71, 72, 74, 72, 71, 69, 67, 65, 64, 62]
    events = [(0, b"\xc1\x20")]
    for i, pitch in enumerate(melody):
        if i % 4 == 0:
            events.append((480 * i, bytes([0xC0, 8 * (i // 4)])))
        events += [(480 * i, bytes([0x90, pitch, 80])), (480 * i + 480, bytes([0x80, pitch, 0]))]
    for i in range(8):
        events += [(960 * i, b"\x91\x24\x46"), (960 * i + 960, b"\x81\x24\x00")]
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))
    piece = read_all(smf(encode_track(events), fmt=0))
    assert [(t.name, t.program) for t in piece.tracks] == [("", 0), ("", 32)]
    first = piece.notes[piece.notes["track"] == 0]
    assert first["pitch"].tolist() == melody
    assert first["program"].tolist() == [8 * (i // 4) for i in range(16)]
    assert piece.notes[piece.notes["track"] == 1]["pitch"].tolist() == [36] * 8
    # written as one instrument per program, named for the part so that it reads back as one
    again = midi_bytes_to_piece(piece_to_bytes(piece))
    assert again.notes["program"].tolist() == piece.notes["program"].tolist()
    np.testing.assert_array_equal(again.notes["track"], piece.notes["track"])
    assert [t.name for t in again.tracks] == ["part 1", ""]
