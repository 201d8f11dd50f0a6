"""Melodic lines of a piece: every voice of every track (the default), the melody (highest sounding note over
all tracks), merged voices or per-track skylines (see :mod:`remixmusic.novelty.symbols` for the modes).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from remixmusic.errors import check_choice
from remixmusic.music.notes import Piece

LINE_MODES = ("melody", "merged-voices", "skyline", "voices")


LINES_VERSION = 5
"""Version of how lines are read (2: a voice moving under a note held in its track keeps its line,
:data:`HOLD_SHARE`; 3: block chords under a held note in tracks of single notes, :data:`BLOCK_CHORD`;
4: and in tracks of chords, under a note that sounds until the track's next onset; 5: a track of
chords has a bass line, :data:`BASS_VOICE`).
Saved indexes record it: lines read by another version differ in tracks with chords."""


DEFAULT_LINES = "voices"


MERGED_LINE_MODES = ("melody", "merged-voices")


MERGED_TRACK = -1
"""The ``track`` of a line drawn from all tracks merged."""


def check_lines(lines: str) -> str:
    """``lines`` if it is a line mode (:data:`LINE_MODES`).

    Raises:
        ConfigError: an unknown line mode.
    """
    return check_choice("line mode", lines, LINE_MODES)


@dataclass(frozen=True)
class Line:
    """A monophonic line of a piece: indices into ``piece.notes`` in strictly increasing onset order."""

    track: int
    voice: int
    notes: np.ndarray


def extract_lines(piece: Piece, lines: str = DEFAULT_LINES, include_drums: bool = False) -> list[Line]:
    """Split a piece into monophonic lines (see the module docstring for the modes)."""
    check_lines(lines)
    notes = piece.notes
    keep = np.arange(len(notes))
    if not include_drums:
        keep = keep[~notes["is_drum"]]
    if len(keep) == 0:
        return []
    if lines == "melody":
        return [Line(MERGED_TRACK, 0, keep[melody_indices(notes[keep])])]
    sub = notes[keep]
    merged = lines in MERGED_LINE_MODES
    tracks = np.full(len(sub), MERGED_TRACK, np.int16) if merged else sub["track"]
    # Highest pitch first within each (track, onset); the original index breaks ties deterministically.
    order = np.lexsort((keep, -sub["pitch"].astype(np.int32), sub["onset"], tracks))
    idx, track, onset = keep[order], tracks[order], sub["onset"][order]
    new_group = np.ones(len(idx), dtype=bool)
    new_group[1:] = (track[1:] != track[:-1]) | (onset[1:] != onset[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(idx)), 0))
    voice = np.arange(len(idx)) - group_start
    if lines == "skyline":
        idx, track, voice = idx[voice == 0], track[voice == 0], voice[voice == 0]
    else:
        above, bass = _held_above(notes, idx, track, group_start)
        voice = np.where(bass, BASS_VOICE, voice + above)
    # Group by (track, voice); within a group the order above is by onset already.
    by_line = np.lexsort((np.arange(len(idx)), voice, track))
    idx, track, voice = idx[by_line], track[by_line], voice[by_line]
    cut = np.flatnonzero((track[1:] != track[:-1]) | (voice[1:] != voice[:-1])) + 1
    bounds = np.concatenate([[0], cut, [len(idx)]])
    return [
        Line(int(track[a]), int(voice[a]), idx[a:b].astype(np.int64)) for a, b in itertools.pairwise(bounds)
    ]


HOLD_SHARE = 0.5
"""A note started earlier in a track of chords holds its voice at a later onset when it sounds through
at least this share of the shortest note starting there: a half note under moving quarters is held, a
note overlapping the next by a legato touch is not. A share, not a time, so a piece played at another
tempo gets the same lines."""

BLOCK_CHORD = 3
"""In a track that is mostly single notes, an onset of this many notes or more is a block chord, ranked
under the notes above it that sound through all of it or until the track's next onset (a melody note
over a left-hand triad); smaller groups (a double stop, a grace note struck with its note, a melody
note with a bass note) keep the melody track's reading, one line whatever its overlaps."""

CHORD_SHARE = 0.3
"""Held notes keep their voices only in a track where at least this share of the onsets start two notes
or more (several voices written into one track); a melody track's overlapping notes stay one line."""

MAX_HELD_LOOKBACK = 64
"""How many earlier notes of a track are searched for notes still held at an onset (bounds the work; a
note held across more than this many later notes of its track no longer keeps its voice)."""


LEGATO_SHARE = 0.125
"""How far a lower note may still sound into a note's onset, as a share of the shortest note starting
there, and the note still be the bass: a legato overlap of the bass line itself, not a bass note held
under it. A share, not a time, so the lines do not change with the tempo."""

BASS_VOICE = 99
"""The ``voice`` of a track's bass line: in a track of chords, the lowest note of an onset group of two
notes or more (or under a note still sounding) under which no earlier note of the track still sounds
(more than :data:`LEGATO_SHARE`). Ranked from the
top, the bass of a texture whose number of voices changes (a chorale reduced to one staff, a piano left
hand under one to three upper voices) moved from line to line and no copy of it could be found; the
outer voices are the ones a texture keeps (the bass line of thoroughbass and of harmonic reduction)."""


def _held_above(
    notes: np.ndarray, idx: np.ndarray, track: np.ndarray, group_start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each note ``idx[k]`` (sorted by track, onset, then pitch from the top), how many notes of its
    track that started earlier are still held at its onset above its pitch: the voices they hold are
    taken, so a voice moving under a held note keeps its rank instead of taking the top line's (a
    four-voice chorale written into one track reads as its four tracks do).

    In tracks with chords at :data:`CHORD_SHARE` of their onsets or more, a note is held when it sounds
    through :data:`HOLD_SHARE` of the shortest note starting there, or, over a block chord, until the
    track's next onset (a piano melody's dotted quarter over a left-hand triad of half notes, released
    as the next melody note starts: the triad's top note took the melody's line). In other tracks (a melody whose notes
    overlap by a legato touch, or ring on with the sustain pedal baked into their lengths: one line
    whatever its overlaps) only a block chord (:data:`BLOCK_CHORD` notes or more started together) is
    ranked under the notes above it that sound through all of it or until the track's next onset (a
    piano melody note still sounding when the left hand's triad starts under it).

    Also returns which notes are their track's bass (:data:`BASS_VOICE`; tracks of chords only)."""
    onset = notes["onset"][idx].astype(np.int64)
    duration = notes["duration"][idx].astype(np.int64)
    end = onset + duration
    # One test per onset (against its shortest note), so notes starting together keep their order.
    new_group = np.r_[True, group_start[1:] != group_start[:-1]]
    firsts = np.flatnonzero(new_group)
    group_of = np.cumsum(new_group) - 1
    shortest_in_group = np.minimum.reduceat(duration, firsts)
    shortest = shortest_in_group[group_of]
    group_onset, group_track = onset[firsts], track[firsts]
    next_onset = np.r_[group_onset[1:], np.iinfo(np.int64).max]
    next_onset[np.r_[group_track[1:] != group_track[:-1], True]] = np.iinfo(np.int64).max
    through = np.minimum(shortest_in_group, next_onset - group_onset)[group_of]  # the block chord's test
    pitch = notes["pitch"][idx].astype(np.int64)
    held = np.zeros(len(idx), np.int64)
    held_through = np.zeros(len(idx), np.int64)
    under = np.zeros(len(idx), bool)  # an earlier note of the track held below
    over = np.zeros(len(idx), bool)  # an earlier note of the track still sounding above
    size = np.diff(np.r_[firsts, len(idx)])
    block = np.repeat(size >= BLOCK_CHORD, size)
    for k in range(1, MAX_HELD_LOOKBACK + 1):
        j = group_start - k  # notes of the same onset are not earlier
        ok = j >= 0
        if not ok.any():
            break
        jj = np.maximum(j, 0)
        ok &= track[jj] == track
        holds = end[jj] - onset >= HOLD_SHARE * shortest
        under |= ok & (pitch[jj] < pitch) & (end[jj] - onset > LEGATO_SHARE * shortest)
        ok &= pitch[jj] > pitch
        over |= ok & (end[jj] > onset)
        through_ok = end[jj] - onset >= through
        held += ok & (holds | (block & through_ok))
        held_through += ok & through_ok
    tracks, at = np.unique(group_track, return_inverse=True)
    chords = np.bincount(at, weights=size >= 2, minlength=len(tracks)) / np.bincount(at, minlength=len(tracks))
    chordal = chords[np.searchsorted(tracks, track)] >= CHORD_SHARE
    lowest = np.r_[group_start[1:] != group_start[:-1], True]  # highest first within a group
    bass = chordal & lowest & ((np.repeat(size, size) >= 2) | over) & ~under
    return np.where(chordal, held, np.where(block, held_through, 0)), bass


def melody_indices(notes: np.ndarray) -> np.ndarray:
    """Indices (in onset order) of the notes that are the highest sounding pitch when they start, one per
    onset: the skyline melody (Uitdenbogerd & Zobel 1999). Pass pitched notes only (no drums)."""
    if not len(notes):
        return np.zeros(0, np.int64)
    onset = notes["onset"].astype(np.int64)
    end = onset + notes["duration"]
    # Sounding pitches as a (distinct pitches, distinct event times) boolean map from +1/-1 edges and a
    # running sum. Only the times where a note starts or ends are columns, so memory follows the number
    # of notes, not the length of the piece (a stray note an hour later costs two columns, not millions).
    times, at = np.unique(np.concatenate([onset, end]), return_inverse=True)
    start_col, end_col = at[: len(onset)], at[len(onset) :]
    pitches, row = np.unique(notes["pitch"], return_inverse=True)
    edges = np.zeros((len(pitches), len(times)), np.int32)
    np.add.at(edges, (row, start_col), 1)
    np.add.at(edges, (row, end_col), -1)
    sounding = np.cumsum(edges, axis=1, dtype=np.int32) > 0
    highest = len(pitches) - 1 - np.argmax(sounding[::-1], axis=0)
    top = np.where(sounding.any(axis=0), pitches[highest], -1)
    pitch = notes["pitch"].astype(np.int64)
    candidates = np.flatnonzero(pitch == top[start_col])
    candidates = candidates[np.argsort(onset[candidates], kind="stable")]
    _, first = np.unique(onset[candidates], return_index=True)
    return candidates[first]


MELODY_TRACK_NAMES = (
    "soprano", "sopran", "melody", "melodie", "melodia", "melodía", "cantus", "lead",
    "voice", "vocal", "vocals", "vox", "singer", "tune", "canto", "gesang",
)
"""Track names (case-insensitive, as a word at the start of the name) that say "this is the tune": the
melody, the top voice of a choir, or the sung part of a song ("Voice" over a guitar's strummed chords,
whose top strings ring above it)."""


def melody_track(piece: Piece) -> int | None:
    """The track the source names as its melody (Soprano, Melody, Cantus, Lead ...: see
    :data:`MELODY_TRACK_NAMES`), if one holds pitched notes; ``None`` otherwise."""
    for k, track in enumerate(piece.tracks):
        words = track.name.strip().lower().replace("_", " ").replace("-", " ").split()
        if words and words[0] in MELODY_TRACK_NAMES and np.any(
            (piece.notes["track"] == k) & ~piece.notes["is_drum"]
        ):
            return k
    return None


def melody_line(piece: Piece) -> np.ndarray:
    """Pitches of the piece's melody in time order: the skyline (:func:`melody_indices`) of the track the
    source names as its melody (:func:`melody_track`), else of all pitched tracks merged.

    A named Soprano part is the tune even where a descant (a violin, a horn) sounds above it; the skyline
    of all parts would take the descant. A lower voice moving under a held top note is not melody, which
    "highest note at each onset" would wrongly take (a chorale's bass under a soprano's half note).
    """
    pitched = ~piece.notes["is_drum"]
    named = melody_track(piece)
    if named is not None:
        pitched &= piece.notes["track"] == named
    notes = piece.notes[pitched]
    return notes["pitch"][melody_indices(notes)].astype(np.int16)
