"""More files of the kinds of issue 9, from a sixth fresh tester: track chunks whose length counts an
end-of-track event never written, a header length of 0, All Notes Off messages, a padded tempo event,
and arguments that are no regular file. Each is read as a player plays it (the right notes, at their
times), or refused with a one-line reason that says why."""

from __future__ import annotations

import os
import struct
import sys

import numpy as np
import pytest

from remixmusic.errors import RemixError
from remixmusic.evaluation.descriptors import describe_folder
from remixmusic.io.folders import walk_midi_files
from remixmusic.io.midi import _read_fast, midi_bytes_to_piece, piece_to_bytes
from remixmusic.io.parts import merge_program_runs
from remixmusic.io.smf import END_OF_TRACK, header_chunk, split_chunks, vlq
from remixmusic.music.notes import Track
from remixmusic.novelty.analyze import build_index
from tests.test_midi_cases import READERS, notes, read_all


def _events(pitches, channel: int) -> bytes:
    """Quarter notes (480 ticks) on ``channel``, as raw track bytes without an end-of-track event."""
    out = b""
    for pitch in pitches:
        out += b"\x00" + bytes([0x90 | channel, pitch, 80]) + vlq(480) + bytes([0x80 | channel, pitch, 0])
    return out


def _chunk(payload: bytes, length: int) -> bytes:
    return b"MTrk" + struct.pack(">I", length) + payload


LINES = [(60, 62, 64, 65), (48, 50, 52, 53), (72, 74, 76, 77)]


@pytest.mark.parametrize(
    ("tracks", "extra", "eot_last"),
    [
        (2, 4, False),  # the length counts the 4-byte end-of-track event the writer never wrote
        (3, 4, False),
        (2, 10, True),  # 10 bytes too long, no end-of-track event: the next track was swallowed
        (3, -5, True),  # 5 bytes too short
    ],
    ids=["counts-missing-eot-2", "counts-missing-eot-3", "10-too-long", "5-too-short"],
)
def test_a_track_without_its_end_of_track_event_and_a_wrong_length_loses_no_track(tracks, extra, eot_last):
    """Without an end-of-track event where its length says, a track ends where the next track chunk
    starts: before, the next track was skipped without a word (its notes lost), or swallowed (its first
    note lost, the others moved by 9 beats, and a repair about data bytes above 127 recorded)."""
    chunks = []
    for k in range(tracks):
        body = _events(LINES[k], channel=k)
        last = k == tracks - 1
        if last and eot_last:
            chunks.append(_chunk(body + b"\x00" + END_OF_TRACK, len(body) + 4))
        else:
            chunks.append(_chunk(body, len(body) + (extra if not last else 4 * (extra == 4))))
    data = header_chunk(1, tracks, 480) + b"".join(chunks)
    for reader in READERS:
        piece = midi_bytes_to_piece(data, reader=reader)
        got = sorted(zip(piece.notes["onset"].tolist(), piece.notes["pitch"].tolist(), strict=True))
        want = sorted((12 * i, p) for line in LINES[:tracks] for i, p in enumerate(line))
        assert got == want, reader
        assert set(piece.notes["duration"].tolist()) == {12}
        assert any("starts (no end-of-track event)" in r for r in piece.metadata["repairs"])


def test_a_header_length_of_0_before_a_track_chunk_is_read_as_6():
    """``MThd`` with a length field of 0 (0 to 5), its 6 bytes of format, tracks and division present and
    a track chunk after them: rejected as "a header chunk of 0 bytes" before, while a length of 7 or a
    little-endian 6 was repaired."""
    chunk = _track(notes([60, 62, 64, 65]))
    for length in (0, 5):
        data = b"MThd" + struct.pack(">IHHH", length, 0, 1, 480) + chunk
        piece = read_all(data)
        assert piece.notes["pitch"].tolist() == [60, 62, 64, 65]
        assert piece.metadata["repairs"] == [f"a header length of {length} bytes read as 6 (a track chunk follows 6 bytes on)"]


@pytest.mark.parametrize(("controller", "ends"), [(123, True), (120, True), (124, True), (127, True), (121, False)])
def test_all_notes_off_ends_the_notes_of_its_channel(controller, ends):
    """A chord on channel 1 and a melody note on channel 2; at beat 1 channel 1's All Notes Off (123), All
    Sound Off (120) or a mode change (124-127, which imply it); note-offs only at beat 4. A player ends
    the chord at beat 1 and lets channel 2 sound on; the fast reader (which ignores the message) gave 4
    beats. Reset All Controllers (121) ends nothing."""
    events = [(0, bytes([0x90, p, 80])) for p in (60, 64, 67)] + [(0, b"\x91\x48\x50")]
    events += [(480, bytes([0xB0, controller, 0]))]
    events += [(1920, bytes([0x80, p, 0])) for p in (60, 64, 67)] + [(1920, b"\x81\x48\x00")]
    data = header_chunk(0, 1, 480) + _track(events)
    piece = read_all(data)
    by_pitch = dict(zip(piece.notes["pitch"].tolist(), piece.notes["duration"].tolist(), strict=True))
    assert by_pitch == {60: 12 if ends else 48, 64: 12 if ends else 48, 67: 12 if ends else 48, 72: 48}


def test_all_notes_off_before_any_note_and_in_running_status_keeps_the_fast_path():
    """A reset at the start of the track (common: sequencers send All Notes Off before playing) ends
    nothing, so the fast reader's notes stand; in running status the message is still seen."""
    events = [(0, b"\xb0\x7b\x00"), (0, b"\xb0\x07\x64"), *notes([60, 62, 64, 65])]
    data = header_chunk(0, 1, 480) + _track(events)
    piece = read_all(data)
    assert piece.notes["duration"].tolist() == [12, 12, 12, 12]
    assert _read_fast(split_chunks(data)) is not None
    # in running status after a volume controller: B0 07 64, then 7B 00 with no status byte
    raw = b"\x00\x90\x3c\x50\x00\xb0\x07\x64" + vlq(480) + b"\x7b\x00" + vlq(1440) + b"\x80\x3c\x00\x00" + END_OF_TRACK
    piece = read_all(header_chunk(0, 1, 480) + _chunk(raw, len(raw)))
    assert piece.notes["duration"].tolist() == [12]


def _track(events: list[tuple[int, bytes]]) -> bytes:
    events = sorted(events, key=lambda e: e[0])
    body, now = b"", 0
    for tick, event in events:
        body += vlq(tick - now) + event
        now = tick
    body += b"\x00" + END_OF_TRACK
    return _chunk(body, len(body))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_given_as_the_file_is_refused_not_read(tmp_path):
    """``remixmusic stats pipe.mid`` waited forever on the pipe (inside a folder it was already skipped)."""
    pipe = tmp_path / "pipe.mid"
    os.mkfifo(pipe)
    assert walk_midi_files(pipe) == ([], [(str(pipe), "not a regular file")])
    with pytest.raises(RemixError, match=r"no readable MIDI files \(1 unreadable: .*pipe.mid: not a regular file\)"):
        describe_folder(pipe, jobs=1, show_progress=False)


def test_a_reference_file_that_cannot_be_read_says_why(tmp_path):
    """``analyze --against text.mid`` said only "the reference corpus has no readable pieces"."""
    text = tmp_path / "text.mid"
    text.write_text("hello")
    with pytest.raises(RemixError, match=r"no readable pieces \(1 unreadable: .*text.mid: not a MIDI file"):
        build_index(text, jobs=1, show_progress=False)


@pytest.mark.skipif(sys.platform == "win32", reason="a newline in a file name")
def test_a_newline_in_a_file_name_keeps_the_reason_on_one_line(tmp_path, capsys):
    from remixmusic.cli.common import report_skipped

    report_skipped([(str(tmp_path / "bad\nname.mid"), "not a MIDI file (no MThd header)")], strict=False)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[1].endswith("bad\\nname.mid: not a MIDI file (no MThd header)")


def test_program_runs_of_hundreds_of_same_named_tracks_merge_as_the_rule_says():
    """300 instruments named "Piano": 100 runs of one channel taking turns (programs 0 to 99), each a
    note long, and 200 more in pairs that sound together (two hands, programs 20 and 21). The runs make
    one part; the pairs stay two parts each, since they sound together all the time. (The merge compared
    an instrument with every member of a part: 27 s for a file of 4,800 instruments, now 3 s.)"""
    tracks, onset, end, owner = [], [], [], []
    for k in range(100):  # one part changing program every note
        tracks.append(Track(name="Piano", program=k))
        onset.append(10 * k), end.append(10 * k + 10), owner.append(len(tracks) - 1)
    for k in range(100):  # a hand pair at time 2,000 + 10k: both sound together
        for program in (20, 21):
            tracks.append(Track(name="Piano", program=program))
            onset.append(2000 + 10 * k), end.append(2000 + 10 * k + 10), owner.append(len(tracks) - 1)
    _, note_part, note_program = merge_program_runs(
        tracks, np.array(onset, np.int64), np.array(end, np.int64), np.array(owner, np.int64)
    )
    assert len(set(note_part[:100].tolist())) == 1  # the runs: one part
    pairs = note_part[100:].reshape(100, 2)
    assert (pairs[:, 0] != pairs[:, 1]).all()  # the two hands never one part
    assert note_program[:100].tolist() == list(range(100))


def test_a_note_off_in_another_track_of_its_channel_ends_the_note():
    """Note-on C4 in track 1, its note-off in track 2 (same channel) at beat 1; tracks end at beat 9. A
    player ends it at beat 1 (channels belong to the file); it lasted 9 beats (closed at its track's end),
    and symusic and miditoolkit alone drop it. A note-off with a sounding note in its own track still ends
    that one, and a note no track releases is still closed at its track's end."""
    t1 = _track([(0, b"\x90\x3c\x50"), (0, b"\x90\x40\x50"), (480, b"\x80\x40\x00"), (960, b"\x90\x43\x50"), (4320, b"\xff\x01\x00")])
    t2 = _track([(480, b"\x80\x3c\x00"), (4320, b"\xff\x01\x00")])
    piece = read_all(header_chunk(1, 2, 480) + t1 + t2)
    assert piece.notes[["pitch", "onset", "duration"]].tolist() == [(60, 0, 12), (64, 0, 12), (67, 24, 84)]
    assert piece.metadata["repairs"] == [
        "track 0: 1 note ended by a note-off of its channel in another track",
        "track 0: 1 note never released, closed at the end of the track",
    ]


# -- a code reviewer's cases against the rules above ------------------------------------------------------


def _line(pitches, channel: int) -> list[tuple[int, bytes]]:
    out = []
    for i, pitch in enumerate(pitches):
        out += [(480 * i, bytes([0x90 | channel, pitch, 80])), (480 * i + 480, bytes([0x80 | channel, pitch, 0]))]
    return out


def _raw(events: list[tuple[int, bytes]]) -> bytes:
    body, now = b"", 0
    for tick, event in sorted(events, key=lambda e: e[0]):
        body += vlq(tick - now) + event
        now = tick
    return body


@pytest.mark.parametrize("extra", [10, -5])
def test_mtrk_inside_a_text_event_is_no_track_chunk(extra):
    """A track with a wrong length whose text event reads "MTrk": cut there, its first note was lost and a
    third track of 9,452,624 bytes announced. The events before the real next chunk are walked, and text
    is text."""
    first = _raw([(0, b"\xff\x01\x04MTrk"), *_line([60, 62, 64, 65], 0)]) + b"\x00" + END_OF_TRACK
    data = header_chunk(1, 2, 480) + _chunk(first, len(first) + extra) + _track(_line([48, 50, 52, 53], 1))
    piece = read_all(data)
    got = sorted(zip(piece.notes["pitch"].tolist(), piece.notes["track"].tolist(), strict=True))
    assert got == [(48, 1), (50, 1), (52, 1), (53, 1), (60, 0), (62, 0), (64, 0), (65, 0)]


def test_a_track_counting_its_missing_end_of_track_before_a_vendor_chunk_reads_no_vendor_bytes():
    body = b"\x00\x90\x3c\x50" + vlq(480) + b"\x3c\x00\x00\x3e\x50" + vlq(480) + b"\x3e\x00"  # running status
    vendor = b"XFKM" + struct.pack(">I", 6) + bytes(range(1, 7))
    data = header_chunk(1, 2, 480) + _chunk(body, len(body) + 4) + vendor + _track(_line([48], 1))
    piece = read_all(data)
    assert sorted(piece.notes[["onset", "pitch"]].tolist()) == [(0, 48), (0, 60), (12, 62)]


def test_all_notes_off_at_the_tick_of_a_note_on_lets_that_note_sound_by_every_reader():
    """Written right after a note-on at its tick, the message ended the note at once by the exact pass
    (1 step) but not by the fast path (12 steps), and which one read the file hung on another channel."""
    events = [(0, b"\xb0\x07\x64"), (480, b"\x90\x3c\x50"), (480, b"\xb0\x7b\x00"), (960, b"\x80\x3c\x00")]
    for other in ([], [(0, b"\x91\x30\x50"), (1920, b"\x81\x30\x00")]):
        piece = read_all(header_chunk(0, 1, 480) + _track(events + other))
        assert piece.notes[piece.notes["pitch"] == 60]["duration"].tolist() == [12]


@pytest.mark.parametrize("head", [[], [(0, b"\xff\x03\x00"), (0, b"\xc0\x00")]], ids=["one-change", "empty-name"])
def test_an_unnamed_melody_with_one_program_change_is_one_part_by_every_reader(head):
    """The fast path kept two parts where the exact pass merged them: one program change after the first
    note (the melody started on the default program), or a name event with an empty name."""
    events = [*head, (1920, b"\xc0\x30"), *_line([60, 62, 64, 65, 67, 69, 71, 72], 0)]
    piece = read_all(header_chunk(0, 1, 480) + _track(events))
    assert len(piece.tracks) == 1 and piece.notes["program"].tolist() == [0] * 4 + [48] * 4
    again = midi_bytes_to_piece(piece_to_bytes(piece))  # and back: still one part
    assert again.notes["track"].tolist() == [0] * 8 and again.notes["program"].tolist() == [0] * 4 + [48] * 4


def test_a_padded_tempo_of_zero_first_bytes_is_read_from_its_last_three():
    piece = read_all(header_chunk(0, 1, 480) + _track([(0, b"\xff\x51\x06\x00\x00\x00\x07\xa1\x20"), *_line([60], 0)]))
    assert piece.metadata["repairs"] == ["tempo event with 6 data bytes (3 expected) read from its last three"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_as_the_reference_says_why(tmp_path):
    pipe = tmp_path / "ref.mid"
    os.mkfifo(pipe)
    with pytest.raises(RemixError, match=r"no readable pieces \(1 unreadable: .*ref.mid: not a regular file\)"):
        build_index(pipe, jobs=1, show_progress=False)


def test_half_steps_read_alike_at_any_resolution():
    """A dotted-16th/32nd figure puts onsets half a step off the grid. Read from a file of 10,080 ticks a
    beat (exact halves) and from the same music resampled to 480 and to 100 ticks a beat (a tick or so
    either side of each half), it must give the same notes (a tester's hornpipe resaved at 480 came out
    61% copied from itself), and the notes music21 gives the same rhythm (the datasets are built so)."""
    from remixmusic.io.smf import encode_track, header_chunk

    beats = np.array([0, 0.75, 1, 1.75, 2, 2.375, 2.5, 3.125, 3.25, 4.625, 5, 5.875])  # 32nds and 16ths
    pieces = []
    for ppq in (10_080, 480, 100):
        ticks = np.rint(beats * ppq).astype(int)
        events = []
        for k, t in enumerate(ticks):
            events += [(int(t), bytes([0x90, 60 + k, 80])), (int(t) + ppq // 8, bytes([0x80, 60 + k, 0]))]
        events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
        pieces.append(midi_bytes_to_piece(header_chunk(0, 1, ppq) + encode_track(events), f"{ppq}.mid"))
    onsets = [p.notes["onset"].tolist() for p in pieces]
    assert onsets[0] == onsets[1] == onsets[2]
    import music21

    from remixmusic.io.music21 import score_to_piece

    stream = music21.stream.Stream()
    for k, beat in enumerate(beats.tolist()):
        stream.insert(beat, music21.note.Note(60 + k, quarterLength=0.125))
    assert score_to_piece(music21.stream.Score([music21.stream.Part(stream.notes)])).notes["onset"].tolist() == onsets[0]
    # halves to the even step, as a score read through music21 rounds them: 2.375 beats = 28.5 steps -> 28,
    # 3.125 = 37.5 -> 38, 4.625 = 55.5 -> 56, 5.875 = 70.5 -> 70
    assert onsets[0] == [0, 9, 12, 21, 24, 28, 30, 38, 39, 56, 60, 70]


def _song(pitches: list[int], qpm: float, division: int, meter: tuple[int, int]) -> bytes:
    from remixmusic.io.smf import encode_track, header_chunk

    tempo = (0, b"\xff\x51\x03" + int(6e7 / qpm).to_bytes(3, "big"))
    conductor = encode_track([tempo, (0, bytes([0xFF, 0x58, 4, meter[0], meter[1].bit_length() - 1, 24, 8]))])
    notes = []
    for k, p in enumerate(pitches):
        notes += [(k * division, bytes([0x90, p, 90])), ((k + 1) * division, bytes([0x80, p, 0]))]
    return header_chunk(1, 2, division) + conductor + encode_track(notes)


@pytest.mark.parametrize("cut", [None, 9])
def test_concatenated_files_read_as_the_first(cut):
    """``cat a.mid b.mid`` (or a download appended to a partial copy of itself): players read the first
    file. Its tracks must not gain the second file's tracks, timed with the first file's division, nor
    its tempo and meter (a tester's song A of 8 notes at 100 qpm in 3/4 came back as 16 notes at 140 qpm
    in 4/4); a first copy cut off inside its last track ends there."""
    a = _song([60 + k for k in range(8)], 100, 480, (3, 4))
    b = _song([72 - k for k in range(8)], 140, 96, (4, 4))
    if cut is not None:
        a = a[: len(a) - 4 - cut]  # cut inside the last track: its 8th note and end-of-track lost
    for reader in READERS:
        piece = midi_bytes_to_piece(a + b, reader=reader)
        want = 8 if cut is None else 7
        assert piece.notes["pitch"].tolist() == [60 + k for k in range(want)], reader
        assert piece.tempos["qpm"].tolist() == [100.0] and piece.time_signatures.tolist() == [(0, 3, 4)]
        assert any("a second MIDI file starts" in r for r in piece.metadata["repairs"]), reader


_GS_RESET = bytes.fromhex("41 10 42 12 40 00 7f 00 41 f7")


@pytest.mark.parametrize(
    "sysex",
    [
        b"\xf0" + _GS_RESET,  # no length field (a MidiEditor file): the maker's id 0x41 reads as 65 bytes
        b"\xf0\x7e\x7f\x09\x01\xf7",  # GM on, no length field (0x7E reads as 126 bytes)
        b"\xf0" + bytes([len(_GS_RESET) - 1]) + _GS_RESET,  # the F7 not counted
        b"\xf0" + bytes([len(_GS_RESET) + 1]) + _GS_RESET,  # the F0 counted
        b"\xf0" + bytes([len(_GS_RESET)]) + _GS_RESET,  # right
    ],
)
def test_sysex_with_a_wrong_length_keeps_the_notes_after_it(sysex):
    """A system exclusive event whose length field is wrong took in the notes after it, or threw them a
    32-beat delta time off (25, 18 or 31 of 32 notes read, the rest 5 or 32 beats late, with no repair or
    a misleading one). Its bytes are below 0x80 but its end byte F7, so the message ends at its F7."""
    from remixmusic.io.smf import encode_track, header_chunk

    events = [(0, sysex)]
    for k in range(32):
        events += [(240 * k, bytes([0x90, 60 + k % 12, 100])), (240 * k + 240, bytes([0x80, 60 + k % 12, 0]))]
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
    data = header_chunk(0, 1, 480) + encode_track(events)
    for reader in READERS:
        piece = midi_bytes_to_piece(data, reader=reader)
        assert piece.notes["onset"].tolist() == [6 * k for k in range(32)], reader
        wrong = sysex[1] != len(sysex) - 2
        assert any("system exclusive" in r for r in piece.metadata.get("repairs", [])) == wrong, reader


def test_a_status_byte_corrupted_into_sysex_loses_one_note_in_every_reader():
    """One note-on status byte (0x90) corrupted into F0: its pitch byte reads as a length that takes in
    the next events. The fast reader read 15 of 40 notes with no repair, the exact pass 3; both now end
    the false message at the next status byte and read the other 39."""
    from remixmusic.io.smf import encode_track, header_chunk

    events = []
    for k in range(40):
        events += [(120 * k, bytes([0x90, 60 + k % 7, 80])), (120 * k + 120, bytes([0x80, 60 + k % 7, 0]))]
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
    data = bytearray(header_chunk(0, 1, 480) + encode_track(events))
    at = data.find(bytes([0x90, 63, 80]))
    data[at] = 0xF0
    for reader in READERS:
        piece = midi_bytes_to_piece(bytes(data), reader=reader)
        assert len(piece.notes) == 39 and 9 not in piece.notes["onset"].tolist(), reader  # note 3 lost
        assert any("system exclusive" in r for r in piece.metadata["repairs"]), reader


def test_a_track_unnamed_by_its_last_name_event_reads_alike_in_every_reader():
    """A track named "Piano" that changes program and ends with an empty name event (``FF 03 00``) is
    unnamed (its last name counts): its two program runs are one part by every reader (the fast path
    kept two tracks while the exact pass merged them)."""
    from remixmusic.io.smf import encode_track, header_chunk

    events = [
        (0, b"\xff\x03\x05Piano"), (0, b"\xc0\x00"), (0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00"),
        (480, b"\xc0\x28"), (480, b"\x90\x3e\x64"), (960, b"\x80\x3e\x00"), (960, b"\xff\x03\x00"),
    ]
    data = header_chunk(1, 1, 480) + encode_track(events)
    tracks = {reader: len(midi_bytes_to_piece(data, reader=reader).tracks) for reader in READERS}
    assert set(tracks.values()) == {1}, tracks


def test_a_performance_keeps_rounding_to_the_nearest_step():
    """Half steps are rounded up only where the onsets between steps sit at half steps (a score's 32nds);
    a performance's onsets, spread over the step, keep rounding to the nearest step."""
    from remixmusic.io.grid import score_halves, to_steps

    rng = np.random.default_rng(0)
    played = rng.uniform(0, 400, 300)
    assert not score_halves(played)
    assert to_steps(np.array([3.46, 3.54, 6.5, 7.5]), False).tolist() == [3, 4, 6, 8]
    assert to_steps(np.array([3.46, 3.54, 6.45, 7.5]), True).tolist() == [4, 4, 6, 8]
    scored = np.concatenate([np.arange(0, 96, 3.0), np.arange(1.5, 96, 6.0) + rng.uniform(-0.03, 0.03, 16)])
    assert score_halves(scored)
    assert to_steps(scored, True)[32:].tolist() == list(range(2, 96, 6))


@pytest.mark.parametrize("between", [b"", b"\x00", b"\x00" * 4, "long"])
def test_a_second_file_after_padding_or_a_too_long_track_is_not_read(between):
    """A reviewer's variants of ``cat a.mid b.mid``: padding bytes between the files, or the first file's
    last track announcing 4 bytes more than it holds (running into the second header): the first file
    only, whatever stands between."""
    from remixmusic.io.smf import encode_track, header_chunk

    a = header_chunk(1, 1, 96) + encode_track([(0, b"\x90\x3c\x40"), (96, b"\x80\x3c\x00")])
    b = header_chunk(1, 1, 96) + encode_track([(0, b"\x90\x48\x40"), (96, b"\x80\x48\x00")])
    if between == "long":
        a = a[:18] + (int.from_bytes(a[18:22], "big") + 4).to_bytes(4, "big") + a[22:]
        between = b""
    for reader in READERS:
        piece = midi_bytes_to_piece(a + between + b, reader=reader)
        assert piece.notes["pitch"].tolist() == [60], reader
        assert any("a second MIDI file starts" in r for r in piece.metadata["repairs"]), reader


@pytest.mark.parametrize(
    "event, repaired",
    [
        (b"\xf0\x81\x17" + bytes(range(1, 128)) + bytes(20) + b"\x7f\xf7", True),  # 150 bytes counted with the F0
        (b"\xf0\x0a\x41\x10\x42\xf7\xf0\x7e\x7f\x09\x01\xf7", False),  # two messages in one event, length right
        (b"\xf0\x08\x41\x10\x42\x12", True),  # no F7, runs into a tempo event after a delta time of 0
    ],
)
def test_sysex_lengths_a_reviewer_tried(event, repaired):
    """A long message (a two-byte length field) counted with its F0; one event holding two messages
    (``F7 F0`` inside, its length right: no repair, nothing lost); a message with no F7 whose length runs
    into a tempo event, which is read from its delta time on."""
    from remixmusic.io.smf import encode_track, header_chunk

    events = [(0, event), (0, b"\xff\x51\x03\x0f\x42\x40"), (0, b"\x90\x3c\x40"), (96, b"\x80\x3c\x00")]
    data = header_chunk(0, 1, 96) + encode_track(events)
    for reader in READERS:
        piece = midi_bytes_to_piece(data, reader=reader)
        assert piece.notes["onset"].tolist() == [0] and piece.notes["pitch"].tolist() == [60], reader
        assert piece.tempos["qpm"].tolist() == [60.0], reader  # the tempo event after it is read
        assert any("system exclusive" in r for r in piece.metadata.get("repairs", [])) == repaired, reader


def test_a_file_cut_inside_a_long_sysex_reads_no_notes_from_its_bytes():
    """A 200-byte message (a two-byte length field) cut off by the end of the file: the notes before it,
    and nothing made of its bytes (a first version read 42 notes out of them)."""
    from remixmusic.io.smf import encode_track, header_chunk

    sysex = b"\xf0\x81\x48" + bytes([0x41, 0x10, 0x42, 0x12] * 50)
    data = header_chunk(0, 1, 96) + encode_track([(0, b"\x90\x3c\x40"), (96, b"\x80\x3c\x00"), (96, sysex)])
    for reader in READERS:
        piece = midi_bytes_to_piece(data[:-80], reader=reader)
        assert piece.notes["pitch"].tolist() == [60], reader


def test_a_wrong_sysex_length_among_many_sysex_events_is_repaired_by_every_reader():
    """A patch dump of 40 system exclusive events (the screen counts their bytes over the whole file when
    there are many) with one whose length field was left out: every reader reads all notes after it."""
    from remixmusic.io.smf import encode_track, header_chunk

    events = [(0, b"\xf0\x05\x41\x10\x42\x12\xf7") for _ in range(39)] + [(0, b"\xf0" + _GS_RESET)]
    for k in range(16):
        events += [(96 * k, bytes([0x90, 60 + k, 90])), (96 * k + 96, bytes([0x80, 60 + k, 0]))]
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
    data = header_chunk(0, 1, 96) + encode_track(events)
    for reader in READERS:
        piece = midi_bytes_to_piece(data, reader=reader)
        assert piece.notes["onset"].tolist() == [12 * k for k in range(16)], reader
        assert any("system exclusive" in r for r in piece.metadata["repairs"]), reader


def test_a_web_page_that_mentions_mthd_is_not_a_midi_file():
    """An HTML page saved as ``.mid`` whose text holds "MThd" was "corrupt MIDI: no track chunk"; it is
    not a MIDI file, and the reason says where the lookalike stood."""
    page = b"<html><body>the MThd header of a MIDI file is ...</body></html>"
    with pytest.raises(RemixError, match=r"not a MIDI file \(no track chunk after the text 'MThd' at byte 16\)"):
        midi_bytes_to_piece(page, "page.mid")
