"""The exact event-level pass: a damaged or unusual MIDI file rewritten as a clean one, with every repair named.

:func:`sanitize` reads every event of every track (64-bit tick counts, running status, meta and system
exclusive events) and writes a clean format-1 file that any reader takes the same way:

* track 0 holds the tempo, time-signature and key-signature events of *every* track, merged by time as
  players do (at one tick the event of the later track, or the later event, wins);
* then one track per (source track, channel, program of the note-on) in that order, holding a program
  change and the notes, with the source track's name (its last name event): a note keeps the program that
  was in force when it started, whichever reader pairs it (before its track sets one on its channel,
  the channel's from the other tracks, as players keep one program per channel: a setup track's);
* a note-off pairs with the earliest sounding note-on of its channel and pitch (FIFO); a note-off with
  nothing to end is left out; an All Notes Off or All Sound Off message (or a mode change:
  :data:`ALL_NOTES_OFF`) ends every note of its channel sounding, in any track (not in format 2), as a
  player does; a note
  its track leaves sounding is ended where its key was released after it began (a doubled or
  retriggered note-on: :mod:`remixmusic.io.smf_keys`), else by a note-off of its channel and pitch that
  another track holds with nothing to end (channels belong to the file), else at the end of its track.

Repairs, each recorded as one line: a note never released; a tempo of 0 or a tempo event of fewer than 3
data bytes (dropped; with more, read from the first or last three that give a plausible tempo); a time signature with numerator 0, a denominator past 2^7 or fewer than 2 data bytes
(dropped; with 2 or 3 bytes it is read from the first two); a key signature beyond 7 sharps or flats or of
a mode other than major/minor (dropped); data bytes above 127 (clipped); a track that starts with data
bytes (read with the previous track's running status, as a writer that kept it across tracks meant them;
in the first track skipped up to the next status byte); a track cut off
inside an event; a system exclusive event whose length field runs past the end of its track (read up
to its F7 end byte, which every system exclusive message ends with); system common and real-time messages, which MIDI files may not hold (skipped by their
MIDI lengths, running status kept); data after an end-of-track event (ignored, as players do). A format-2 file's independent
sequences are played one after another. Events that no piece is built from (controllers, pitch bends,
system exclusive, other meta events) are left out of the clean file.

A channel is a channel of a MIDI port: a file for more than 16 channels names the port of a track's
channel messages with a port meta event (``FF 21``, port 0 before one), and what a track sends on a
channel (a program, an All Notes Off, a note-off, a drum-part message) reaches the notes of that
channel on its own port only.

A format-2 file's sequences are independent: each after the first starts at 120 quarter notes per
minute (and in 4/4, if the file has meters at all) unless it sets its own tempo (meter) at its start.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from dataclasses import dataclass, field

from remixmusic.io.smf import (
    DATA_BYTES_OF_SYSTEM,
    SmfLayout,
    decode_name,
    encode_track,
    header_chunk,
    per_note,
    read_vlq,
    vlq,
)
from remixmusic.io.smf_keys import OFF, insert_note_off, replay_unbalanced
from remixmusic.io.smf_kits import bank_kit, drum_part_message, kit_timeline, sound_module, split_drums

ALL_NOTES_OFF = frozenset({120, 123, 124, 125, 126, 127})
"""Controllers that end every note sounding on their channel (MIDI 1.0 channel mode messages: All Sound Off,
All Notes Off, and the Omni and Mono/Poly mode changes, which imply it); Reset All Controllers (121) and
Local Control (122) do not."""

PLAUSIBLE_TEMPO = (100_000, 3_000_000)
"""Microseconds a beat (600 to 20 quarter notes a minute) that a padded tempo event's bytes must give to be
read (its first three, as other readers take it, else its last three: a pad byte may come first)."""


@dataclass
class Sanitized:
    """A clean rewrite of a MIDI file: ``data`` (format 1), its track ``chunks`` (conductor first),
    ``repairs`` (one line each), and the last tick of any track (may exceed 2^31: readers with 32-bit
    ticks must not be given such a file)."""

    data: bytes
    chunks: list[bytes] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    last_tick: int = 0
    origins: list[tuple[int, int]] = field(default_factory=list)  # (source track, channel) of chunks[1:]


@dataclass
class _Track:
    name: bytes | None = None
    names: dict[int, bytes] = field(default_factory=dict)  # per channel, a name given after a channel prefix
    # per channel, the name last given before its first message (a format-0 merge of named tracks)
    named_before: dict[int, bytes] = field(default_factory=dict)
    end: int = 0
    notes: dict[tuple[int, int], list[tuple[int, bytes]]] = field(default_factory=dict)
    metas: list[tuple[int, int, bytes]] = field(default_factory=list)  # (tick, kind, clean payload)
    # note-offs with nothing to end in the track: (tick, channel, pitch); notes never released:
    # (onset tick, channel, pitch, program)
    stray_offs: list[tuple[int, int, int]] = field(default_factory=list)
    unreleased: list[tuple[int, int, int, int]] = field(default_factory=list)
    programs: list[tuple[int, int, int]] = field(default_factory=list)  # program changes: (tick, channel, program)
    status: int = 0  # the running status in force at the track's end
    silences: list[tuple[int, int]] = field(default_factory=list)  # All Notes Off messages: (tick, channel)
    silenced: int = 0  # notes ended by another track's All Notes Off (``external`` of _walk)
    kits: list[tuple[int, int, bool]] = field(default_factory=list)  # drum or melodic: (tick, channel, drum)
    tone_maps: list[int] = field(default_factory=list)  # kits entries from bank select 126/127 (GS: melodic)
    modules: set[str] = field(default_factory=set)  # the sound modules it resets: "gs", "xg"


class _Log:
    """Repairs counted by kind, so a thousand bad events make one line."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, what: str, count: int = 1) -> None:
        self.counts[what] += count

    def lines(self) -> list[str]:
        return [what if n == 1 else f"{what} ({n} times)" for what, n in self.counts.items()]


def sanitize(layout: SmfLayout) -> Sanitized:
    """Rewrite ``layout``'s file as described in the module docstring.

    Raises:
        ValueError: more than 65,535 parts (source track, channel, program) to write; never on event data.
    """
    log = _Log()
    tracks: list[_Track] = []
    for number, payload in enumerate(layout.tracks):
        tracks.append(_walk(payload, number, log, tracks[-1].status if tracks else 0))
    if layout.format != 2:
        _silence_across(layout, tracks, log)
    _release(tracks, across=layout.format != 2, log=log)
    _inherit(tracks, across=layout.format != 2)
    offsets = [0] * len(tracks)
    if layout.format == 2 and len(tracks) > 1:
        meters = any(kind == 0x58 for track in tracks for _, kind, _ in track.metas)
        for k in range(1, len(tracks)):
            offsets[k] = offsets[k - 1] + tracks[k - 1].end
            # Each sequence starts afresh: 120 qpm (and 4/4) unless it says otherwise at its start.
            given = {kind for tick, kind, _ in tracks[k].metas if tick == 0}
            defaults = [(0, 0x51, b"\x07\xa1\x20")] * (0x51 not in given)
            defaults += [(0, 0x58, b"\x04\x02\x18\x08")] * (meters and 0x58 not in given)
            tracks[k].metas[:0] = defaults
        log.add(f"format 2: {len(tracks)} independent sequences played one after another")

    latest: dict[tuple[int, int], bytes] = {}  # (kind, tick) -> payload; later tracks and events win
    for track, offset in zip(tracks, offsets, strict=True):
        for tick, kind, payload in track.metas:
            latest[(kind, tick + offset)] = payload
    conductor = sorted(
        ((tick, b"\xff" + bytes([kind, len(payload)]) + payload) for (kind, tick), payload in latest.items()),
        key=lambda event: event[0],
    )
    last_tick = max((t.end + o for t, o in zip(tracks, offsets, strict=True)), default=0)
    chunks = [encode_track(conductor, max([last_tick, *(tick for tick, _ in conductor)]))]
    origins = []
    modules = {m for t in tracks for m in t.modules}
    if modules == {"gs"}:  # a file for GS: bank 127 and 126 are the MT-32 and CM-64 tone maps
        for t in tracks:
            for k in t.tone_maps:
                t.kits[k] = (*t.kits[k][:2], False)
    shared = kit_timeline([t.kits for t in tracks]) if layout.format != 2 else None
    for number, (track, offset) in enumerate(zip(tracks, offsets, strict=True)):
        kits = shared if layout.format != 2 else kit_timeline([track.kits])
        # several names, each before the first message of its own channel (mido's merge_tracks writes a
        # format-0 file so): each names its channel's part; else the track's last name names them all
        per_channel = len(set(track.named_before.values())) > 1
        for (channel, program), events in sorted(track.notes.items()):
            title = track.names.get(channel, track.named_before.get(channel, track.name) if per_channel else track.name)
            title = None if title is None else decode_name(title).encode()  # UTF-8 for every reader
            name = [] if title is None else [(offset, b"\xff\x03" + vlq(len(title)) + title)]
            for out, part in split_drums(events, channel, kits) if kits else [(channel, events)]:
                head = [*name, (offset, bytes([0xC0 | out % 16, program]))]
                body = [(tick + offset, event) for tick, event in part]
                chunks.append(encode_track(head + body, track.end + offset))
                origins.append((number, channel))
    if len(chunks) > 0xFFFF:
        raise ValueError(f"{len(chunks) - 1:,} parts (track, channel and program): more than a MIDI file can hold")
    data = header_chunk(1, len(chunks), layout.division) + b"".join(chunks)
    repairs = [*layout.repairs, *log.lines()]
    return Sanitized(data=data, chunks=chunks, repairs=repairs, last_tick=last_tick, origins=origins)


def _silence_across(layout: SmfLayout, tracks: list[_Track], log: _Log) -> None:
    """Walk again each track that plays a channel another track sends an All Notes Off on while the
    track plays, ending its notes sounding there (channels are the file's: a player ends them). The work
    is about linear: a note looks its end up among the messages of its channel (a binary search)."""
    by_channel: dict[int, list[int]] = {}  # channel -> ticks of its messages, every track's, in time order
    for track in tracks:
        for tick, channel in track.silences:
            by_channel.setdefault(channel, []).append(tick)
    for ticks in by_channel.values():
        ticks.sort()
    silenced = 0
    for number, track in enumerate(tracks):
        first: dict[int, int] = {}  # channel -> the track's first note-on there
        for (channel, _), events in track.notes.items():
            if events and channel in by_channel:
                first[channel] = min(first.get(channel, events[0][0]), events[0][0])
        own = {channel: sorted(t for t, c in track.silences if c == channel) for channel in first}
        # messages after the track's first note and up to its end, not counting its own (played in the walk)
        if any(
            _count(by_channel[channel], start, track.end) > _count(own[channel], start, track.end)
            for channel, start in first.items()
        ):
            carried = tracks[number - 1].status if number else 0
            again = _walk(layout.tracks[number], number, _Log(), carried, by_channel)
            tracks[number] = again
            silenced += again.silenced
    if silenced:
        log.add(f"{silenced} note{'s' * (silenced > 1)} ended by an All Notes Off of its channel in another track")


def _count(ticks: list[int], after: int, upto: int) -> int:
    """How many of the sorted ``ticks`` lie in ``(after, upto]``."""
    return bisect.bisect_right(ticks, upto) - bisect.bisect_right(ticks, after)


NO_PROGRAM = -1
"""A note's program before its track sets one on its channel (resolved by :func:`_inherit`)."""


def _inherit(tracks: list[_Track], across: bool) -> None:
    """Give the notes a track plays on a channel before it sets that channel's program the program in
    force on the channel from every track's program changes (players keep one program per channel, and
    some writers set them all in a setup track, before or after the others; a change at the note's tick
    applies to it), with ``across`` (not format 2); program 0 when none is.
    A note-off goes with its note-on (first in, first out per pitch)."""
    timeline: dict[int, list[tuple[int, int, int]]] = {}  # channel -> (tick, program, track) in play order
    for tick, channel, program, k in sorted(
        ((*e, k) for k, t in enumerate(tracks) for e in t.programs), key=lambda e: (e[0], e[3])
    ):
        timeline.setdefault(channel, []).append((tick, program, k))
    for k, track in enumerate(tracks):
        for channel, _ in [key for key in track.notes if key[1] == NO_PROGRAM]:
            # the other tracks' changes (the track's own all come after these notes, in its event order)
            others = [(tick, program, owner) for tick, program, owner in timeline.get(channel, []) if owner != k]
            # a change at a note's very tick applies to it (written there to set its program), in any track;
            # of two at one tick the later track's
            ticks, programs = ([t for t, _, _ in others], [p for _, p, _ in others]) if across else ([], [])
            events = track.notes.pop((channel, NO_PROGRAM))

            def in_force(tick: int, ticks: list[int] = ticks, programs: list[int] = programs) -> int:
                at = bisect.bisect_right(ticks, tick) - 1
                return programs[at] if at >= 0 else 0

            for (tick, event), program in zip(events, per_note(events, in_force, 0), strict=True):
                group = track.notes.setdefault((channel, program), [])
                if group and group[-1][0] > tick:  # after notes of the track's own program: keep time order
                    group.insert(bisect.bisect_right(group, tick, key=lambda e: e[0]), (tick, event))
                else:
                    group.append((tick, event))


def _release(tracks: list[_Track], across: bool, log: _Log) -> None:
    """End the notes each track left sounding: at a note-off of their channel and pitch that another track
    holds with nothing to end there (the earliest after the note-on; channels are the file's, not a
    track's, so a player ends the note there), with ``across`` (not format 2, whose tracks are
    independent sequences); else at the end of their own track."""
    offs: dict[tuple[int, int], list[int]] = {}
    if across:
        for track in tracks:
            for tick, channel, pitch in track.stray_offs:
                offs.setdefault((channel, pitch), []).append(tick)
        for ticks in offs.values():
            ticks.sort()
    for number, track in enumerate(tracks):
        ended = closed = 0
        for onset, channel, pitch, prog in track.unreleased:
            ticks = offs.get((channel, pitch), [])
            at = bisect.bisect_right(ticks, onset)
            if at < len(ticks):
                tick = ticks.pop(at)
                ended += 1
                track.end = max(track.end, tick)
            else:
                tick = track.end
                closed += 1
            insert_note_off(track.notes[(channel, prog)], tick, channel, pitch, onset)
        if ended:
            log.add(
                f"track {number}: {ended} note{'s' * (ended > 1)} ended by a note-off of its channel in another track"
            )
        if closed:
            log.add(
                f"track {number}: {closed} note{'s' * (closed > 1)} never released, closed at the end of the track"
            )


def walk_track(b: bytes) -> _Track:
    """Every event of one track chunk's payload ``b``, its repairs unrecorded (for the byte screen)."""
    return _walk(b, 0, _Log())


def _walk(
    b: bytes, number: int, log: _Log, carried: int = 0, external: dict[int, list[int]] | None = None
) -> _Track:
    """Every event of one track chunk; see the module docstring for what is kept and repaired. ``carried``:
    the running status in force at the end of the previous track (0 for none); ``external``: the ticks
    of every track's All Notes Off messages by channel (sorted), which end this track's notes too."""
    track = _Track()
    n = len(b)
    i = 0
    tick = 0
    status = 0
    program: dict[int, int] = {}  # until the track sets one (NO_PROGRAM): the channel's, from another track
    port = 0  # the MIDI port of the track's channel messages (meta event FF 21)
    prefix: int | None = None  # the channel a channel prefix (FF 20) names, up to the next channel message
    pending: bytes | None = None  # a track name not yet followed by a channel message
    sounding: dict[int, deque[tuple[int, int]]] = {}  # channel * 128 + pitch -> (program, onset) sounding
    notes = track.notes
    clipped = stray = system = 0
    ended = at_status = False
    external = external or {}
    keys: dict[int, list[int]] = {}  # per channel, the sounding keys it has had
    played: dict[int, list[tuple[int, int]]] = {}  # per key (channel * 128 + pitch): (tick, program or OFF)
    silenced: set[int] = set()  # keys an All Notes Off ended notes of

    def silence(channel: int, at: int) -> None:
        """End the notes of ``channel`` begun before tick ``at`` (one starting there is played after it)."""
        for key in keys.get(channel, []):
            queue = sounding[key]
            while queue and queue[0][1] < at:
                notes[(channel, queue.popleft()[0])].append((at, bytes((0x80 | channel % 16, key % 128, 0))))
                silenced.add(key)

    def flush(channel: int, key: int, queue: deque[tuple[int, int]], at: int) -> None:
        """End the notes of ``key`` that an All Notes Off of another track (``external``) silenced at or
        before tick ``at``, at that message (oldest first, as they were begun), before the event at
        ``at`` is played: a later note-off of the key then ends the next note, as in a player."""
        ticks = external.get(channel)
        while ticks and queue:
            k = bisect.bisect_right(ticks, queue[0][1])
            if k == len(ticks) or ticks[k] > at:
                return
            program_then, onset = queue.popleft()
            insert_note_off(notes[(channel, program_then)], ticks[k], channel, key % 128, onset)
            track.silenced += 1
            silenced.add(key)

    while i < n:
        if at_status:  # after stray data bytes: a status byte with no delta time of its own
            at_status = False
        else:
            c = b[i]
            i += 1
            if c >= 0x80:
                value = c & 0x7F
                while i < n:
                    c = b[i]
                    i += 1
                    value = (value << 7) | (c & 0x7F)
                    if c < 0x80:
                        break
                c = value
            tick += c
        if i >= n:
            break  # a delta time and nothing after it: the track simply ends there
        c = b[i]
        if c >= 0x80:
            i += 1
            if c == 0xFF:
                if i >= n:
                    log.add(f"track {number} cut off inside an event")
                    break
                kind = b[i]
                length, i = read_vlq(b, i + 1)
                if i + length > n:
                    log.add(f"track {number} cut off inside an event")
                    break
                payload = b[i : i + length]
                i += length
                if kind == 0x2F:
                    ended = True
                    break
                if kind == 0x03 and prefix is not None:  # the name of one channel's part
                    track.names[port * 16 + prefix] = payload
                elif kind == 0x03:
                    track.name = pending = payload
                elif kind == 0x20 and payload:  # a channel prefix: for the meta events up to the next message
                    prefix = payload[0] & 0x0F
                elif kind == 0x21 and payload:
                    port = payload[0] & 0x7F
                elif kind in (0x51, 0x58, 0x59):
                    clean = _check_meta(kind, payload, log)
                    if clean is not None:
                        track.metas.append((tick, kind, clean))
                continue
            if c >= 0xF0:
                if c in (0xF0, 0xF7):
                    length, i = read_vlq(b, i)
                    end = b.find(b"\xf7", i) if c == 0xF0 and i + length > n else -1
                    if end >= 0:  # a wrong length field: the message still ends with its end byte
                        log.add(
                            f"track {number}: a system exclusive event announcing {length} bytes runs past "
                            "the end of the track: read up to its end byte (F7)"
                        )
                        i = end + 1
                        continue
                    resume = sysex_end(b, i, length) if c == 0xF0 else -1
                    if resume >= 0:
                        log.add(
                            f"track {number}: a system exclusive event announcing {length} bytes does not end "
                            "where its end byte (F7) or the next event does: read up to them"
                        )
                        i = resume
                        continue
                    i += length
                    if i > n:
                        log.add(f"track {number} cut off inside an event")
                    elif c == 0xF0 and (part := drum_part_message(b[i - length : i])) is not None:
                        track.kits.append((tick, port * 16 + part[0], part[1]))
                    elif c == 0xF0 and (module := sound_module(b[i - length : i])) is not None:
                        track.modules.add(module)
                else:
                    i += DATA_BYTES_OF_SYSTEM.get(c, 0)
                    system += 1
                continue
            status = c
        elif not status and carried:
            # a track that starts with data bytes after a track that ended with a running status: a writer
            # that kept its running status across tracks (read as it meant them)
            status = carried
            log.add(f"track {number} starts without a status byte: read with the previous track's running status")
        elif not status:
            # data bytes with no status to run on: skipped up to the next status byte, the last of two or
            # more read as that event's delta time (a delta precedes every status)
            j = i
            while j < n and b[j] < 0x80:
                j += 1
            keep = 1 if j - i >= 2 and j < n else 0
            stray += j - i - keep
            i, at_status = j - keep, not keep
            continue
        prefix = None
        kind = status & 0xF0
        low = status & 0x0F
        channel = port * 16 + low  # the channel of the file: ports hold 16 channels each
        if pending is not None:
            track.named_before.setdefault(channel, pending)
            pending = None
        if kind == 0xC0 or kind == 0xD0:
            if i >= n:
                log.add(f"track {number} cut off inside an event")
                break
            d1 = b[i]
            d2 = 0
            i += 1
        else:
            if i + 2 > n:
                log.add(f"track {number} cut off inside an event")
                break
            d1 = b[i]
            d2 = b[i + 1]
            i += 2
        if d1 > 127 or d2 > 127:
            clipped += 1
            d1 = min(d1, 127)
            d2 = min(d2, 127)
        if kind == 0x90 and d2:
            key = channel * 128 + d1
            queue = sounding.get(key)
            if queue is None:
                queue = sounding[key] = deque()
                keys.setdefault(channel, []).append(key)
            elif external:
                flush(channel, key, queue, tick)
            now = program.get(channel, NO_PROGRAM)
            queue.append((now, tick))
            played.setdefault(key, []).append((tick, now))
            group = notes.get((channel, now))
            if group is None:
                group = notes[(channel, now)] = []
            group.append((tick, bytes((0x90 | low, d1, d2))))
        elif kind == 0x80 or kind == 0x90:
            key = channel * 128 + d1
            queue = sounding.get(key)
            if queue and external:  # one at this very tick ends the note here either way
                flush(channel, key, queue, tick - 1)
            if queue:
                played[key].append((tick, OFF))
                notes[(channel, queue.popleft()[0])].append((tick, bytes((0x80 | low, d1, 0))))
            else:
                track.stray_offs.append((tick, channel, d1))
        elif kind == 0xC0:
            program[channel] = d1
            track.programs.append((tick, channel, d1))
        elif kind == 0xB0 and d1 == 0 and (drum := bank_kit(low, d2)) is not None:
            if d2 in (126, 127):
                track.tone_maps.append(len(track.kits))
            track.kits.append((tick, channel, drum))
        elif kind == 0xB0 and d1 in ALL_NOTES_OFF:
            silence(channel, tick)
            track.silences.append((tick, channel))
    for channel in external:  # notes still sounding at the track's end, silenced before it
        for key in keys.get(channel, []):
            flush(channel, key, sounding[key], tick)
    track.end = tick
    track.status = status
    if ended and i < n and any(b[i:]):
        log.add(f"track {number}: data after its end-of-track event ignored")
    if clipped:
        log.add("data bytes above 127 (e.g. velocity 255) clipped to 127", clipped)
    if system:
        log.add(f"track {number}: {system} system message{'s' * (system > 1)} (not allowed in MIDI files) skipped")
    if stray:
        log.add(f"track {number}: {stray} stray data byte{'s' * (stray > 1)} without a status skipped")
    if retriggered := replay_unbalanced(sounding, played, silenced, notes):
        log.add(f"{retriggered} note{'s' * (retriggered > 1)} of a key played again before its note-off ended at its key's note-off")
    track.unreleased = sorted(
        (onset, key // 128, key % 128, prog) for key, queue in sounding.items() for prog, onset in queue
    )
    return track


def _check_meta(kind: int, payload: bytes, log: _Log) -> bytes | None:
    """A well-formed payload for a tempo/meter/key event, or ``None`` (with a repair logged) to drop it."""
    size = len(payload)
    if kind == 0x51:
        if size < 3:
            log.add(f"tempo event with {size} data byte{'s' * (size != 1)} (3 expected) dropped")
            return None
        if size == 3 and int.from_bytes(payload, "big") == 0:
            log.add("tempo of 0 microseconds per beat dropped")
            return None
        if size > 3:  # padded: the tempo is three of its bytes, the first three as other readers take it
            for where, part in (("first", payload[:3]), ("last", payload[-3:])):
                if PLAUSIBLE_TEMPO[0] <= int.from_bytes(part, "big") <= PLAUSIBLE_TEMPO[1]:
                    log.add(f"tempo event with {size} data bytes (3 expected) read from its {where} three")
                    return part
            log.add(f"tempo event with {size} data bytes (3 expected) dropped")
            return None
        return payload
    if kind == 0x58:
        if size < 2:
            log.add(f"time signature with {size} data byte{'s' * (size != 1)} (4 expected) dropped")
            return None
        numerator, exponent = payload[0], payload[1]
        if numerator == 0 or exponent > 7:
            log.add(f"impossible time signature {numerator}/2^{exponent} dropped")
            return None
        if size < 4:
            log.add(
                f"time signature with {size} data bytes (4 expected) read as {numerator}/{1 << exponent}"
            )
            return bytes([numerator, exponent, 24, 8])
        return payload[:4]
    if size < 2:
        log.add(f"key signature with {size} data byte{'s' * (size != 1)} (2 expected) dropped")
        return None
    sharps = payload[0] - 256 if payload[0] > 127 else payload[0]
    if not -7 <= sharps <= 7 or payload[1] > 1:
        count = f"{abs(sharps)} {'flats' if sharps < 0 else 'sharps'}"
        log.add(f"key signature out of range ({count}, mode {payload[1]}) dropped")
        return None
    return payload[:2]


def sysex_end(data: bytes, payload: int, length: int) -> int:
    """Where the events after a system exclusive event ``F0`` resume when its length field is wrong, or -1
    when it is right (or runs past ``data``, which the caller reads as a cut). ``payload``: the byte after
    its length field. A message's bytes are below 0x80, its end byte ``F7`` aside (one event may hold
    several messages, ``... F7 F0 ... F7``), so a length that takes in another byte of 0x80 or above
    before its last byte, or an ``F7`` when its last byte is none, is wrong (a writer that left the length
    out, so that the maker's id byte reads as one, or one that counted the ``F0``): the message ends with
    its first ``F7`` when no other such byte comes first, else just before that byte, or before the
    one-byte delta time before it when it starts an event there (a corrupt status byte read as ``F0``).
    A length one short of an ``F7`` that follows at once (a writer that did not count it) ends there too.
    A message split into packets (no ``F7``, the next byte a delta time) keeps its length."""
    stop = payload + length
    if stop > len(data) or not length:
        return -1
    inside, last = data[payload : stop - 1], data[stop - 1]
    foreign = any(x >= 0x80 and x not in (0xF0, 0xF7) for x in inside)
    if not foreign and (last == 0xF7 or 0xF7 not in inside):
        return stop + 1 if last != 0xF7 and stop < len(data) and data[stop] == 0xF7 else -1
    for at in range(payload, stop):
        if data[at] == 0xF7:
            return at + 1
        if data[at] >= 0x80 and data[at] != 0xF0:
            return at - 1 if _event_after_delta(data, at, payload) else at
    return -1


def _event_after_delta(data: bytes, at: int, first: int) -> bool:
    """Whether the byte at ``at`` starts an event (a channel message with its data bytes, a meta event or
    a system exclusive one) after a one-byte delta time at ``at - 1`` (not before ``first``)."""
    if at - 1 < first or data[at - 1] >= 0x80:
        return False
    status = data[at]
    if status in (0xFF, 0xF0):
        return at + 1 < len(data) and data[at + 1] < 0x80
    if not 0x80 <= status < 0xF0:
        return False
    width = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
    after = data[at + 1 : at + 1 + width]
    return len(after) == width and all(x < 0x80 for x in after)
