"""Whether a MIDI file's notes lie on a beat grid, or were played with free timing.

A file written from a score or a sequencer grid has its onsets on simple fractions of the beat (16ths,
triplets, 32nds); a performance recorded without a click, or played at a tempo that is not the file's,
has them anywhere. Reading puts every onset on the step grid (:data:`~remixmusic.music.notes.STEPS_PER_BEAT`
steps a beat), which keeps a score exact, but the inter-onset intervals of a free performance come out
uneven (6 and 7 steps for eighths played at 110 qpm in a 120 qpm file), and matching that compares
rhythm (:mod:`remixmusic.novelty.symbols`) then misses copies that a listener hears at once.
:func:`off_grid_share` measures it, so that an analysis can say so.
"""

from __future__ import annotations

import numpy as np

GRID_DIVISIONS = 48
"""The finest grid a written onset is expected on: 1/48 of a beat holds 16ths, 32nds, 64ths and triplets
of them (a quintuplet is off it)."""

OFF_GRID = 0.25
"""A piece whose share of onsets off that grid is at least this is read as played with free timing (by
chance, a free onset in a 480-ticks-a-beat file lands within a tick of the grid three times in ten)."""


def off_grid_share(ticks: np.ndarray, ticks_per_beat: float) -> float:
    """The share of onsets ``ticks`` (MIDI ticks, any shape) more than a tenth of a :data:`GRID_DIVISIONS`
    grid step, and more than half a tick, away from that grid; 0.0 for no onsets or a file so coarse that
    every tick is on the grid (fewer than 48 ticks a beat)."""
    ticks = np.asarray(ticks, np.float64).ravel()
    unit = ticks_per_beat / GRID_DIVISIONS
    if not len(ticks) or unit <= 1:
        return 0.0
    position = ticks / unit
    off = np.abs(position - np.rint(position)) * unit > max(0.1 * unit, 0.5) + 1e-6  # a written onset rounds to a tick
    return float(off.mean())
