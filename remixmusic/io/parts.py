"""Instrument parts: the program runs of one part read as one track.

MIDI readers (pretty_midi, miditoolkit, symusic) make one instrument per (file track, channel, program),
so a melody whose channel changes patch in the middle (a lead that switches from piano to strings for a
chorus, a file that restates a patch before every phrase with another number) comes out as several
instruments, each holding a fragment of the line: a copied phrase across a change is cut in two, and a
part with many changes becomes tracks of a few notes each that are too short to analyse at all.

:func:`merge_program_runs` joins such instruments back into one part when everything the file says is
consistent with that: the same track name (not empty; for unnamed instruments, and for those of a file
track that plays several channels, whose name names none of them, as a format-0 file's title does not,
the same file track and channel, which the exact pass of :mod:`remixmusic.io.smf_repair` knows and a file
that needs it is read by)
and drum flag, different programs, and notes that do not sound together (instruments of one name played at the same time are different parts: they overlap for most of
their sounding time, while the runs of one patch-changing channel meet at their boundaries only, where a
legato note may ring past the change). Each note keeps the program in force at its note-on (the ``program``
field of the notes), so nothing is lost and :func:`remixmusic.io.midi.piece_to_midi` writes the program
changes back.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from remixmusic._util.arrays import interval_union
from remixmusic.music.notes import Track

MAX_OVERLAP = 0.25
"""An instrument is a run of a part only if the time both sound is at most this share of the time the one
that sounds less sounds (the part: all the instruments merged into it so far)."""

MAX_CANDIDATES = 16
"""How many earlier parts of the same name an instrument is tried against (bounds the work on files with
hundreds of instruments of one name)."""


def merge_program_runs(
    tracks: Sequence[Track],
    onset: np.ndarray,
    end: np.ndarray,
    track: np.ndarray,
    origins: Sequence[tuple[int, int]] | None = None,
    pitch: np.ndarray | None = None,
) -> tuple[list[Track], np.ndarray, np.ndarray]:
    """Merge the instruments that are program runs of one part (module docstring).

    Args:
        tracks: the instruments, in file order (``n`` of them).
        onset, end: each note's onset and end, in any one time unit (int64 ``(notes,)``).
        track: each note's instrument, an index into ``tracks`` (int64 ``(notes,)``).
        origins: each instrument's file track and channel, where the reader knows them (the exact pass,
            :func:`remixmusic.io.smf_repair.sanitize`); an unnamed instrument is merged only with
            instruments of its own file track and channel.
        pitch: each note's pitch (int64 ``(notes,)``), where given: an instrument never joins a part
            that holds a note of its onset and pitch (a unison of two instruments: two parts, which
            merged would lose a note; the program runs of one channel cannot hold one).

    Returns:
        The parts (each the first of its instruments in file order, with the program of its earliest
        note), each note's part (int64 ``(notes,)``), and each note's program (int64 ``(notes,)``, its
        instrument's).

    An instrument may join a part of its name and drum flag none of whose instruments has its program and
    that does not sound with it longer than :data:`MAX_OVERLAP` allows (of the last
    :data:`MAX_CANDIDATES` such parts); it joins the one it overlaps least (the earliest of equals), else
    starts a part. Every instrument holds at least one note. The work is about linear in the notes:
    each instrument is compared with the time ranges of at most :data:`MAX_CANDIDATES` parts. Raises
    nothing.
    """
    track = np.asarray(track, np.int64)
    programs = np.array([t.program for t in tracks], np.int64)
    note_program = programs[track] if len(tracks) else np.zeros(len(track), np.int64)
    # a track of several channels names none of them (a format-0 file's one track holds the song's title):
    # its named instruments are merged only within their channel, as unnamed ones are
    channels_of = Counter(t for t, _ in set(origins or ()))
    shared = {t for t, count in channels_of.items() if count > 1}
    keys = [_key(t, k, origins, shared) for k, t in enumerate(tracks) if t.name or origins is not None]
    if len(set(keys)) == len(keys):  # no two instruments that could be one part (most files): nothing to merge
        return list(tracks), track, note_program
    order = np.argsort(track, kind="stable")
    bounds = np.searchsorted(track[order], np.arange(len(tracks) + 1))
    spans = [interval_union(onset[order[a:b]], end[order[a:b]]) for a, b in itertools.pairwise(bounds)]
    sizes = [float((b - a).sum()) for a, b in spans]
    codes = None  # each instrument's notes as onset * 128 + pitch, sorted
    if pitch is not None:
        code = np.asarray(onset, np.int64)[order] * 128 + np.asarray(pitch, np.int64)[order]
        codes = [np.unique(code[a:b]) for a, b in itertools.pairwise(bounds)]
    part_of = np.arange(len(tracks), dtype=np.int64)
    parts: list[_Part] = []
    by_name: dict[tuple[str, bool, tuple[int, int] | None], list[_Part]] = {}
    for k, instrument in enumerate(tracks):
        starts, stops = spans[k]
        own = sizes[k]
        best, best_overlap = None, 0.0
        # an unnamed instrument is merged only within its file track and channel: without a name nothing
        # else says two instruments are one part (separate unnamed tracks taking turns are common, in
        # files and in written pieces)
        key = _key(instrument, k, origins, shared)
        same = by_name.setdefault(key, [])
        mergeable = own and (instrument.name or key[2] is not None)
        for part in _candidates(same, instrument.program) if mergeable else []:
            if not len(starts) or stops[-1] <= part.low or part.high <= starts[0]:
                best, best_overlap = part, 0.0  # apart in time: no overlap can be less
                break
            overlap = part.overlap(starts, stops)
            if codes is not None and overlap and part.unison(codes, k):
                continue
            if overlap <= MAX_OVERLAP * min(own, part.size) and (best is None or overlap < best_overlap):
                best, best_overlap = part, overlap
                if not best_overlap:
                    break
        if best is None:
            best = _Part(len(parts), set())
            parts.append(best)
            same.append(best)
        best.programs.add(instrument.program)
        best.members.append(k)
        best.add(starts, stops)
        part_of[k] = best.index
    if len(parts) == len(tracks):
        return list(tracks), track, note_program
    note_part = part_of[track]
    by_part = np.lexsort((track, onset, note_part))  # each part's earliest note first
    first_note = by_part[np.searchsorted(note_part[by_part], np.arange(len(parts)))]
    merged = []
    for part, note in zip(parts, first_note.tolist(), strict=True):
        first = tracks[part.members[0]]
        program = int(note_program[note]) if len(part.members) > 1 else first.program
        merged.append(Track(name=first.name, program=program, is_drum=first.is_drum))
    return merged, note_part, note_program


def _candidates(parts: list[_Part], program: int) -> list[_Part]:
    """The last :data:`MAX_CANDIDATES` of ``parts`` without ``program``, earliest first."""
    out = []
    for part in reversed(parts):
        if program not in part.programs:
            out.append(part)
            if len(out) == MAX_CANDIDATES:
                break
    return out[::-1]


def _key(
    instrument: Track, k: int, origins: Sequence[tuple[int, int]] | None, shared: set[int]
) -> tuple[str, bool, tuple[int, int] | None]:
    """What instrument ``k`` must share with a part to join it: its name and drum flag, and when it has no
    name, or its file track plays several channels (``shared``), its file track and channel (``None``
    where the reader does not know them)."""
    known = origins is not None and (not instrument.name or origins[k][0] in shared)
    origin = (int(origins[k][0]), int(origins[k][1])) if known and origins is not None else None
    return instrument.name, instrument.is_drum, origin


@dataclass
class _Part:
    """Instruments merged so far into one part: their programs, and the time they sound (disjoint sorted
    intervals ``starts``/``stops``, from ``low`` to ``high``)."""

    index: int
    programs: set[int]
    members: list[int] = field(default_factory=list)
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stops: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    size: float = 0.0

    @property
    def low(self) -> int:
        """The first onset of its notes (later than any note while it has none)."""
        return int(self.starts[0]) if len(self.starts) else 2**62

    @property
    def high(self) -> int:
        """The last end of its notes (earlier than any note while it has none)."""
        return int(self.stops[-1]) if len(self.stops) else -(2**62)

    def overlap(self, starts: np.ndarray, stops: np.ndarray) -> float:
        """The time the part and the intervals ``starts``/``stops`` both cover; only the part's
        intervals in their time range are looked at, so a long part costs no more than a short one."""
        a = int(np.searchsorted(self.stops, starts[0], side="right"))
        b = int(np.searchsorted(self.starts, stops[-1], side="left"))
        return _overlap(self.starts[a:b], self.stops[a:b], starts, stops)

    def unison(self, codes: list[np.ndarray], k: int) -> bool:
        """Whether instrument ``k`` has a note of the onset and pitch of a note of a member (``codes``:
        each instrument's notes as onset * 128 + pitch, sorted)."""
        return any(np.isin(codes[k], codes[m], assume_unique=True).any() for m in self.members)

    def add(self, starts: np.ndarray, stops: np.ndarray) -> None:
        """The intervals of a new member join the part's."""
        if not len(starts):
            return
        if starts[0] >= self.high:  # after all of it (runs in file order): no sort needed
            self.starts, self.stops = np.concatenate([self.starts, starts]), np.concatenate([self.stops, stops])
        else:
            self.starts, self.stops = interval_union(
                np.concatenate([self.starts, starts]), np.concatenate([self.stops, stops])
            )
        self.size = float((self.stops - self.starts).sum())


def _overlap(a_starts: np.ndarray, a_stops: np.ndarray, b_starts: np.ndarray, b_stops: np.ndarray) -> float:
    """The time two sets of disjoint sorted intervals both cover."""
    if len(a_starts) + len(b_starts) <= 32:  # a walk along both, cheaper than numpy's calls when short
        a0, a1, b0, b1 = a_starts.tolist(), a_stops.tolist(), b_starts.tolist(), b_stops.tolist()
        i = j = total = 0
        while i < len(a0) and j < len(b0):
            total += max(0, min(a1[i], b1[j]) - max(a0[i], b0[j]))
            if a1[i] < b1[j]:
                i += 1
            else:
                j += 1
        return float(total)
    both_starts, both_stops = interval_union(
        np.concatenate([a_starts, b_starts]), np.concatenate([a_stops, b_stops])
    )
    total = (a_stops - a_starts).sum() + (b_stops - b_starts).sum() - (both_stops - both_starts).sum()
    return float(total)
