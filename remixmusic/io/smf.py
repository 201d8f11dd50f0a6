"""Standard MIDI File structure: chunks, a fast screen for files a reader may take as they are, and writing.

A MIDI file is a header chunk (``MThd``: format, track count, ticks per beat) followed by chunks, of which
the track chunks (``MTrk``) hold the events. :func:`split_chunks` walks the chunks the way the MIDI 1.0
specification asks: unknown (vendor) chunk types are skipped, every track chunk is read even when the
header announces fewer, and a zero-length track is simply an empty track.

:func:`screen` decides, with a few vectorized passes over the raw bytes, whether a file can go to a fast
reader unchanged (see :mod:`remixmusic.io.midi`), or needs the exact event-level pass of
:mod:`remixmusic.io.smf_repair`. It answers "fast" only when nothing in the file can trip the fast reader:

* the file is not format 2 (its sequences are laid end to end by the exact pass);
* every tempo (``FF 51``), time-signature (``FF 58``) and key-signature (``FF 59``) meta event is well
  formed (these byte pairs are searched for anywhere in the track chunks, so a lookalike inside text or
  a delta time only costs speed);
* every track ends with its one end-of-track event;
* no byte F7 may start an escape event (symusic 0.6 reads those as one byte): every F7 ends the payload
  of a system exclusive event;
* no system common or real-time status byte (F1-F6, F8-FE) stands outside the text of a meta event
  (they may not appear in MIDI files; the fast reader loses the events after one);
* delta times cannot add up past the :data:`SAFE_TICKS` bound (a conservative upper bound computed from
  the lengths of the variable-length quantities, so 32-bit tick counters cannot wrap);
* no unnamed track changes program on a channel it plays (two program changes, or one after its first
  note-on): which file track and channel each program's notes come from, which the merge of an unnamed
  part's program runs needs (:mod:`remixmusic.io.parts`), only the exact pass knows.

The fast reader then must still agree (:func:`with_sentinels`, and in :mod:`remixmusic.io.midi` the
check that tempo, meter and key events at one tick do not disagree); if not, or if it fails, the exact
pass reads the file. Anything the screen lets through wrongly therefore costs correctness only if the
fast reader misreads it *and* returns every beacon.

:func:`with_sentinels` then appends, :data:`SENTINEL_TICKS` after each track's end, a note-off for every
pitch of every channel the track may play, and one *beacon* (a note on pitch 0 that starts there). A note
still sounding at the end of its track is closed by a sentinel, so it shows up as a note crossing
:data:`SENTINEL_TICKS` instead of being dropped in silence; and the reader must return every beacon, which
shows that it read each track in step with its events up to the end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from remixmusic.errors import MidiError

END_OF_TRACK = b"\xff\x2f\x00"

MAX_VLQ = (1 << 28) - 1
"""The largest delta time a 4-byte variable-length quantity holds (readers reject longer ones)."""

SENTINEL_TICKS = 4 * MAX_VLQ
"""How far after a track's end the sentinel note-offs lie (about 2^30 ticks: four maximal deltas)."""

SAFE_TICKS = SENTINEL_TICKS
"""Tracks provably shorter than this are read fast: sentinels stay below 2^31 and apart from real notes."""


SMPTE_RATES = {24: 24.0, 25: 25.0, 29: 30000 / 1001, 30: 30.0}
"""Frames a second of the SMPTE time codes a MIDI header may name (29: 30 drop-frame, 29.97)."""

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
      chunk; bytes before the ``MThd`` header (a MacBinary header, up to :data:`LEADING_BYTES`) are
      skipped;
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
    data, skipped = _midi_data(data, source)
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
                return data[position + 8 : position + 8 + size], "a RIFF MIDI (RMID) wrapper removed"
            position += 8 + size + (size & 1)
        raise MidiError(source, "a RIFF MIDI (RMID) file without MIDI data")
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
            length, at = _vlq_at(data, at)
            at += length
        elif byte in (0xF0, 0xF7):
            length, at = _vlq_at(data, at + 1)
            at += length
        elif byte >= 0xF0:
            at += 1 + {0xF1: 1, 0xF2: 2, 0xF3: 1}.get(byte, 0)
        else:
            if byte & 0x80:
                status, at = byte, at + 1
            at += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
    return at == target


def _vlq_at(data: bytes, at: int) -> tuple[int, int]:
    """The variable-length quantity at ``at`` and the position after it."""
    value = 0
    while at < len(data):
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    return value, at


@dataclass
class Screen:
    """What :func:`screen` found: ``problem`` is ``None`` when the fast reader can take the file as it is.

    ``channels[i]`` lists the channels track ``i`` may play notes on (a superset: every channel whose
    note-on status byte appears in the track's bytes).
    """

    problem: str | None
    channels: list[list[int]] = field(default_factory=list)


def screen(layout: SmfLayout) -> Screen:
    """Check, on raw bytes and without parsing events, that the fast reader can read ``layout`` exactly."""
    if layout.format == 2:
        return Screen("format 2")
    data = layout.data
    size = len(data)
    starts = np.array(layout.offsets, np.int64)
    lengths = np.array([len(t) for t in layout.tracks], np.int64)
    ends = starts + lengths
    # Track payloads only (headers and vendor chunks zeroed), padded: look-aheads never index past the end.
    whole = np.frombuffer(data, dtype=np.uint8)
    raw = np.zeros(size + 8, np.uint8)
    for start, end in zip(layout.offsets, ends.tolist(), strict=True):
        raw[start:end] = whole[start:end]
    for track in layout.tracks:
        if track and not track.endswith(END_OF_TRACK):
            return Screen("a track without an end-of-track event at its end")

    metas = np.flatnonzero(raw[: size - 1] == 0xFF)
    kinds = raw[metas + 1]
    eot = metas[kinds == 0x2F]
    expected = ends[lengths > 0] - 3
    if len(eot) != len(expected) or not np.array_equal(eot, expected):
        return Screen("an end-of-track event inside a track")
    problem = _bad_meta(raw, metas, kinds)
    if problem:
        return Screen(problem)
    for kind, length in ((0x51, 3), (0x58, 4), (0x59, 2)):  # payloads checked above: no status, no delta
        at = metas[kinds == kind]
        for k in range(3, 3 + length):
            raw[at + k] = 0
    problem = _escape(raw, size) or _system_message(raw, size, metas, kinds)
    if problem:
        return Screen(problem)

    # Upper bound of each track's length in ticks. A delta time of k bytes is below 2^(7k); its last byte
    # is below 0x80 (charged 2^7) and its others are the end of a run of bytes >= 0x80, so the byte at
    # position j >= 1 of such a run is charged 2^(7(j+1)): every byte at least 2^14, and the rare runs
    # longer than one byte (long delta times, long system exclusive lengths, non-ASCII text) on top.
    high = raw[:size] >= 0x80
    second = np.flatnonzero(high[1:] & high[:-1]) + 1  # bytes >= 0x80 right after another one
    first = np.concatenate([[True], np.diff(second) != 1])
    run_start = np.maximum.accumulate(np.where(first, np.arange(len(second)), 0))
    position = np.arange(len(second)) - run_start + 2  # position in its run (2, 3, ...)
    extra = np.exp2(7.0 * (np.minimum(position, 9) + 1)) - 2.0**14
    extra_total = np.concatenate([[0.0], np.cumsum(extra)])
    extras = extra_total[np.searchsorted(second, ends)] - extra_total[np.searchsorted(second, starts)]
    bound = lengths * 2.0**14 + extras
    for k in np.flatnonzero(bound >= SAFE_TICKS).tolist():  # long tracks: count the bytes below 0x80
        high_count = int(np.count_nonzero(high[starts[k] : ends[k]]))
        bound[k] = (lengths[k] - high_count) * 2.0**7 + high_count * 2.0**14 + extras[k]
    if (bound >= SAFE_TICKS).any():
        return Screen("delta times that may add up past 2^30 ticks")

    channels = [[c for c in range(16) if _plays(track, _NOTE_ON[c])] for track in layout.tracks]
    for track, playing in zip(layout.tracks, channels, strict=True):
        # the exact pass knows which file track and channel each program's notes come from, which the
        # merge of an unnamed part's program runs needs (:mod:`remixmusic.io.parts`)
        if playing and not _named(track) and any(_changes_program(track, c) for c in playing):
            return Screen("program changes on a channel of an unnamed track")
    return Screen(None, channels)


_NOTE_ON = [bytes([0x90 | channel]) for channel in range(16)]
_PROGRAM = [bytes([0xC0 | channel]) for channel in range(16)]


def _named(track: bytes) -> bool:
    """Whether ``track`` may hold a track name event with a name (``FF 03`` and a length above 0)."""
    at = track.find(b"\xff\x03")
    while 0 <= at < len(track) - 2:
        if track[at + 2]:
            return True
        at = track.find(b"\xff\x03", at + 1)
    return False


def _changes_program(track: bytes, channel: int) -> bool:
    """Whether ``channel`` may change program in ``track`` between its notes: two program changes, or one
    after its first note-on (by byte position, which is time order within a track; lookalikes only cost
    speed)."""
    if _plays(track, _PROGRAM[channel], 2, 1):
        return True
    at = track.find(_PROGRAM[channel])
    while 0 <= at < len(track) - 1 and track[at + 1] >= 0x80:
        at = track.find(_PROGRAM[channel], at + 1)
    first_note = track.find(_NOTE_ON[channel])
    return 0 <= at < len(track) - 1 and 0 <= first_note < at


def _plays(track: bytes, status: bytes, times: int = 1, data: int = 2) -> bool:
    """Whether a ``status`` byte followed by ``data`` data bytes occurs ``times`` times in ``track`` (a note-on:
    a superset of the channels the track plays notes on, since a 2-byte delta time of 2048 to 4095 ticks
    may look alike)."""
    at = track.find(status)
    found = 0
    while 0 <= at < len(track) - data:
        if all(track[at + k] < 0x80 for k in range(1, data + 1)):
            found += 1
            if found == times:
                return True
        at = track.find(status, at + 1)
    return False


def _bad_meta(raw: np.ndarray, metas: np.ndarray, kinds: np.ndarray) -> str | None:
    """The first kind of malformed tempo/meter/key meta event among the ``FF xx`` candidates, if any."""
    at = metas[kinds == 0x51]
    if len(at):
        tempo = (raw[at + 3].astype(np.int64) << 16) | (raw[at + 4].astype(np.int64) << 8) | raw[at + 5]
        if ((raw[at + 2] != 3) | (tempo <= 0)).any():
            return "a malformed tempo event"
    at = metas[kinds == 0x58]
    if len(at) and ((raw[at + 2] != 4) | (raw[at + 3] == 0) | (raw[at + 4] > 7)).any():
        return "a malformed time signature"
    at = metas[kinds == 0x59]
    if len(at):
        sharps = raw[at + 3].astype(np.int8)
        if ((raw[at + 2] != 2) | (sharps < -7) | (sharps > 7) | (raw[at + 4] > 1)).any():
            return "a malformed key signature"
    return None


def _escape(raw: np.ndarray, size: int) -> str | None:
    """Whether a byte F7 may start an escape event (symusic reads those wrongly), rather than end the
    payload of a system exclusive event ``F0 <length> ... F7`` (length of 1 or 2 bytes)."""
    escapes = np.flatnonzero(raw[:size] == 0xF7)
    if not len(escapes):
        return None
    sysex = np.flatnonzero(raw[:size] == 0xF0)
    first, second = raw[sysex + 1].astype(np.int64), raw[sysex + 2].astype(np.int64)
    last = np.where(first < 0x80, sysex + 1 + first, sysex + 2 + ((first & 0x7F) << 7 | second))
    last = last[(first < 0x80) | (second < 0x80)]
    return "an escape (F7) event" if len(np.setdiff1d(escapes, last)) else None


SYSTEM_STATUS = np.array([*range(0xF1, 0xF7), *range(0xF8, 0xFF)], np.uint8)
"""System common (F1-F6) and real-time (F8-FE) status bytes: MIDI files may not hold them, and a fast reader
that meets one loses the running status and the events after it (symusic 0.6 drops the rest of the track)."""


def _system_message(raw: np.ndarray, size: int, metas: np.ndarray, kinds: np.ndarray) -> str | None:
    """Whether a system common or real-time status byte may stand between events. A status byte follows
    a delta time, whose last byte is below 0x80; bytes inside the payload of a meta event (a Latin-1
    track name holds F1-FE for ñ ... þ) and the first byte of the delta time right after a meta event (a
    long rest, 15,360 ticks and more, starts with F8) do not count; other lookalikes in long delta times
    only cost speed."""
    candidates = np.flatnonzero(np.isin(raw[:size], SYSTEM_STATUS))
    candidates = candidates[(candidates > 0) & (raw[np.maximum(candidates - 1, 0)] < 0x80)]
    if not len(candidates):
        return None
    lengths = raw[metas + 2].astype(np.int64)
    single = lengths < 0x80  # one-byte length fields (every meta event but the longest texts)
    starts, stops = metas[single] + 3, metas[single] + 3 + lengths[single]
    inside = np.zeros(size + 1, np.int64)
    np.add.at(inside, np.minimum(starts, size), 1)
    np.add.at(inside, np.minimum(stops, size), -1)
    in_meta = np.cumsum(inside)[:size] > 0
    status = candidates[~in_meta[candidates] & ~np.isin(candidates, stops)]
    return "a system common or real-time message" if len(status) else None


def _sentinels(channel: int, beacon: bool) -> bytes:
    """Note-offs for pitches 0-127 of ``channel``; with ``beacon``, first a note on pitch 0 that the first
    of them ends at once (so a note of pitch 0 still sounding would keep the beacon from coming back)."""
    head = bytes([0x90 | channel, 0, 1, 0]) if beacon else b""
    return head + bytes([0x80 | channel, 0, 0]) + b"".join(bytes([0, pitch, 0]) for pitch in range(1, 128))


_SENTINELS = [[_sentinels(c, beacon) for c in range(16)] for beacon in (False, True)]


def with_sentinels(layout: SmfLayout, found: Screen) -> bytes:
    """The file rebuilt for the fast reader: header track count fixed, vendor chunks and empty tracks
    left out, and sentinel note-offs :data:`SENTINEL_TICKS` after each track's end (module docstring)."""
    parts: list[bytes | memoryview] = []
    count = 0
    for track, channels in zip(layout.tracks, found.channels, strict=True):
        if not track:
            continue
        count += 1
        if not channels:
            parts += [struct.pack(">4sI", b"MTrk", len(track)), track]
            continue
        blocks = [_SENTINELS[i == 0][c] for i, c in enumerate(channels)]  # one beacon per track
        size = len(track) - 3 + len(_HOPS) + sum(map(len, blocks)) + len(blocks) - 1 + 4
        parts += [struct.pack(">4sI", b"MTrk", size), memoryview(track)[:-3], _HOPS]
        parts += [b"\x00".join(blocks), b"\x00" + END_OF_TRACK]
    return header_chunk(min(layout.format, 1), count, layout.division) + b"".join(parts)


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


# At the end-of-track's time an empty text event, then three more 2^28-1 tick hops and one to the
# sentinels (whose first note-off carries the last hop as its delta).
_HOPS = b"\xff\x01\x00" + (vlq(MAX_VLQ) + b"\xff\x01\x00") * 3 + vlq(MAX_VLQ)


def header_chunk(fmt: int, tracks: int, division: int) -> bytes:
    """An ``MThd`` chunk."""
    return b"MThd" + struct.pack(">IHHH", 6, fmt, tracks, division)


def track_chunk(payload: bytes) -> bytes:
    """An ``MTrk`` chunk around ``payload`` (events, end-of-track included)."""
    return b"MTrk" + struct.pack(">I", len(payload)) + payload


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
