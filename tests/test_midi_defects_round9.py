"""MIDI files of kinds a held-out tester (round 8) left open: a track written with the running status of
the track before it (a writer that did not restate it) lost that track's events with repairs describing
bytes the file does not hold."""

from __future__ import annotations

from remixmusic.io.smf import END_OF_TRACK, encode_track, header_chunk, split_chunks, track_chunk, vlq
from remixmusic.io.smf_screen import screen
from tests.test_midi_cases import notes, read_all


def _running(pitches: list[int]) -> bytes:
    """Quarter notes written with running status and no status byte at all: on ``(p, 80)``, off ``(p, 0)``."""
    body = b""
    for pitch in pitches:
        body += vlq(0) + bytes([pitch, 80]) + vlq(480) + bytes([pitch, 0])
    return body


def test_a_track_that_starts_without_a_status_byte_runs_on_the_previous_tracks_status() -> None:
    """Track 0 ends with note-on running status (its note-offs written as note-ons of velocity 0); track 1
    was written on with that status and no status byte: its two notes are read (they were lost, and
    the repairs spoke of a cut-off event and velocities above 127), with one repair naming what
    happened; every reader agrees (the byte screen sends the file to the exact pass)."""
    first = b"".join(vlq(0) + bytes([0x90, p, 80]) + vlq(480) + bytes([0x90, p, 0]) for p in (60, 62, 64, 65))
    data = header_chunk(1, 2, 480) + track_chunk(first + b"\x00" + END_OF_TRACK) + track_chunk(_running([40, 43]) + b"\x00" + END_OF_TRACK)
    assert screen(split_chunks(data)).problem == "a track that starts without a status byte"
    piece = read_all(data)
    got = sorted(piece.notes[["onset", "duration", "pitch"]].tolist())
    assert got == [(0, 12, 40), (0, 12, 60), (12, 12, 43), (12, 12, 62), (24, 12, 64), (36, 12, 65)]
    assert piece.metadata["repairs"] == ["track 1 starts without a status byte: read with the previous track's running status"]


def test_a_carried_note_off_status_keeps_the_track_in_step() -> None:
    """The previous track ended on a note-off status: the carried data are note-offs with nothing to end
    (no note), and the track's later events, with status bytes of their own, keep their times (a
    note at beat 4) instead of being read from the middle of other events."""
    second = _running([40]) + encode_track(notes([50], start=3 * 480 - 480))[8:]
    data = header_chunk(1, 2, 480) + encode_track(notes([60, 62, 64, 65])) + track_chunk(second)
    piece = read_all(data)
    assert (36, 12, 50) in piece.notes[["onset", "duration", "pitch"]].tolist()
    assert len(piece.notes) == 5
    assert any("previous track's running status" in r for r in piece.metadata["repairs"])


def test_the_first_track_has_no_status_to_run_on() -> None:
    """In the first track there is no running status to carry: stray data bytes are skipped as before."""
    data = header_chunk(0, 1, 480) + track_chunk(b"\x00\x3c\x50" + encode_track(notes([60, 62]))[8:])
    piece = read_all(data)
    assert piece.notes[["onset", "pitch"]].tolist() == [(0, 60), (12, 62)]
    assert any("stray data byte" in r for r in piece.metadata["repairs"])


def test_an_all_notes_off_in_another_track_ends_the_channels_notes() -> None:
    """Channels are the file's: an All Notes Off (CC 123) on channel 1 in a track with no notes, at beat
    2, ends a note of channel 1 that track 0 holds to beat 5 (it was kept whole: the fast reader drops
    a track with no notes, and the exact pass ended only its own track's notes); a note starting at the
    message's very tick is played after it and kept whole; a note of another channel is untouched; a
    repair names it; every reader agrees."""
    held = [(0, b"\x90\x3c\x50"), (480, b"\x90\x40\x50"), (0, b"\x91\x30\x50"), (1920, b"\x80\x3c\x00")]
    held += [(960, b"\x80\x40\x00"), (1920, b"\x81\x30\x00")]
    control = [(480, b"\xb0\x7b\x00")]
    data = header_chunk(1, 2, 480) + encode_track(sorted(held, key=lambda e: e[0])) + encode_track(control)
    assert screen(split_chunks(data)).problem == "an All Notes Off in a track with no notes"
    piece = read_all(data)
    got = sorted(piece.notes[["onset", "duration", "pitch"]].tolist())
    assert got == [(0, 12, 60), (0, 48, 48), (12, 12, 64)]
    assert any("ended by an All Notes Off of its channel in another track" in r for r in piece.metadata["repairs"])
    # a track that plays the channel too: the same
    control = [*notes([72], start=1440), (480, b"\xb0\x7b\x00")]
    data = header_chunk(1, 2, 480) + encode_track(sorted(held, key=lambda e: e[0])) + encode_track(sorted(control))
    got = sorted(read_all(data).notes[["onset", "duration", "pitch"]].tolist())
    assert got == [(0, 12, 60), (0, 48, 48), (12, 12, 64), (36, 12, 72)]


def test_format_2_sequences_do_not_silence_each_other() -> None:
    """In a format-2 file the sequences are independent (played one after another): an All Notes Off of
    the second ends nothing of the first."""
    data = header_chunk(2, 2, 480) + encode_track(notes([60], length=1920)) + encode_track([(480, b"\xb0\x7b\x00")])
    piece = read_all(data)
    assert piece.notes[["onset", "duration", "pitch"]].tolist() == [(0, 48, 60)]
