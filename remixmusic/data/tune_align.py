"""The verification step of near-duplicate grouping (:mod:`remixmusic.data.tune_match`): local alignment
of tune lines, batched in numpy, and where an alignment lies.

Smith-Waterman local alignment (Smith & Waterman 1981, *J. Mol. Biol.* 147) of pitch-class sequences under
a line's best transpositions, with a lower cost for leaving out a note the line leaves and comes back from
(:func:`gap_costs`). :func:`alignment_scores` scores many pairs at once; :func:`alignment_span` finds where
one pair's best alignment starts and ends (its end from the forward sweep, its start from a sweep of the
two reversed prefixes, as in Huang & Miller 1991's linear-space local alignment).
"""

from __future__ import annotations

import itertools
import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from remixmusic.data.tune_match import TuneMatchRule


def best_transpositions(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` shifts ``s`` that best map pitch-class histograms ``b`` onto ``a`` (``b - s ~ a``), by
    circular cross-correlation; ``a``, ``b``: ``(pairs, 12)`` counts. int64 ``(pairs, k)``."""
    classes = np.arange(12)
    corr = np.stack([(a * b[:, (classes + s) % 12]).sum(axis=1) for s in range(12)], axis=1)
    return np.argsort(-corr, axis=1, kind="stable")[:, :k]


def local_alignment(a: np.ndarray, b: np.ndarray, gap_a: np.ndarray, gap_b: np.ndarray) -> np.ndarray:
    """Smith-Waterman scores (match +1, mismatch -1; leaving out ``a[p, i]`` costs ``gap_a[p, i]``, leaving
    out ``b[p, j]`` costs ``gap_b[p, j]``) of the rows of two padded integer matrices ``a`` ``(pairs, m)``
    and ``b`` ``(pairs, n)``; padding must never equal anything on the other side (use -1 in ``a`` and -2
    in ``b``). Rows are swept one at a time, each vectorized over the pairs and the columns: a run of gaps
    along a row is a running maximum over the cumulative gap costs. float64 ``(pairs,)``."""
    return _sweep(a, b, gap_a, gap_b, False)[0]


def _sweep(
    a: np.ndarray, b: np.ndarray, gap_a: np.ndarray, gap_b: np.ndarray, ends: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`local_alignment`'s sweep; with ``ends``, also where each pair's best score is first reached:
    int64 ``(pairs,)`` ends (exclusive) along ``a`` and along ``b`` (zeros without ``ends``)."""
    pairs, n = b.shape
    previous = np.zeros((pairs, n + 1), np.float32)
    best = np.zeros(pairs, np.float32)
    end_a, end_b = np.zeros(pairs, np.int64), np.zeros(pairs, np.int64)
    ramp = np.zeros((pairs, n + 1), np.float32)
    np.cumsum(gap_b, axis=1, out=ramp[:, 1:])
    row = np.zeros((pairs, n + 1), np.float32)
    gap_a = gap_a.astype(np.float32)
    one, minus_one = np.float32(1.0), np.float32(-1.0)
    for i in range(a.shape[1]):
        score = np.where(a[:, i : i + 1] == b, one, minus_one)
        np.maximum(previous[:, :-1] + score, previous[:, 1:] - gap_a[:, i : i + 1], out=row[:, 1:])
        np.maximum(row, 0.0, out=row)
        current = np.maximum.accumulate(row + ramp, axis=1) - ramp
        top = current.max(axis=1)
        if ends:
            better = top > best
            end_a[better] = i + 1
            end_b[better] = current[better].argmax(axis=1)
        np.maximum(best, top, out=best)
        previous = current
    return best.astype(np.float64), end_a, end_b


def alignment_span(x: np.ndarray, y: np.ndarray, rule: TuneMatchRule) -> tuple[int, int, float]:
    """Where on line ``x`` its best local alignment with line ``y`` lies (the rule's transpositions and gap
    costs, the first ``max_notes`` notes of each): ``(start, end, score)``, note positions of ``x``, end
    exclusive; ``(0, 0, 0.0)`` when nothing aligns. The end comes from the forward sweep, the start from a
    sweep of the two prefixes reversed (an alignment's start is where the reversed alignment ends)."""
    x = np.asarray(x[: rule.max_notes], np.int64)
    y = np.asarray(y[: rule.max_notes], np.int64)
    if not len(x) or not len(y):
        return 0, 0, 0.0
    shifts = best_transpositions(
        np.bincount(x % 12, minlength=12)[None, :], np.bincount(y % 12, minlength=12)[None, :], rule.transpositions
    )[0]
    rows = np.repeat((x % 12)[None, :], len(shifts), axis=0)
    columns = np.stack([(y - s) % 12 for s in shifts.tolist()])
    cost_x, cost_y = gap_costs(x, rule.gap, rule.detour), gap_costs(y, rule.gap, rule.detour)
    scores, end_x, end_y = _sweep(
        rows, columns, np.repeat(cost_x[None, :], len(shifts), 0), np.repeat(cost_y[None, :], len(shifts), 0), True
    )
    k = int(np.argmax(scores))
    stop_x, stop_y = int(end_x[k]), int(end_y[k])
    if scores[k] <= 0:
        return 0, 0, 0.0
    _, length, _ = _sweep(
        rows[k : k + 1, :stop_x][:, ::-1],
        columns[k : k + 1, :stop_y][:, ::-1],
        cost_x[None, :stop_x][:, ::-1],
        cost_y[None, :stop_y][:, ::-1],
        True,
    )
    return stop_x - int(length[0]), stop_x, float(scores[k])


def gap_costs(line: np.ndarray, gap: float, detour: float) -> np.ndarray:
    """What leaving out each note of a line costs: ``detour`` for a note the line leaves and comes back
    from (lower than both neighbours, as an accompaniment note heard in a gap of the melody is, or a
    neighbour tone within two semitones of a note repeated around it, as an ornament's remainder is),
    ``gap`` for the others. float32 ``(notes,)``."""
    pitches = np.asarray(line, np.int64)
    costs = np.full(len(pitches), gap, np.float32)
    if len(pitches) > 2:
        before, here, after = pitches[:-2], pitches[1:-1], pitches[2:]
        dip = (here < before) & (here < after)
        neighbour = (before == after) & (np.abs(here - before) <= 2)
        costs[1:-1][dip | neighbour] = detour
    return costs


def alignment_scores(lines: list[np.ndarray], pairs: np.ndarray, rule: TuneMatchRule) -> np.ndarray:
    """Best local alignment score of each pair of lines (the verification of the module docstring) under
    the rule's transpositions and gap costs, float64 ``(pairs,)``."""
    if not len(pairs):
        return np.zeros(0)
    cut = [np.asarray(line[: rule.max_notes], np.int64) for line in lines]
    lengths = np.array([len(x) for x in cut], np.int64)
    costs = [gap_costs(x, rule.gap, rule.detour) for x in cut]
    histogram = np.zeros((len(cut), 12))
    for k, x in enumerate(cut):
        histogram[k] = np.bincount(x % 12, minlength=12)
    # the shorter line first (rows of the sweep); between equal lengths, by content, not by position
    order_key = np.array([(len(x), zlib.crc32(x.tobytes())) for x in cut], np.int64)
    a_key = order_key[pairs[:, 0]]
    b_key = order_key[pairs[:, 1]]
    first_shorter = (a_key[:, 0] < b_key[:, 0]) | (
        (a_key[:, 0] == b_key[:, 0]) & (a_key[:, 1] <= b_key[:, 1])
    )
    a = np.where(first_shorter, pairs[:, 0], pairs[:, 1])
    b = np.where(first_shorter, pairs[:, 1], pairs[:, 0])
    shifts = best_transpositions(histogram[a], histogram[b], rule.transpositions)
    a, b = np.repeat(a, shifts.shape[1]), np.repeat(b, shifts.shape[1])
    owner = np.repeat(np.arange(len(pairs)), shifts.shape[1])
    shift = shifts.ravel()
    scores = np.zeros(len(a))
    # batches of pairs of similar lengths (bins a quarter apart), each at most `budget` cells a row
    bins = np.floor(np.log(np.maximum(lengths, 1)) / np.log(1.25)).astype(np.int64)
    order = np.lexsort((lengths[b], lengths[a], bins[b], bins[a]))
    key = bins[a[order]] * 1000 + bins[b[order]]
    budget = 300_000
    cuts = [0]
    for start, stop in zip(*_runs(key), strict=True):
        per_batch = max(1, budget // (int(lengths[b[order[stop - 1]]]) + 1))
        cuts += [*range(start + per_batch, stop, per_batch), stop]
    for start, stop in itertools.pairwise(cuts):
        batch = order[start:stop]
        scores[batch] = local_alignment(
            _pad([cut[x] % 12 for x in a[batch]], -1),
            _pad([(cut[y] - s) % 12 for y, s in zip(b[batch], shift[batch], strict=True)], -2),
            _pad([costs[x] for x in a[batch]], rule.gap).astype(np.float32),
            _pad([costs[y] for y in b[batch]], rule.gap).astype(np.float32),
        )
    best = np.zeros(len(pairs))
    np.maximum.at(best, owner, scores)
    return best


def _runs(values: np.ndarray) -> tuple[list[int], list[int]]:
    """Starts and stops of the runs of equal values."""
    starts = np.flatnonzero(np.append(True, values[1:] != values[:-1]))
    return starts.tolist(), np.append(starts[1:], len(values)).tolist()


def _pad(rows: list[np.ndarray], fill: float) -> np.ndarray:
    lengths = np.array([len(r) for r in rows], np.int64)
    out = np.full((len(rows), max(int(lengths.max()), 1)), fill, np.asarray(rows[0]).dtype)
    mask = np.arange(out.shape[1])[None, :] < lengths[:, None]
    out[mask] = np.concatenate(rows) if len(rows) else []
    return out
