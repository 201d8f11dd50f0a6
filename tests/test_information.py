"""Information content of passages: the model's counts and probabilities against direct computation, the
short-term cache that makes self-repeating passages cheap, and surrogate sampling."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic._util.suffix_array import suffix_array
from remixmusic.novelty.information import SymbolModel

# Lines of small symbols, each ended by a separator (as in an index's text).
texts = st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=15), min_size=1, max_size=6).map(
    lambda lines: np.array([x for line in lines for x in [*line, -1]], np.int32)
)


def fit(text: np.ndarray) -> SymbolModel:
    sa = suffix_array(text)
    return SymbolModel.fit(text, sa[np.count_nonzero(text < 0) :])


def bigrams(text: np.ndarray) -> Counter:
    return Counter((int(a), int(b)) for a, b in itertools.pairwise(text) if a >= 0 and b >= 0)


def direct_bits(model: SymbolModel, text: np.ndarray, passage: list[int]) -> float:
    """The module docstring's definition, one symbol at a time."""
    uni = Counter(int(x) for x in text if x >= 0)
    pairs = bigrams(text)
    total = sum(uni.values()) + len(uni) + 1

    def p_uni(b: int) -> float:
        return (uni.get(b, 0) + 1) / total

    def p_long(a: int, b: int) -> float:
        n = sum(c for (x, _), c in pairs.items() if x == a)
        t = sum(1 for (x, _) in pairs if x == a)
        return (pairs.get((a, b), 0) + t * p_uni(b)) / (n + t) if n else p_uni(b)

    bits = -math.log2(p_uni(passage[0]))
    seen: Counter = Counter()
    for a, b in itertools.pairwise(passage):
        n = sum(c for (x, _), c in seen.items() if x == a)
        t = sum(1 for (x, _) in seen if x == a)
        pl = p_long(a, b)
        bits -= math.log2((seen[(a, b)] + t * pl) / (n + t) if n else pl)
        seen[(a, b)] += 1
    return bits


@settings(max_examples=60, deadline=None)
@given(texts, st.lists(st.integers(0, 7), min_size=1, max_size=12))
def test_counts_and_passage_bits_match_the_definition(text, passage):
    model = fit(text)
    pairs = bigrams(text)
    v = len(model.symbols)
    got = {
        (int(model.symbols[k // v]), int(model.symbols[k % v])): int(c)
        for k, c in zip(model.pair_keys, model.pair_counts, strict=True)
    }
    assert got == dict(pairs)
    assert model.n_symbols == np.count_nonzero(text >= 0)
    stream = np.array([9, *passage, 9])  # the passage inside a longer stream
    bits = model.passage_bits(stream, np.array([1, 0]), np.array([len(passage), 0]))
    assert np.isclose(bits[0], direct_bits(model, text, passage)) and bits[1] == 0


@settings(max_examples=40, deadline=None)
@given(texts, st.integers(0, 7))
def test_conditional_probabilities_sum_to_one(text, context):
    model = fit(text)
    unknown = 1000  # every symbol the reference lacks shares the probability of one unknown symbol
    support = np.array([*model.symbols.tolist(), unknown])
    p = model.conditional(np.full(len(support), context), support)
    assert np.all(p > 0) and np.isclose(p.sum(), 1.0)


def test_a_passage_that_repeats_itself_carries_few_bits():
    rng = np.random.default_rng(0)
    text = np.concatenate([np.append(rng.integers(0, 12, 40), -1) for _ in range(50)]).astype(np.int32)
    model = fit(text)
    melody = rng.integers(0, 12, 16)
    repeated = np.full(16, int(melody[0]))
    alternating = np.tile(melody[:2], 8)
    bits = model.passage_bits(np.concatenate([melody, repeated, alternating]), [0, 16, 32], [16, 16, 16])
    # Without the cache all three would cost about log2(12) bits a symbol.
    assert bits[0] > 3 * 16
    assert bits[1] < 16 and bits[2] < 20
    # Cost grows with length for a melody, hardly at all for a repeated note once the cache knows it.
    longer = model.passage_bits(np.full(32, int(melody[0])), [0], [32])[0]
    assert longer - bits[1] < 0.3 * bits[1]


def test_surrogates_use_only_the_references_bigrams():
    text = np.array([0, 1, 2, 3, -1, 3, 2, 1, 0, -1, 5, 5, 5, -1], np.int32)
    model = fit(text)
    surrogates = model.sample(np.array([30, 1, 12]), np.random.default_rng(0))
    assert [len(s) for s in surrogates] == [30, 1, 12]
    allowed = set(bigrams(text))
    for s in surrogates:
        for a, b in itertools.pairwise(s):
            # A state the reference never continues (0 ends a line) restarts anywhere.
            assert (int(a), int(b)) in allowed or int(a) == 0


@settings(max_examples=60, deadline=None)
@given(texts)
def test_counting_a_stream_directly_equals_counting_it_on_its_suffix_array(text):
    a, b = fit(text), SymbolModel.count(text)
    for name in ("symbols", "counts", "pair_keys", "pair_counts"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


symbol_texts = st.lists(
    st.lists(st.integers(0, 4 * 15 - 1), min_size=1, max_size=15), min_size=1, max_size=6
).map(lambda lines: np.array([x for line in lines for x in [*line, -1]], np.int64))


@settings(max_examples=60, deadline=None)
@given(symbol_texts, st.lists(st.integers(0, 4 * 15 - 1), min_size=1, max_size=12), st.data())
def test_a_symbols_parts_never_claim_more_than_the_symbol(text, passage, data):
    from remixmusic.novelty.information import PartModels

    model, parts = SymbolModel.count(text), PartModels.fit(text, 15)
    passage = np.asarray(passage, np.int64)
    n = len(passage)
    pitch_ok = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    time_ok = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    whole = model.symbol_bits(passage, np.array([0]), np.array([n]))
    got = parts.part_bits(model, passage, pitch_ok, time_ok)
    pitch_only = parts.part_bits(model, passage, pitch_ok, np.zeros(n, bool))
    time_only = parts.part_bits(model, passage, np.zeros(n, bool), time_ok)
    both = pitch_ok & time_ok
    assert np.allclose(got[both], whole[both])  # both parts: the symbol's own information
    assert np.all(got[~pitch_ok & ~time_ok] == 0)
    assert np.all(pitch_only >= 0) and np.all(time_only >= 0)
    # The two parts together never hold more than the symbol.
    assert np.all(pitch_only[both] + time_only[both] <= whole[both] + 1e-9)


def test_two_step_intervals_are_counted_between_neighbours_of_a_line():
    from remixmusic.novelty.information import PartModels

    # Two lines of interval codes 10, 12, 10 and 11, 11 (ratio class 0 of 15).
    text = np.array([10 * 15, 12 * 15, 10 * 15, -1, 11 * 15, 11 * 15, -1], np.int64)
    parts = PartModels.fit(text, 15)
    assert parts.span_values.tolist() == [22] and parts.span_counts.tolist() == [3]
    assert math.isclose(parts.span_bits(np.array([22]))[0], -math.log2(4 / 5))
    assert math.isclose(parts.span_bits(np.array([20]))[0], -math.log2(1 / 5))
