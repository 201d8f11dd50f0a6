"""The byte screen of the fast reader: whether symusic may read a MIDI file as it is, and the sentinels
that check it did.

:func:`screen` decides, with a few vectorized passes over the raw bytes, whether a file can go to a fast
reader unchanged (see :mod:`remixmusic.io.midi`), or needs the exact event-level pass of
:mod:`remixmusic.io.smf_repair`. It answers "fast" only when nothing in the file can trip the fast reader:

* the file is not format 2 (its sequences are laid end to end by the exact pass);
* every tempo (``FF 51``), time-signature (``FF 58``) and key-signature (``FF 59``) meta event is well
  formed (these byte pairs are searched for anywhere in the track chunks, so a lookalike inside text or
  a delta time only costs speed);
* every track ends with its one end-of-track event, and starts with a status byte (the exact pass reads
  a track that starts with data bytes with the previous track's running status); its track names are
  UTF-8 (the exact pass decodes others: :func:`remixmusic.io.smf.decode_name`);
* no byte F7 may start an escape event (symusic 0.6 reads those as one byte): every F7 ends the payload
  of a system exclusive event; and no event right after a system exclusive event runs on the running
  status (symusic 0.6 loses its place there);
* no system common or real-time status byte (F1-F6, F8-FE) stands outside the text of a meta event
  (they may not appear in MIDI files; the fast reader loses the events after one);
* delta times cannot add up past the :data:`SAFE_TICKS` bound (a conservative upper bound computed from
  the lengths of the variable-length quantities, so 32-bit tick counters cannot wrap);
* no unnamed track changes program on a channel it plays (two program changes, or one after its first
  note-on), and no named track that plays several channels sets a program (its name, a format-0 file's
  title, names none of them): which file track and channel each program's notes come from, which the
  merge of such a part's program runs needs (:mod:`remixmusic.io.parts`), only the exact pass knows;
* no track that plays several channels holds several names (a format-0 merge of named tracks, each
  name just before its channel's first message: the exact pass names each channel's part by its own);
* no track plays a channel whose program another track may set (a setup track's: players keep one
  program per channel, as the exact pass does, until the track sets its own);
* no GS or XG message may make a channel other than 10 a drum part, or channel 10 melodic
  (:mod:`remixmusic.io.smf_kits`: fast readers flag channel 10 only);
* no track without notes may send an All Notes Off message on a channel another track plays (the fast
  reader drops such a track with its messages; the exact pass ends the channel's notes there), and no
  track may send one on a channel whose program it changes (the fast reader files it under the new
  program, and drops it when no note of that program follows).

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

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from remixmusic.io.smf import END_OF_TRACK, MAX_VLQ, SmfLayout, clean_name, header_chunk, read_vlq, vlq
from remixmusic.io.smf_repair import ALL_NOTES_OFF, NO_PROGRAM, sysex_end, walk_track

SENTINEL_TICKS = 4 * MAX_VLQ
"""How far after a track's end the sentinel note-offs lie (about 2^30 ticks: four maximal deltas)."""

SAFE_TICKS = SENTINEL_TICKS
"""Tracks provably shorter than this are read fast: sentinels stay below 2^31 and apart from real notes."""


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
    names = [_names(track) for track in layout.tracks]
    # surely named: a name event with a name, and no empty one (or one of padding: a NUL, a line end), which
    # as the last name unnames the track
    named = [bool(found) and all(clean_name(n.decode("utf-8", "replace")) for n in found) for found in names]
    for track, found in zip(layout.tracks, names, strict=True):
        if track and not track.endswith(END_OF_TRACK):
            return Screen("a track without an end-of-track event at its end")
        if track and track[read_vlq(track, 0)[1]] < 0x80:
            return Screen("a track that starts without a status byte")
        if not _utf8(found):
            return Screen("a track name that is not UTF-8")

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
    problem = _escape(raw, size) or _sysex_length(raw, size) or _system_message(raw, size, metas, kinds)
    if problem:
        return Screen(problem)
    if _drum_part(raw, size):
        return Screen("a GS or XG drum part")

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
    played = {c for chans in channels for c in chans}
    setting = [{c for c in range(16) if _plays(track, _PROGRAM[c], 1, 1)} for track in layout.tracks]
    for k, (track, playing) in enumerate(zip(layout.tracks, channels, strict=True)):
        # the fast reader drops a track with no notes, and its All Notes Off messages with it; and it files
        # a message after a program change under that program, dropped when no note of it follows
        watch = set(played) if not playing else {c for c in playing if c in setting[k] and _changes_program(track, c)}
        silencing = [c for c in _silenced_channels(track) if c in watch] if watch else []
        if silencing and not playing:
            return Screen("an All Notes Off in a track with no notes")
        if silencing:  # on a channel whose program the track changes between its notes
            return Screen("an All Notes Off on a channel whose program changes")
    counts = np.zeros(16, np.int64)
    for chans in setting:
        counts[list(chans)] += 1
    walked: dict[int, tuple[set[int], set[int]]] = {}

    def truth(j: int) -> tuple[set[int], set[int]] | None:  # (plays unset, sets) of a small track, walked
        if len(layout.tracks[j]) > SMALL_TRACK:
            return None
        if j not in walked:
            walked[j] = _walked(layout.tracks[j])
        return walked[j]

    for k, (track, playing) in enumerate(zip(layout.tracks, channels, strict=True)):
        # a track playing a channel whose program another track sets: players keep one program per
        # channel, and the exact pass gives its notes that one (a setup track's) until it sets its own. Byte
        # lookalikes are a superset: the track is read event by event up to its first event on the
        # channel (a program change first: its own program throughout), small tracks walked whole when
        # that cannot say (ports), and so are the setters (a conductor track whose tempo bytes look like a
        # note-on or a program change)
        for c in (c for c in playing if counts[c] > (c in setting[k])):
            own_first = _program_first(track, c)
            own = truth(k) if own_first is None else None
            if own_first or (own is not None and c not in own[0]):
                continue
            setters = [truth(j) for j in range(len(setting)) if j != k and c in setting[j]]
            if any(t is None or c in t[1] for t in setters):
                return Screen("a channel's program set in another track")
        # the exact pass knows which file track and channel each program's notes come from, which the
        # merge of an unnamed part's program runs needs (:mod:`remixmusic.io.parts`)
        if playing and not named[k] and any(_changes_program(track, c) for c in playing):
            return Screen("program changes on a channel of an unnamed track")
        if len(playing) > 1 and len({n for n in names[k] if n}) > 1:  # maybe one name per channel
            return Screen("several names in a track that plays several channels")
        # a track of several channels names none of them: its parts are merged only within a channel
        if len(playing) > 1 and setting[k] and len(_programs(track, playing)) > 1 and named[k]:
            # byte lookalikes of note-ons on other channels are common (2-byte delta times): walk it
            walked_notes = _notes_and_programs(track)[0]
            if len({c for c, _ in walked_notes}) > 1 and len({max(p, 0) for _, p in walked_notes}) > 1:
                return Screen("a named track that plays several channels")
    return Screen(None, channels)


_NOTE_ON = [bytes([0x90 | channel]) for channel in range(16)]
_PROGRAM = [bytes([0xC0 | channel]) for channel in range(16)]


def _drum_part(raw: np.ndarray, size: int) -> bool:
    """Whether the track bytes ``raw`` may hold a bank select of a drum kit on a channel other than 10
    (``Bn 00 7F``, ``7E`` or ``78``), a GS Use for Rhythm Part message (``41 dd 42 12 40 1x 15``) or an XG
    Part Mode message (``43 1n 4C 08 pp 07``),
    lookalikes included: which notes are drums only the exact pass knows (:mod:`remixmusic.io.smf_kits`)."""
    body = raw[:size]
    value = np.flatnonzero((body[2:] == 0x78) | ((body[2:] | 1) == 0x7F)) + 2  # comparisons: faster than a table
    status = raw[value - 2]
    if ((raw[value - 1] == 0) & (status >= 0xB0) & (status <= 0xBF) & (status != 0xB9)).any():
        return True
    at = np.flatnonzero(body[2:] == 0x42) + 2
    at = at[(raw[at + 1] == 0x12) & (raw[at + 2] == 0x40)]
    if ((raw[at - 2] == 0x41) & (raw[at + 3] & 0xF0 == 0x10) & (raw[at + 4] == 0x15)).any():
        return True
    at = np.flatnonzero(body[2:] == 0x4C) + 2  # XG Part Mode: 43 1n 4C 08 pp 07
    at = at[(raw[at + 1] == 0x08) & (raw[at + 3] == 0x07)]
    return bool(((raw[at - 2] == 0x43) & (raw[at - 1] & 0xF0 == 0x10)).any())


_NOTES_OFF = re.compile(b"[\xb0-\xbf][" + bytes(sorted(ALL_NOTES_OFF)) + b"][\x00-\x7f]")


def _silenced_channels(track: bytes) -> set[int]:
    """The channels ``track`` may send an All Notes Off message (:data:`ALL_NOTES_OFF`) on (lookalikes
    included: they only cost speed)."""
    return {match[0] & 0x0F for match in _NOTES_OFF.findall(track)}


def _names(track: bytes) -> list[bytes]:
    """The payloads of ``track``'s track name events (``FF 03``, lookalikes included), in order."""
    names = []
    at = track.find(b"\xff\x03")
    while 0 <= at < len(track) - 2:
        length, start = read_vlq(track, at + 2)
        names.append(track[start : start + length])
        at = track.find(b"\xff\x03", at + 1)
    return names


def _programs(track: bytes, channels: list[int]) -> set[int]:
    """The programs ``track`` may play ``channels`` at: those its program changes there (lookalikes
    included) set, and 0 for a channel it sets none on."""
    out: set[int] = set()
    for channel in channels:
        found = {m[1] for m in re.findall(re.escape(_PROGRAM[channel]) + b"[\x00-\x7f]", track)}
        out |= found or {0}
    return out


def _utf8(names: list[bytes]) -> bool:
    """Whether every track name of ``names`` (:func:`_names`) is UTF-8: the fast reader decodes others with
    U+FFFD for each invalid byte, which makes different names one; the exact pass decodes them
    (:func:`remixmusic.io.smf.decode_name`)."""
    try:
        for name in names:
            name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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


SMALL_TRACK = 4096
"""Bytes up to which a track is walked event by event, rather than taken at its byte lookalikes, to
decide whether it plays notes with no program of its own (:func:`screen`)."""


def _walked(track: bytes) -> tuple[set[int], set[int]]:
    """The channels ``track`` (read event by event) plays notes on before it sets their program, and
    those it sets a program on (0-15, whatever their MIDI port: the screen's byte searches do not see
    ports, so a superset)."""
    notes, programs = _notes_and_programs(track)
    return {channel % 16 for channel, program in notes if program == NO_PROGRAM}, {c % 16 for c in programs}


def _program_first(track: bytes, channel: int) -> bool | None:
    """Whether ``track`` sets the program of ``channel`` (0-15) before it plays a note on it (or plays
    none), read no further than needed; ``None`` when a port event (FF 21, lookalikes included) or an
    unusual event leaves that to :func:`_walked`."""
    if b"\xff\x21" in track:
        return None
    try:
        for number, kind, _ in _channel_events(track):
            if number == channel:
                return kind == 0xC0
    except IndexError:
        return None
    return True


def _notes_and_programs(track: bytes) -> tuple[set[tuple[int, int]], set[int]]:
    """The (channel, program) of ``track``'s notes (channel: port x 16 + channel; program
    :data:`~remixmusic.io.smf_repair.NO_PROGRAM` before the track sets one) and the channels it sets a
    program on: what :func:`~remixmusic.io.smf_repair.walk_track` finds, read by :func:`_channel_events`
    when it can."""
    program: dict[int, int] = {}
    notes: set[tuple[int, int]] = set()
    try:
        for channel, kind, value in _channel_events(track):
            if kind == 0x90:
                notes.add((channel, program.get(channel, NO_PROGRAM)))
            else:
                program[channel] = value
    except IndexError:  # a malformed or unusual event: the full walk knows how it is read
        walked = walk_track(track)
        return set(walked.notes), {channel for _, channel, _ in walked.programs}
    return notes, set(program)


def _channel_events(track: bytes) -> Iterator[tuple[int, int, int]]:
    """The note-ons (of velocity above 0) and program changes of ``track``, in order, as (channel: port x
    16 + channel, 0x90 or 0xC0, pitch or program): a lean walk of well-formed events (no times, no
    repairs), which raises ``IndexError`` at anything else (a system message, a stray data byte, a data
    byte above 127, an escape, a system exclusive event that misses its end, a cut-off event)."""
    n = len(track)
    i = status = port = 0
    while i < n:
        while track[i] >= 0x80:  # the delta time, not needed
            i += 1
        i += 1
        c = track[i]
        if c == 0xFF:
            kind = track[i + 1]
            length, i = read_vlq(track, i + 2)
            if kind == 0x2F:
                return
            if kind == 0x21 and length:
                port = track[i] & 0x7F
            i += length
            continue
        if c in (0xF0, 0xF7):
            length, i = read_vlq(track, i + 1)
            if c == 0xF7 or track[i + length - 1] != 0xF7 or sysex_end(track, i, length) >= 0:
                raise IndexError("an escape or a system exclusive event that misses its end")
            i += length
            continue
        if c >= 0xF0 or (c < 0x80 and not status):
            raise IndexError("a system message or a stray data byte")
        if c >= 0x80:
            status = c
            i += 1
        kind = status & 0xF0
        size = 1 if kind in (0xC0, 0xD0) else 2
        if i + size > n or max(track[i : i + size]) >= 0x80:
            raise IndexError("an event cut off or a data byte above 127")
        if (kind == 0x90 and track[i + 1]) or kind == 0xC0:
            yield port * 16 + (status & 0x0F), kind, track[i]
        i += size


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


def _sysex_length(raw: np.ndarray, size: int) -> str | None:
    """Whether a system exclusive event ``F0`` (after a delta time's last byte) may have a wrong length
    field, by the tests of :func:`remixmusic.io.smf_repair.sysex_end` (a byte of 0x80 or above but ``F0``
    and ``F7`` before its last byte, an ``F7`` inside when its last byte is none, or an ``F7`` right after
    a payload that does not end with one), which the exact pass repairs (a fast reader loses the events
    after them). Lookalikes in text only cost speed."""
    sysex = np.flatnonzero(raw[:size] == 0xF0)
    sysex = sysex[(sysex > 0) & (raw[np.maximum(sysex - 1, 0)] < 0x80)]
    if not len(sysex):
        return None
    first, second = raw[sysex + 1].astype(np.int64), raw[sysex + 2].astype(np.int64)
    one = first < 0x80
    start = np.where(one, sysex + 2, sysex + 3)
    stop = np.minimum(start + np.where(one, first, (first & 0x7F) << 7 | second), size)
    last = raw[np.maximum(stop - 1, 0)]
    foreign_byte = (raw[:size] >= 0x80) & (raw[:size] != 0xF0) & (raw[:size] != 0xF7)
    if len(sysex) > 32:  # many (a dump of patches): prefix sums over the file
        cum_f = np.concatenate([[0], np.cumsum(foreign_byte)])
        cum_e = np.concatenate([[0], np.cumsum(raw[:size] == 0xF7)])
        inner = np.maximum(stop - 1, start)
        foreign, ends = cum_f[inner] - cum_f[start], cum_e[inner] - cum_e[start]
    else:  # a few (a GM or GS reset): each one's own bytes
        spans = list(zip(start.tolist(), np.maximum(stop - 1, start).tolist(), strict=True))
        foreign = np.array([int(foreign_byte[a:b].any()) for a, b in spans])
        ends = np.array([int((raw[a:b] == 0xF7).any()) for a, b in spans])
    wrong = (foreign > 0) | ((ends > 0) & (last != 0xF7))
    short = (stop > start) & (last != 0xF7) & (raw[stop] == 0xF7)
    if (wrong | short).any():
        return "a system exclusive event whose length misses its end"
    # the event after it: its delta time (at most 4 bytes), then a data byte is running status, which
    # the exact pass keeps across the message and symusic 0.6 loses its place at
    at = stop.copy()
    for _ in range(3):
        at += raw[at] >= 0x80
    return "running status after a system exclusive event" if (raw[at + 1] < 0x80).any() else None


SYSTEM_STATUS = np.array([*range(0xF1, 0xF7), *range(0xF8, 0xFF)], np.uint8)
"""System common (F1-F6) and real-time (F8-FE) status bytes: MIDI files may not hold them, and a fast reader
that meets one loses the running status and the events after it (symusic 0.6 drops the rest of the track)."""


def _system_message(raw: np.ndarray, size: int, metas: np.ndarray, kinds: np.ndarray) -> str | None:
    """Whether a system common or real-time status byte may stand between events. A status byte follows
    a delta time, whose last byte is below 0x80; bytes inside the payload of a meta event (a Latin-1
    track name holds F1-FE for ñ ... þ) and the first byte of the delta time right after a meta event (a
    long rest, 15,360 ticks and more, starts with F8) do not count; other lookalikes in long delta times
    only cost speed."""
    body = raw[:size]
    candidates = np.flatnonzero((body >= 0xF1) & (body != 0xF7) & (body != 0xFF))  # SYSTEM_STATUS
    candidates = candidates[(candidates > 0) & (raw[np.maximum(candidates - 1, 0)] < 0x80)]
    if not len(candidates):
        return None
    lengths = raw[metas + 2].astype(np.int64)
    single = lengths < 0x80  # one-byte length fields (every meta event but the longest texts)
    starts, stops = metas[single] + 3, metas[single] + 3 + lengths[single]
    # inside a payload: some payload starting at or before the candidate ends after it (starts are sorted)
    before = np.searchsorted(starts, candidates, side="right")
    reach = np.maximum.accumulate(stops) if len(stops) else np.zeros(1, np.int64)
    in_meta = (before > 0) & (reach[np.maximum(before - 1, 0)] > candidates)
    ends = np.sort(stops)  # a candidate right after a meta event (np.isin costs more than the rest)
    at = np.minimum(np.searchsorted(ends, candidates), max(len(ends) - 1, 0))
    after_meta = ends[at] == candidates if len(ends) else np.zeros(len(candidates), bool)
    status = candidates[~in_meta & ~after_meta]
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


# At the end-of-track's time an empty text event, then three more 2^28-1 tick hops and one to the
# sentinels (whose first note-off carries the last hop as its delta).
_HOPS = b"\xff\x01\x00" + (vlq(MAX_VLQ) + b"\xff\x01\x00") * 3 + vlq(MAX_VLQ)
