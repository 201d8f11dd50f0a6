"""Order-aware melodic descriptors: what a melody does from note to note, which pitch and rhythm
histograms cannot see.

The descriptors of :mod:`remixmusic.evaluation.descriptors` are statistics of note sets (pitch-class
histogram, range, density, groove): a piece whose pitches are shuffled keeps every one of them. These
read the order of the melody line (the skyline of the pitched notes, Uitdenbogerd & Zobel 1999), so a
classifier two-sample test on both sets of features can tell a melody from a random ordering of its
notes. Each follows a published regularity of melodies:

``step_share``
    share of melodic intervals of one or two semitones (conjunct motion; small intervals dominate
    melodies across cultures: Vos & Troost 1989; Huron 2006, "Sweet Anticipation", ch. 5).
``interval_autocorrelation``
    Pearson correlation of successive melodic intervals (lag 1). Melodies have it negative: a leap is
    usually followed by motion back towards the mean pitch ("post-skip reversal" as regression to the
    mean, von Hippel & Huron 2000); a random ordering of the same pitches gives about ``-0.5`` (the
    intervals of an i.i.d. pitch sequence, ``x[i+1] - x[i]``, have lag-1 correlation -1/2), so the
    measure separates real lines from shuffles in both directions.
``post_skip_reversal``
    share of leaps (``|interval| >= 5`` semitones, a perfect fourth or more) followed by a note in the
    opposite direction (von Hippel & Huron 2000).
``self_repetition``
    share of the line's 4-note patterns (three intervals with their two inter-onset-interval ratios) that
    occur more than once in the piece: motivic repetition within the piece (Conklin & Anagnostopoulou
    2001 count such repeated patterns; here only their share).

All are NaN when the line is too short to define them (fewer than 3 notes; no leap for
``post_skip_reversal``; constant intervals for the autocorrelation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from remixmusic.music.lines import melody_indices
from remixmusic.music.notes import Piece

MELODIC_DESCRIPTORS: tuple[str, ...] = (
    "step_share",
    "interval_autocorrelation",
    "post_skip_reversal",
    "self_repetition",
)
"""Keys of :func:`describe_melody`'s result."""

LEAP = 5
"""Smallest interval (semitones) counted as a leap by ``post_skip_reversal``."""


def describe_melody(piece: Piece) -> dict[str, float]:
    """The :data:`MELODIC_DESCRIPTORS` of a piece's melody line (definitions in the module docstring)."""
    notes = piece.notes[~piece.notes["is_drum"]]
    line = notes[melody_indices(notes)] if len(notes) else notes
    out = dict.fromkeys(MELODIC_DESCRIPTORS, math.nan)
    if len(line) < 3:
        return out
    pitch = line["pitch"].astype(np.int64)
    step = np.diff(pitch)
    size = np.abs(step)
    out["step_share"] = float(np.mean((size >= 1) & (size <= 2)))
    a, b = step[:-1], step[1:]
    if a.std() > 0 and b.std() > 0:
        out["interval_autocorrelation"] = float(np.corrcoef(a, b)[0, 1])
    leaps = np.flatnonzero(size[:-1] >= LEAP)
    if len(leaps):
        out["post_skip_reversal"] = float(np.mean(np.sign(step[leaps + 1]) == -np.sign(step[leaps])))
    if len(line) >= 4:
        ioi = np.diff(line["onset"].astype(np.int64))
        ratio = np.round(np.log2(np.maximum(ioi[1:], 1) / np.maximum(ioi[:-1], 1)) * 4).astype(np.int64)
        grams = np.stack([step[:-2], step[1:-1], step[2:], ratio[:-1], ratio[1:]], axis=1)
        _, inverse, counts = np.unique(grams, axis=0, return_inverse=True, return_counts=True)
        out["self_repetition"] = float(np.mean(counts[inverse.ravel()] > 1))
    return out


def melodic_matrix(pieces: Sequence[Piece]) -> np.ndarray:
    """``(len(pieces), len(MELODIC_DESCRIPTORS))`` float64 matrix of :func:`describe_melody`."""
    rows = [describe_melody(p) for p in pieces]
    return np.array([[r[k] for k in MELODIC_DESCRIPTORS] for r in rows], np.float64).reshape(
        len(rows), len(MELODIC_DESCRIPTORS)
    )
