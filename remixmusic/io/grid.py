"""Whether a MIDI file's notes lie on the beat grid that reading puts them on, or were played with free
timing.

Reading puts every onset on the step grid (:data:`~remixmusic.music.notes.STEPS_PER_BEAT` steps a beat
of the file's tempo). A file written from a score or a sequencer grid keeps its rhythm exactly there
(16ths, triplets, a constant offset of a few ticks aside); a performance recorded without a click, or
played at a tempo that is not the file's, comes out with uneven inter-onset intervals (6 and 7 steps for
eighths played at 110 qpm in a 120 qpm file), and matching that compares rhythm
(:mod:`remixmusic.novelty.symbols`) then misses copies that a listener hears at once.
:func:`off_grid_share` measures it, so that an analysis can say so. Rhythms finer than the grid
(quintuplets, 64ths) are off it too: reading rounds them, with the same effect; a score's half steps
(32nd notes, 16ths at x0.5: :func:`score_halves`) are kept (the notes' ``half``), measured on half steps.
"""

from __future__ import annotations

import numpy as np

from remixmusic.music.notes import STEPS_PER_BEAT

TOLERANCE = 0.2
"""How far (in steps) an onset may lie from the step grid, once the piece's constant offset is taken
out, and still be on it: a click-recorded part within a few milliseconds rounds to the score's steps."""

OFF_GRID = 0.25
"""A piece with at least this share of its onsets off the grid is read as played with free timing (free
onsets are off it six times in ten)."""


def off_grid_share(ticks: np.ndarray, ticks_per_beat: float) -> float:
    """The share of onsets ``ticks`` (MIDI ticks of a file with ``ticks_per_beat``, any shape; drums left
    out by the caller) more than :data:`TOLERANCE` steps from the step grid, under the common offset that
    puts most of them on it; 0.0 for no onsets. The onsets' phases within a step are counted in
    :data:`PHASE_BINS` bins and the best offset is the window of bins that holds most (over at most about
    :data:`MAX_ONSETS` onsets, evenly spread: about 0.1 ms a file)."""
    ticks = np.asarray(ticks, np.float64).ravel()
    if not len(ticks) or ticks_per_beat <= 0:
        return 0.0
    ticks = ticks[:: max(1, len(ticks) // MAX_ONSETS)]  # a share: every k-th onset of a long file will do
    position = ticks * (STEPS_PER_BEAT / ticks_per_beat)
    phase = np.minimum(((position - np.floor(position)) * PHASE_BINS).astype(np.int64), PHASE_BINS - 1)
    counts = np.bincount(phase, minlength=PHASE_BINS)
    reach = int(TOLERANCE * PHASE_BINS)  # onsets within the tolerance of each offset, circularly:
    total = np.cumsum(np.concatenate([[0], counts[-reach:], counts, counts[:reach]]))
    window = total[2 * reach + 1 :] - total[: -2 * reach - 1]
    return float(1.0 - window.max() / len(ticks))


MAX_ONSETS = 4_000
"""Onsets a share is measured on (a long file's are thinned evenly)."""


PHASE_BINS = 64
"""Bins of a step that onsets' phases are counted in (the offset and the tolerance to 1/64 step)."""


HALF_STEP_TOLERANCE = 0.07
"""Steps by which a score's position may miss half a step and still be rounded up with it: a file of 100
ticks a beat writes a 32nd note 1.5 steps in at tick 12 or 13 (1.44 or 1.56 steps), one resampled from
10,080 ticks a beat to 480 a tick either side of the half."""


def score_halves(positions: np.ndarray) -> bool:
    """Whether onsets ``positions`` (steps, unrounded) that lie between steps lie at half steps, as a
    score's 32nd notes do: of those 0.3-0.7 step past a step, at least 80% within
    :data:`HALF_STEP_TOLERANCE` of the half (a performance's phases are spread: 30% are); ``False`` when
    none lies there."""
    phase = np.abs(np.asarray(positions, np.float64) % 1.0 - 0.5)
    between = int(np.count_nonzero(phase <= 0.2))
    return between > 0 and int(np.count_nonzero(phase <= HALF_STEP_TOLERANCE)) >= 0.8 * between


def to_steps(positions: np.ndarray, halves: bool) -> np.ndarray:
    """Positions (steps, unrounded) rounded to the nearest whole step, a half to the even one (as Python's
    ``round`` does for a score's quarter lengths read through music21: :mod:`remixmusic.io.music21`),
    int64. With ``halves`` (a score's half steps: :func:`score_halves`) a position within
    :data:`HALF_STEP_TOLERANCE` of half a step counts as the half, so a file's resolution that puts a
    32nd note a tick before or after it reads it as the score does (a hornpipe resaved from 10,080 to 480
    ticks a beat came out 61% copied from itself); a performance's onsets round as they lie."""
    positions = np.asarray(positions, np.float64)
    if halves:
        whole, near = _near_half(positions)
        positions = np.where(near, whole + 0.5, positions)
    return np.rint(positions).astype(np.int64)


def _near_half(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The whole step below each position (steps, float64) and whether the position counts as the half
    step after it (within :data:`HALF_STEP_TOLERANCE`)."""
    whole = np.floor(positions)
    return whole, np.abs(positions - whole - 0.5) <= HALF_STEP_TOLERANCE


def half_of(positions: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Which way (-1, +1) :func:`to_steps` with ``halves`` rounded each position (steps, unrounded) that
    it counted as a half step to ``steps``; 0 for the others (on a step, or a quintuplet's 2.4 steps:
    not a half step). Int8, the notes' ``half`` (:func:`~remixmusic.music.notes.half_onsets`)."""
    whole, near = _near_half(np.asarray(positions, np.float64))
    return np.where(near, 2 * whole.astype(np.int64) + 1 - 2 * np.asarray(steps, np.int64), 0).astype(np.int8)
