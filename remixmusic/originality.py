"""The originality score of Yin, Reuben, Stepney & Collins (2021, 2022), for comparison with the literature.

Notes are points (onset, MIDI pitch). The *cardinality score* of a query point set ``P`` against a
reference point set ``Q`` is the size of the largest subset of ``P`` that, moved by one translation
vector in time and pitch, lands on points of ``Q``, divided by ``max(|P|, |Q|)``: transposed and shifted
copies score like verbatim ones. A piece is cut into windows of 16 beats with a hop of 8 beats; the
originality of a window is ``1 - max cardinality score`` over all reference windows, and the piece's
originality report is that curve (its mean summarizes the piece). Reference windows have the same length
but a finer hop (1 beat by default), so a passage copied at any beat offset still finds a reference
window aligned to within half a beat: with equal hops a verbatim copy shifted by half a hop would score
only about 0.75.

The published procedure compares every query window with every reference window (``brute_force``); it is
quadratic in corpus size. :meth:`OriginalityScorer.score` gets the same number where it matters by
comparing only with the windows of a shortlist of reference pieces, taken from the suffix-array matches of
the query piece (the pieces its notes were matched to). A shortlisted score can only be lower than the
brute-force one, and equals it whenever the best reference window belongs to a matched piece, which is
the case for every copied window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from remixmusic.errors import RemixError
from remixmusic.fileio import atomic_write
from remixmusic.index import Index
from remixmusic.notes import STEPS_PER_BEAT, Piece

_PITCH_SPAN = 256  # translation in pitch lies in (-128, 128)
_CHUNK_POINTS = 1 << 16  # reference points compared with one query window at a time


def point_set(piece: Piece) -> np.ndarray:
    """Distinct (onset, pitch) points of the pitched notes, sorted by onset; drums are not pitches."""
    notes = piece.notes[~piece.notes["is_drum"]]
    pts = np.stack([notes["onset"].astype(np.int64), notes["pitch"].astype(np.int64)], axis=1)
    return np.unique(pts, axis=0) if len(pts) else pts.reshape(0, 2)


def windows_of(points: np.ndarray, length: int, hop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut sorted points into windows ``[k*hop, k*hop + length)``.

    Returns ``(window_points, window_id, window_start)``: points repeated once per window they fall in,
    with onsets relative to their window's start (translation invariance makes the origin free, and
    relative onsets keep every time shift inside ``(-length, length)``), the window of each, and the start
    step of every non-empty window (ids are renumbered 0..).
    """
    if len(points) == 0:
        return points.reshape(0, 2), np.zeros(0, np.int64), np.zeros(0, np.int64)
    onset = points[:, 0]
    n_windows = int(onset.max()) // hop + 1
    starts = np.arange(n_windows, dtype=np.int64) * hop
    lo = np.searchsorted(onset, starts, side="left")
    hi = np.searchsorted(onset, starts + length, side="left")
    keep = hi > lo
    starts, lo, hi = starts[keep], lo[keep], hi[keep]
    counts = hi - lo
    wid = np.repeat(np.arange(len(starts)), counts)
    out = points[_ranges(lo, hi)]
    out[:, 0] -= starts[wid]
    return out, wid, starts


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(lo[i], hi[i])`` over i, vectorized."""
    counts = hi - lo
    return np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)


def best_cardinality(
    query: np.ndarray, ref_points: np.ndarray, ref_window: np.ndarray, ref_sizes: np.ndarray, length: int
) -> tuple[float, int]:
    """Highest cardinality score of point set ``query`` over the reference windows, and that window.

    All translation vectors between query points and reference points are encoded with their window into
    one integer key; the most frequent key of a window is its maximal translatable subset.
    """
    if len(query) == 0 or len(ref_points) == 0:
        return 0.0, -1
    span_t = 2 * length + 1
    dt = ref_points[:, None, 0] - query[None, :, 0] + length
    dp = ref_points[:, None, 1] - query[None, :, 1] + _PITCH_SPAN // 2
    key = ((ref_window[:, None] * span_t + dt) * _PITCH_SPAN + dp).ravel()
    key.sort()
    edges = np.flatnonzero(np.diff(key)) + 1
    runs = np.diff(np.concatenate([[0], edges, [len(key)]]))
    run_window = key[np.concatenate([[0], edges])] // (span_t * _PITCH_SPAN)
    best = np.zeros(len(ref_sizes), dtype=np.int64)
    np.maximum.at(best, run_window, runs)
    scores = best / np.maximum(ref_sizes, len(query))
    w = int(np.argmax(scores))
    return float(scores[w]), w


@dataclass(frozen=True)
class OriginalityResult:
    """Per-window originality of one query piece (window starts in the piece's own steps)."""

    window_start: np.ndarray
    originality: np.ndarray
    best_piece: np.ndarray  # reference piece of the best window, -1 if none
    best_start: np.ndarray  # start step of that reference window

    @property
    def mean(self) -> float:
        return float(self.originality.mean()) if len(self.originality) else float("nan")

    @property
    def minimum(self) -> float:
        return float(self.originality.min()) if len(self.originality) else float("nan")


class OriginalityScorer:
    """Windows of a reference corpus, kept as flat arrays, and the scoring of query pieces against them."""

    def __init__(
        self, window_beats: float = 16.0, hop_beats: float = 8.0, reference_hop_beats: float = 1.0
    ) -> None:
        self.window_beats = window_beats
        self.hop_beats = hop_beats
        self.reference_hop_beats = reference_hop_beats
        self.length = round(window_beats * STEPS_PER_BEAT)
        self.hop = round(hop_beats * STEPS_PER_BEAT)
        self.reference_hop = round(reference_hop_beats * STEPS_PER_BEAT)
        if min(self.length, self.hop, self.reference_hop) <= 0:
            raise RemixError("originality windows need a positive length and hop")
        self.points = np.zeros((0, 2), np.int64)  # reference points, window after window
        self.window_ptr = np.zeros(1, np.int64)  # points of window w: points[ptr[w]:ptr[w+1]]
        self.window_piece = np.zeros(0, np.int64)
        self.window_start = np.zeros(0, np.int64)
        self.piece_ptr = np.zeros(1, np.int64)  # windows of piece i: piece_ptr[i]:piece_ptr[i+1]

    def params(self) -> dict[str, float]:
        return {
            "window_beats": self.window_beats,
            "hop_beats": self.hop_beats,
            "reference_hop_beats": self.reference_hop_beats,
        }

    def fit(self, pieces: Sequence[Piece]) -> OriginalityScorer:
        """Window every reference piece (piece ids are positions in ``pieces``, as in the index)."""
        return self._fit_point_sets([point_set(p) for p in pieces])

    def fit_index(self, index: Index) -> OriginalityScorer:
        """Window the notes an index holds: the melodic lines of its reference pieces (all notes of
        monophonic tracks; the skyline of polyphonic ones unless the index was built with all voices).

        Using the index keeps one source of truth for the reference and needs no re-reading of MIDI.
        """
        slots = np.flatnonzero(np.asarray(index.note) >= 0)
        piece = np.asarray(index.piece)[slots].astype(np.int64)
        pts = np.stack([piece, np.asarray(index.onset)[slots], np.asarray(index.pitch)[slots]], axis=1)
        pts = np.unique(pts.astype(np.int64), axis=0)
        bounds = np.searchsorted(pts[:, 0], np.arange(index.n_pieces + 1))
        return self._fit_point_sets(np.split(pts[:, 1:], bounds[1:-1]))

    def _fit_point_sets(self, point_sets: Sequence[np.ndarray]) -> OriginalityScorer:
        pts, wins, starts, owners, per_piece = [], [], [], [], []
        offset = 0
        for i, points in enumerate(point_sets):
            p, w, s = windows_of(points, self.length, self.reference_hop)
            pts.append(p)
            wins.append(w + offset)
            starts.append(s)
            owners.append(np.full(len(s), i, np.int64))
            per_piece.append(len(s))
            offset += len(s)
        wid = np.concatenate(wins) if wins else np.zeros(0, np.int64)
        self.points = (np.concatenate(pts) if pts else np.zeros((0, 2))).astype(np.int32)
        self.window_ptr = np.concatenate([[0], np.cumsum(np.bincount(wid, minlength=offset))]).astype(
            np.int64
        )
        self.window_start = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        self.window_piece = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        self.piece_ptr = np.concatenate([[0], np.cumsum(per_piece)]).astype(np.int64)
        return self

    @property
    def n_pieces(self) -> int:
        return len(self.piece_ptr) - 1

    def _windows_of_pieces(self, pieces: np.ndarray) -> np.ndarray:
        pieces = np.unique(np.asarray(pieces, dtype=np.int64))
        pieces = pieces[(pieces >= 0) & (pieces < self.n_pieces)]
        return _ranges(self.piece_ptr[pieces], self.piece_ptr[pieces + 1])

    def _score(self, piece: Piece, windows: np.ndarray) -> OriginalityResult:
        """Score every query window against the reference windows ``windows`` (global ids)."""
        q_pts, q_win, q_start = windows_of(point_set(piece), self.length, self.hop)
        sizes = self.window_ptr[windows + 1] - self.window_ptr[windows]
        # Chunks of reference windows bound the memory of the pairwise translation table.
        chunk_ends = np.searchsorted(
            np.cumsum(sizes), np.arange(1, 1 + sizes.sum() // _CHUNK_POINTS) * _CHUNK_POINTS
        )
        chunks = np.split(np.arange(len(windows)), np.unique(chunk_ends[chunk_ends < len(windows)]))
        best = np.zeros(len(q_start))
        best_window = np.full(len(q_start), -1, np.int64)
        bounds = np.searchsorted(q_win, np.arange(len(q_start) + 1))
        for chunk in chunks:
            if len(chunk) == 0:
                continue
            w_ids = windows[chunk]
            ref_points = self.points[_ranges(self.window_ptr[w_ids], self.window_ptr[w_ids + 1])]
            ref_window = np.repeat(np.arange(len(chunk)), sizes[chunk])
            for k in range(len(q_start)):  # one vectorized comparison per query window
                query = q_pts[bounds[k] : bounds[k + 1]]
                score, w = best_cardinality(query, ref_points, ref_window, sizes[chunk], self.length)
                if w >= 0 and score > best[k]:
                    best[k], best_window[k] = score, w_ids[w]
        found = best_window >= 0
        best_piece = (
            np.where(found, self.window_piece[np.maximum(best_window, 0)], -1)
            if len(windows)
            else best_window
        )
        best_start = (
            np.where(found, self.window_start[np.maximum(best_window, 0)], -1)
            if len(windows)
            else best_window
        )
        return OriginalityResult(q_start, 1.0 - best, best_piece, best_start)

    def score(self, piece: Piece, candidates: np.ndarray) -> OriginalityResult:
        """Originality against the windows of the shortlisted reference pieces ``candidates`` only."""
        return self._score(piece, self._windows_of_pieces(candidates))

    def brute_force(self, piece: Piece) -> OriginalityResult:
        """The published method: every query window against every reference window."""
        return self._score(piece, np.arange(len(self.window_start), dtype=np.int64))

    # -- persistence next to an index -----------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        with atomic_write(path, "wb") as fh:
            np.savez(
                fh,
                params=np.array([self.window_beats, self.hop_beats, self.reference_hop_beats]),
                points=self.points,
                window_ptr=self.window_ptr,
                window_piece=self.window_piece,
                window_start=self.window_start,
                piece_ptr=self.piece_ptr,
            )

    @classmethod
    def load(cls, path: str | Path) -> OriginalityScorer:
        try:
            data = np.load(path)
            scorer = cls(*(float(v) for v in data["params"]))
            for name in ("points", "window_ptr", "window_piece", "window_start", "piece_ptr"):
                setattr(scorer, name, data[name])
        except (OSError, KeyError, ValueError) as exc:
            raise RemixError(f"{path}: not an originality window file ({exc})") from exc
        return scorer
