"""Drum parts on channels other than 10, for the exact pass of :mod:`remixmusic.io.smf_repair`.

General MIDI plays percussion on channel 10 only, and MIDI readers (symusic, miditoolkit, pretty_midi)
flag exactly those notes as drums. The GS and XG extensions that most files written for 1990s sound
modules and karaoke use can make any channel a drum part, and files for them do (a second kit on channel
11, a drum part moved to 16):

* **bank select** (controller 0, its most significant byte) 127 chooses an XG drum kit, 126 an XG sound
  effects kit (Yamaha, *XG Specifications* 1.26, "Bank Select"), 120 a GM2 rhythm channel (MMA, *General
  MIDI 2* 1.2, "Rhythm Channels"); another value on that channel makes it melodic again. Channel 10 stays
  a drum part whatever its bank (GS and GM2 ignore the bank there);
* the Roland GS system exclusive message **Use for Rhythm Part** (``F0 41 dd 42 12 40 1x 15 mm ss F7``:
  part ``x``, map ``mm``; 0 makes the part melodic, 1 or 2 a drum part; Roland, *GS Format* manual,
  "Patch Part Parameters", address 40 1x 15) sets it for a part; so does the Yamaha XG **Part Mode**
  message (``F0 43 1n 4C 08 pp 07 mm F7``: part ``pp``, 0 normal, 1-5 a drum part; *XG Specifications*,
  "Multi Part", address 08 pp 07).

In a file for GS (it sends the GS Reset message and not the XG System On message), bank select 127 and
126 choose the MT-32 and CM-64 tone maps, melodic sounds (Roland, *SC-88 Owner's Manual*, "Bank
Select"), not XG kits: there they make the channel melodic.

A note is a drum note when the last such message on its channel before its note-on (from any track, as
channels belong to the file; at one tick the later track's) makes it one. :func:`split_drums` moves the
drum notes of a part to channel 10 in the clean rewrite (and melodic notes off it), which every reader
then flags as drums (or not).
"""

from __future__ import annotations

import bisect

from remixmusic.io.smf import per_note

DRUM_BANKS = frozenset({120, 126, 127})
"""Bank select values (controller 0) that make a channel a drum part (GM2 rhythm, XG SFX kit, XG kit)."""

DRUM_CHANNEL = 9
"""Channel 10, counted from 0: General MIDI's percussion channel."""

Kits = dict[int, tuple[list[int], list[bool]]]
"""Per channel, the ticks of the messages that set it drum or melodic (sorted) and what each sets."""


def bank_kit(channel: int, value: int) -> bool | None:
    """What a bank select of ``value`` on ``channel`` makes it: a drum part (True), melodic (False), or
    ``None`` on channel 10, which stays a drum part."""
    return None if channel == DRUM_CHANNEL else value in DRUM_BANKS


GS_RESET = b"\x42\x12\x40\x00\x7f\x00"
"""The GS Reset message after ``F0 41 dd`` (address 40 00 7F, value 00)."""

XG_ON = b"\x4c\x00\x00\x7e\x00"
"""The XG System On message after ``F0 43 1n`` (address 00 00 7E, value 00)."""


def sound_module(payload: bytes) -> str | None:
    """``"gs"`` for a GS Reset message, ``"xg"`` for XG System On, from a system exclusive event's payload
    (the bytes after ``F0`` and the length); ``None`` for any other."""
    if payload[:1] == b"\x41" and payload[2:8] == GS_RESET:
        return "gs"
    if payload[:1] == b"\x43" and len(payload) > 1 and payload[1] & 0xF0 == 0x10 and payload[2:7] == XG_ON:
        return "xg"
    return None


def drum_part_message(payload: bytes) -> tuple[int, bool] | None:
    """The channel and drum flag a GS Use for Rhythm Part or XG Part Mode message sets, from its payload
    (the bytes after ``F0`` and the length), or ``None`` for any other system exclusive message."""
    if len(payload) >= 7 and payload[0] == 0x43 and payload[1] & 0xF0 == 0x10 and payload[2:4] == b"\x4c\x08":
        if payload[4] < 16 and payload[5] == 0x07:  # XG Part Mode: part pp listens on channel pp by default
            return payload[4], payload[6] != 0
        return None
    if len(payload) < 8 or payload[0] != 0x41 or payload[2:5] != b"\x42\x12\x40" or payload[6] != 0x15:
        return None
    if payload[5] & 0xF0 != 0x10:
        return None
    part = payload[5] & 0x0F  # parts 10, 1-9, 11-16
    channel = DRUM_CHANNEL if part == 0 else part - 1 if part <= 9 else part
    return channel, payload[7] != 0


def kit_timeline(changes: list[list[tuple[int, int, bool]]]) -> Kits | None:
    """The :data:`Kits` of a file from each track's ``(tick, channel, drum)`` messages, in play order; ``None``
    when no message makes a channel other than 10 a drum part or channel 10 melodic (most files)."""
    if not any(drum != (channel % 16 == DRUM_CHANNEL) for track in changes for _, channel, drum in track):
        return None
    kits: Kits = {}
    for tick, channel, drum, _ in sorted(
        ((*change, k) for k, track in enumerate(changes) for change in track), key=lambda e: (e[0], e[3])
    ):
        ticks, flags = kits.setdefault(channel, ([], []))
        ticks.append(tick)
        flags.append(drum)
    return kits


def split_drums(events: list[tuple[int, bytes]], channel: int, kits: Kits) -> list[tuple[int, list[tuple[int, bytes]]]]:
    """The note events of one part (``(tick, event)`` in time order, on ``channel``) split into its melodic
    notes and its drum notes: ``[(channel, events), ...]`` for the clean rewrite, the drum notes on channel
    10 and melodic notes of channel 10 on channel 9 (a part is a chunk of its own, so the channel only
    says drums or not to the reader). A note-off goes with its note-on (first in, first out per pitch)."""
    ticks, flags = kits.get(channel, ([], []))
    low = channel % 16  # the channel of its port (a file's channels are port * 16 + channel)
    default = low == DRUM_CHANNEL

    def in_force(tick: int) -> bool:
        at = bisect.bisect_right(ticks, tick) - 1
        return flags[at] if at >= 0 else default

    parts: dict[bool, list[tuple[int, bytes]]] = {False: [], True: []}
    for (tick, event), drum in zip(events, per_note(events, in_force, default), strict=True):
        parts[drum].append((tick, event))
    out = []
    for drum, part in parts.items():
        target = DRUM_CHANNEL if drum else low if low != DRUM_CHANNEL else DRUM_CHANNEL - 1
        if part:
            out.append((target, [(t, bytes([(e[0] & 0xF0) | target, *e[1:]])) for t, e in part]))
    return out
