"""The byte screen's lean walk of a track (note-ons and program changes only) against the exact pass's
full walk, and the files whose routing it changes (a large track that sets its own program first)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remixmusic.io.smf import encode_track, split_chunks, track_chunk, vlq
from remixmusic.io.smf_repair import NO_PROGRAM, walk_track
from remixmusic.io.smf_screen import SMALL_TRACK, _notes_and_programs, _program_first, screen
from tests.test_midi_cases import load_benchmark, notes, read_all, smf


def _track(r: random.Random) -> bytes:
    """Random track bytes: notes, note-offs, program changes, controllers, running status, names, ports
    (FF 21), system exclusive messages (some with wrong lengths), system messages, stray data bytes,
    data bytes above 127, cut-off ends."""
    out, status = bytearray(), 0
    for _ in range(r.randint(0, 40)):
        out += vlq(r.choice([0, 0, 1, 96, 480, 3000, 20000]))
        channel, k = r.choice([0, 1, 2, 9]), r.random()
        if k < 0.35:
            event = bytes([0x90 | channel, r.randint(0, 127), r.choice([0, 64, 127, 200])])
        elif k < 0.55:
            event = bytes([0x80 | channel, r.randint(0, 127), 0])
        elif k < 0.7:
            event = bytes([0xC0 | channel, r.randint(0, 127)])
        elif k < 0.78:
            event = bytes([0xB0 | channel, r.randint(0, 127), r.randint(0, 127)])
        elif k < 0.83:
            event = b"\xff\x21\x01" + bytes([r.randint(0, 2)])
        elif k < 0.87:
            body = bytes([0x41, 0x10, 0x42, 0x12]) + (b"\xf7" if r.random() < 0.8 else b"\x90\x40")
            event = b"\xf0" + vlq(len(body) + r.choice([0, 0, -1, 1])) + body
        elif k < 0.9:
            event = bytes([r.choice([0xF1, 0xF8, 0xFE, 0xF7])])
        elif k < 0.93:
            event = bytes([r.randint(0, 127)])  # a stray data byte
        else:
            name = r.choice([b"Piano", b"", b"\x90\x40\x40"])
            event = b"\xff\x03" + vlq(len(name)) + name
        running = r.random() < 0.4 and event[0] == status
        out += event[1:] if running else event
        status = event[0] if 0x80 <= event[0] < 0xF0 else status
    if r.random() < 0.8:
        out += b"\x00\xff\x2f\x00"
    elif out:
        del out[r.randrange(len(out)) :]
    return bytes(out)


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_the_lean_walk_finds_the_notes_and_programs_of_the_full_walk(seed):
    track = _track(random.Random(seed))
    walked = walk_track(track)
    found_notes, found_programs = _notes_and_programs(track)
    assert found_notes == set(walked.notes)
    assert found_programs == {channel for _, channel, _ in walked.programs}
    unset = {channel % 16 for channel, program in walked.notes if program == NO_PROGRAM}
    for channel in range(16):
        first = _program_first(track, channel)
        if first is not None:  # no port event, no unusual event: it must say what the full walk says
            assert first == (channel not in unset)


def test_the_lean_walk_reads_every_track_of_a_pop_file_as_the_full_walk():
    pop = load_benchmark().pop_song
    for seed in range(4):
        for track in split_chunks(pop(seed, quirks=True), None).tracks:
            walked = walk_track(track)
            assert _notes_and_programs(track) == (set(walked.notes), {c for _, c, _ in walked.programs})


def _big_track(program_first: bool) -> bytes:
    """A track of channel 0 longer than the screen's small-track bound, with its program change before
    its notes or after its first note."""
    events = notes([60, 62, 64, 65] * 200, length=120)
    change = (0 if program_first else 60, b"\xc0\x28")  # violin: before the first note, or during it
    return encode_track([(0, b"\xff\x03\x06Violin"), *sorted([change, *events], key=lambda e: e[0])])


@pytest.mark.parametrize("program_first", [True, False])
def test_a_large_track_that_sets_its_own_program_first_is_read_fast_and_right(program_first):
    """Another track sets channel 0's program (a setup track); the large track sets its own before its
    notes: the fast reader gives every note that program, as the exact pass does, so the screen lets the
    file through (it walked only small tracks before). Notes before the track's own program change take
    the setup track's: the exact pass reads that file."""
    setup = track_chunk(b"\x00\xff\x03\x05Setup\x00\xc0\x00\x00\xff\x2f\x00")
    big = _big_track(program_first)
    assert len(big) - 8 > SMALL_TRACK
    data = smf(setup, big)
    found = screen(split_chunks(data, None))
    assert (found.problem is None) == program_first
    piece = read_all(data)  # every reader agrees
    programs = piece.notes["program"].tolist()
    if program_first:
        assert set(programs) == {40}
    else:
        assert programs[0] == 0 and set(programs[1:]) == {40}
