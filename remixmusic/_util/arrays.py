"""Small vectorized array idioms shared across layers: change points, forward fill, ramps and a 64-bit hash."""

from __future__ import annotations

import numpy as np


def _changes(values: np.ndarray) -> np.ndarray:
    """True where a value differs from the previous one (and at the first)."""
    out = np.ones(len(values), bool)
    out[1:] = values[1:] != values[:-1]
    return out


def _ffill(values: np.ndarray) -> np.ndarray:
    """Forward fill of -1 entries with the last non-negative value (-1 before the first one)."""
    idx = np.maximum.accumulate(np.where(values >= 0, np.arange(len(values)), -1)) if len(values) else values
    return np.where(idx >= 0, values[np.maximum(idx, 0)], -1)


def _splitmix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
