"""MIDI files of kinds a held-out tester (round 10) found misread.

MIDI ports (meta event ``FF 21``): a file for more than 16 channels names the port of each track's
channel messages, and a channel of port 1 is not the channel of the same number on port 0. What one
track sends on a channel reaches the other tracks' notes of that channel (a setup track's program, an
All Notes Off, a note-off, a drum-part message: :mod:`remixmusic.io.smf_repair`) only on its own port.

Keys played again before their note-off (:mod:`remixmusic.io.smf_keys`): two note-ons of a key and one
note-off were paired first in, first out, and the note left over was held to the end of its track (a
doubled melody: every note of it 60 beats long)."""

from __future__ import annotations

from remixmusic.io.smf import encode_track, header_chunk
from tests.test_midi_cases import notes, read_all

PORT_1 = (0, b"\xff\x21\x01\x01")
PORT_0 = (0, b"\xff\x21\x01\x00")


def _file(*tracks: list[tuple[int, bytes]]) -> bytes:
    return header_chunk(1, len(tracks), 480) + b"".join(encode_track(sorted(t, key=lambda e: e[0])) for t in tracks)


def _got(data: bytes) -> list[tuple[int, ...]]:
    piece = read_all(data)
    return sorted(piece.notes[["onset", "duration", "pitch", "program"]].tolist())


def test_a_setup_tracks_program_reaches_only_its_ports_channel() -> None:
    """A setup track on port 1 sets channel 1 to program 40: the notes port 0's channel 1 plays keep
    program 0 (they took 40); the same setup track on port 0 gives them 40, and so does one on port 1
    to a track on port 1."""
    played = notes([60, 62])
    assert _got(_file([PORT_1, (0, b"\xc0\x28")], played)) == [(0, 12, 60, 0), (12, 12, 62, 0)]
    assert _got(_file([PORT_0, (0, b"\xc0\x28")], played)) == [(0, 12, 60, 40), (12, 12, 62, 40)]
    assert _got(_file([PORT_1, (0, b"\xc0\x28")], [PORT_1, *played])) == [(0, 12, 60, 40), (12, 12, 62, 40)]


def test_an_all_notes_off_ends_notes_of_its_own_port_only() -> None:
    """An All Notes Off on port 1's channel 1 at beat 1 leaves a note of port 0's channel 1 whole (4
    beats; it was cut to 1) and ends one of port 1's channel 1."""
    held = [(0, b"\x90\x3c\x50"), (1920, b"\x80\x3c\x00")]
    control = [PORT_1, (480, b"\xb0\x7b\x00")]
    assert _got(_file(held, control)) == [(0, 48, 60, 0)]
    assert _got(_file([PORT_1, *held], control)) == [(0, 12, 60, 0)]


def test_a_note_off_of_another_port_does_not_end_a_note() -> None:
    """A note on port 0 that its track never releases is closed at the end of its track (beat 4), not
    by a note-off of its channel and pitch that a track on port 1 holds with nothing to end (beat 1)."""
    open_note = [(0, b"\x90\x3c\x50"), (1920, b"\x90\x40\x50"), (1921, b"\x80\x40\x00")]
    stray = [PORT_1, (480, b"\x80\x3c\x00"), *notes([72], start=0, channel=1)]
    got = _got(_file(open_note, stray))
    assert (0, 48, 60, 0) in got


def test_a_drum_part_message_makes_a_drum_part_on_its_own_port_only() -> None:
    """An XG drum kit (bank select 127) sent on port 1's channel 4 makes that channel's notes drums; the
    notes of channel 4 on port 0 stay pitched (they were read as drums)."""
    kit = [PORT_1, (0, b"\xb3\x00\x7f"), *notes([36, 38], channel=3)]
    melody = notes([60, 62], start=960, channel=3)
    piece = read_all(_file(kit, melody))
    got = sorted((int(o), int(p), bool(d)) for o, p, d in piece.notes[["onset", "pitch", "is_drum"]].tolist())
    assert got == [(0, 36, True), (12, 38, True), (24, 60, False), (36, 62, False)]


def _pitched(data: bytes) -> list[tuple[int, ...]]:
    piece = read_all(data)
    return sorted(piece.notes[["onset", "duration", "pitch"]].tolist())


def test_a_doubled_note_on_with_one_note_off_ends_at_it() -> None:
    """C4 written twice at beat 0 (two copies of a part merged) and released once at beat 1, then E4, and
    a controller at beat 32 (the track goes on): C4 lasts one beat (it lasted to beat 32), one repair."""
    events = [(0, b"\x90\x3c\x64"), (0, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00"), *notes([64], start=480)]
    events.append((32 * 480, b"\xb0\x07\x64"))
    data = header_chunk(0, 1, 480) + encode_track(events)
    assert _pitched(data) == [(0, 12, 60), (12, 12, 64)]
    assert read_all(data).metadata["repairs"] == [
        "1 note of a key played again before its note-off ended at its key's note-off",
        "1 note merged into another of its pitch at the same step of its part",
    ]


def test_a_doubled_melody_keeps_its_rhythm_through_repeated_pitches() -> None:
    """A melody track whose every note-on is doubled, with one note-off each, over a long bass note: each
    note lasts its beat, through the repeated pitches too (first in, first out, the copy of each note
    took the next note's note-off, so every later note of the pitch was a beat late and the last one
    held to the end)."""
    melody: list[tuple[int, bytes]] = [(0, b"\xff\x03\x06Melody")]
    pitches = [72, 72, 74, 72, 72, 76]
    for k, p in enumerate(pitches):
        melody += [(k * 480, bytes([0x90, p, 100])), (k * 480, bytes([0x90, p, 100])), ((k + 1) * 480, bytes([0x80, p, 0]))]
    bass = [(0, b"\xff\x03\x04Bass"), (0, b"\x91\x24\x64"), (64 * 480, b"\x81\x24\x00")]
    piece = read_all(header_chunk(1, 2, 480) + encode_track(melody) + encode_track(bass))
    got = sorted(tuple(n) for n in piece.notes[["onset", "duration", "pitch"]].tolist() if n[2] != 36)
    assert got == [(12 * k, 12, p) for k, p in enumerate(pitches)]


def test_a_key_played_again_and_released_once_ends_there() -> None:
    """C4 at beat 0, again at beat 0.5, one note-off at beat 1: the first note ends where the key is
    struck again and the second at the note-off (it lasted to the end of the track)."""
    events = [(0, b"\x90\x3c\x64"), (240, b"\x90\x3c\x64"), (480, b"\x80\x3c\x00"), *notes([64], start=480)]
    events.append((32 * 480, b"\xb0\x07\x64"))
    assert _pitched(header_chunk(0, 1, 480) + encode_track(events)) == [(0, 6, 60), (6, 6, 60), (12, 12, 64)]


def test_balanced_note_ons_and_offs_of_a_key_still_pair_first_in_first_out() -> None:
    """Two note-ons and two note-offs of a key, overlapping or doubled: paired as before, no repair."""
    overlap = [(0, b"\x90\x3c\x50"), (240, b"\x90\x3c\x50"), (480, b"\x80\x3c\x00"), (720, b"\x80\x3c\x00")]
    data = header_chunk(0, 1, 480) + encode_track(overlap)
    assert _pitched(data) == [(0, 6, 60), (6, 12, 60)]
    assert not read_all(data).metadata.get("repairs")


def _parts(data: bytes) -> list[tuple[str, list[int]]]:
    piece = read_all(data)
    return [
        (t.name, sorted({int(p) for p in piece.notes["program"][piece.notes["track"] == k]}))
        for k, t in enumerate(piece.tracks)
    ]


def test_a_format_0_files_title_does_not_make_its_channels_one_part() -> None:
    """A format-0 file named by its title: piano (channel 1), flute (channel 3) and strings (channel 4)
    take turns; they are three parts (one part "Song" of programs 0, 73 and 48 before: instruments of one
    name that do not sound together were merged as the program runs of one part); a channel that changes
    patch is still one part."""
    events = [(0, b"\xff\x03\x04Song"), (0, b"\xc0\x00"), (0, b"\xc2\x49"), (0, b"\xc3\x30")]
    events += [*notes([60, 62]), *notes([72, 74], start=960, channel=2), *notes([55, 57], start=1920, channel=3)]
    got = _parts(header_chunk(0, 1, 480) + encode_track(sorted(events, key=lambda e: e[0])))
    assert got == [("Song", [0]), ("Song", [73]), ("Song", [48])]
    runs = [(0, b"\xff\x03\x04Song"), (0, b"\xc0\x00"), *notes([60, 62]), (960, b"\xc0\x30"), *notes([64, 65], start=960)]
    assert _parts(header_chunk(0, 1, 480) + encode_track(sorted(runs, key=lambda e: e[0]))) == [("Song", [0, 48])]


def test_a_name_after_a_channel_prefix_names_that_channels_part() -> None:
    """A format-0 track names its parts after channel prefixes (FF 20): bass on channel 2 and piano on
    channel 1 are two parts, each with its own name (they were one part "Piano" with both programs)."""
    events = [(0, b"\xff\x20\x01\x01"), (0, b"\xff\x03\x04Bass"), (0, b"\xff\x20\x01\x00"), (0, b"\xff\x03\x05Piano")]
    events += [(0, b"\xc1\x21"), (0, b"\xc0\x00"), *notes([36, 38], channel=1), *notes([72, 74], start=960)]
    got = _parts(header_chunk(0, 1, 480) + encode_track(sorted(events, key=lambda e: e[0])))
    assert sorted(got) == [("Bass", [33]), ("Piano", [0])]


def test_riff_midi_with_wrong_chunk_sizes_is_read_whole() -> None:
    """RIFF MIDI (.rmi) files whose chunk sizes are wrong: a data chunk of size 0 (rejected as truncated),
    one 14 bytes short (its last note lost), and an odd-sized LIST chunk written without its pad byte
    (rejected: "without MIDI data"). Each is read whole; a RIFF chunk after the MIDI data is skipped."""
    plain = header_chunk(0, 1, 480) + encode_track(notes([60, 62, 64, 65]))
    want = [(0, 12, 60), (12, 12, 62), (24, 12, 64), (36, 12, 65)]

    def riff(body: bytes) -> bytes:
        return b"RIFF" + len(body).to_bytes(4, "little") + body

    for size in (0, len(plain) - 14):
        assert _pitched(riff(b"RMIDdata" + size.to_bytes(4, "little") + plain)) == want
    text = b"INAMSong\x00"  # 9 bytes: odd, and no pad byte after it
    listed = b"LIST" + (4 + len(text)).to_bytes(4, "little") + b"INFO" + text
    odd = riff(b"RMID" + listed + b"data" + len(plain).to_bytes(4, "little") + plain)
    assert _pitched(odd) == want
    assert read_all(odd).metadata["repairs"] == ["a RIFF MIDI (RMID) wrapper with wrong chunk sizes removed"]
    trailing = riff(b"RMIDdata" + len(plain).to_bytes(4, "little") + plain + listed + b"\x00")
    assert _pitched(trailing) == want


def test_track_names_that_are_not_utf8_are_decoded_and_stay_apart() -> None:
    """Two tracks named in Shift-JIS, '旋律' (flute) and '鍵盤' (piano), taking turns: two parts with those
    names (both were decoded as four U+FFFD, so their parts were one); a Windows-1252 name reads as
    'Café'."""
    tracks = []
    for name, program, pitches, start in (("旋律", 73, [72, 74], 0), ("鍵盤", 0, [60, 62], 960)):
        raw = name.encode("cp932")
        tracks.append([(0, b"\xff\x03" + bytes([len(raw)]) + raw), (0, bytes([0xC0, program])), *notes(pitches, start=start)])
    tracks.append([(0, b"\xff\x03\x04Caf\xe9"), *notes([48], start=1920, channel=1)])
    got = _parts(_file(*tracks))
    assert got == [("旋律", [73]), ("鍵盤", [0]), ("Café", [0])]


def _drum_flags(data: bytes) -> list[tuple[int, int, bool]]:
    piece = read_all(data)
    return sorted((int(o), int(p), bool(d)) for o, p, d in piece.notes[["onset", "pitch", "is_drum"]].tolist())


def test_an_xg_part_mode_message_makes_a_drum_part() -> None:
    """XG Part Mode (F0 43 10 4C 08 0A 07 02 F7: part 11 to drum setup 1) makes channel 11's notes drums
    (they were read as pitched notes); part mode 0 makes it normal again."""
    drum_mode = b"\xf0\x08\x43\x10\x4c\x08\x0a\x07\x02\xf7"
    normal = b"\xf0\x08\x43\x10\x4c\x08\x0a\x07\x00\xf7"
    events = [(0, drum_mode), *notes([36, 38], channel=10), (960, normal), *notes([60], start=960, channel=10)]
    assert _drum_flags(header_chunk(0, 1, 480) + encode_track(events)) == [(0, 36, True), (12, 38, True), (24, 60, False)]


def test_bank_127_in_a_file_for_gs_is_a_melodic_tone_map() -> None:
    """After a GS Reset, bank select 127 chooses the MT-32 tone map: melodic notes (every note was read as
    a drum, and the file skipped as having no pitched notes); with XG System On, or no reset, it stays an
    XG drum kit."""
    gs_reset = b"\xf0\x0a\x41\x10\x42\x12\x40\x00\x7f\x00\x41\xf7"
    xg_on = b"\xf0\x08\x43\x10\x4c\x00\x00\x7e\x00\xf7"
    played = [(0, b"\xb0\x00\x7f"), (0, b"\xc0\x00"), *notes([60, 64])]
    melodic = [(0, 60, False), (12, 64, False)]
    assert _drum_flags(header_chunk(0, 1, 480) + encode_track([(0, gs_reset), *played])) == melodic
    drums = [(0, 60, True), (12, 64, True)]
    assert _drum_flags(header_chunk(0, 1, 480) + encode_track([(0, xg_on), *played])) == drums
    assert _drum_flags(header_chunk(0, 1, 480) + encode_track(played)) == drums


def test_notes_the_grid_merges_are_named_in_a_repair() -> None:
    """Four flams (a snare hit 15 ticks before the main hit, at 480 a beat) fall on one step of the 12 a
    beat with their main hits and merge with them: the piece says so (they were merged in silence)."""
    events: list[tuple[int, bytes]] = []
    for k in range(4):
        t = k * 480
        events += [(t, b"\x99\x26\x3c"), (t + 5, b"\x89\x26\x00"), (t + 15, b"\x99\x26\x6e"), (t + 25, b"\x89\x26\x00")]
    piece = read_all(header_chunk(0, 1, 480) + encode_track(events))
    assert piece.notes[["onset", "pitch"]].tolist() == [(0, 38), (12, 38), (24, 38), (36, 38)]
    assert piece.metadata["repairs"] == ["4 notes merged into another of its pitch at the same step of its part"]


def test_a_format_0_merge_of_named_tracks_names_each_channels_part() -> None:
    """mido's merge_tracks (and other format-0 writers) put every track's name in the one track, each just
    before its own channel's first message: each names its channel's part (all four voices of a chorale
    were named "Bass", the last name, a fresh reviewer found). A track of two channels named once keeps
    that name for both."""
    voices = [(0, "Soprano", 72), (1, "Alto", 67), (2, "Tenor", 60), (3, "Bass", 48)]
    head = [(0, b"\xff\x03\x0aChorale 12")]  # the title, then each voice's name and program
    for channel, name, _ in voices:
        head += [(0, b"\xff\x03" + bytes([len(name)]) + name.encode()), (0, bytes([0xC0 | channel, 52]))]
    body = [e for channel, _, low in voices for e in notes([low, low + 2, low + 4], channel=channel)]
    piece = read_all(header_chunk(0, 1, 480) + encode_track(head + sorted(body, key=lambda e: e[0])))
    assert [t.name for t in piece.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert [int(piece.notes["pitch"][piece.notes["track"] == k].min()) for k in range(4)] == [72, 67, 60, 48]
    once = [(0, b"\xff\x03\x05Piano"), (0, b"\xc0\x00"), (0, b"\xc1\x00")]
    both = sorted(notes([60, 62], channel=0) + notes([48, 50], channel=1), key=lambda e: e[0])
    piece = read_all(header_chunk(0, 1, 480) + encode_track(once + both))
    assert {t.name for t in piece.tracks} == {"Piano"}


def test_a_track_name_ends_at_its_nul_and_loses_its_line_end() -> None:
    """Old writers copy a C string whole ("Piano\\0") or a DOS line ("Bass\\r\\n"): a sequencer shows
    "Piano" and "Bass" (a held-out tester found the NUL and the line end kept). A name of padding only is
    no name: the track's program runs are merged as an unnamed part's, by every reader alike."""
    piano = [(0, b"\xff\x03\x06Piano\x00"), (0, b"\xc0\x00"), *notes([60, 62])]
    bass = [(0, b"\xff\x03\x06Bass\r\n"), (0, b"\xc1\x20"), *notes([36, 38], channel=1)]
    piece = read_all(_file(piano, bass))
    assert [t.name for t in piece.tracks] == ["Piano", "Bass"]
    runs = [(0, b"\xff\x03\x02\x00\x00"), (0, b"\xc0\x00"), *notes([60, 62]), (960, b"\xc0\x28"), *notes([64], start=960)]
    piece = read_all(_file(runs))
    assert [t.name for t in piece.tracks] == [""] * len(piece.tracks)
