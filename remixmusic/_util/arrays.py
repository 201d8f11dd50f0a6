"""Small vectorized array idioms shared across layers: change points, forward fill, ramps and a 64-bit hash."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _changes(values: np.ndarray) -> np.ndarray:
    """True where a value differs from the previous one (and at the first)."""
    out = np.ones(len(values), bool)
    out[1:] = values[1:] != values[:-1]
    return out


def _ffill(values: np.ndarray) -> np.ndarray:
    """Forward fill of -1 entries with the last non-negative value (-1 before the first one)."""
    idx = np.maximum.accumulate(np.where(values >= 0, np.arange(len(values)), -1)) if len(values) else values
    return np.where(idx >= 0, values[np.maximum(idx, 0)], -1)


def ramp(lengths: ArrayLike) -> np.ndarray:
    """Each element's position in its run, for consecutive runs of ``lengths``:
    ``[0, 1, .., l0 - 1, 0, 1, .., l1 - 1, ...]`` (a run of length 0 adds nothing).

    ``lengths``: 1-D non-negative integers. Returns int64 of length ``sum(lengths)``. With
    ``np.repeat(starts, lengths) + ramp(lengths)`` it lists every index of many ranges at once.

    Raises:
        ValueError: a negative length.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)


GOLDEN_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's state increment: 2**64 / golden ratio, odd


def splitmix64(x: np.ndarray, gamma: int = GOLDEN_GAMMA) -> np.ndarray:
    """SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014):
    the output for generator state ``x``, i.e. ``x + gamma`` through the variant-13 finalizer (the
    constants of Vigna's ``splitmix64.c``). A fast, well-mixing 64-bit hash of each element.

    ``x``: uint64 array (other integer arrays are reinterpreted as uint64), any shape; arithmetic wraps
    modulo 2**64. ``gamma=0`` gives the bare finalizer, which the n-gram's context hash chains over the
    tokens (saved n-gram models depend on it). Returns uint64, the shape of ``x``. Raises nothing.
    """
    shape = np.shape(x)
    # At least 1-D: integer array arithmetic wraps silently, scalar arithmetic would warn on overflow (and
    # np.errstate costs more than the hash on the n-gram's small batches). Rebinding ``x`` lets each
    # temporary go at once: holding the input to the end costs 20% on large arrays.
    x = np.atleast_1d(np.asarray(x).astype(np.uint64, copy=False))
    if gamma:
        x = x + np.uint64(gamma)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (x ^ (x >> np.uint64(31))).reshape(shape)


def interval_union(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of the half-open intervals ``[starts, ends)`` as sorted disjoint intervals (empty ones
    dropped): int64 ``(starts, ends)``."""
    keep = ends > starts
    starts, ends = np.asarray(starts)[keep].astype(np.int64), np.asarray(ends)[keep].astype(np.int64)
    if not len(starts):
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    new = np.concatenate([[True], starts[1:] > reach[:-1]])
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(starts)) - 1
    return starts[first], reach[last]
