"""Suffix arrays and vectorized range narrowing over them: the one implementation behind the reference
index (:mod:`remixmusic.novelty.index`) and the ∞-gram (:mod:`remixmusic.generation.baselines.infinigram`).

Construction is prefix doubling (Manber & Myers, "Suffix arrays: a new method for on-line string
searches", SIAM J. Computing 22(5), 1993): suffixes sorted by their first ``h`` symbols are re-sorted by
(rank of the first ``h``, rank of the next ``h``), so ``h`` doubles every round. Only groups still tied
are re-sorted, and the pair is packed into one int64 key for a single stable ``argsort`` per round.

Lookup is Manber & Myers' binary search as infini-gram uses it (Liu et al., "Infini-gram: Scaling
Unbounded n-gram Language Models to a Trillion Tokens", 2024): the suffixes that start with a pattern are
one contiguous range of the suffix array, and within the range of a pattern of length ``d`` the suffixes
are sorted by their symbol at offset ``d``, so extending the pattern by one symbol narrows the range by
two binary searches (:func:`narrow`). :func:`bisect` runs many such searches at once, vectorized, and
drops every search whose range has closed from all later steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

# Keys of a doubling round are rank * (n + 1) + next rank + 1 < (n + 1)**2, which must fit in an int64.
MAX_LENGTH = 3_037_000_498


def suffix_array(text: ArrayLike) -> np.ndarray:
    """Start positions of the suffixes of ``text`` in lexicographic order (Manber & Myers 1993).

    ``text``: 1-D integers, length ``n``. Non-negative values are symbols; negative values are
    separators: each sorts before every symbol and before every later separator (they never tie, ties
    are broken by position), so no comparison runs past a separator and the number of doubling rounds is
    bounded by log2 of the longest repeated separator-free stretch. A suffix that ends sorts before every
    longer suffix it is a prefix of, so for non-negative ``text`` this is the plain suffix array.

    Returns: shape ``(n,)``, int32 when ``n < 2**31`` else int64; separator positions come first, in text
    order. Memory: about 100 bytes per position while sorting (int64 keys, ranks and order).

    Raises:
        ValueError: ``text`` is not 1-D, not integers, or longer than :data:`MAX_LENGTH`.
    """
    raw = np.asarray(text)
    if raw.ndim != 1:
        raise ValueError(f"suffix_array needs a 1-D array, not one of shape {raw.shape}")
    if len(raw) and raw.dtype.kind not in "iu":
        raise ValueError(f"suffix_array needs integers, not {raw.dtype}")
    n = len(raw)
    if n > MAX_LENGTH:
        raise ValueError(f"suffix_array supports at most {MAX_LENGTH} positions, not {n}")
    key = raw.astype(np.int64)  # a copy
    sep = np.flatnonzero(key < 0)
    key[sep] = np.arange(len(sep)) - len(sep)  # distinct, below every symbol, in text order
    sa = np.argsort(key, kind="stable")
    rank = np.empty(n, np.int64)
    unresolved = _rerank(sa, key[sa], np.arange(n), rank)
    h = 1
    while len(unresolved):
        s = sa[unresolved]
        nxt = s + h
        second = np.where(nxt < n, rank[np.minimum(nxt, n - 1)], -1)
        k = rank[s] * (n + 1) + (second + 1)
        order = np.argsort(k, kind="stable")
        sa[unresolved] = s[order]
        unresolved = _rerank(sa, k[order], unresolved, rank)
        h *= 2
    return sa.astype(np.int32 if n < 2**31 else np.int64)


def _rerank(sa: np.ndarray, sorted_keys: np.ndarray, slots: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Give the suffixes in ``sa[slots]`` (sorted by ``sorted_keys``) the slot of their tie group's head
    as rank; return the slots still in groups of two or more."""
    head = np.ones(len(slots), dtype=bool)
    head[1:] = sorted_keys[1:] != sorted_keys[:-1]
    rank[sa[slots]] = np.maximum.accumulate(np.where(head, slots, 0))
    group = np.cumsum(head) - 1
    return slots[np.bincount(group)[group] > 1]


def bisect(
    lo: ArrayLike, hi: ArrayLike, goes_right: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Many binary searches at once: per element ``e``, the first position in ``[lo[e], hi[e])`` where the
    predicate turns false (``hi[e]`` where it never does).

    ``goes_right(mid, live)`` gets the elements still searching (``live``, indices into ``lo``) and their
    midpoints ``mid`` (same length) and returns, as booleans of that length, whether each answer lies
    right of its midpoint; it must be monotone (true, then false) on each element's range. An element
    leaves the search as soon as its range closes (live compaction), so the predicate is evaluated about
    ``sum(log2(hi - lo + 1))`` times in all, in ``log2(max(hi - lo)) + 1`` vectorized calls.

    Returns: int64, the shape of ``lo``. This is the binary search of suffix-array lookups (Manber &
    Myers 1993) vectorized over queries, as in infini-gram's range narrowing (Liu et al. 2024).

    Raises:
        ValueError: ``lo`` and ``hi`` are not 1-D arrays of one length.
    """
    a = np.array(lo, dtype=np.int64)  # a copy: the caller's array stays as it is
    b = np.asarray(hi, dtype=np.int64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"bisect needs 1-D lo and hi of one length, not shapes {a.shape} and {b.shape}")
    live = np.flatnonzero(a < b)
    a_live, b_live = a[live], b[live]
    while len(live):
        mid = (a_live + b_live) >> 1
        right = goes_right(mid, live)
        a_live = np.where(right, mid + 1, a_live)
        b_live = np.where(right, b_live, mid)
        still = a_live < b_live
        if np.count_nonzero(still) < len(live):  # write back the finished searches and drop them
            a[live] = a_live
            keep = np.flatnonzero(still)  # one nonzero, then takes: cheaper than three boolean masks
            live, a_live, b_live = live[keep], a_live[keep], b_live[keep]
    return a


def lower_bound(
    text: np.ndarray,
    sa: np.ndarray,
    lo: ArrayLike,
    hi: ArrayLike,
    depth: int | np.ndarray,
    symbol: ArrayLike,
) -> np.ndarray:
    """Per element, the first suffix-array position in ``[lo, hi)`` whose suffix has a value
    ``>= symbol`` at offset ``depth``: ``text[sa[i] + depth] >= symbol`` (``hi`` where none has).

    ``sa`` is a suffix array of ``text`` (or a part of it, such as its symbol suffixes), and every suffix
    in each range must be sorted by its value at ``depth`` and have ``sa[i] + depth < len(text)``. Both
    hold when ``[lo, hi)`` is the range of a pattern of ``depth`` symbols and ``text`` ends with a
    negative value (a separator or sentinel, which sorts first), which is how both users call it.
    ``depth``: an int, or one per element; ``symbol``: one per element (or a scalar). Vectorized
    binary search (:func:`bisect`) after Manber & Myers (1993) and infini-gram (Liu et al. 2024).

    Returns: int64, the shape of ``lo``.

    Raises:
        ValueError: ``lo`` and ``hi`` are not 1-D arrays of one length.
    """
    target = np.broadcast_to(np.asarray(symbol, dtype=np.int64), np.shape(lo))
    if np.ndim(depth) == 0:
        d = int(depth)
        return bisect(lo, hi, lambda mid, live: text[sa[mid] + d] < target[live])
    offsets = np.asarray(depth, dtype=np.int64)
    return bisect(lo, hi, lambda mid, live: text[sa[mid] + offsets[live]] < target[live])


def narrow(
    text: np.ndarray,
    sa: np.ndarray,
    lo: ArrayLike,
    hi: ArrayLike,
    depth: int | np.ndarray,
    symbol: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Range narrowing (Manber & Myers 1993; infini-gram, Liu et al. 2024): inside the suffix-array range
    ``[lo, hi)`` of a pattern of ``depth`` symbols, the range ``[new_lo, new_hi)`` of the pattern
    followed by ``symbol``, for every element at once; empty (``new_lo == new_hi``) where the extension
    does not occur. A negative ``symbol`` below every value in ``text`` matches nothing.

    Same preconditions and arguments as :func:`lower_bound` (two calls of it: the first value
    ``>= symbol``, then the first ``>= symbol + 1`` from there).

    Returns: ``(new_lo, new_hi)``, int64, the shape of ``lo``; ``hi - lo`` is the count of occurrences.

    Raises:
        ValueError: ``lo`` and ``hi`` are not 1-D arrays of one length.
    """
    target = np.asarray(symbol, dtype=np.int64)
    start = lower_bound(text, sa, lo, hi, depth, target)
    return start, lower_bound(text, sa, start, hi, depth, target + 1)
