"""Melodic views of a piece: monophonic lines and their symbol streams under a chosen invariance.

Copy detection works on *lines* (monophonic note sequences) rather than on raw polyphony, the way
melodic-similarity and pattern-discovery work in music information retrieval does, and on a symbol per
note (or per pair/triple of notes) chosen so that the variations a composer or a model applies for free
(transposing, playing at another tempo) leave the stream unchanged.

Lines (``lines=``):

- ``"melody"`` (default): one line for the whole piece, over all tracks merged: the notes that are the
  highest sounding pitch when they start, one per onset (the skyline melody extraction of Uitdenbogerd &
  Zobel 1999, applied to every channel at once as they did; a lower voice moving under a held top note
  is not melody). It is the default because it does not depend on how voices are spread over
  tracks: a model that writes four voices into one track and a human file with one track per voice give
  the same line, so generated pieces and their training corpus are compared like with like.
- ``"merged-voices"``: all tracks merged, then every chord tone gets a line by pitch rank from the top
  (voice 0 is the melody). Voice separation by pitch rank: right for homophonic textures such as
  chorales, wrong where voices cross or rest.
- ``"skyline"``: one line per track, the highest note at each onset inside that track; for corpora
  whose tracks mean the same thing in every file.
- ``"voices"``: like ``"merged-voices"`` but inside each track.

Lines of the merged modes have ``track == -1``.

Drum tracks are left out unless ``include_drums`` is set (their "pitches" are drum sounds).

Invariances (``invariance=``) and how ``n`` notes of a line map to symbols. ``order`` is the number of
*following* notes a symbol looks at, so a line of ``n`` notes has ``n - order`` symbols and symbol ``k``
describes notes ``k .. k + order``; a run of ``m`` matching symbols from ``k`` covers notes
``k .. k + m - 1 + order``:

- ``exact`` (order 0): (pitch, duration in steps) of note ``k``.
- ``transposed`` (order 1): (pitch interval from note ``k`` to ``k+1``, duration of note ``k``).
- ``transposed+tempo`` (order 2, the default): (interval from ``k`` to ``k+1``, the ratio of the
  inter-onset interval ``k+1 -> k+2`` to ``k -> k+1`` snapped to the nearest of :data:`IOI_RATIOS`).
  Unchanged by transposition and by any uniform change of tempo. The pitch of the last note of a run is
  not constrained (only its onset is).
- ``rhythm`` (order 2): the snapped inter-onset ratio alone.
- ``contour`` (order 2): direction of the interval (down/same/up) and a coarse ratio (shorter, about
  the same, longer).

Every stream keeps ``note_index``: the piece's note index of the first note of each symbol, so matches
found on symbols can be reported per note, beat and bar of the original piece.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from remixmusic.errors import RemixError
from remixmusic.notes import Piece

INVARIANCES = ("exact", "transposed", "transposed+tempo", "rhythm", "contour")
DEFAULT_INVARIANCE = "transposed+tempo"
LINE_MODES = ("melody", "merged-voices", "skyline", "voices")
DEFAULT_LINES = "melody"
MERGED_LINE_MODES = ("melody", "merged-voices")
MERGED_TRACK = -1
"""The ``track`` of a line drawn from all tracks merged."""

ORDER = {"exact": 0, "transposed": 1, "transposed+tempo": 2, "rhythm": 2, "contour": 2}
"""How many following notes a symbol of each invariance depends on (see the module docstring)."""

IOI_RATIOS = np.array([1 / 8, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4, 1, 4 / 3, 3 / 2, 2, 3, 4, 6, 8])
"""The small set inter-onset ratios are snapped to (nearest on a log scale; beyond 8:1 is clipped)."""

_RATIO_EDGES = (np.log2(IOI_RATIOS[1:]) + np.log2(IOI_RATIOS[:-1])) / 2
_COARSE_EDGES = np.array([-0.3, 0.3])  # log2 ratio: shorter than ~0.81, longer than ~1.23
MAX_INTERVAL = 36  # intervals are clipped to +-3 octaves
MAX_DURATION = 511  # durations in steps are clipped (42 beats)
_DUR = MAX_DURATION + 1
_INTERVALS = 2 * MAX_INTERVAL + 1

ALPHABET_SIZE = {
    "exact": 128 * _DUR,
    "transposed": _INTERVALS * _DUR,
    "transposed+tempo": _INTERVALS * len(IOI_RATIOS),
    "rhythm": len(IOI_RATIOS),
    "contour": 9,
}
"""Symbols of an invariance are ints in ``0 .. ALPHABET_SIZE[invariance] - 1``."""


def check_invariance(invariance: str) -> str:
    if invariance not in INVARIANCES:
        raise RemixError(f"unknown invariance {invariance!r}; choose one of {', '.join(INVARIANCES)}")
    return invariance


def check_lines(lines: str) -> str:
    if lines not in LINE_MODES:
        raise RemixError(f"unknown line mode {lines!r}; choose one of {', '.join(LINE_MODES)}")
    return lines


@dataclass(frozen=True)
class Line:
    """A monophonic line of a piece: indices into ``piece.notes`` in strictly increasing onset order."""

    track: int
    voice: int
    notes: np.ndarray


@dataclass(frozen=True)
class Stream:
    """A line encoded as symbols under one invariance.

    ``symbols[k]`` describes line notes ``k .. k + order``; ``note_index[k]`` is the piece note index of
    line note ``k`` (the first note of symbol ``k``).
    """

    symbols: np.ndarray
    line: Line
    invariance: str

    @property
    def order(self) -> int:
        return ORDER[self.invariance]

    @property
    def note_index(self) -> np.ndarray:
        return self.line.notes[: len(self.symbols)]


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
    # Group by (track, voice); within a group the order above is by onset already.
    by_line = np.lexsort((np.arange(len(idx)), voice, track))
    idx, track, voice = idx[by_line], track[by_line], voice[by_line]
    cut = np.flatnonzero((track[1:] != track[:-1]) | (voice[1:] != voice[:-1])) + 1
    bounds = np.concatenate([[0], cut, [len(idx)]])
    return [
        Line(int(track[a]), int(voice[a]), idx[a:b].astype(np.int64)) for a, b in itertools.pairwise(bounds)
    ]


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


def ioi_ratio_class(ioi: np.ndarray) -> np.ndarray:
    """Class (index into :data:`IOI_RATIOS`) of each ratio ``ioi[k+1] / ioi[k]``; length ``len(ioi)-1``."""
    ioi = np.asarray(ioi, dtype=np.float64)
    return np.searchsorted(_RATIO_EDGES, np.log2(ioi[1:] / ioi[:-1])).astype(np.int32)


def encode(pitch: np.ndarray, onset: np.ndarray, duration: np.ndarray, invariance: str) -> np.ndarray:
    """Symbols of one monophonic line (onsets strictly increasing) under ``invariance``; int32."""
    check_invariance(invariance)
    n = len(pitch)
    order = ORDER[invariance]
    if n <= order:
        return np.zeros(0, np.int32)
    pitch = np.asarray(pitch, dtype=np.int32)
    duration = np.clip(np.asarray(duration, dtype=np.int32), 1, MAX_DURATION)
    if invariance == "exact":
        return (pitch * _DUR + duration).astype(np.int32)
    interval = np.clip(np.diff(pitch), -MAX_INTERVAL, MAX_INTERVAL)
    if invariance == "transposed":
        return ((interval + MAX_INTERVAL) * _DUR + duration[:-1]).astype(np.int32)
    ioi = np.diff(np.asarray(onset, dtype=np.int64))
    if np.any(ioi <= 0):
        raise ValueError("a line needs strictly increasing onsets")
    ratio = ioi_ratio_class(ioi)
    if invariance == "transposed+tempo":
        return ((interval[:-1] + MAX_INTERVAL) * len(IOI_RATIOS) + ratio).astype(np.int32)
    if invariance == "rhythm":
        return ratio
    coarse = np.searchsorted(_COARSE_EDGES, np.log2(ioi[1:] / ioi[:-1]))
    return ((np.sign(interval[:-1]) + 1) * 3 + coarse).astype(np.int32)


def piece_streams(
    piece: Piece,
    invariance: str = DEFAULT_INVARIANCE,
    lines: str = DEFAULT_LINES,
    include_drums: bool = False,
) -> list[Stream]:
    """Every line of ``piece`` as a symbol stream; lines too short for one symbol are left out."""
    check_invariance(invariance)
    out = []
    notes = piece.notes
    for line in extract_lines(piece, lines, include_drums):
        n = notes[line.notes]
        symbols = encode(n["pitch"], n["onset"], n["duration"], invariance)
        if len(symbols):
            out.append(Stream(symbols, line, invariance))
    return out
