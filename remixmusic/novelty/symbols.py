"""Melodic views of a piece: monophonic lines and their symbol streams under a chosen invariance.

Copy detection works on *lines* (monophonic note sequences) rather than on raw polyphony, the way
melodic-similarity and pattern-discovery work in music information retrieval does, and on a symbol per
note (or per pair/triple of notes) chosen so that the variations a composer or a model applies for free
(transposing, playing at another tempo) leave the stream unchanged.

Lines (``lines=``):

- ``"voices"`` (default): every voice of every track: inside each track, every chord tone gets a line
  by pitch rank from the top (voice 0 is the track's top line), counting the notes of the track still
  held from earlier onsets (:data:`~remixmusic.music.lines.HOLD_SHARE`): an alto moving under a
  soprano's half note stays the alto; in a track of chords the lowest note is the bass line
  (:data:`~remixmusic.music.lines.BASS_VOICE`), whatever voices come and go above it. All voices are analysed, so a quotation
  in an inner voice or the bass is found, and remix maps colour every note; a model that writes four
  voices into one track and a human file with one track per voice both give four lines, compared like
  with like. Low-content inner voices (repeated notes, scale runs) do not count as quotations: a copy
  must carry more information than chance (:mod:`remixmusic.novelty.information`), and the information
  threshold grows with the number of query symbols analysed (:class:`~remixmusic.novelty.config.MatchConfig`
  ``false_copies``), so analysing more lines does not buy more false copies.
- ``"melody"``: one line for the whole piece, over all tracks merged: the notes that are the highest
  sounding pitch when they start, one per onset (the skyline melody extraction of Uitdenbogerd & Zobel
  1999, applied to every channel at once as they did; a lower voice moving under a held top note is not
  melody).
- ``"merged-voices"``: all tracks merged, then every chord tone gets a line by pitch rank from the top
  (voice 0 is the melody), held notes counted as in ``"voices"``. Voice separation by pitch rank:
  right for homophonic textures such as chorales, wrong where voices cross or rest.
- ``"skyline"``: one line per track, the highest note at each onset inside that track; for corpora
  whose tracks mean the same thing in every file.

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
- ``intervals`` (order 1): the pitch interval from note ``k`` to ``k+1`` alone: the same notes in other
  note values, another meter or tempo are the same stream. The pitch-interval sequence that folk-song
  variant research compares melodies by (a variant often keeps a tune's pitches and changes its rhythm:
  van Kranenburg, Volk & Wiering 2013); each symbol carries less information, so a copy must be longer.
  Varied copies under it ignore onsets too.

Every stream keeps ``note_index``: the piece's note index of the first note of each symbol, so matches
found on symbols can be reported per note, beat and bar of the original piece.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from remixmusic.errors import check_choice
from remixmusic.music.lines import DEFAULT_LINES, Line, extract_lines
from remixmusic.music.notes import Piece, half_onsets

INVARIANCES = ("exact", "transposed", "transposed+tempo", "rhythm", "contour", "intervals")


DEFAULT_INVARIANCE = "transposed+tempo"


ORDER = {"exact": 0, "transposed": 1, "transposed+tempo": 2, "rhythm": 2, "contour": 2, "intervals": 1}
"""How many following notes a symbol of each invariance depends on (see the module docstring)."""


COMPARED_WORDS = {
    "exact": "pitches and note lengths",
    "transposed": "intervals and note lengths",
    "transposed+tempo": "intervals and rhythm",
    "rhythm": "rhythm only",
    "contour": "contour and rough rhythm",
    "intervals": "pitch intervals only, not rhythm",
}
"""What a match under each invariance compares, in a few words (command help, report text)."""


TIMELESS = ("intervals",)
"""Invariances whose matches ignore onsets altogether (a copy may have any rhythm, so its time scale,
query span over source span, says nothing about note values; varied copies align on pitch alone)."""


PITCHLESS = ("rhythm", "contour")
"""Invariances whose matches do not fix the pitch intervals (``rhythm`` ignores pitch, ``contour`` keeps
only each step's direction), so no transposition in semitones describes a copy."""


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
    "intervals": _INTERVALS,
}
"""Symbols of an invariance are ints in ``0 .. ALPHABET_SIZE[invariance] - 1``."""


def check_invariance(invariance: str) -> str:
    """``invariance`` if it is one of :data:`INVARIANCES`.

    Raises:
        ConfigError: an unknown invariance.
    """
    return check_choice("invariance", invariance, INVARIANCES)


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
    if invariance == "intervals":
        return (interval + MAX_INTERVAL).astype(np.int32)
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
    halves: bool = True,
) -> list[Stream]:
    """Every line of ``piece`` as a symbol stream; lines too short for one symbol are left out.
    ``halves``: inter-onset ratios at a score's half steps exact (:func:`~remixmusic.music.notes.half_onsets`;
    ``False``: from the rounded onsets, as an index saved before half steps has them)."""
    check_invariance(invariance)
    out = []
    notes = piece.notes
    for line in extract_lines(piece, lines, include_drums):
        n = notes[line.notes]
        onset = half_onsets(n) if halves else 2 * n["onset"].astype(np.int64)
        if len(onset) > 1 and np.any(np.diff(onset) <= 0):  # halves set by hand against the onsets
            onset = 2 * n["onset"].astype(np.int64)
        symbols = encode(n["pitch"], onset, n["duration"], invariance)
        if len(symbols):
            out.append(Stream(symbols, line, invariance))
    return out
