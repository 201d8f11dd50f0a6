"""The near-duplicate rule and the leak-free splits (remixmusic.splits)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic._util.arrays import GOLDEN_GAMMA, splitmix64
from remixmusic.data.splits import NearDuplicateRule, SplitRule, group_and_split, interval_ngrams, jaccard
from remixmusic.music.lines import melody_line
from remixmusic.music.notes import NOTE_DTYPE, Piece


def _piece(rows: list[tuple[int, int, int, int]]) -> Piece:
    """Notes from (onset, duration, pitch, track) rows."""
    notes = np.zeros(len(rows), NOTE_DTYPE)
    for i, (onset, duration, pitch, track) in enumerate(rows):
        notes[i] = (onset, duration, pitch, 80, track, 0, False, 0)
    return Piece(notes=notes)


def _tune(pitches: list[int], step: int = 12) -> Piece:
    return _piece([(i * step, step, p, 0) for i, p in enumerate(pitches)])


def _random_tune(seed: int, length: int = 48) -> list[int]:
    rng = np.random.default_rng(seed)
    return (60 + np.cumsum(rng.integers(-5, 6, size=length))).clip(30, 100).tolist()


def test_melody_line_ignores_lower_voices_under_a_held_top_note() -> None:
    # Soprano holds 72 for two beats while the bass moves 48 -> 50: the bass is not melody.
    piece = _piece([(0, 24, 72, 0), (0, 12, 48, 1), (12, 12, 50, 1), (24, 12, 74, 0), (24, 12, 52, 1)])
    assert melody_line(piece).tolist() == [72, 74]


def test_melody_line_takes_the_highest_note_of_a_chord() -> None:
    piece = _piece([(0, 12, 60, 0), (0, 12, 67, 0), (0, 12, 64, 0), (12, 12, 65, 0)])
    assert melody_line(piece).tolist() == [67, 65]


def test_interval_ngrams_are_transposition_invariant_and_ignore_repeated_notes() -> None:
    melody = np.array([60, 62, 64, 65, 67, 69, 71, 72])
    repeated = np.array([60, 60, 62, 64, 64, 64, 65, 67, 69, 71, 71, 72])
    codes = interval_ngrams(melody, 5)
    assert len(codes) == 3
    assert np.array_equal(codes, interval_ngrams(melody + 7, 5))
    assert np.array_equal(codes, interval_ngrams(repeated, 5))
    assert len(interval_ngrams(melody[:5], 5)) == 0


def test_splitmix64_gives_the_reference_outputs_and_pins_the_minhash_salts() -> None:
    # Vigna's splitmix64.c seeded with 0 outputs these three values: the states 0, gamma and 2 * gamma.
    gamma = GOLDEN_GAMMA
    states = np.array([0, gamma, (2 * gamma) % 2**64], np.uint64)
    assert splitmix64(states).tolist() == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    # gamma=0 is the bare finalizer: the same values one state earlier.
    assert splitmix64(states[1:], gamma=0).tolist() == splitmix64(states[:2]).tolist()
    assert splitmix64(np.array([[1, 2]], np.int64)).shape == (1, 2)
    # MinHash signatures decide which pieces are near-duplicates, hence every dataset's splits: pinned.
    signature = NearDuplicateRule(num_perm=4, bands=2, seed=3).signatures([np.array([1, 2, 3], np.uint64)])
    assert signature.tolist() == [
        [1379275828610168083, 3078540200804021, 1846832825865964518, 112490951899749828]
    ]


def test_jaccard() -> None:
    a, b = np.array([1, 2, 3], np.uint64), np.array([2, 3, 4, 5], np.uint64)
    assert jaccard(a, b) == pytest.approx(2 / 5)
    assert jaccard(a, a) == 1.0


def test_rule_groups_transposed_copies_and_variants_but_not_unrelated_tunes() -> None:
    rule = NearDuplicateRule()
    base = _random_tune(1)
    variant = list(base)
    variant[20] += 1  # one changed note: a folk variant
    tunes = [base, _random_tune(2), [p - 5 for p in base], _random_tune(3), variant]
    labels = rule.groups([rule.fingerprint(_tune(t)) for t in tunes])
    assert labels.tolist() == [0, 1, 0, 3, 0]


def test_short_tunes_never_match_by_accident() -> None:
    rule = NearDuplicateRule()
    short = [60, 62, 64, 65, 67, 69, 71]  # fewer than min_ngrams n-grams
    labels = rule.groups([rule.fingerprint(_tune(short)), rule.fingerprint(_tune(short))])
    assert labels.tolist() == [0, 1]


def test_lsh_finds_every_pair_above_the_threshold() -> None:
    """Exact all-pairs check of the MinHash/LSH candidate search on tunes that share segments."""
    rule = NearDuplicateRule()
    rng = np.random.default_rng(0)
    motifs = [_random_tune(100 + k, 20) for k in range(6)]
    tunes = [[p for i in rng.choice(6, size=3) for p in motifs[i]] for _ in range(40)]
    prints = [rule.fingerprint(_tune(t)) for t in tunes]
    candidates = {tuple(p) for p in rule.candidate_pairs(prints).tolist()}
    above = {
        (i, j)
        for i in range(len(prints))
        for j in range(i + 1, len(prints))
        if jaccard(prints[i], prints[j]) >= rule.threshold
    }
    assert above  # the test data does contain near-duplicates
    assert above <= candidates


def test_split_rule_is_deterministic_and_roughly_proportional() -> None:
    rule = SplitRule()
    splits = [rule.split_of(f"piece-{i}") for i in range(3000)]
    assert splits == [SplitRule().split_of(f"piece-{i}") for i in range(3000)]
    share = {name: splits.count(name) / len(splits) for name in rule.names}
    assert share["train"] == pytest.approx(0.8, abs=0.03)
    assert share["valid"] == pytest.approx(0.1, abs=0.02)
    assert share["test"] == pytest.approx(0.1, abs=0.02)
    assert SplitRule(salt="other").split_of("piece-1") in rule.names


def test_split_rule_rejects_bad_fractions() -> None:
    with pytest.raises(ValueError):
        SplitRule(fractions=(0.5, 0.2, 0.2))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=2, max_size=30), st.randoms(use_true_random=False))
def test_groups_never_straddle_splits_and_order_does_not_matter(family: list[int], rnd) -> None:
    """Pieces of one tune family (transposed copies) share a group and a split, in any input order."""
    tunes = {k: _random_tune(1000 + k) for k in set(family)}
    ids = [f"p{i:03d}" for i in range(len(family))]
    prints = [
        NearDuplicateRule().fingerprint(_tune([p + i % 7 for p in tunes[k]])) for i, k in enumerate(family)
    ]
    grouping = group_and_split(ids, prints)
    for i in range(len(ids)):
        for j in range(len(ids)):
            same = family[i] == family[j]
            assert (grouping.group[i] == grouping.group[j]) == same
            if same:
                assert grouping.split[i] == grouping.split[j]
    order = list(range(len(ids)))
    rnd.shuffle(order)
    shuffled = group_and_split([ids[i] for i in order], [prints[i] for i in order])
    assert [shuffled.split[order.index(i)] for i in range(len(ids))] == grouping.split
    assert [shuffled.group[order.index(i)] for i in range(len(ids))] == grouping.group
    assert grouping.n_groups == len(set(family))


def test_identical_pieces_are_grouped_without_a_pair_search_among_them(monkeypatch):
    """2,000 copies of one file took 175 s and 6 GB to import (every pair of an LSH bucket built, then
    checked): identical fingerprints are one group, and the rule searches pairs among distinct ones only;
    identical fingerprints too short to group (too few n-grams) stay apart, as the rule keeps them."""
    from remixmusic.data.tune_match import TuneMatchRule

    rng = np.random.default_rng(0)
    tune = np.cumsum(rng.integers(-3, 4, 40)) + 60
    other = np.cumsum(rng.integers(-5, 6, 40)) + 60
    tiny = np.array([60, 62])
    for rule in (NearDuplicateRule(), TuneMatchRule()):
        prints = [rule.fingerprint(x) for x in [tune] * 300 + [other, tiny, tiny]] if isinstance(
            rule, NearDuplicateRule
        ) else [rule.fingerprint_of(x, x, True) for x in [tune] * 300 + [other, tiny, tiny]]
        seen: list[int] = []
        original = type(rule).groups

        def spy(self, fingerprints, original=original, seen=seen):
            seen.append(len(fingerprints))
            return original(self, fingerprints)

        monkeypatch.setattr(type(rule), "groups", spy)
        ids = [f"p{k:03d}" for k in range(len(prints))]
        grouping = group_and_split(ids, prints, rule)
        assert seen == [4]  # one copy of the tune, the other tune, the two tiny pieces
        assert set(grouping.group[:300]) == {"p000"}
        assert len(set(grouping.split[:300])) == 1
        assert grouping.group[300:] == ["p300", "p301", "p302"]
