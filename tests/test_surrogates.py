"""Style-matched null pieces (remixmusic.evaluation.surrogates): Markov-chain surrogates of reference
melodies keep the fitted order, the templates' lengths, meters and ranges, and share no run longer than
their bound with any reference melody; the per-kind bound of varied copies (MatchConfig)."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import make_piece

from remixmusic.errors import ConfigError
from remixmusic.evaluation.planted import PlantedSetMaker, _melody
from remixmusic.evaluation.surrogates import MarkovMelodies
from remixmusic.music.notes import Piece, bar_length
from remixmusic.novelty.config import MatchConfig
from remixmusic.novelty.index import Index
from remixmusic.novelty.match import Matcher


@pytest.fixture(scope="module")
def tunes() -> list[Piece]:
    """The first 80 tunes of one Essen collection file in music21's corpus (several meters)."""
    from music21 import converter, corpus

    from remixmusic.io.music21 import score_to_piece

    path = next(Path(p) for p in corpus.getPaths() if Path(p).name == "altdeu10.abc")
    records = re.split(r"\n(?=X:)", path.read_text(encoding="latin-1"))[1:81]
    opus = converter.parse("\n".join(records), format="abc")
    return [score_to_piece(s, source=f"altdeu10-{i:02d}.abc") for i, s in enumerate(opus.scores)]


@pytest.fixture(scope="module")
def melodies(tunes) -> list[np.ndarray]:
    return [_melody(p) for p in tunes]


def relative(notes: np.ndarray) -> list[tuple[int, Fraction]]:
    """Per note after the first: (interval from the previous note, its inter-onset interval over the
    previous one's); the last note's inter-onset interval is its duration."""
    onset = notes["onset"].astype(np.int64)
    ioi = np.append(np.diff(onset), int(notes["duration"][-1]))
    pitch = notes["pitch"].astype(np.int64)
    return [(int(pitch[k] - pitch[k - 1]), Fraction(int(ioi[k]), int(ioi[k - 1]))) for k in range(1, len(notes))]


def longest_shared(query: list, references: list[list]) -> int:
    """The longest run of ``query`` that occurs in one of ``references`` (brute force by window sets)."""
    best = 0
    for w in range(1, len(query) + 1):
        windows = {tuple(r[k : k + w]) for r in references for k in range(len(r) - w + 1)}
        if not any(tuple(query[k : k + w]) in windows for k in range(len(query) - w + 1)):
            break
        best = w
    return best


def test_an_unconstrained_chain_on_one_melody_replays_it():
    # Every context of this melody has one continuation: an order-2 walk reproduces it note for note
    # (the plagiarism that Papadopoulos, Roy & Pachet 2014 describe), transposed to the first pitch.
    pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 72, 71]
    piece = make_piece(pitches, onsets=[12 * k for k in range(12)], durations=[12] * 12)
    chain = MarkovMelodies([piece], [np.arange(12)], order=2)
    out = chain.sample(np.random.default_rng(0))
    assert out.notes["pitch"].tolist() == pitches
    assert np.diff(out.notes["onset"]).tolist() == [12] * 11


def test_surrogates_keep_their_templates_length_meter_and_range(tunes, melodies):
    chain = MarkovMelodies(tunes, melodies, order=2, max_shared=5)
    meters = {(t.numerator, t.denominator) for t in chain.templates}
    assert len(meters) >= 3  # the fixture really has several meters
    rng = np.random.default_rng(1)
    for template in chain.templates[:30]:
        piece = chain.sample(rng, template)
        notes = piece.notes
        assert len(notes) == template.n_notes
        ts = piece.meter_map()
        assert (int(ts["numerator"][0]), int(ts["denominator"][0])) == (template.numerator, template.denominator)
        assert int(notes["pitch"][0]) == template.first_pitch
        assert notes["pitch"].min() >= template.low - chain.margin and notes["pitch"].max() <= template.high + chain.margin
        assert int(notes["onset"][0]) == template.first_position % bar_length(template.numerator, template.denominator)
        assert np.all(np.diff(notes["onset"]) > 0)  # one line, one note per onset


def test_the_fitted_order_shows_in_the_surrogates(tunes, melodies):
    # Share of a surrogate's 4-event figures (interval, inter-onset interval) found in the reference: an
    # order-3 chain draws each event after a context of 3 seen ones, an order-1 chain after 1.
    def events(notes):
        onset = notes["onset"].astype(np.int64)
        ioi = np.append(np.diff(onset), int(notes["duration"][-1]))
        return list(zip(np.diff(notes["pitch"].astype(np.int64)).tolist(), ioi[1:].tolist(), strict=True))

    grams = {tuple(e[k : k + 4]) for p, m in zip(tunes, melodies, strict=True) for e in [events(p.notes[m])] for k in range(len(e) - 3)}
    share = {}
    for order in (1, 3):
        chain = MarkovMelodies(tunes, melodies, order=order)
        rng = np.random.default_rng(2)
        seen = total = 0
        for _ in range(40):
            e = events(chain.sample(rng).notes)
            seen += sum(tuple(e[k : k + 4]) in grams for k in range(len(e) - 3))
            total += max(len(e) - 3, 0)
        share[order] = seen / total
    assert share[3] > 0.8 and share[1] < 0.4, share


@pytest.mark.parametrize("order, bound", [(1, 4), (2, 5), (3, 6)])
def test_surrogates_share_no_run_longer_than_their_bound(tunes, melodies, order, bound):
    references = [relative(p.notes[m]) for p, m in zip(tunes, melodies, strict=True)]
    chain = MarkovMelodies(tunes, melodies, order=order, max_shared=bound)
    rng = np.random.default_rng(order)
    runs = [longest_shared(relative(chain.sample(rng).notes), references) for _ in range(25)]
    assert max(runs) <= bound
    assert max(runs) >= order + 1  # the chain still imitates: runs of its own order and more


def test_without_the_bound_a_high_order_chain_copies_long_runs(tunes, melodies):
    references = [relative(p.notes[m]) for p, m in zip(tunes, melodies, strict=True)]
    chain = MarkovMelodies(tunes, melodies, order=3)
    rng = np.random.default_rng(3)
    runs = [longest_shared(relative(chain.sample(rng).notes), references) for _ in range(25)]
    assert max(runs) > 8


def test_the_style_null_holds_no_exact_copy_for_the_analyser(tunes):
    # The benchmark's setting: at most the exact-copy length minus one relative events shared; the
    # index (snapped inter-onset ratios) may see a symbol more, never an exact copy.
    index = Index.build(tunes)
    shared = Matcher(index).min_length - 1
    maker = PlantedSetMaker(tunes, seed=4)
    null = maker.make_style_null(40, order=2, max_shared=shared)
    assert {p.kind for p in null} == {"style"} and not any(p.fragments for p in null)
    longest = [
        max(int(index.matching_statistics(np.asarray(st.symbols, np.int64))[0].max()) for st in index.streams(p.piece))
        for p in null
    ]
    assert max(longest) <= shared + 1


def test_bad_chain_settings_are_refused(tunes, melodies):
    with pytest.raises(ValueError, match="order"):
        MarkovMelodies(tunes, melodies, order=0)
    with pytest.raises(ValueError, match="max_shared"):
        MarkovMelodies(tunes, melodies, order=2, max_shared=2)


def test_varied_copies_can_have_their_own_bound(tunes):
    assert MatchConfig().varied_false_copies == 0.02  # stricter than false_copies (see MatchConfig)
    assert MatchConfig.from_dict(MatchConfig(varied_false_copies=2.0).to_dict()).varied_false_copies == 2.0
    with pytest.raises(ConfigError, match="varied_false_copies"):
        MatchConfig(varied_false_copies=0)
    index = Index.build(tunes)
    same, loose = Matcher(index, varied_false_copies=None), Matcher(index, varied_false_copies=5.0)
    assert same.piece_min_bits(100, varied=True) == same.piece_min_bits(100)
    assert Matcher(index).piece_min_bits(100, varied=True) == pytest.approx(
        max(same.min_bits, same.piece_min_bits(100) + math.log2(0.05 / 0.02))
    )
    assert loose.piece_min_bits(100) == same.piece_min_bits(100)
    assert loose.piece_min_bits(100, varied=True) <= same.piece_min_bits(100)
