"""Keys played again before their note-off, for the exact pass of :mod:`remixmusic.io.smf_repair`.

Its walk pairs a note-off with the earliest sounding note-on of its key (channel and pitch: first in,
first out), as symusic, miditoolkit and pretty_midi do and as any reader of its clean rewrite repeats.
When a track's note-ons and note-offs of a key do not balance, that pairing goes wrong: two note-ons of
a key and one note-off (a part's notes doubled at one tick, two copies merged; a key struck again while
it sounds, then released once) leave a note sounding, which first in, first out pairs with the key's
*next* note-off, and so on down the track, so the last note was held to its track's end. A player has
one key there, and a synthesizer releases every voice of the key at its note-off. So a key whose notes
the walk leaves sounding, though a note-off of the key came after they began, is paired again as a
player plays it (:func:`replay_unbalanced`); keys that balance keep first in, first out, so the files the
fast reader reads as they are read the same either way. Keys are ``channel * 128 + pitch`` (channels
of all ports: ``port * 16 + channel``); ``notes`` are the walk's note events by (channel, program),
``(tick, event)`` in time order.
"""

from __future__ import annotations

import bisect
from collections import deque

OFF = -2
"""In a key's history, a note-off (else the entry is the program of a note-on)."""


def insert_note_off(events: list[tuple[int, bytes]], tick: int, channel: int, pitch: int, onset: int) -> None:
    """Insert the note-off at ``tick`` of a note of ``channel`` and ``pitch`` begun at ``onset`` into
    ``events`` (``(tick, event)`` in time order): before the events of its tick (a note starting there is
    another note), unless the note began there (then after its note-on: one step long, not lost)."""
    where = (bisect.bisect_right if tick <= onset else bisect.bisect_left)(events, tick, key=lambda e: e[0])
    events.insert(where, (tick, bytes((0x80 | channel % 16, pitch, 0))))


def replay_unbalanced(
    sounding: dict[int, deque[tuple[int, int]]],
    played: dict[int, list[tuple[int, int]]],
    silenced: set[int],
    notes: dict[tuple[int, int], list[tuple[int, bytes]]],
) -> int:
    """Pair again, as a player plays them, the keys that ``sounding`` (per key, the ``(program, onset)``
    of the notes the walk left sounding) still holds notes of though a note-off of the key came after
    such a note began: each note-off of the key ends every note of it sounding. ``played``: per key, its
    note-ons ``(tick, program)`` and note-offs ``(tick, OFF)`` in event order; keys in ``silenced`` (an
    All Notes Off ended some of their notes) keep their pairing. Rewrites the keys' note-offs in
    ``notes`` and their entries in ``sounding`` (the notes still sounding after the replay). Returns how
    many notes left sounding it ended."""
    ended = 0
    for key, queue in sounding.items():
        history = played.get(key, [])
        last_off = max((tick for tick, what in history if what == OFF), default=-1)
        if not queue or key in silenced or last_off <= queue[0][1]:
            continue
        channel, pitch = key // 128, key % 128
        for program in {what for _, what in history if what != OFF}:
            events = notes[(channel, program)]
            events[:] = [e for e in events if not (e[1][0] & 0xF0 == 0x80 and e[1][1] == pitch)]
        now: list[tuple[int, int]] = []  # (program, onset) sounding
        for tick, what in history:
            if what != OFF:
                now.append((what, tick))
                continue
            for program, onset in now:
                insert_note_off(notes[(channel, program)], tick, channel, pitch, onset)
            now = []
        ended += len(queue) - len(now)
        sounding[key] = deque(now)
    return ended
