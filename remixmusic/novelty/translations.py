"""Exact best translation of point-set windows into a reference corpus, by branch and bound.

The problem (the inner loop of the originality score of Yin, Reuben, Stepney & Collins 2021/2022, see
:mod:`remixmusic.novelty.originality`): a query window ``P`` holds ``n`` distinct points (onset in grid
steps relative to the window start, in ``[0, L)``; MIDI pitch). A *translation* ``τ = (r, t, dp)`` moves
``P`` onto reference piece ``r`` so that the window starts at step ``t`` and pitches shift by ``dp``;
``votes(τ)`` counts the points of ``P`` it lands on points of ``r``, ``size(τ)`` the points of ``r`` with
onsets in ``[t, t + L)``, and ``score(τ) = votes / max(n, size)`` is the cardinality score (Ukkonen,
Lemström & Mäkinen 2003) of ``P`` against that reference window. The brute-force method takes the
maximum over every ``τ`` by voting with every (query point, reference point) pair, ``n x N`` work per
window for ``N`` reference points. :meth:`TranslationIndex.best` returns the same maximum (the same
rational number, bit for bit) while touching a small part of the reference, with these bounds, each
proved in one line:

1. *One vote.* A translation with one vote maps some ``p`` onto some ``q``, so its window starts at
   ``q.onset - p.onset`` and ``score <= 1 / max(n, m)`` with ``m`` the smallest such window over all
   reference points (a table per relative onset); the translation attaining ``m`` scores at least that,
   so ``s1 = 1 / max(n, m)`` is both a lower bound on the best score and an upper bound for one vote.
2. *Votes needed.* To beat a score ``s`` a translation needs ``votes > s * max(n, size) >= s * n``, so at
   least ``k = floor(s * n) + 1`` votes (at most ``n - k`` misses), and ``size < votes / s``, so at most
   ``x = ceil(n / s) - 1 - n`` reference points in its window that no query point lands on.
3. *Pigeonhole on pairs* (the partition filter of approximate matching, Wu & Manber 1992, on the
   difference vectors of Meredith, Lemström & Wiggins's SIA 2002). Partition ``P`` into ``k - 1``
   groups: ``k`` matched points put two in one group, so the translation maps that within-group pair
   ``(p_a, p_b)`` onto a reference pair ``(q_a, q_b)`` of one piece with the same difference vector.
   The reference pairs less than ``L`` apart are indexed once by (time difference, pitch difference,
   number of reference points between them in (onset, pitch) order); the points between ``q_a`` and
   ``q_b`` are images of the ``B = b - a - 1`` query points between ``p_a`` and ``p_b`` (less misses)
   or unmatched window points, so only the index slice with between-count in ``[B - (n - k), B + x]``
   is read. Each occurrence fixes one candidate translation, verified point by point against a dense
   (time, pitch) table and dropped as soon as its misses exceed ``n - 1 - floor(s * max(n, size))``.
4. *Pair multiplicity.* With ``k - h`` groups instead, ``k`` matched points put at least ``h`` pairs
   inside groups (``h`` groups of two at best), so a translation that beats ``s`` appears in at least
   ``h`` of the within-group pairs' lists; one sort finds the keys repeated ``h`` times, and only those
   are verified. Cheaper than bound 3 when many misses are allowed (``h = max(2, k // 3)``).

Branch and bound: the search starts from the best known lower bound (hint translations, the one-vote
bound), first tries ``k = n`` (clean copies), then reads the rarest pair of the partition and raises the
bound with what it finds (fewer pairs and tighter slices follow), and finally reads every pair that the
partition for the final bound needs (or bound 4's lists), skipping pairs already read under a bound no
higher. Where that would cost more than voting with every reference point (dense windows with a weak
bound, as in four-voice chorales), the window is voted on by the brute force itself. A window is finished
only when every translation able to beat its final score has been verified: the result is the
brute-force maximum by construction, whatever the hints (they only make it faster). Memory: the pair
index holds every reference pair less than a window apart (8 bytes each; about 6 million for the Essen
melodies) and a table with two bytes per grid step of the reference timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from remixmusic._util.arrays import ramp
from remixmusic.novelty.partition import greedy_groups

# (window, lists needed, bound votes, bound den, (anchor, lo, hi) per pair)
_Multi = tuple[int, int, int, int, list[tuple[int, int, int]]]
_SHIFT = 9  # a translation or point key: timeline position << 9 | (pitch + 256)
_PITCH_FIELD = (1 << _SHIFT) - 1
_PITCH_OFFSET = 256
_STAGES = (0, 1)
_CHECKS_CAP = 16
_MULTIPLICITY = 2
_MULTIPLICITY_SHARE = 3  # bound 4's h = max(_MULTIPLICITY, k // _MULTIPLICITY_SHARE)
_CHUNK = 1 << 22  # (query point, reference point) pairs voted at once by the brute-force fallback
_SMALL = 256  # candidate lists at most this long leave the per-pair loop for the batched one
_SAMPLE = 48  # candidates sampled to order the checks of a long list (most selective first)
_MAX_SLACK = 0xFFFE  # misses still allowed, tracked per candidate in the batched loop (16 bits)


@dataclass(frozen=True)
class Hints:
    """Candidate translations (not necessarily good ones): window ``window`` moved onto reference piece
    ``piece`` with its first step at ``start`` and pitches shifted by ``shift``. Equal-length arrays."""

    window: np.ndarray
    piece: np.ndarray
    start: np.ndarray
    shift: np.ndarray


@dataclass(frozen=True)
class BestWindows:
    """The best translation of each query window: ``votes / den`` is its cardinality score (``den`` =
    ``max(n, window size)``); ``piece`` the reference piece (-1 if none), ``start`` the reference window's
    first step, ``shift`` the pitch shift (reference minus query)."""

    votes: np.ndarray
    den: np.ndarray
    piece: np.ndarray
    start: np.ndarray
    shift: np.ndarray

    @property
    def score(self) -> np.ndarray:
        return self.votes / np.maximum(self.den, 1)


class TranslationIndex:
    """Reference points laid out on one timeline, with the pair index of the module docstring.

    ``points``: (N, 2) integer (onset in steps, MIDI pitch 0-127), distinct, sorted by piece then onset
    then pitch; ``piece_ptr``: (n_pieces + 1,) offsets of each piece's points; ``length``: the window
    length ``L`` in steps. Building is linear in the reference pairs less than ``L`` apart plus one sort.

    Raises:
        ValueError: pitches outside 0-127, a non-positive length or a malformed ``piece_ptr``.
    """

    def __init__(self, points: np.ndarray, piece_ptr: np.ndarray, length: int) -> None:
        pts = np.asarray(points, np.int64).reshape(-1, 2)
        ptr = np.asarray(piece_ptr, np.int64)
        if length <= 0 or len(ptr) < 1 or ptr[0] != 0 or ptr[-1] != len(pts) or np.any(np.diff(ptr) < 0):
            raise ValueError("TranslationIndex needs a positive length and piece offsets covering the points")
        if len(pts) and (pts[:, 1].min() < 0 or pts[:, 1].max() > 127):
            raise ValueError("pitches must lie in 0-127")
        self.length = L = int(length)
        n_pieces = len(ptr) - 1
        counts = np.diff(ptr)
        owner = np.repeat(np.arange(n_pieces), counts)
        onset = pts[:, 0]
        # Each piece gets steps [min onset - L, max onset + L]: every window holding one of its points.
        lo = np.zeros(n_pieces, np.int64)
        hi = np.full(n_pieces, -2, np.int64)
        nz = counts > 0
        if nz.any():
            lo[nz] = np.minimum.reduceat(onset, ptr[:-1][nz]) - L
            hi[nz] = np.maximum.reduceat(onset, ptr[:-1][nz]) + L
        span = hi - lo + 2
        self._lo = lo
        self._base = np.cumsum(span) - span
        total = int(span.sum())
        self._pos = pos = self._base[owner] + onset - lo[owner]
        first = np.concatenate([[0], np.cumsum(np.bincount(pos, minlength=total))])
        sizes = first[np.minimum(np.arange(total) + L, total)] - first[:total]
        # winsize[x]: reference points in the window starting at timeline position x.
        self._winsize = sizes.astype(np.int16 if sizes.max(initial=0) < 2**15 else np.int32)
        per_step = int(np.bincount(pos).max()) if len(pos) else 1
        table = np.full((total, per_step), -1, np.int16)
        table[pos, np.arange(len(pos)) - first[pos]] = pts[:, 1] + _PITCH_OFFSET
        self._pitch_at = table[:, 0].copy() if per_step == 1 else table
        self._pitch = pts[:, 1]
        self._build_pairs(pos, pts)
        self._min_window: dict[int, tuple[int, int]] = {}
        for rel_onset in range(L):  # bound 1's table, one entry per relative onset
            self.min_window(rel_onset)
        self._pair_cache: dict[int, tuple[np.ndarray, ...]] = {}  # per call of best(): pairs of window i

    def _build_pairs(self, pos: np.ndarray, pts: np.ndarray) -> None:
        """Bound 3's index: pairs sorted by (time difference, pitch difference, points between)."""
        L = self.length
        end = np.searchsorted(pos, pos + L, side="left")
        count = end - np.arange(len(pos)) - 1
        self._between_span = int(count.max()) + 1 if len(count) else 1
        i = np.repeat(np.arange(len(pos)), count)
        between = ramp(count)
        j = i + 1 + between
        dp = pts[j, 1] - pts[i, 1]
        self._dp_max = int(np.abs(dp).max()) if len(dp) else 0
        self._dp_span = 2 * self._dp_max + 1
        code = (pts[j, 0] - pts[i, 0]) * self._dp_span + dp + self._dp_max
        key = code * self._between_span + between
        order = np.argsort(key, kind="stable")
        self._pair_key = (pos[i[order]] << _SHIFT) + pts[i[order], 1] + _PITCH_OFFSET
        bins = L * self._dp_span * self._between_span
        offsets = np.concatenate([[0], np.cumsum(np.bincount(key, minlength=bins))])
        self._offsets = offsets.astype(np.int32) if offsets[-1] < 2**31 else offsets

    @property
    def nbytes(self) -> int:
        """Bytes held (pair index, timeline tables, points)."""
        arrays = (self._pair_key, self._offsets, self._winsize, self._pitch_at, self._pos, self._pitch)
        return int(sum(a.nbytes for a in arrays))

    # -- primitives ------------------------------------------------------------------------------------
    def _hits(self, targets: np.ndarray) -> np.ndarray:
        """Whether each target key (timeline position, pitch) is a reference point."""
        at = self._pitch_at[targets >> _SHIFT]
        field = targets & _PITCH_FIELD
        return at == field if at.ndim == 1 else (at == field[:, None]).any(axis=1)

    def _window_key(self, piece: np.ndarray, start: np.ndarray, shift: np.ndarray) -> np.ndarray:
        return ((self._base[piece] + start - self._lo[piece]) << _SHIFT) + shift + _PITCH_OFFSET

    def _decode(self, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tpos = key >> _SHIFT
        piece = np.searchsorted(self._base, tpos, side="right") - 1
        return piece, tpos - self._base[piece] + self._lo[piece], (key & _PITCH_FIELD) - _PITCH_OFFSET

    def _pairs(self, P: np.ndarray) -> tuple[np.ndarray, ...]:
        """Every pair ``a < b`` of window ``P``: its row of the pair index and query between-count."""
        a, b = np.triu_indices(len(P), 1)
        d = P[b] - P[a]
        fits = np.abs(d[:, 1]) <= self._dp_max  # larger pitch differences occur nowhere in the reference
        row = (d[:, 0] * self._dp_span + np.where(fits, d[:, 1], 0) + self._dp_max) * self._between_span
        return a, b, row, b - a - 1, fits

    def _slices(self, pairs: tuple[np.ndarray, ...], misses: int, extra: int) -> tuple[np.ndarray, ...]:
        """Each pair's slice of the pair index for at most ``misses`` misses and ``extra`` unmatched
        reference points in the window (bound 3)."""
        a, b, row, between, fits = pairs
        # More query points between than any reference pair has: an empty slice at the end of the row.
        lo = self._offsets[row + np.clip(between - misses, 0, self._between_span)].astype(np.int64)
        hi = self._offsets[row + np.minimum(between + extra + 1, self._between_span)].astype(np.int64)
        return a, b, lo, np.where(fits, hi, lo)

    def min_window(self, rel_onset: int) -> tuple[int, int]:
        """Bound 1: the fewest reference points in a window placed so that a query point at relative
        onset ``rel_onset`` lands on a reference point, and that point's index (cached per onset)."""
        if rel_onset not in self._min_window:
            if not len(self._pos):
                return (0, -1)
            sizes = self._winsize[self._pos - rel_onset]
            q = int(np.argmin(sizes))
            self._min_window[rel_onset] = (int(sizes[q]), q)
        return self._min_window[rel_onset]

    # -- the search ------------------------------------------------------------------------------------
    def best(self, windows: Sequence[np.ndarray], hints: Hints | None = None) -> BestWindows:
        """The brute-force best translation of every window (module docstring), exactly.

        ``windows``: (n_i, 2) integer arrays, distinct points sorted by (onset, pitch), onsets in
        ``[0, L)``, pitches 0-127, n_i >= 1. ``hints``: translations worth trying first (a lower bound
        to start from); any, or none, gives the same scores. Returns a :class:`BestWindows`; among
        translations of equal score it names one (not necessarily the first in brute-force order).
        """
        best = _Best.empty(windows)
        if not len(self._pos):  # nothing to land on: every score is 0
            return best.result(self)
        self._pair_cache = {}
        if hints is not None and len(hints.window):
            owner, keys = self._hint_keys(hints)
            best.take(self, windows, owner, keys)
        self._one_vote_bound(windows, best)
        n = best.n
        open_ = n >= 2
        huge = np.flatnonzero(open_ & (n > _MAX_SLACK))  # beyond the 16-bit miss counters: brute force
        if len(huge):
            open_[huge] = False
            best.take(self, windows, *self._brute(windows, huge.tolist()))
        # Clean copies first: everything above (n - 1) / n, cheap, and final when something is found.
        clean: list[tuple[int, ...]] = []
        for w in np.flatnonzero(open_ & (n >= 3)).tolist():
            if best.votes[w] * n[w] < (n[w] - 1) * best.den[w]:
                clean += self._partition_rows(windows[w], w, int(n[w]) - 1, int(n[w]))
        if clean:
            up = best.take(self, windows, *self._verify(windows, clean))
            open_[up[best.votes[up] * n[up] > (n[up] - 1) * best.den[up]]] = False
        read: list[dict[tuple[int, int], bool]] = [{} for _ in windows]
        for stage in _STAGES:  # the rarest pair raises the bound, then every pair the partition needs
            rows: list[tuple[int, ...]] = []
            multi: list[_Multi] = []
            brute: list[int] = []
            for w in np.flatnonzero(open_).tolist():
                P = windows[w]
                plan = self._plan(P, w, int(best.votes[w]), int(best.den[w]), read[w], stage == 0)
                if plan is None:
                    open_[w] = False
                elif isinstance(plan, str):  # "brute"
                    brute.append(w)
                    open_[w] = False
                else:
                    rows += plan[0]
                    multi += plan[1]
            if rows:
                best.take(self, windows, *self._verify(windows, rows))
            if multi:
                found, dense = self._multiplicity(windows, multi)
                best.take(self, windows, *found)
                brute += dense
            if brute:
                best.take(self, windows, *self._brute(windows, brute))
        return best.result(self)

    def _hint_keys(self, hints: Hints) -> tuple[np.ndarray, np.ndarray]:
        """Window keys of the hint translations that can hold a point (others score 0 and are dropped)."""
        piece = np.asarray(hints.piece, np.int64)
        start = np.asarray(hints.start, np.int64)
        ok = (piece >= 0) & (piece < len(self._base))
        piece, start = np.where(ok, piece, 0), np.where(ok, start, 0)
        span_end = np.append(self._base[1:], len(self._winsize))[piece] - self._base[piece]
        rel = start - self._lo[piece]
        ok &= (rel >= 0) & (rel + self.length < span_end)
        key = self._window_key(piece[ok], start[ok], np.asarray(hints.shift, np.int64)[ok])
        return np.asarray(hints.window, np.int64)[ok], key

    def _one_vote_bound(self, windows: Sequence[np.ndarray], best: _Best) -> None:
        for w in np.flatnonzero(best.votes * best.n < best.den).tolist():
            P = windows[w]
            _, q, rel = min((*self.min_window(int(r)), int(r)) for r in np.unique(P[:, 0]))
            if q < 0:
                continue
            p = int(np.flatnonzero(P[:, 0] == rel)[0])
            key = ((self._pos[q] - rel) << _SHIFT) + self._pitch[q] - P[p, 1] + _PITCH_OFFSET
            best.take(self, windows, np.array([w]), np.array([key]))

    def _plan(
        self, P: np.ndarray, w: int, votes: int, den: int, read: dict[tuple[int, int], bool], first: bool
    ) -> tuple[list[tuple[int, ...]], list[_Multi]] | str | None:
        """What window ``w`` reads next to beat ``votes / den``: the rarest unread pair of the partition
        (``first``), else all its unread pairs or, when cheaper, bound 4's groups; "brute" when that
        would cost more than voting with every reference point (a weak bound on a dense window).
        None: done."""
        n = len(P)
        k = max(2, votes * n // den + 1)
        if k > n:
            return None
        misses = n - k
        if w not in self._pair_cache:
            self._pair_cache[w] = self._pairs(P)
        a, b, lo, hi = self._slices(self._pair_cache[w], misses, (n * den - 1) // votes - n)
        weight = (hi - lo).astype(float)
        done = np.array([(x, y) in read for x, y in zip(a.tolist(), b.tolist(), strict=True)], bool)
        brute_cost = n * len(self._pos)
        if not first and k >= 3:
            # Bound 4: with k - h groups every translation beating the bound shows up in >= h lists.
            unread = np.where(done, 0.0, weight)
            cost_checks = unread[greedy_groups(n, k - 1, a, b, unread)].sum() * min(misses + 1, _CHECKS_CAP)
            h = min(max(_MULTIPLICITY, k // _MULTIPLICITY_SHARE), k - 1)
            grouped = greedy_groups(n, k - h, a, b, weight)
            if weight[grouped].sum() < cost_checks:
                if weight[grouped].sum() > brute_cost:
                    return "brute"
                lists = [(int(a[e]), int(lo[e]), int(hi[e])) for e in np.flatnonzero(grouped).tolist()]
                return [], [(w, h, votes, den, lists)]
        weight[done] = 0.0
        if first and not done.all():  # any pair read raises the bound; the rarest costs least
            chosen = np.array([int(np.argmin(np.where(done, np.inf, weight)))])
        else:
            chosen = np.flatnonzero(greedy_groups(n, k - 1, a, b, weight))
        chosen = chosen[~done[chosen]]
        if not len(chosen):
            return None
        chosen = chosen[np.argsort(weight[chosen], kind="stable")]
        if first:
            chosen = chosen[:1]
        if weight[chosen].sum() * min(misses + 1, _CHECKS_CAP) > brute_cost:
            return "brute"
        for e in chosen.tolist():
            read[(int(a[e]), int(b[e]))] = True
        return [(w, int(a[e]), int(b[e]), int(lo[e]), int(hi[e]), votes, den) for e in chosen.tolist()], []

    def _partition_rows(self, P: np.ndarray, w: int, votes: int, den: int) -> list[tuple[int, ...]]:
        """Every pair bound 3 needs to find all translations of ``P`` scoring above ``votes / den``."""
        n = len(P)
        k = votes * n // den + 1
        if w not in self._pair_cache:
            self._pair_cache[w] = self._pairs(P)
        a, b, lo, hi = self._slices(self._pair_cache[w], n - k, (n * den - 1) // votes - n)
        chosen = np.flatnonzero(greedy_groups(n, k - 1, a, b, (hi - lo).astype(float)))
        return [(w, int(a[e]), int(b[e]), int(lo[e]), int(hi[e]), votes, den) for e in chosen.tolist()]

    def _brute(self, windows: Sequence[np.ndarray], which: list[int]) -> tuple[np.ndarray, ...]:
        """The brute-force vote of each window in ``which`` against every reference point, in chunks
        of whole pieces; returns each window's best translation (ties: the smallest key)."""
        owners, keys = [], []
        bounds = np.searchsorted(self._pos, self._base)  # first point of each piece
        for w in which:
            P = windows[w]
            n = len(P)
            per_chunk = max(1, _CHUNK // n)
            starts = np.append(bounds, len(self._pos))
            cuts = starts[np.searchsorted(bounds, np.arange(0, len(self._pos), per_chunk))]
            cuts = np.unique(np.append(cuts, len(self._pos)))
            top_score, top_key = -1.0, -1
            for c0, c1 in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
                ref_key = (self._pos[c0:c1] << _SHIFT) + self._pitch[c0:c1] + _PITCH_OFFSET
                votes_key = (ref_key[None, :] - ((P[:, 0:1] << _SHIFT) + P[:, 1:2])).ravel()
                votes_key.sort(kind="stable")  # n sorted runs (the reference keys, shifted): merged, ~4x faster
                head = np.flatnonzero(np.diff(votes_key, prepend=-1))
                count = np.diff(np.append(head, len(votes_key)))
                uniq = votes_key[head]
                score = count / np.maximum(self._winsize[uniq >> _SHIFT], n)
                i = int(np.argmax(score))  # the first maximum: the smallest key among ties
                if score[i] > top_score:
                    top_score, top_key = float(score[i]), int(uniq[i])
            if top_key >= 0:
                owners.append(w)
                keys.append(top_key)
        return np.array(owners, np.int64), np.array(keys, np.int64)

    def _verify(self, windows: Sequence[np.ndarray], rows: list[tuple[int, ...]]) -> tuple[np.ndarray, ...]:
        """Candidates of each (window, pair) row, each dropped once its misses rule out beating the row's
        bound ``votes/den`` in a window of its size (bound 2). Returns the survivors as (window, key,
        votes): their exact votes, every check done."""
        staged = []
        for index, (w, x, y, lo, hi, votes, den) in enumerate(rows):
            if hi <= lo:
                continue
            P = windows[w]
            n = len(P)
            others = np.delete(np.arange(n), [x, y])
            offsets = (P[others, 0] << _SHIFT) + P[others, 1]
            keys = self._pair_key[lo:hi] - ((int(P[x, 0]) << _SHIFT) + int(P[x, 1]))
            if len(keys) > 2 * _SMALL and len(offsets) > 1:  # most selective checks first
                sample = keys[:: max(1, len(keys) // _SAMPLE)][:_SAMPLE]
                rate = self._hits((sample[:, None] + offsets[None, :]).ravel()).reshape(len(sample), -1)
                offsets = offsets[np.argsort(rate.sum(axis=0), kind="stable")]
            if votes * n // den + 1 == n and len(offsets):  # no miss allowed: the first check prunes most
                keys = keys[self._hits(keys + offsets[0])]
                offsets = offsets[1:]
            # slack: misses still allowed = n - (votes needed to beat the bound in a window this size)
            slack = n - self._needed(keys, n, votes, den)
            keep = slack >= 0
            keys, slack = keys[keep], slack[keep]
            j = 0
            while j < len(offsets) and len(keys) > _SMALL:
                slack -= ~self._hits(keys + offsets[j])
                keep = slack >= 0
                if not keep.all():
                    keys, slack = keys[keep], slack[keep]
                j += 1
            if len(keys):
                staged.append((offsets[j:], index, keys, slack))
        return self._settle(windows, staged, [(r[0], r[5], r[6]) for r in rows])

    def _settle(
        self,
        windows: Sequence[np.ndarray],
        staged: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]],
        bounds: Sequence[tuple[int, ...]],
    ) -> tuple[np.ndarray, ...]:
        """The remaining checks of ``staged`` lists (offsets left, row, keys, slack), row ``i`` of window
        ``bounds[i][0]`` under bound ``bounds[i][1] / bounds[i][2]``; (window, key, votes) of survivors."""
        row, keys, slack = self._verify_batched(staged)
        info = np.array(bounds, np.int64).reshape(-1, 3)[row]
        sizes = np.array([len(windows[w]) for w in info[:, 0].tolist()], np.int64)
        return info[:, 0], keys, slack + self._needed(keys, sizes, info[:, 1], info[:, 2])

    def _needed(
        self, keys: np.ndarray, n: np.ndarray | int, votes: np.ndarray | int, den: np.ndarray | int
    ) -> np.ndarray:
        """Votes a translation needs to score above ``votes / den`` in its window (bound 2)."""
        return votes * np.maximum(self._winsize[keys >> _SHIFT].astype(np.int64), n) // den + 1

    def _verify_batched(
        self, staged: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, ...]:
        """The remaining checks of all short lists at once: lists by decreasing checks left, each
        candidate packed as ``list << 16 | slack``. Returns (row, key, slack) of the survivors."""
        if not staged:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        staged.sort(key=lambda r: -len(r[0]))
        left = np.array([len(r[0]) for r in staged])
        width = max(1, int(left[0]))
        table = np.zeros((len(staged), width), np.int64)
        for i, r in enumerate(staged):
            table[i, : len(r[0])] = r[0]
        flat = table.ravel()
        row_of_list = np.array([r[1] for r in staged], np.int64)
        key = np.concatenate([r[2] for r in staged])
        lists = np.repeat(np.arange(len(staged)), [len(r[2]) for r in staged])
        packed = (lists << 16) + np.minimum(np.concatenate([r[3] for r in staged]), _MAX_SLACK)
        out_key, out_packed = [], []
        for c in range(width):
            lists_left = int(np.searchsorted(-left, -c, side="left"))  # lists with more than c checks left
            m = int(np.searchsorted(packed, lists_left << 16, side="left"))
            if m < len(packed):
                out_key.append(key[m:])
                out_packed.append(packed[m:])
                key, packed = key[:m], packed[:m]
            if m == 0:
                break
            packed -= ~self._hits(key + flat[(packed >> 16) * width + c])
            keep = (packed & 0xFFFF) != 0xFFFF
            if not keep.all():
                key, packed = key[keep], packed[keep]
        if len(key):
            out_key.append(key)
            out_packed.append(packed)
        packed = np.concatenate(out_packed) if out_packed else np.zeros(0, np.int64)
        keys = np.concatenate(out_key) if out_key else np.zeros(0, np.int64)
        return row_of_list[packed >> 16], keys, packed & 0xFFFF

    def _multiplicity(
        self, windows: Sequence[np.ndarray], plans: list[_Multi]
    ) -> tuple[tuple[np.ndarray, ...], list[int]]:
        """Bound 4: translations found in at least ``need`` of the groups' pair lists, then checked point
        by point like bound 3's candidates; returns (window, key, votes) of the survivors, and the
        windows with so many repeats that voting with every reference point is cheaper."""
        staged: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []
        bounds: list[tuple[int, int, int]] = []
        brute: list[int] = []
        for w, need, votes, den, rows in plans:
            P = windows[w]
            n = len(P)
            lists = [
                self._pair_key[lo:hi] - ((int(P[x, 0]) << _SHIFT) + int(P[x, 1]))
                for x, lo, hi in rows
                if hi > lo
            ]
            if len(lists) < need:
                continue
            keys = np.sort(np.concatenate(lists), kind="stable")  # sorted lists: a merge of runs
            repeated = keys[: len(keys) - need + 1][keys[need - 1 :] == keys[: len(keys) - need + 1]]
            hits = repeated[np.diff(repeated, prepend=-1) != 0]  # sorted: first of each run
            slack = n - self._needed(hits, n, votes, den)
            hits, slack = hits[slack >= 0], slack[slack >= 0]
            if len(hits) * n > 4 * len(self._pos):  # checking them would cost about the brute force
                brute.append(w)
                continue
            if len(hits):
                staged.append(((P[:, 0] << _SHIFT) + P[:, 1], len(bounds), hits, slack))
                bounds.append((w, votes, den))
        return self._settle(windows, staged, bounds), brute


class _Best:
    """Per-window best so far: votes / den and the translation key (-1: none)."""

    def __init__(self, n: np.ndarray) -> None:
        self.n = n
        self.votes = np.zeros(len(n), np.int64)
        self.den = np.ones(len(n), np.int64)
        self.key = np.full(len(n), -1, np.int64)
        self._points: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def empty(cls, windows: Sequence[np.ndarray]) -> _Best:
        return cls(np.array([len(P) for P in windows], np.int64))

    def take(
        self,
        index: TranslationIndex,
        windows: Sequence[np.ndarray],
        owner: np.ndarray,
        keys: np.ndarray,
        votes: np.ndarray | None = None,
    ) -> np.ndarray:
        """Keep each window's best of translations ``keys`` of windows ``owner`` (ties: the smallest
        key), with their ``votes`` when known, else counted here. Returns the windows whose best improved."""
        if not len(keys):
            return np.zeros(0, np.int64)
        if votes is None:
            votes = self._count(index, windows, owner, keys)
        n = self.n[owner]
        den = np.maximum(index._winsize[keys >> _SHIFT].astype(np.int64), n)
        order = np.lexsort((keys, -votes / den, owner))
        owner, votes, den, keys = owner[order], votes[order], den[order], keys[order]
        head = np.ones(len(owner), bool)
        head[1:] = owner[1:] != owner[:-1]
        w, v, d, k = owner[head], votes[head], den[head], keys[head]
        better = v * self.den[w] > self.votes[w] * d
        w, v, d, k = w[better], v[better], d[better], k[better]
        self.votes[w], self.den[w], self.key[w] = v, d, k
        return w

    def _count(
        self, index: TranslationIndex, windows: Sequence[np.ndarray], owner: np.ndarray, keys: np.ndarray
    ) -> np.ndarray:
        """Votes of each translation, in slices of about ``_CHUNK`` (translation, point) checks."""
        if self._points is None:
            pts = np.concatenate(windows)
            self._points = ((pts[:, 0] << _SHIFT) + pts[:, 1], np.cumsum(self.n) - self.n)
        offsets, start = self._points
        n = self.n[owner]
        total = np.cumsum(n)
        cuts = np.searchsorted(total, np.arange(_CHUNK, total[-1], _CHUNK))
        out = []
        for sl in np.split(np.arange(len(keys)), np.unique(cuts)):
            m = n[sl]
            targets = np.repeat(keys[sl], m) + offsets[np.repeat(start[owner[sl]], m) + ramp(m)]
            each = np.repeat(np.arange(len(sl)), m)
            out.append(np.bincount(each, weights=index._hits(targets), minlength=len(sl)).astype(np.int64))
        return np.concatenate(out)

    def result(self, index: TranslationIndex) -> BestWindows:
        has = self.key >= 0
        piece = np.full(len(self.n), -1, np.int64)
        start = np.full(len(self.n), -1, np.int64)
        shift = np.zeros(len(self.n), np.int64)
        piece[has], start[has], shift[has] = index._decode(self.key[has])
        return BestWindows(self.votes.copy(), self.den.copy(), piece, start, shift)
