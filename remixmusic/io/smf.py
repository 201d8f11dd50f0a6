"""Standard MIDI File structure: chunks, a fast screen for files a reader may take as they are, and writing.

A MIDI file is a header chunk (``MThd``: format, track count, ticks per beat) followed by chunks, of which
the track chunks (``MTrk``) hold the events. :func:`split_chunks` walks the chunks the way the MIDI 1.0
specification asks: unknown (vendor) chunk types are skipped, every track chunk is read even when the
header announces fewer, and a zero-length track is simply an empty track.

:func:`remixmusic.io.smf_screen.screen` decides whether a fast reader may take a file as it is; this
module walks chunks (:func:`split_chunks`) and writes them (:func:`encode_track`).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from remixmusic.errors import MidiError

END_OF_TRACK = b"\xff\x2f\x00"

MAX_VLQ = (1 << 28) - 1
"""The largest delta time a 4-byte variable-length quantity holds (readers reject longer ones)."""


SMPTE_RATES = {24: 24.0, 25: 25.0, 29: 30000 / 1001, 30: 30.0}
"""Frames a second of the SMPTE time codes a MIDI header may name (29: 30 drop-frame, 29.97)."""

DATA_BYTES_OF_SYSTEM = {0xF1: 1, 0xF2: 2, 0xF3: 1}
"""Data bytes after a system common status byte (F1-F3; the others have none)."""

DEFAULT_SECONDS_PER_BEAT = 0.5
"""A file timed in seconds (SMPTE) has no beats: its seconds are read as beats of this length (120 qpm,
the MIDI default tempo)."""


@dataclass
class SmfLayout:
    """Where the parts of a MIDI file are.

    ``data`` is the file from its ``MThd`` header on (a RIFF or MacBinary wrapper removed); ``tracks``
    holds each ``MTrk`` chunk's payload (its events, without the 8-byte chunk header, to its real end) in
    file order, and ``offsets`` where each payload starts in ``data``. ``repairs`` lists what had to be read
    differently from what the header says (one line each). A file timed in SMPTE frames has
    ``ticks_per_second`` (29.97 frames for the drop-frame code 29) and ``division`` its nominal ticks a
    second (frames x ticks a frame), which readers take as ticks a beat.
    """

    data: bytes
    format: int
    division: int
    declared_tracks: int
    tracks: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    skipped_chunks: list[bytes] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    ticks_per_second: float | None = None


LEADING_BYTES = 1024
"""How far into a file the ``MThd`` header is looked for when the file does not start with it (a MacBinary
header is 128 bytes)."""


def split_chunks(data: bytes, source: str | None = None) -> SmfLayout:
    """Find the header and every track chunk of ``data``.

    Files as people have them are read where the MIDI data is whole, each repair recorded in
    ``repairs``:

    * a RIFF MIDI file (``RIFF`` ... ``RMID``, Microsoft's ``.rmi`` wrapper) is read from its ``data``
      chunk to the end of the file, whatever that chunk's size says (0, or too small, from some writers),
      or from its ``MThd`` header when the RIFF chunks are out of step (an odd-sized chunk written
      without its pad byte); bytes before the ``MThd`` header (a MacBinary header, up to
      :data:`LEADING_BYTES`) are skipped;
    * a track chunk whose length field is wrong is read to its real end: when the announced length does
      not end on an end-of-track event or at the next ``MTrk`` chunk, the track ends at the first
      end-of-track event followed by a ``MTrk`` chunk (announced too long: the next track is not
      swallowed; too short: its last events are not lost), or, for the last track, at the end of the file
      when the file ends with an end-of-track event; a track with no end-of-track event before the next
      ``MTrk`` chunk (a writer that counted the end-of-track event it never wrote) ends where that chunk
      starts;
    * where no chunk header stands after a chunk, a chunk whose type is not printable (a vendor's binary
      tag) and whose length reaches the next ``MTrk`` chunk is skipped, and other bytes outside any chunk
      (a padding byte between two chunks) are skipped up to the next ``MTrk`` chunk;
    * a chunk tagged ``MTrk`` in other letter cases (``MTrK``) that ends with an end-of-track event is
      read as a track chunk (a repair; skipped as a vendor chunk, its notes were lost without a word);
    * zero bytes padding the file after its last end-of-track event are ignored;
    * a file cut off inside its last track (an interrupted download or copy) is read up to the cut; the
      event cut in two is dropped and notes still sounding are closed at the end of the track by the
      event-level pass (:mod:`remixmusic.io.smf_repair`).

    Raises:
        MidiError: empty input, no ``MThd`` header, a header shorter than 6 bytes (unless a track chunk
            follows its 6 bytes: a wrong length field), a zero time division
            or an SMPTE one of no known frame rate, no track chunk at all, or a file cut off before its first track chunk
            ("truncated").
    """
    if not data:
        raise MidiError(source, "empty file")
    original, (data, skipped) = data, _midi_data(data, source)
    searched = skipped is not None and not original.startswith(b"RIFF")  # the header was looked for in the bytes
    if len(data) < 14:
        raise MidiError(source, "truncated (unexpected end of file)")
    header_length = struct.unpack_from(">I", data, 4)[0]
    if header_length < 6 and not _chunk_at(data, 14):
        raise MidiError(source, f"corrupt MIDI: header chunk of {header_length} bytes (6 needed)")
    fmt, declared, division = struct.unpack_from(">HHH", data, 8)
    per_second = None
    if division & 0x8000:  # SMPTE: -frames a second (two's complement) and ticks a frame
        frames, per_frame = 256 - (division >> 8), division & 0xFF
        if frames not in SMPTE_RATES or per_frame == 0:
            raise MidiError(source, f"corrupt MIDI: SMPTE time division of {frames} frames x {per_frame} ticks")
        division = frames * per_frame  # ticks a nominal second, a valid header's division for readers
        per_second = SMPTE_RATES[frames] * per_frame
    if division == 0:
        raise MidiError(source, "corrupt MIDI: 0 ticks per beat")
    layout = SmfLayout(data=data, format=fmt, division=division, declared_tracks=declared)
    if per_second is not None:
        layout.ticks_per_second = per_second
        layout.repairs.append(
            f"SMPTE time division ({frames} frames a second x {per_frame} ticks): timed in seconds, read "
            f"as beats of {DEFAULT_SECONDS_PER_BEAT} s (120 qpm) and its tempo events ignored"
        )
    if skipped:
        layout.repairs.append(skipped)
    position = 8 + header_length
    if header_length != 6 and (header_length < 6 or (not _chunk_at(data, position) and data[14:18] == b"MTrk")):
        # a header length written wrongly (little-endian, 06 00 00 00): the first track follows 6 bytes on
        layout.repairs.append(f"a header length of {header_length} bytes read as 6 (a track chunk follows 6 bytes on)")
        position = 14
    while True:
        if not _chunk_at(data, position):
            following = _resync(data, position, layout)
            if following < 0:  # past the last chunk: trailing bytes, ignored as players do
                break
            position = following
        kind = data[position : position + 4]
        length = struct.unpack_from(">I", data, position + 4)[0]
        start = position + 8
        if kind == b"MThd":  # a second file (``cat a.mid b.mid``): players read the first
            _second_file(layout, position)
            break
        if (
            kind != b"MTrk"
            and kind.lower() == b"mtrk"
            and data[start + length - 3 : start + length] == END_OF_TRACK
        ):
            layout.repairs.append(f"a track chunk tagged {kind.decode()!r} (not 'MTrk') read as a track")
            kind = b"MTrk"
        if kind == b"MTrk":
            end, repair = _track_end(data, start, length, len(layout.tracks))
            if repair:
                layout.repairs.append(repair)
            layout.tracks.append(data[start:end])
            layout.offsets.append(start)
            position = end
            continue
        layout.skipped_chunks.append(kind)  # a vendor chunk: the specification says skip it
        position = start + length
    if not layout.tracks:
        if position + 8 > len(data) and position < len(data):
            raise MidiError(source, "truncated (unexpected end of file)")
        if searched:  # "MThd" in some other file (a web page saved as .mid)
            raise MidiError(source, f"not a MIDI file (no track chunk after the text 'MThd' at byte {len(original) - len(data)})")
        raise MidiError(source, "corrupt MIDI: no track chunk (MTrk)")
    if declared < len(layout.tracks):
        layout.repairs.append(
            f"the header announces {declared} track{'s' * (declared != 1)} but the file holds "
            f"{len(layout.tracks)}: all were read"
        )
    if fmt > 2:
        layout.repairs.append(f"unknown file format {fmt} read as format 1")
        layout.format = 1
    return layout


def _midi_data(data: bytes, source: str | None) -> tuple[bytes, str | None]:
    """The bytes from the ``MThd`` header on, and the repair that found it there (``None`` when the file
    starts with it).

    Raises:
        MidiError: no header (or a RIFF file without a MIDI ``data`` chunk).
    """
    if data.startswith(b"MThd"):
        return data, None
    if data[:4] == b"RIFF" and data[8:12] == b"RMID":
        position = 12
        while position + 8 <= len(data):
            kind = data[position : position + 4]
            size = struct.unpack_from("<I", data, position + 4)[0]
            if kind == b"data" and data[position + 8 : position + 12] == b"MThd":
                # to the end of the file, whatever the chunk's size says (writers put 0, or too little):
                # the MIDI file's own chunks say where it ends, and a RIFF chunk after it is skipped
                return data[position + 8 :], "a RIFF MIDI (RMID) wrapper removed"
            position += 8 + size + (size & 1)
        found = data.find(b"MThd", 12)  # chunks out of step (an odd-sized chunk without its pad byte)
        if found < 0:
            raise MidiError(source, "a RIFF MIDI (RMID) file without MIDI data")
        return data[found:], "a RIFF MIDI (RMID) wrapper with wrong chunk sizes removed"
    found = data.find(b"MThd", 0, LEADING_BYTES)
    if found < 0:
        raise MidiError(source, "not a MIDI file (no MThd header)")
    return data[found:], f"{found} bytes before the MIDI header skipped"


def _chunk_at(data: bytes, position: int) -> bool:
    """Whether a chunk header that fits in the file starts at ``position``: ``MTrk``, or another type of
    four printable ASCII characters (a vendor chunk)."""
    if position + 8 > len(data):
        return False
    kind = data[position : position + 4]
    if kind == b"MTrk":
        return True
    return all(32 <= c < 127 for c in kind) and position + 8 + struct.unpack_from(">I", data, position + 4)[
        0
    ] <= len(data)


def _resync(data: bytes, position: int, layout: SmfLayout) -> int:
    """Where the walk over the chunks goes on when no chunk header stands at ``position`` (see
    :func:`split_chunks`): a chunk of another type whose type is not printable (a vendor's binary tag)
    whose length ends at the next ``MTrk`` chunk or at the end of the file is skipped by its length;
    else bytes that are no chunk (a padding byte between two chunks) are skipped up to the next ``MTrk``.
    Returns that position (the repair recorded), or -1 when no track chunk follows."""
    following = data.find(b"MTrk", position)
    if following < 0 or following + 8 > len(data):
        return -1
    header = data.find(SECOND_HEADER, position, following)
    if header >= 0:  # a second file after padding or a cut header: players read the first
        _second_file(layout, header)
        return -1
    if position + 8 <= len(data):
        end = position + 8 + struct.unpack_from(">I", data, position + 4)[0]
        if end == following or (end > following and end == len(data)):
            layout.skipped_chunks.append(data[position : position + 4])
            layout.repairs.append(f"a chunk of unknown type {data[position : position + 4].hex(' ')} skipped")
            return following if end == following else -1
    layout.repairs.append(
        f"{following - position} byte{'s' * (following - position != 1)} outside any chunk skipped before "
        f"track chunk {len(layout.tracks)}"
    )
    return following


def _track_end(data: bytes, start: int, length: int, number: int) -> tuple[int, str | None]:
    """Where the track chunk whose payload starts at ``start`` really ends (see :func:`split_chunks`), and
    the repair that says so (``None`` when its length field is right)."""
    end = start + length
    size = len(data)
    if end == size or (end < size and (data[end - 3 : end] == END_OF_TRACK or _chunk_at(data, end))):
        return end, None
    announced = f"track {number} announces {length} bytes"
    header = _second_header(data, start, end)
    if header >= 0:  # a second file inside this track's length (a copy cut off in it, a length too long)
        return header, f"{announced}, but a second MIDI file starts in it: the track ends after {header - start}"
    # no end-of-track event where the length says: a writer that counted the end-of-track event it never
    # wrote, or a length off by a few bytes; the next track chunk, when no end-of-track event comes
    # before it, is where this track ends (else the next track is swallowed or skipped in silence)
    if end - 4 > start and _chunk_at(data, end - 4) and data.find(END_OF_TRACK, start, end - 4) < 0:
        # the length counts an end-of-track event (delta time and 3 bytes) that was never written
        return end - 4, f"{announced} but ends after {length - 4}, where the next chunk starts (no end-of-track event)"
    following = _next_track(data, start)
    if following >= 0 and data.find(END_OF_TRACK, start, following) < 0:
        return following, (
            f"{announced} but ends after {following - start}, where the next track starts (no end-of-track event)"
        )
    following = data.find(END_OF_TRACK + b"MTrk", start)
    if following >= 0 and following + 3 != end:
        real = following + 3
        return (
            real,
            f"{announced} but ends after {real - start} (its end-of-track event, then the next track)",
        )
    # the file's last end-of-track event, when only zero bytes (padding) follow it
    last = data.rfind(END_OF_TRACK, start)
    closed = last + 3 if last >= 0 and not any(data[last + 3 :]) else -1
    padding = f" ({size - closed} zero bytes of padding after it ignored)" if 0 <= closed < size else ""
    if end > size:
        if closed >= 0:  # only the length field is wrong
            return closed, (
                f"the last track announces {length} bytes but the file ends {end - size} bytes earlier, "
                f"after a complete track: read as it is{padding}"
            )
        return size, f"truncated: {announced}, the file ends {end - size} bytes earlier: read up to the cut"
    if closed > end and data.find(b"MTrk", end) < 0:
        return closed, f"{announced} but ends after {closed - start}, at the end of the file{padding}"
    return end, None


SECOND_HEADER = b"MThd\x00\x00\x00\x06"
"""The start of a second file's header chunk inside a file (files concatenated)."""


def _second_file(layout: SmfLayout, position: int) -> None:
    """Record that reading stops at a second file's header at byte ``position``."""
    layout.repairs.append(f"a second MIDI file starts at byte {position}: ignored (the first is read)")


def _second_header(data: bytes, start: int, end: int) -> int:
    """Where a track whose payload starts at ``start`` and is announced to end at ``end`` ends when a second
    file's ``MThd`` header (of length 6) starts before ``end``: after its end-of-track event before that
    header, else at the header (a copy cut off inside this track); -1 when no header is there."""
    at = data.find(SECOND_HEADER, start, end + len(SECOND_HEADER) - 1)  # a header starting before ``end``
    if at < 0:
        return -1
    closed = data.rfind(END_OF_TRACK, start, at)
    return closed + 3 if closed >= 0 else at


def _next_track(data: bytes, start: int) -> int:
    """Where the first ``MTrk`` chunk after ``start`` starts that the events of the track from ``start``
    reach at an event boundary (:func:`_reaches`), or -1: ``MTrk`` inside a text or system exclusive
    event is no chunk."""
    at = data.find(b"MTrk", start)
    while at >= 0 and at + 8 <= len(data):
        if _reaches(data, start, at):
            return at
        at = data.find(b"MTrk", at + 1)
    return -1


def _reaches(data: bytes, start: int, target: int) -> bool:
    """Whether walking the events of a track from ``start`` (delta times, running status, meta and system
    exclusive events by their lengths) puts an event's start at ``target``."""
    at, status = start, 0
    while at < target:  # ``at``: where an event (its delta time) starts
        while at < target and data[at] & 0x80:
            at += 1
        at += 1
        if at >= target:
            return False  # the delta time reaches it: no event there
        byte = data[at]
        if byte == 0xFF:  # meta: FF kind length payload
            at += 2
            length, at = read_vlq(data, at)
            at += length
        elif byte in (0xF0, 0xF7):
            length, at = read_vlq(data, at + 1)
            at += length
        elif byte >= 0xF0:
            at += 1 + DATA_BYTES_OF_SYSTEM.get(byte, 0)
        else:
            if byte & 0x80:
                status, at = byte, at + 1
            at += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
    return at == target


def read_vlq(data: bytes, at: int) -> tuple[int, int]:
    """The variable-length quantity at ``at`` and the position after it (a quantity cut off by the end of
    ``data`` is read up to there)."""
    value = 0
    while at < len(data):
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    return value, at


NAME_PADDING = " \t\r\n\x0b\x0c"
"""What writers leave around a track name (a DOS line end, spaces): not part of the name."""


def clean_name(name: str) -> str:
    """A track name as a sequencer shows it: up to its first NUL (the end of a C string that an old writer
    copied whole), without :data:`NAME_PADDING` around it. Raises nothing."""
    return name.split("\0", 1)[0].strip(NAME_PADDING)


def decode_name(raw: bytes) -> str:
    """A track name's bytes as text: UTF-8, else Shift-JIS (cp932, Japanese files: taken when it decodes
    and gives kana or kanji), else Windows-1252 (Latin-1 for its five unused bytes). Different bytes
    stay different names (decoding with U+FFFD for every invalid byte made two Japanese names one, and
    their parts one part). Raises nothing."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp932")
        if any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in text):
            return text
    except UnicodeDecodeError:
        pass
    return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in raw)


def vlq(value: int) -> bytes:
    """``value`` as a MIDI variable-length quantity (more than 4 bytes past :data:`MAX_VLQ`).

    Raises:
        ValueError: a negative ``value``.
    """
    if value < 0:
        raise ValueError(f"a variable-length quantity cannot be negative ({value})")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def header_chunk(fmt: int, tracks: int, division: int) -> bytes:
    """An ``MThd`` chunk."""
    return b"MThd" + struct.pack(">IHHH", 6, fmt, tracks, division)


def track_chunk(payload: bytes) -> bytes:
    """An ``MTrk`` chunk around ``payload`` (events, end-of-track included)."""
    return b"MTrk" + struct.pack(">I", len(payload)) + payload


_V = TypeVar("_V")


def per_note(events: list[tuple[int, bytes]], at_note_on: Callable[[int], _V], default: _V) -> list[_V]:
    """A value for each note event (``(tick, event)`` of one channel, in time order): ``at_note_on(tick)``
    for a note-on, and its note-on's for a note-off (first in, first out per pitch; ``default`` when it
    has none)."""
    sounding: dict[int, deque[_V]] = {}
    values = []
    for tick, event in events:
        if event[0] & 0xF0 == 0x90:
            value = at_note_on(tick)
            sounding.setdefault(event[1], deque()).append(value)
        else:
            queue = sounding.get(event[1])
            value = queue.popleft() if queue else default
        values.append(value)
    return values


def encode_track(events: list[tuple[int, bytes]], end: int | None = None) -> bytes:
    """An ``MTrk`` chunk from ``(tick, event bytes)`` pairs (sorted by tick, stable), ended at ``end``.

    Event bytes are complete events with their status byte (no running status); ``end`` defaults to the
    last event's tick.

    Raises:
        ValueError: ticks out of order or negative, or ``end`` before the last event.
    """
    out = bytearray()
    now = 0
    for tick, event in events:
        if tick < now:
            raise ValueError(f"event at tick {tick} after one at tick {now}")
        out += vlq(tick - now)
        out += event
        now = tick
    end = now if end is None else end
    if end < now:
        raise ValueError(f"track end {end} before its last event at tick {now}")
    out += vlq(end - now)
    out += END_OF_TRACK
    return track_chunk(bytes(out))
