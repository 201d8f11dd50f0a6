"""The originality score of Yin, Reuben, Stepney & Collins (2021, 2022), for comparison with the literature.

Notes are points (onset, MIDI pitch). The *cardinality score* of a query point set ``P`` against a
reference point set ``Q`` is the size of the largest subset of ``P`` that, moved by one translation
vector in time and pitch, lands on points of ``Q``, divided by ``max(|P|, |Q|)``: transposed and shifted
copies score like verbatim ones. A piece is cut into windows of 16 beats with a hop of 8 beats; the
originality of a window is ``1 - max cardinality score`` over reference windows of the same length, and
the piece's originality report is that curve (its mean summarizes the piece).

Reference windows start at *every* grid step, the limit of an ever finer reference hop, so a passage
copied at any offset meets an aligned reference window (with reference windows on the query's 8-beat
hop, a verbatim copy shifted by 4 beats would score only 0.75). This costs nothing extra: query window
``P`` (onsets relative to its start) and a reference piece vote with every pair of points for the
translation ``(dt, dp) = q - p``; the votes for one translation count exactly the points of ``P`` that
land in the reference window starting at ``dt``, so the best window of a piece is read off the vote
counts, divided by ``max(|P|, points of that window)``.

The published procedure compares every query window with every reference window (:meth:`brute_force`);
it is linear in the reference size per query window. :meth:`OriginalityScorer.score` returns the same
numbers exactly (the same rational score for every window, not an approximation) by branch and bound over
translations (:mod:`remixmusic.novelty.translations`): a translation can beat the best score ``s`` found
so far only if it lands at least ``floor(s * n) + 1`` of the window's ``n`` points, so by pigeonhole it
maps one of a few chosen pairs of query points onto a reference pair with the same time and pitch
difference (and a bounded number of reference points between them); only those occurrences of those
pairs are read from an index of all reference pairs less than a window apart, and each candidate is
dropped as soon as its misses rule it out. The search starts from hint translations (the analyzer passes
the occurrences of the query's suffix-array matches) and raises its bound as it goes; hints change the
speed, never the result. Among windows of equal score the reported best window may differ from the
brute force's (the first in its scan order).

A very long piece (more than :data:`MAX_WINDOWS` windows), or a dense one (its windows holding more than
:data:`MAX_POINTS` points in all: 64-note chords on every beat), is scored on fewer evenly spaced windows,
each exactly: the mean of those estimates the piece's, at a cost bounded per piece (the settings record
both caps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from remixmusic._util.arrays import ramp
from remixmusic._util.files import atomic_write
from remixmusic.errors import RemixError
from remixmusic.music.lines import extract_lines
from remixmusic.music.notes import STEPS_PER_BEAT, Piece
from remixmusic.novelty.index import Index
from remixmusic.novelty.translations import Hints, TranslationIndex

_PITCH_SPAN = 256  # translations in pitch lie in (-128, 128)


_CHUNK_PAIRS = 1 << 22  # (reference point, query point) pairs voted at a time, to bound memory


def point_set(piece: Piece, lines: str | None = None, include_drums: bool = False) -> np.ndarray:
    """Distinct (onset, pitch) points, sorted: of the pitched notes (drums are not pitches), or with
    ``lines`` of the notes on those melodic lines (:func:`remixmusic.views.extract_lines`)."""
    if lines is None:
        notes = piece.notes[~piece.notes["is_drum"]]
    else:
        on_lines = [line.notes for line in extract_lines(piece, lines, include_drums)]
        notes = piece.notes[np.concatenate(on_lines)] if on_lines else piece.notes[:0]
    pts = np.stack([notes["onset"].astype(np.int64), notes["pitch"].astype(np.int64)], axis=1)
    return np.unique(pts, axis=0) if len(pts) else pts.reshape(0, 2)


def query_windows(points: np.ndarray, length: int, hop: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Non-empty windows ``[k*hop, k*hop + length)`` of sorted points, onsets relative to the window start,
    and the start step of each."""
    if len(points) == 0:
        return [], np.zeros(0, np.int64)
    onset = points[:, 0]
    # only the windows holding a point: for each onset the windows that reach it (no array over the whole
    # span, so a stray note far out costs nothing)
    first = np.maximum(-(-(onset - length + 1) // hop), 0)
    count = onset // hop - first + 1
    starts = np.unique(np.repeat(first, count) + ramp(count)) * hop
    lo = np.searchsorted(onset, starts, side="left")
    hi = np.searchsorted(onset, starts + length, side="left")
    keep = hi > lo
    windows = [
        points[a:b] - np.array([s, 0]) for a, b, s in zip(lo[keep], hi[keep], starts[keep], strict=True)
    ]
    return windows, starts[keep]


def best_window(
    query: np.ndarray, ref_points: np.ndarray, ref_owner: np.ndarray, length: int
) -> tuple[float, int, int]:
    """Highest cardinality score of window ``query`` over all reference windows ``[t, t + length)``.

    ``ref_points`` are (onset, pitch) sorted by ``ref_owner`` (a small piece number) then onset. Returns
    (score, owner, window start) of the best window; (0, -1, -1) when nothing can be compared.
    """
    n = len(query)
    if n == 0 or len(ref_points) == 0:
        return 0.0, -1, -1
    span = int(ref_points[:, 0].max()) + 2 * length + 1  # room for every window start t >= -length
    # 32-bit keys when they fit: half the memory traffic, and sorting them is about twice as fast.
    dtype = np.int32 if (int(ref_owner[-1]) + 1) * span * _PITCH_SPAN < 2**31 else np.int64
    owner: np.ndarray = ref_owner.astype(dtype)
    ref: np.ndarray = ref_points.astype(dtype)
    q: np.ndarray = query.astype(dtype)
    row = (owner * span + ref[:, 0] + length) * _PITCH_SPAN + ref[:, 1] + _PITCH_SPAN // 2
    key = (row[:, None] - (q[None, :, 0] * _PITCH_SPAN + q[None, :, 1])).ravel()
    key.sort()
    edges = np.flatnonzero(np.diff(key)) + 1
    heads = np.concatenate([[0], edges])
    votes = np.diff(np.append(heads, len(key)))
    flat = owner.astype(np.int64) * span + ref_points[:, 0] + length

    def window_size(k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        base = key[heads[k]].astype(np.int64) // _PITCH_SPAN  # owner * span + t + length
        size = np.searchsorted(flat, base + length) - np.searchsorted(flat, base)
        return size, base // span, base % span

    # A window scores at most votes / |P|: only translations that can beat the most-voted one are sized.
    m = np.array([int(np.argmax(votes))])
    bound = votes[m] / np.maximum(window_size(m)[0], n) * n
    cand = np.flatnonzero(votes >= bound[0] - 1e-9)
    size, win_owner, win_t = window_size(cand)
    tvotes = votes[cand]
    score = tvotes / np.maximum(size, n)
    k = int(np.argmax(score))
    return float(score[k]), int(win_owner[k]), int(win_t[k]) - length


MAX_POINTS = 8_000
"""Query points (notes of the scored windows, all together) of one piece scored at most: a window's exact
search grows faster than its points (a 1,024-point window of dense chords takes seconds), so a dense piece
is scored on evenly spaced windows holding about this many points (a melody's 128 windows hold a few
thousand)."""

MAX_WINDOWS = 128
"""Windows of one piece scored at most (:meth:`OriginalityScorer.score`): 128 windows with the default
8-beat hop cover 1,024 beats, longer than nearly every piece of music; a longer file is scored on that many
evenly spaced windows."""


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
    """The reference as one flat point array, and the scoring of query pieces against it.

    Query pieces are reduced to the same notes as the reference: all pitched notes after :meth:`fit`,
    the index's melodic lines after :meth:`fit_index` (``lines``), since a four-voice copy of a reference
    chorale compared with its melody alone would match only a quarter of its points.
    """

    def __init__(
        self,
        window_beats: float = 16.0,
        hop_beats: float = 8.0,
        max_windows: int | None = MAX_WINDOWS,
        max_points: int | None = MAX_POINTS,
    ) -> None:
        self.window_beats = window_beats
        self.hop_beats = hop_beats
        self.max_windows = max_windows
        self.max_points = max_points
        self.length = round(window_beats * STEPS_PER_BEAT)
        self.hop = round(hop_beats * STEPS_PER_BEAT)
        if min(self.length, self.hop) <= 0:
            raise RemixError("originality windows need a positive length and hop")
        self.points = np.zeros((0, 2), np.int32)  # reference points, piece after piece, sorted
        self.piece_ptr = np.zeros(1, np.int64)  # points of piece i: points[ptr[i]:ptr[i+1]]
        self.lines: str | None = None  # the melodic lines both sides are reduced to; None: all notes
        self.include_drums = False
        self._translations: TranslationIndex | None = None  # built on the first exact score

    def params(self) -> dict[str, float | str]:
        return {
            "window_beats": self.window_beats,
            "hop_beats": self.hop_beats,
            "reference_hop": "every step",
            "max_windows": self.max_windows or "all",
            "max_points": self.max_points or "all",
            "points": f"{self.lines} lines" if self.lines else "all pitched notes",
        }

    @property
    def n_pieces(self) -> int:
        return len(self.piece_ptr) - 1

    def fit(self, pieces: Sequence[Piece]) -> OriginalityScorer:
        """Take the reference points of ``pieces`` (piece ids are positions, as in the index)."""
        self.lines, self.include_drums = None, False
        return self._fit_point_sets([point_set(p) for p in pieces])

    def fit_index(self, index: Index) -> OriginalityScorer:
        """Take the notes an index holds: the melodic lines of its reference pieces (with the default
        ``melody`` lines, each piece's highest sounding note per onset over all tracks; every chord tone
        when the index was built with a voices mode).

        Using the index keeps one source of truth for the reference and needs no re-reading of MIDI.
        """
        slots = np.flatnonzero(np.asarray(index.note) >= 0)
        piece = np.asarray(index.piece)[slots].astype(np.int64)
        pts = np.stack([piece, np.asarray(index.onset)[slots], np.asarray(index.pitch)[slots]], axis=1)
        pts = np.unique(pts.astype(np.int64), axis=0)
        bounds = np.searchsorted(pts[:, 0], np.arange(index.n_pieces + 1))
        self.lines, self.include_drums = index.lines, index.include_drums
        return self._fit_point_sets(np.split(pts[:, 1:], bounds[1:-1]))

    def _fit_point_sets(self, point_sets: Sequence[np.ndarray]) -> OriginalityScorer:
        sizes = [len(p) for p in point_sets]
        self.points = (np.concatenate(point_sets) if sizes else np.zeros((0, 2))).astype(np.int32)
        self.piece_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._translations = None
        return self

    @property
    def translations(self) -> TranslationIndex:
        """The pair index of the exact search over the reference points (built on first use: about 3 s
        and 80 MB for the 357,000 melody points of the Essen training split)."""
        if self._translations is None:
            self._translations = TranslationIndex(self.points, self.piece_ptr, self.length)
        return self._translations

    def _score(self, piece: Piece, candidates: np.ndarray) -> OriginalityResult:
        """Score every query window against all windows of the reference pieces ``candidates``."""
        windows, q_start = query_windows(
            point_set(piece, self.lines, self.include_drums), self.length, self.hop
        )
        candidates = np.unique(np.asarray(candidates, dtype=np.int64))
        candidates = candidates[(candidates >= 0) & (candidates < self.n_pieces)]
        best = np.zeros(len(windows))
        best_piece = np.full(len(windows), -1, np.int64)
        best_start = np.full(len(windows), -1, np.int64)
        sizes = self.piece_ptr[candidates + 1] - self.piece_ptr[candidates]
        widest = max((len(w) for w in windows), default=1)
        # Groups of candidate pieces small enough that their pairs with one query window fit in memory.
        group = np.cumsum(sizes) // max(1, _CHUNK_PAIRS // widest)
        for g in np.unique(group):
            chunk = candidates[group == g]
            lo, hi = self.piece_ptr[chunk], self.piece_ptr[chunk + 1]
            counts = hi - lo
            idx = np.repeat(lo, counts) + ramp(counts)
            ref_points, ref_owner = self.points[idx], np.repeat(np.arange(len(chunk)), counts)
            for k, window in enumerate(windows):  # one vectorized vote per query window
                score, owner, start = best_window(window, ref_points, ref_owner, self.length)
                if owner >= 0 and score > best[k]:
                    best[k], best_piece[k], best_start[k] = score, chunk[owner], start
        return OriginalityResult(q_start, 1.0 - best, best_piece, best_start)

    def score(self, piece: Piece, hints: np.ndarray | None = None) -> OriginalityResult:
        """Originality of every window of ``piece``, equal to :meth:`brute_force` (module docstring); of a
        piece with more than ``max_windows`` windows (over 1,000 beats at the defaults), of that many
        evenly spaced ones, and of a piece whose windows hold more than ``max_points`` points in all (dense
        chords), of evenly spaced ones holding about that many: the exact originality of each, their mean
        an estimate of the piece's, so that a 200,000-note file costs seconds, not an hour
        (``window_start`` says which were scored).

        ``hints``: optional (m, 4) integers, each a translation worth trying first: (onset of a query
        note in steps, reference piece, reference onset minus query onset, reference pitch minus query
        pitch), e.g. the occurrences of the query's matches; they only speed the search up. Returns the
        per-window originality; each window's ``best_piece``/``best_start`` is a reference window that
        attains its score (on ties, not necessarily the brute force's).

        Raises:
            RemixError: ``hints`` is not an (m, 4) integer array.
        """
        points = point_set(piece, self.lines, self.include_drums)
        windows, starts = query_windows(points, self.length, self.hop)
        if self.max_windows and len(windows) > self.max_windows:
            pick = np.unique(np.linspace(0, len(windows) - 1, self.max_windows).round().astype(np.int64))
            windows, starts = [windows[k] for k in pick.tolist()], starts[pick]
        total = sum(len(w) for w in windows)
        if self.max_points and total > self.max_points:
            keep = max(1, len(windows) * self.max_points // total)
            pick = np.unique(np.linspace(0, len(windows) - 1, keep).round().astype(np.int64))
            windows, starts = [windows[k] for k in pick.tolist()], starts[pick]
        if not windows:
            empty = np.zeros(0, np.int64)
            return OriginalityResult(starts, np.zeros(0), empty, empty)
        best = self.translations.best(windows, self._window_hints(starts, hints))
        return OriginalityResult(starts, 1.0 - best.score, best.piece, best.start)

    def _window_hints(self, starts: np.ndarray, hints: np.ndarray | None) -> Hints | None:
        """Each hint for every window holding its anchor note, as a window translation."""
        if hints is None or len(hints) == 0:
            return None
        h = np.asarray(hints)
        if h.ndim != 2 or h.shape[1] != 4 or not np.issubdtype(h.dtype, np.integer):
            raise RemixError(f"originality hints must be an (m, 4) integer array, not {h.dtype} {h.shape}")
        h = h[np.argsort(h[:, 0], kind="stable")].astype(np.int64)
        lo = np.searchsorted(h[:, 0], starts, side="left")
        count = np.searchsorted(h[:, 0], starts + self.length, side="left") - lo
        window = np.repeat(np.arange(len(starts)), count)
        rows = h[np.repeat(lo, count) + ramp(count)]
        return Hints(window, rows[:, 1], starts[window] + rows[:, 2], rows[:, 3])

    def brute_force(self, piece: Piece) -> OriginalityResult:
        """The published method: every query window against every reference window."""
        return self._score(piece, np.arange(self.n_pieces))

    # -- persistence (worker processes load it instead of rebuilding) ---------------------------------
    def save(self, path: str | Path) -> None:
        with atomic_write(path, "wb") as fh:
            np.savez(
                fh,
                params=np.array([self.window_beats, self.hop_beats, self.max_windows or 0, self.max_points or 0]),
                lines=np.array(self.lines or ""),
                include_drums=np.array(self.include_drums),
                points=self.points,
                piece_ptr=self.piece_ptr,
            )

    @classmethod
    def load(cls, path: str | Path) -> OriginalityScorer:
        try:
            data = np.load(path)
            window, hop, *cap = (float(v) for v in data["params"])  # files before the caps have two
            windows = int(cap[0]) or None if cap else MAX_WINDOWS
            scorer = cls(window, hop, windows, int(cap[1]) or None if len(cap) > 1 else MAX_POINTS)
            scorer.points, scorer.piece_ptr = data["points"], data["piece_ptr"]
            scorer.lines = str(data["lines"]) or None
            scorer.include_drums = bool(data["include_drums"])
            scorer._translations = None
        except (OSError, KeyError, ValueError) as exc:
            raise RemixError(f"{path}: not an originality point file ({exc})") from exc
        return scorer
