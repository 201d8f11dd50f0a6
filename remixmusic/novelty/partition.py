"""Greedy partition of a point set into groups with light within-group pairs (the pigeonhole filter of
:mod:`remixmusic.novelty.translations`: with ``k`` matches among ``k - 1`` groups, two share a group)."""

from __future__ import annotations

import numpy as np


def greedy_groups(n: int, g: int, a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Partition ``n`` points into ``g`` groups so that the pairs inside groups weigh little in total.

    ``a``, ``b``: (m,) the pairs ``a < b`` (every pair, in any order); ``weight``: (m,) their weights
    (here the index occurrences a pair costs to read). Greedy agglomeration: starting from singletons,
    repeatedly merge the two groups whose cross pairs weigh least (minimising the total exactly is a hard
    clustering problem; any partition keeps the search exact, a light one keeps it cheap).
    Returns an (m,) boolean mask of the pairs inside groups; none when ``g >= n``. Raises nothing.
    """
    if g >= n:
        return np.zeros(len(a), bool)
    if g == n - 1:
        mask = np.zeros(len(a), bool)
        mask[int(np.argmin(weight))] = True
        return mask
    W = np.zeros((n, n))
    W[a, b] = weight
    W += W.T
    np.fill_diagonal(W, np.inf)
    label = np.arange(n)
    for _ in range(n - g):
        x, y = divmod(int(np.argmin(W)), n)
        W[x, :] += W[y, :]
        W[:, x] += W[:, y]
        W[x, x] = np.inf
        W[y, :] = np.inf
        W[:, y] = np.inf
        label[label == y] = x
    return label[a] == label[b]
