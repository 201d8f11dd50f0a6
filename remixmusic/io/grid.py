"""Whether a MIDI file's notes lie on the beat grid that reading puts them on, or were played with free
timing.

Reading puts every onset on the step grid (:data:`~remixmusic.music.notes.STEPS_PER_BEAT` steps a beat
of the file's tempo). A file written from a score or a sequencer grid keeps its rhythm exactly there
(16ths, triplets, a constant offset of a few ticks aside); a performance recorded without a click, or
played at a tempo that is not the file's, comes out with uneven inter-onset intervals (6 and 7 steps for
eighths played at 110 qpm in a 120 qpm file), and matching that compares rhythm
(:mod:`remixmusic.novelty.symbols`) then misses copies that a listener hears at once.
:func:`off_grid_share` measures it, so that an analysis can say so. Rhythms finer than the grid (32nd
notes, quintuplets) are off it too: reading rounds them, with the same effect.
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
    out by the caller) more than :data:`TOLERANCE` steps from the step grid, under the common offset of
    :data:`OFFSETS` that puts most of them on it (over at most about :data:`MAX_ONSETS` onsets, evenly
    spread); 0.0 for no onsets."""
    ticks = np.asarray(ticks, np.float64).ravel()
    if not len(ticks) or ticks_per_beat <= 0:
        return 0.0
    ticks = ticks[:: max(1, len(ticks) // MAX_ONSETS)]  # a share: every k-th onset of a long file will do
    position = ticks * (STEPS_PER_BEAT / ticks_per_beat)
    shifted = position[None, :] - OFFSETS[:, None]
    off = np.abs(shifted - np.rint(shifted)) > TOLERANCE
    return float(off.mean(axis=1).min())


MAX_ONSETS = 20_000
"""Onsets a share is measured on (a long file's are thinned evenly: bounded time and memory)."""

OFFSETS = np.arange(32) / 32
"""The common offsets from the grid tried (in steps): the one that puts most onsets on it is the piece's."""
