"""Motif segmentation of a melodic line: where does one phrase end and the next begin?

Labels such as "copied from piece X" only make sense per musical unit, so each query line is cut into
motifs before labelling. Three methods:

* ``lbdm`` (default): Cambouropoulos' Local Boundary Detection Model (2001). For each of three interval
  profiles between successive notes (absolute pitch interval, inter-onset interval, rest before the next
  note) the *degree of change* between neighbouring intervals is ``r = |x_i - x_{i+1}| / (x_i + x_{i+1})``;
  the boundary strength of interval ``i`` is ``x_i * (r_{i-1,i} + r_{i,i+1})``, normalized to [0, 1] per
  profile, and the profiles are mixed with weights (0.25 pitch, 0.5 IOI, 0.25 rest in the paper). A big
  leap, a long note or a rest that stands out from its neighbours makes a boundary.
* ``surprisal``: boundaries before notes whose information content (-log p under the generating model) is
  a local peak clearly above the piece's mean, following the information-dynamics account of grouping
  (Pearce, Müllensiefen & Wiggins 2010). Needs the per-note surprisal of a generation sidecar.
* ``fixed``: windows of a fixed number of beats, for comparison with window-based measures.

``lbdm`` and ``surprisal`` then enforce the same motif length limits: peaks closer than ``min_notes``
keep only the stronger, and motifs longer than ``max_notes`` are split at their strongest internal
interval. ``fixed`` windows are left as they fall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from remixmusic.errors import RemixError
from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.novelty.config import METHODS as METHODS
from remixmusic.novelty.config import SegmentConfig


@dataclass(frozen=True)
class Segmentation:
    """Motifs of one line as half-open note-index ranges ``[starts[k], ends[k])`` covering the line."""

    starts: np.ndarray
    ends: np.ndarray
    method: str

    def __len__(self) -> int:
        return len(self.starts)


def degree_of_change(x: np.ndarray) -> np.ndarray:
    """LBDM's relative change between successive non-negative values, 0 where both are 0."""
    a, b = x[:-1], x[1:]
    total = a + b
    out = np.zeros(len(a), dtype=np.float64)
    np.divide(np.abs(a - b), total, out=out, where=total > 0)
    return out


def profile_strength(x: np.ndarray) -> np.ndarray:
    """LBDM boundary strength of each interval of one profile, normalized to [0, 1]."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return x
    r = np.concatenate([[0.0], degree_of_change(x), [0.0]])
    s = x * (r[:-1] + r[1:])
    peak = s.max()
    return s / peak if peak > 0 else s


def lbdm_strength(
    onset: np.ndarray,
    duration: np.ndarray,
    pitch: np.ndarray,
    weights: tuple[float, float, float] = (0.25, 0.5, 0.25),
) -> np.ndarray:
    """Overall LBDM boundary strength of each of the ``n - 1`` intervals between successive notes.

    Value ``i`` is the strength of a boundary between note ``i`` and note ``i + 1``.
    """
    onset = np.asarray(onset, dtype=np.int64)
    pitch_iv = np.abs(np.diff(np.asarray(pitch, dtype=np.int64)))
    ioi = np.diff(onset)
    rest = np.maximum(onset[1:] - (onset[:-1] + np.asarray(duration, dtype=np.int64)[:-1]), 0)
    w_pitch, w_ioi, w_rest = weights
    return (
        w_pitch * profile_strength(pitch_iv) + w_ioi * profile_strength(ioi) + w_rest * profile_strength(rest)
    ) / max(sum(weights), 1e-12)


def local_peaks(strength: np.ndarray, threshold: float) -> np.ndarray:
    """Local maxima (above the left neighbour, not below the right) that exceed ``threshold``."""
    if len(strength) == 0:
        return np.zeros(0, dtype=np.int64)
    padded = np.concatenate([[-np.inf], strength, [-np.inf]])
    mid = padded[1:-1]
    is_peak = (mid > padded[:-2]) & (mid >= padded[2:]) & (mid > threshold)
    return np.flatnonzero(is_peak)


def enforce_lengths(
    cuts: np.ndarray, strength: np.ndarray, n: int, min_notes: int, max_notes: int
) -> np.ndarray:
    """Boundaries (note index where a motif starts, excluding 0) obeying the motif length limits.

    ``cuts`` are candidate interval indices (a cut at interval ``i`` starts a motif at note ``i + 1``);
    ``strength`` ranks them. Greedy strongest-first selection keeps motifs at least ``min_notes`` long
    (also against the line's ends); then any motif longer than ``max_notes`` is split at its strongest
    admissible internal interval, repeatedly.
    """
    starts = np.asarray(cuts, dtype=np.int64) + 1
    starts = starts[(starts >= min_notes) & (starts <= n - min_notes)]
    chosen: list[int] = []
    # Loop over candidate peaks (a few per phrase), not over notes.
    for s in starts[np.argsort(-strength[starts - 1], kind="stable")]:
        if all(abs(int(s) - c) >= min_notes for c in chosen):
            chosen.append(int(s))
    bounds = sorted([0, *chosen, n])
    out: list[int] = []
    stack = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)][::-1]
    while stack:
        a, b = stack.pop()
        if b - a > max_notes:
            lo, hi = a + min_notes, b - min_notes  # admissible motif starts
            if hi < lo:
                lo = hi = (a + b) // 2
            cut = lo + int(np.argmax(strength[lo - 1 : hi])) if len(strength) else (a + b) // 2
            stack.extend([(cut, b), (a, cut)])
            continue
        out.append(a)
    return np.asarray(out[1:] if out and out[0] == 0 else out, dtype=np.int64)


class Segmenter:
    """Cuts a melodic line into motifs with one of :data:`METHODS`.

    Parameters are fixed at construction (scikit-learn style), validated and kept as one
    :class:`~remixmusic.novelty.config.SegmentConfig` (``config``; see it for units), so one segmenter is
    reused for a corpus and recorded in reports.

    Raises:
        ConfigError: an invalid parameter (see :class:`~remixmusic.novelty.config.SegmentConfig`).
    """

    def __init__(
        self,
        method: str = "lbdm",
        threshold: float = 0.3,
        weights: tuple[float, float, float] = (0.25, 0.5, 0.25),
        min_notes: int = 4,
        max_notes: int = 16,
        window_beats: float = 4.0,
        surprisal_k: float = 1.0,
    ) -> None:
        self.config = SegmentConfig(
            method, threshold, weights, min_notes, max_notes, window_beats, surprisal_k
        )
        self.method = self.config.method
        self.threshold = self.config.threshold
        self.weights = self.config.weights
        self.min_notes = self.config.min_notes
        self.max_notes = self.config.max_notes
        self.window_beats = self.config.window_beats
        self.surprisal_k = self.config.surprisal_k

    @classmethod
    def from_config(cls, config: SegmentConfig) -> Segmenter:
        """The segmenter of ``config``."""
        c = config
        return cls(c.method, c.threshold, c.weights, c.min_notes, c.max_notes, c.window_beats, c.surprisal_k)

    def params(self) -> dict[str, Any]:
        """The settings as a JSON-able dict (``config.to_dict()``)."""
        return self.config.to_dict()

    def segment(
        self,
        onset: np.ndarray,
        duration: np.ndarray,
        pitch: np.ndarray,
        surprisal: np.ndarray | None = None,
    ) -> Segmentation:
        """Segment one monophonic line given by its note arrays (sorted by onset)."""
        n = len(onset)
        if n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Segmentation(empty, empty, self.method)
        if self.method == "fixed":
            window = np.asarray(onset, dtype=np.int64) // max(1, round(self.window_beats * STEPS_PER_BEAT))
            starts = np.flatnonzero(np.diff(window)) + 1
            return _from_starts(starts, n, self.method)
        if self.method == "surprisal":
            if surprisal is None or len(surprisal) != n:
                raise RemixError("surprisal segmentation needs per-note surprisal from a generation sidecar")
            info = np.nan_to_num(np.asarray(surprisal, dtype=np.float64), nan=0.0)
            # A surprising note *starts* a new group: interval i precedes note i + 1.
            strength = info[1:]
            threshold = info.mean() + self.surprisal_k * info.std()
        else:
            strength = lbdm_strength(onset, duration, pitch, self.weights)
            threshold = self.threshold
        cuts = local_peaks(strength, threshold)
        starts = enforce_lengths(cuts, strength, n, self.min_notes, self.max_notes)
        return _from_starts(starts, n, self.method)


def _from_starts(starts: np.ndarray, n: int, method: str) -> Segmentation:
    bounds = np.concatenate([[0], np.asarray(starts, dtype=np.int64), [n]])
    return Segmentation(bounds[:-1].copy(), bounds[1:].copy(), method)
