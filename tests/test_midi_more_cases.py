"""Further files of the kinds of issue 9, as a fresh tester wrote them (beyond ``../shared/midi-cases``):
system messages inside tracks, chunks a walk must step over, zero padding, a note far out, a file name
that is not UTF-8, and a loop of symbolic links. Each is read right by every reader, or skipped with a
reason, and never costs the rest of a folder."""

from __future__ import annotations

import csv
import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from remixmusic.errors import MidiError
from remixmusic.io.folders import walk_midi_files
from remixmusic.io.midi import _read_fast, midi_bytes_to_piece, write_midi
from remixmusic.io.smf import END_OF_TRACK, encode_track, split_chunks, vlq
from remixmusic.music.notes import NOTE_DTYPE, Piece
from tests.test_midi_cases import MELODY, assert_melody, notes, read_all, smf


def _running_status_track(system: bytes) -> bytes:
    """The melody as one track in running status (note-ons of velocity 0 as note-offs), with the
    ``system`` message (status and data bytes) between the fourth and fifth notes."""
    events = b"\x00\x90"
    for i, pitch in enumerate(MELODY):
        if i == 4:
            events += b"\x00" + system
        events += (b"" if i == 0 else b"\x00") + bytes([pitch, 80]) + vlq(480) + bytes([pitch, 0])
    events += b"\x00" + END_OF_TRACK
    return b"MTrk" + struct.pack(">I", len(events)) + events


@pytest.mark.parametrize(
    "system",
    [b"\xf1\x10", b"\xf2\x10\x20", b"\xf3\x05", b"\xf6", b"\xf8", b"\xfa", b"\xfe"],
    ids=[
        "F1 quarter frame",
        "F2 song position",
        "F3 song select",
        "F6 tune request",
        "F8 clock",
        "FA start",
        "FE sensing",
    ],
)
def test_a_system_message_inside_a_track_loses_no_note(system):
    """System common and real-time messages may not stand in a MIDI file; one between two notes in
    running status made the fast reader lose the 12 notes after it, silently. Every reader now reads
    the melody, and the skipped message is a recorded repair."""
    piece = read_all(smf(_running_status_track(system), fmt=0))
    assert_melody(piece)
    assert any("system message" in r for r in piece.metadata["repairs"])


def test_lookalikes_of_system_bytes_keep_the_fast_path():
    """A Latin-1 text event (ñ is F1; a track name that is not UTF-8 goes to the exact pass, which decodes
    it) and a long rest right after a meta event (a delta time of 15,360 ticks starts with F8) are no
    system messages: such files still take the fast reader."""
    name = (0, b"\xff\x01" + vlq(6) + "Españ".encode("latin-1") + b"a")
    data = smf(encode_track([name, *notes(MELODY, start=15_360)]))
    assert b"\xf1" in data and b"\xf8" in data
    assert _read_fast(split_chunks(data)) is not None
    assert_melody(read_all(data), start=15_360 // 40)


def test_a_padding_byte_between_two_track_chunks_skips_no_track():
    first = encode_track(notes(MELODY[:8]))
    second = encode_track(notes(MELODY[8:], start=8 * 480, channel=1))
    piece = read_all(smf(first, b"\x00", second, declared=2))
    assert_melody(piece)
    assert piece.metadata["repairs"] == ["1 byte outside any chunk skipped before track chunk 1"]


def test_a_vendor_chunk_with_a_binary_type_before_the_track_is_skipped():
    vendor = b"\x00\x01\x02\x03" + struct.pack(">I", 4) + b"abcd"
    piece = read_all(smf(vendor, encode_track(notes(MELODY)), declared=1))
    assert_melody(piece)
    assert piece.metadata["repairs"] == ["a chunk of unknown type 00 01 02 03 skipped"]


def test_a_last_track_announcing_too_few_bytes_in_a_zero_padded_file_keeps_its_notes():
    """The length field says 20 bytes, the track runs on to its end-of-track event, and 64 zero bytes pad
    the file: 2 of 16 notes were read, as "cut off inside an event"."""
    track = encode_track(notes(MELODY))
    short = track[:4] + struct.pack(">I", 20) + track[8:]
    piece = read_all(smf(short) + bytes(64))
    assert_melody(piece)
    (repair,) = piece.metadata["repairs"]
    assert "announces 20 bytes" in repair and "64 zero bytes of padding" in repair


def _far_file() -> bytes:
    """Four quarter notes, then one 1.6e9 steps out (a delta time of 2^27 ticks at 1 tick a beat)."""
    events = [*notes(MELODY[:4], length=1), *notes([60], start=4 + (1 << 27), length=1)]
    return smf(encode_track(events), fmt=0, division=1)


def _melody_piece(pitches: list[int]) -> Piece:
    out = np.zeros(len(pitches), NOTE_DTYPE)
    for i, pitch in enumerate(pitches):
        out[i] = (12 * i, 12, pitch, 80, 0, 0, False, 0)
    return Piece(notes=out)


def test_a_note_far_out_keeps_the_analysis_and_its_page_small(tmp_path):
    """A note 33 million bars out, inside the reader's limits: the page embedded every bar start (346 MB,
    2.9 GB of memory); now the remix map keeps the bars its notes start in, numbered as they are."""
    from remixmusic.experiment.provenance import analyze

    (tmp_path / "q").mkdir()
    (tmp_path / "ref").mkdir()
    (tmp_path / "q" / "far.mid").write_bytes(_far_file())
    write_midi(_melody_piece(MELODY), tmp_path / "ref" / "tune.mid")
    report = analyze(tmp_path / "q", tmp_path / "ref", jobs=1, show_progress=False)
    report.save(tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_bytes()
    assert len(page) < 2_000_000
    (nm,) = report.note_maps
    assert nm.bar_numbers is not None and nm.bar_numbers.tolist() == [1, 2, 33_554_434, 33_554_435]
    data = re.search(rb'"bn":\[([0-9,]+)\]', page)
    assert data is not None and b"33554434" in data.group(1)


def test_a_file_name_that_is_not_utf8_is_analysed_and_named_readably(tmp_path):
    """``caf\\xe9.mid`` (a Latin-1 name from an old archive): the analysis crashed on encoding it; now its
    outputs name it ``café.mid``."""
    query = tmp_path / "q"
    query.mkdir()
    name = os.fsdecode(b"caf\xe9.mid")
    write_midi(_melody_piece(MELODY), query / name)
    write_midi(_melody_piece(MELODY[::-1]), query / "other.mid")
    from remixmusic.experiment.provenance import analyze

    report = analyze(query, query, jobs=1, show_progress=False)
    report.save(tmp_path / "out")
    with open(tmp_path / "out" / "pieces.csv", encoding="utf-8") as fh:
        names = [row["piece"] for row in csv.DictReader(fh)]
    assert "café.mid" in names
    json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))


def test_a_loop_of_symbolic_links_is_named_a_loop(tmp_path):
    os.symlink(tmp_path / "a.mid", tmp_path / "b.mid")
    os.symlink(tmp_path / "b.mid", tmp_path / "a.mid")
    os.symlink(tmp_path / "nothing.mid", tmp_path / "c.mid")
    write_midi(_melody_piece(MELODY), tmp_path / "real.mid")
    files, skipped = walk_midi_files(tmp_path)
    assert [Path(f).name for f in files] == ["real.mid"]
    reasons = {Path(p).name: r for p, r in skipped}
    assert reasons["a.mid"] == reasons["b.mid"] == "a symbolic link loop"
    assert reasons["c.mid"].startswith("a dangling symbolic link")


def test_a_meter_finer_than_the_grid_is_dropped_with_a_repair():
    """5/32: a bar of 7.5 steps. It was dropped in silence; the repair now says so."""
    meter = (0, b"\xff\x58\x04\x05\x05\x18\x08")
    piece = read_all(smf(encode_track([meter, *notes(MELODY)])))
    assert_melody(piece)
    assert len(piece.time_signatures) == 0
    assert piece.metadata["repairs"] == [
        "time signature 5/32 dropped: its bar is not a whole number of steps (12 a beat)"
    ]


# -- a third tester's files ------------------------------------------------------------------------------
def test_a_name_ending_in_a_space_or_dot_is_read(tmp_path):
    """``b.MID `` (a trailing space, as Windows drops from names) was left out without a word."""
    good = smf(encode_track(notes(MELODY)))
    for name in ("a.mid", "b.MID ", "c.midi.", "d..mid", "e.txt", "f.mid.txt"):
        (tmp_path / name).write_bytes(good)
    files, skipped = walk_midi_files(tmp_path)
    assert [p.name for p in files] == ["a.mid", "b.MID ", "c.midi.", "d..mid"] and skipped == []


def test_macos_metadata_is_no_music_and_no_failure(tmp_path):
    """An archive unpacked from a Mac holds AppleDouble files (``._a.mid``, magic 00 05 16 07) beside the
    files and in ``__MACOSX/``: they are passed over, so ``--strict`` imports the folder; a real MIDI
    file whose name starts with ``._`` is still read."""
    from typer.testing import CliRunner

    from remixmusic.cli import app

    good = smf(encode_track(notes(MELODY)))
    apple = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(60)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mid").write_bytes(good)
    (tmp_path / "in" / "._a.mid").write_bytes(apple)
    (tmp_path / "in" / "._real.mid").write_bytes(good)
    (tmp_path / "in" / "__MACOSX" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "__MACOSX" / "._a.mid").write_bytes(apple)
    (tmp_path / "in" / "__MACOSX" / "sub" / "._g.mid").write_bytes(apple)
    files, skipped = walk_midi_files(tmp_path / "in")
    assert [p.name for p in files] == ["._real.mid", "a.mid"] and skipped == []
    result = CliRunner().invoke(
        app, ["dataset", "import", str(tmp_path / "in"), "mac", "--root", str(tmp_path / "ds"), "--strict"]
    )
    assert result.exit_code == 0, result.output


def test_a_mis_cased_track_tag_is_read_as_a_track():
    """A track chunk tagged ``MTrK`` was skipped as a vendor chunk: 0 notes and no repair."""
    body = encode_track(notes(MELODY))
    data = smf(encode_track([]), b"MTrK" + body[4:], fmt=1)
    piece = read_all(data)
    assert_melody(piece)
    assert any("'MTrK'" in r for r in piece.metadata["repairs"])


def test_a_delta_time_past_2_63_gives_the_time_line_reason():
    """A 9-byte delta time of 2^63 ticks before a note: "Python int too large to convert to C long"
    was the reason; it is the time line's one-line reason."""
    events = [*notes(MELODY), (2**63 + 16 * 480, b"\x90FP"), (2**63 + 17 * 480, b"\x80F\x00")]
    data = smf(encode_track(events))
    for reader in ("auto", "miditoolkit"):
        with pytest.raises(MidiError, match="lies past step 2\\^31 - 1"):
            midi_bytes_to_piece(data, reader=reader)


@pytest.mark.parametrize(("frames", "per_frame"), [(25, 40), (30, 80), (24, 10), (29, 100)])
def test_a_file_timed_in_smpte_frames_is_read_in_seconds(frames, per_frame):
    """A header with an SMPTE time division (-frames a second, ticks a frame) was rejected as "not
    supported". Its ticks are seconds: a note every 0.5 s is a quarter note at 120 qpm (beats of half a
    second), whatever tempo events the file holds (they do not apply to SMPTE time); a repair says so."""
    per_second = frames * per_frame if frames != 29 else 29.97 * per_frame
    half = round(per_second / 2)
    events = [(0, b"\xff\x51\x03\x0f\x42\x40")]  # 60 qpm: ignored
    events += notes(MELODY, length=half)
    division = ((256 - frames) << 8) | per_frame
    piece = read_all(smf(encode_track(events), division=division))
    assert piece.notes["pitch"].tolist() == MELODY
    expected = [round(12 * i * half / (per_second / 2)) for i in range(16)]
    assert piece.notes["onset"].tolist() == expected
    assert len(piece.tempos) == 0
    assert any("SMPTE" in r for r in piece.metadata["repairs"])


def test_an_smpte_division_of_no_known_rate_is_one_line():
    with pytest.raises(MidiError, match="SMPTE time division of 20 frames"):
        midi_bytes_to_piece(smf(encode_track(notes(MELODY)), division=((256 - 20) << 8) | 40))


def test_a_little_endian_header_length_is_read_as_6():
    """A header length written little-endian (06 00 00 00: 100,663,296 bytes) sent the walk past the end
    of the file: "no track chunk (MTrk)", though the track follows the 6 header bytes."""
    data = bytearray(smf(encode_track(notes(MELODY))))
    data[4:8] = b"\x06\x00\x00\x00"
    piece = read_all(bytes(data))
    assert_melody(piece)
    assert any("header length" in r for r in piece.metadata["repairs"])
