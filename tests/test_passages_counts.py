"""Passage counts a held-out reviewer found wrong: a reference piece analysed as itself drew on other
pieces (fan_in 2: a varied reading of its notes from a variant tune counted though it labels no note),
and a periodic query (one pitch repeated) was 584 stock passages, one per shift of the same match."""

from __future__ import annotations

import numpy as np
import pytest

from remixmusic.music.notes import Piece
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index
from tests import test_match
from tests.test_match import _melody
from tests.test_passages_repeats import _rows, _tune


@pytest.fixture(scope="module")
def reference() -> list[Piece]:
    return test_match.reference.__wrapped__(test_match.essen.__wrapped__())  # type: ignore[attr-defined]


def test_a_tune_analysed_as_itself_draws_on_itself_alone(reference):
    """The reference holds the tune and a variant of it (one note changed): the variant gives a varied
    reading of the tune's notes, listed as an alternative; the tune is 100% copied from itself, from one
    piece, in one passage."""
    mel = next(_melody(p) for p in reference if len(_melody(p)) >= 30)
    rows = _rows(mel[:30])
    variant = list(rows)
    variant[15] = (variant[15][0] + 2, variant[15][1])
    tune, other = _tune(rows, "tune.mid"), _tune(variant, "variant.mid")
    report = analyze(
        [tune], Index.build([tune, other, *reference]), jobs=1, show_progress=False, originality=False
    )
    record = report.piece_records[0]
    assert record.copied_fraction == 1.0
    assert (record.fan_in, record.n_passages) == (1, 1)
    assert {p.sources.split(";")[0] for p in report.passage_records if p.label == "copied"} == {"tune.mid"}
    # the variant's reading is listed as an alternative: it labels no note
    assert all(p.labelled_notes == 0 for p in report.passage_records if p.label == "varied")
    assert [p.labelled_notes for p in report.passage_records if p.label == "copied"] == [30]


def test_one_pitch_repeated_is_one_stock_passage(reference):
    """A reference tune holds 16 repeated quarter notes; a query repeats one pitch 200 times. Every shift
    of the query matches the same 16 reference notes: one passage over the whole run, not 183."""
    rng = np.random.default_rng(0)
    filler = [(int(p), 12) for p in 60 + np.cumsum(rng.integers(-3, 4, 20))]
    tune = _tune(filler + [(62, 12)] * 16 + filler, "repeats.mid")
    query = _tune([(67, 12)] * 200, "query.mid")
    report = analyze([query], Index.build([tune, *reference]), jobs=1, show_progress=False, originality=False)
    found = [
        (p.label, p.start_note, p.end_note) for p in report.passage_records if p.label in ("stock", "copied")
    ]
    assert len(found) == 1 and found[0][1] == 0 and found[0][2] >= 199, found  # (the last note: no ratio)
    record = report.piece_records[0]
    assert record.n_stock_passages + record.n_passages == 1
    assert [p.time_scale for p in report.passage_records if p.label in ("stock", "copied")] == [1.0]


def test_the_source_that_explains_the_rest_of_the_piece_comes_first(reference):
    """Two reference pieces hold the query's first phrase note for note; only one of them (listed second
    by the index) also holds its second phrase. That one is the first phrase's source too: of equal
    sources, the one the rest of the piece comes from (a chorale analysed as itself named another
    harmonisation of its hymn as its soprano's source)."""
    pa, pb = [p for p in reference if len(_melody(p)) >= 40][:2]
    a, b = _rows(_melody(pa)[:16]), _rows(_melody(pb)[:16])
    rng = np.random.default_rng(1)
    filler = [(int(p), 12) for p in 60 + np.cumsum(rng.integers(-3, 4, 12))]
    decoy = _tune(a + filler, "aaa-decoy.mid")  # first in the index: the first phrase only
    whole = _tune(a + filler[:4] + b, "zzz-whole.mid")
    query = _tune(a + [(90, 12)] * 3 + b, "query.mid")
    others = [p for p in reference if p is not pa and p is not pb]
    report = analyze(
        [query], Index.build([decoy, whole, *others]), jobs=1, show_progress=False, originality=False
    )
    firsts = [p.sources.split(";") for p in report.passage_records if p.label == "copied"]
    assert len(firsts) == 2 and all(f[0] == "zzz-whole.mid" for f in firsts), firsts
    assert "aaa-decoy.mid" in firsts[0]
    assert report.piece_records[0].fan_in == 1


def test_a_motif_of_a_line_too_short_to_analyse_is_not_analysed(reference):
    """A one-bar piece's motif was labelled novel with every share 0 (novel_share 0 too), while the
    page said none of its notes was analysed: it is not-analysed."""
    query = _tune([(60, 12), (62, 12), (64, 12), (65, 12)], "one_bar.mid")
    report = analyze([query], Index.build(reference), jobs=1, show_progress=False, originality=False)
    assert [m.label for m in report.motif_records] == ["not-analysed"]
