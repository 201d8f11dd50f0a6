"""Suffix arrays by prefix doubling (Manber & Myers 1993) and vectorized range narrowing over them.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def suffix_array(tokens: np.ndarray) -> np.ndarray:
    """Start positions of all suffixes of ``tokens`` (non-negative ints) in lexicographic order.

    Prefix doubling (Manber & Myers 1993): sort by the first ``2k`` tokens using the ranks by the first
    ``k``; a suffix that ends sorts before every longer suffix it is a prefix of.
    """
    n = len(tokens)
    if n == 0:
        return np.zeros(0, np.int64)
    rank = np.unique(tokens, return_inverse=True)[1].astype(np.int64).ravel()
    k = 1
    while True:
        second = np.full(n, -1, np.int64)
        second[: max(n - k, 0)] = rank[k:]
        order = np.lexsort((second, rank))
        first_key, second_key = rank[order], second[order]
        new_group = np.ones(n, bool)
        new_group[1:] = (first_key[1:] != first_key[:-1]) | (second_key[1:] != second_key[:-1])
        rank = np.empty(n, np.int64)
        rank[order] = np.cumsum(new_group) - 1
        if rank[order[-1]] == n - 1:  # all suffixes told apart
            break
        k *= 2
    return order


def _bisect(lo: np.ndarray, hi: np.ndarray, goes_right: Any) -> np.ndarray:
    """Vectorized binary search: per element, the first index in ``[lo, hi)`` where ``goes_right`` turns
    false (``hi`` if never); ``goes_right(mid)`` must be monotone (true, then false) on each range."""
    lo, hi = lo.copy(), hi.copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        right = active & goes_right(mid)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)


def suffix_array(text: np.ndarray) -> np.ndarray:
    """Suffix array of ``text`` by prefix doubling; negative values are separators that sort before every
    symbol and never tie (earlier ones first), so suffixes are only compared up to their first separator.

    Returns slot positions (int32 when they fit) in sorted suffix order, separators included (first).
    """
    n = len(text)
    key = np.asarray(text, dtype=np.int64).copy()
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
