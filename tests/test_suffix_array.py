"""The one suffix array and range narrowing behind the reference index and the ∞-gram, against brute force:
sorting the suffixes with Python's ``sorted``, and counting pattern occurrences by scanning the text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic._util.suffix_array import bisect, lower_bound, narrow, suffix_array


def brute_suffix_key(text: np.ndarray, i: int) -> tuple[tuple[int, int], ...]:
    """Suffix ``i`` as a sort key: symbols up to and including its first separator, where a separator
    sorts before every symbol and separators are ordered by position (they never tie)."""
    out = []
    for j in range(i, len(text)):
        if text[j] < 0:
            out.append((-1, j))
            break
        out.append((0, int(text[j])))
    return tuple(out)


def brute_suffix_array(text: np.ndarray) -> list[int]:
    return sorted(range(len(text)), key=lambda i: brute_suffix_key(text, i))


def brute_count(text: np.ndarray, pattern: list[int]) -> int:
    """Occurrences of a separator-free ``pattern`` in ``text`` (the empty one: once per suffix)."""
    k = len(pattern)
    return sum(text[i : i + k].tolist() == pattern for i in range(len(text) - k + 1 if k else len(text)))


symbols = st.lists(st.integers(0, 3), min_size=0, max_size=80).map(lambda xs: np.array(xs, np.int64))
with_separators = st.lists(st.integers(-1, 3), min_size=0, max_size=80).map(lambda xs: np.array(xs, np.int64))


@settings(max_examples=150, deadline=None)
@given(symbols)
def test_non_negative_text_gets_the_plain_suffix_array(text: np.ndarray) -> None:
    # Without separators the order is the lexicographic order of the suffixes as tuples, a suffix before
    # every longer one it is a prefix of: exactly what the ∞-gram's former lexsort construction gave.
    expected = sorted(range(len(text)), key=lambda i: tuple(text[i:].tolist()))
    assert suffix_array(text).tolist() == expected


@settings(max_examples=150, deadline=None)
@given(with_separators)
def test_separators_come_first_in_text_order_and_never_tie(text: np.ndarray) -> None:
    sa = suffix_array(text)
    assert sa.tolist() == brute_suffix_array(text)
    n_separators = int((text < 0).sum())
    assert sa[:n_separators].tolist() == np.flatnonzero(text < 0).tolist()


@given(st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16]))
def test_any_integer_input_type_gives_the_same_int32_order(dtype: type) -> None:
    text = np.array([3, 1, 2, 1, 2, 1, 0, 3, 1, 2], dtype)
    sa = suffix_array(text)
    assert sa.dtype == np.int32
    assert sa.tolist() == brute_suffix_array(text.astype(np.int64))
    assert suffix_array(text.tolist()).tolist() == sa.tolist()  # plain lists too


def test_empty_and_bad_inputs() -> None:
    assert suffix_array(np.zeros(0, np.int64)).tolist() == []
    assert suffix_array([]).tolist() == []
    with pytest.raises(ValueError, match="1-D"):
        suffix_array(np.zeros((2, 3), np.int64))
    with pytest.raises(ValueError, match="integers"):
        suffix_array(np.array([0.5, 1.0]))


@settings(max_examples=100, deadline=None)
@given(
    with_separators,
    st.lists(st.lists(st.sampled_from([-2, 0, 1, 2, 3]), min_size=1, max_size=5), min_size=1, max_size=6),
)
def test_narrowing_finds_every_occurrence_as_the_reference_index_uses_it(
    body: np.ndarray, patterns: list[list[int]]
) -> None:
    # The index's layout: a separator ends the text, the suffix array holds the symbol suffixes only, and
    # query values below the separator (-1), such as its query boundary -2, match nothing.
    text = np.append(body, -1)
    n_separators = int((text < 0).sum())
    sa = suffix_array(text)[n_separators:]
    width = max(len(p) for p in patterns)
    lo = np.zeros(len(patterns), np.int64)
    hi = np.full(len(patterns), len(sa), np.int64)
    for depth in range(width):
        symbol = np.array([p[depth] if depth < len(p) else 0 for p in patterns])
        keep = np.array([depth < len(p) for p in patterns])
        new_lo, new_hi = narrow(text, sa, lo, np.where(keep, hi, lo), depth, symbol)  # done rows: empty
        for r, pattern in enumerate(patterns):
            if depth >= len(pattern):
                continue
            prefix = pattern[: depth + 1]
            if min(prefix) < 0:
                assert new_lo[r] == new_hi[r]  # a query boundary never matches
            else:
                assert new_hi[r] - new_lo[r] == brute_count(text, prefix)
                starts = sa[new_lo[r] : new_hi[r]]
                assert all(text[s : s + depth + 1].tolist() == prefix for s in starts)
                assert lo[r] <= new_lo[r] <= new_hi[r] <= hi[r]
        lo, hi = np.where(keep, new_lo, lo), np.where(keep, new_hi, hi)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=60), st.data())
def test_counts_of_next_tokens_at_per_row_depths_as_the_infinigram_uses_them(
    tokens: list[int], data: st.DataObject
) -> None:
    # The ∞-gram's layout: a plain suffix array of the tokens, read through the tokens plus one -1
    # sentinel, with a different pattern length (depth) per row.
    text = np.append(np.array(tokens, np.int64), -1)
    sa = suffix_array(np.array(tokens))
    rows = data.draw(st.lists(st.tuples(st.integers(0, len(tokens) - 1), st.integers(0, 4)), min_size=1))
    patterns = [tokens[s : s + k] for s, k in rows]  # each occurs at least once (maybe shorter than k)
    depth = np.array([len(p) for p in patterns])
    lo, hi = np.zeros(len(rows), np.int64), np.full(len(rows), len(sa), np.int64)
    for d in range(int(depth.max())):
        going = d < depth
        symbol = np.array([p[d] if d < len(p) else 0 for p in patterns])
        new_lo, new_hi = narrow(text, sa, lo, np.where(going, hi, lo), np.full(len(rows), d), symbol)
        lo, hi = np.where(going, new_lo, lo), np.where(going, new_hi, hi)
    plain = np.array(tokens)
    assert ((hi - lo) == [brute_count(plain, p) for p in patterns]).all()
    bounds = lower_bound(
        text, sa, np.repeat(lo, 5), np.repeat(hi, 5), np.repeat(depth, 5), np.tile(np.arange(5), len(rows))
    ).reshape(len(rows), 5)
    for r, p in enumerate(patterns):
        counts = np.diff(np.append(bounds[r], hi[r]))  # tokens 0..3, then the end of the text
        assert counts[:4].tolist() == [brute_count(plain, [*p, t]) for t in range(4)]
        assert bounds[r, 0] - lo[r] == int(len(p) > 0 and tokens[-len(p) :] == p)  # suffixes that end


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 20), max_size=30).map(sorted), min_size=1, max_size=8),
    st.lists(st.integers(-1, 22), min_size=8, max_size=8),
)
def test_bisect_is_searchsorted_on_every_segment_and_only_asks_open_ranges(
    segments: list[list[int]], targets: list[int]
) -> None:
    values = np.array([v for s in segments for v in s], np.int64)
    sizes = np.array([len(s) for s in segments])
    lo = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    hi = lo + sizes
    target = np.array(targets[: len(segments)])
    lo_before, hi_before = lo.copy(), hi.copy()
    asked: list[tuple[np.ndarray, np.ndarray]] = []

    def goes_right(mid: np.ndarray, live: np.ndarray) -> np.ndarray:
        asked.append((mid.copy(), live.copy()))
        return values[mid] < target[live]

    got = bisect(lo, hi, goes_right)
    expected = [
        a + np.searchsorted(np.array(s, np.int64), t) for a, s, t in zip(lo, segments, target, strict=True)
    ]
    assert got.tolist() == expected
    assert got.dtype == np.int64
    np.testing.assert_array_equal(lo, lo_before)  # the caller's arrays are not changed
    np.testing.assert_array_equal(hi, hi_before)
    for mid, live in asked:
        assert len(mid) == len(live) > 0
        assert ((lo[live] <= mid) & (mid < hi[live])).all()  # midpoints of open ranges only
    assert len(asked) <= int(np.ceil(np.log2(sizes.max() + 1))) if sizes.max() else not asked


def test_bisect_rejects_mismatched_ranges() -> None:
    with pytest.raises(ValueError, match="one length"):
        bisect(np.zeros(3, np.int64), np.ones(2, np.int64), lambda mid, live: mid < 0)
