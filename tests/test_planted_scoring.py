"""Planted-copy scoring: filler notes that happen to continue a fragment's source exactly."""

from __future__ import annotations

import numpy as np
from conftest import make_piece

from remixmusic.evaluation.planted import (
    FoundPassage,
    PlantedFragment,
    PlantedPiece,
    PlantedSetMaker,
    _monophonic,
    score_attribution,
)

SOURCE = [60, 62, 64, 65, 67, 69, 71, 72, 74, 72, 71, 69, 67, 65, 64, 62, 60, 62, 64, 60]


def _maker() -> PlantedSetMaker:
    sources = [make_piece(SOURCE), make_piece([50 + (k * 5) % 19 for k in range(20)])]
    for k, p in enumerate(sources):
        p.source = f"s{k}.mid"
    return PlantedSetMaker(sources, min_notes=4, max_notes=8, n_fragments=1, seed=0)


def test_continuations_are_the_filler_notes_that_continue_the_source_exactly():
    """Source notes 4..11 planted a fourth up at half speed: the filler note after them has the
    source's next pitch and inter-onset interval (a continuation), the one after that does not; before
    the fragment, a note a semitone off is no continuation. Strict precision counts the continuation as
    false, the continued precision as right; a note neither planted nor continuing stays false in both."""
    maker = _maker()
    gap = 12  # make_piece spaces notes 12 steps apart
    frag = [p + 5 for p in SOURCE[4:12]]
    pitch = [40, SOURCE[3] + 5 + 1, *frag, SOURCE[12] + 5, 90, 41]
    ioi = [gap // 2] * len(pitch)
    piece = _monophonic(np.asarray(pitch), np.asarray(ioi))
    mel = maker.melodies[0]
    f = PlantedFragment("s0.mid", mel[4:12], 2, 10, transposition=5, scale=0.5)
    pp = PlantedPiece(piece, "planted", [f])
    cont = maker.continuations(pp)
    assert np.flatnonzero(cont).tolist() == [10]
    found = [[FoundPassage(np.arange(1, 12), "copied", ["s0.mid"])]]
    score = score_attribution([pp], found, continued=[cont])
    assert score.recall == 1.0
    assert score.note_precision == 8 / 11
    assert score.note_precision_continued == 9 / 11
    # At another speed the same pitches are no continuation.
    slow = PlantedPiece(_monophonic(np.asarray(pitch), np.asarray([gap] * len(pitch))), "planted", [f])
    assert not maker.continuations(slow).any()
