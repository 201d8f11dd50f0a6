"""Recombination granularity: at what scale, in bars, a piece looks like a patchwork of its reference.

The copy labels of :mod:`remixmusic.novelty.passages` count a match only above the chance length, so a
patchwork of one-bar chunks of training melodies, whose matches are about as long as chance ones,
scores as new music. This module measures recombination at *every* scale instead, and calibrates the
measure on pure-recombination references drawn from the reference index itself.

**Per note: the span of its longest covering match.** For every note of an analysed line, the longest
(in time) exact match with the reference that covers it, from the matching statistics (the per-token
novelty of RAVEN, McCoy et al. 2023, computed with the suffix-array range narrowing of infini-gram, Liu
et al. 2024; :meth:`~remixmusic.novelty.index.Index.matching_statistics`). Its *span* is measured in the
query's own bars, from the onset of the match's first note to the onset of its last (the onsets a
``transposed+tempo`` match constrains), bar positions following the piece's meter map. A note no match
covers has span 0.

**Per piece: a coverage-by-span curve.** ``C(b)``: the share of analysed notes (on an analysed line, not
from a prompt) whose span is at least ``b`` bars, at :data:`GRID` (1/8 to 32 bars, four points per
octave). It is the RAVEN n-gram novelty curve with match length measured in bars instead of tokens;
its area on the log2 scale is the mean log2 span.

**Chance: the piece's own shuffles.** The floor a piece is read against is its own material in random
order: each analysed line with its intervals and inter-onset intervals permuted separately (about
``GranularityConfig.chance_notes`` notes in all, seeded by the piece's name), matched and measured the
same way; its curve is the piece's *chance curve*. It keeps the line's vocabulary (a chorale soprano's
steps and quarter notes, an inner voice's repeated notes), so only order beyond chance counts as
recombination: the permutation null of the chance length of :mod:`remixmusic.novelty.index`, per piece.

**Calibration: a family of pure-recombination references.** Built once per index from the index's own
lines (:func:`remixmusic.novelty.patchwork.calibrate`, memoized in the process, saved with
:meth:`GranularityCalibration.save`): *patchworks* of 1, 2, 4 and 8-bar chunks
(``GranularityConfig.chunk_bars``) of reference lines of one bar length, each chunk transposed to start
near the previous chunk's last pitch, their joins encoded as a query's would be. Their mean curves
``M_k`` are the members of the family: a ``k``-bar patchwork has every note covered by a match of about
``k`` bars, so ``M_k`` stays near 1 up to ``k`` bars and falls after.

**Estimate: the piece as a mixture.** The curve of a mixture of materials is the mixture of their
curves, so a piece's curve is fitted by least squares as a mixture of its chance curve and the members,
with non-negative weights summing to 1 (exact, over every support set;
:meth:`GranularityCalibration.estimate`). Reported: ``share``, the weight of the patchwork members (1
minus the chance weight: the share of notes recombined at one bar or more), and ``bars``, the
granularity of that recombined part, ``2 ** (weighted mean of log2 chunk size)`` over the patchwork
members (NaN when ``share`` is 0). The *level* of a piece (:func:`granularity_level`) is ``below 1 bar``
when ``share < min_share`` (it looks like chance), else the nearest chunk size on the log2 scale
(``8+`` for the largest). A piece of 4-bar quotations and novel glue comes out as a share at 4 bars,
not as an average between them. A group is placed by the same fit of its mean curves.

**What it assumes.** Recombination is of exact material under the index's invariance (by default
transposition and tempo): a chunk with one changed note counts as two shorter chunks. The reference
itself is the material: its bar lengths come from the index (onsets and bar numbers of single-meter
lines), so calibration patchworks are drawn from lines of one bar length, and pieces with meter
changes are left out of the calibration. A query's bars are those of its own meter map (4/4 when it
has none), so a query written without a meaningful meter is measured in nominal bars. Spans from
onset to onset: a chunk's own span is a little under its length, the join note a chunk's match often
takes along adds back about one note; the calibration goes through the same measurement, so these
offsets cancel.

**What it cannot see.** Varied recombination (ornamented, re-rhythmed chunks) reads as finer or as
chance; material that is merely idiomatic (cadences, scale runs, any music in the style) is
indistinguishable from recombination of the same length, so held-out human music of the reference's
style also sits above chance, at one to two bars: a query is read against the human control on the same
scale, never alone. Which reference pieces a chunk came from is not part of this measure (that is the
passages' job). The resolution is in notes, not bars: chunks no longer than chance matches (about 7
notes against these references) cannot be told from chance. A chorale soprano has 4 to 6 notes a bar, so
a one-bar patchwork of sopranos is read as ``below 1 bar`` about as often as at 1 bar (in Essen it is
read at 1 bar), and a 2-bar patchwork of half notes can fall below it too. Each line is measured on its
own: a one-track piece holding several voices, split by pitch rank under the per-track ``voices`` lines,
is matched against reference parts it may not share note for note (an ∞-gram's chorales are; read them
by ``melody``). With few notes (a piece of two or three bars) a curve has few steps and the estimate is
coarse.

**Validation** (``benchmarks/granularity.py``; evaluation patchworks from
:meth:`~remixmusic.evaluation.planted.PlantedSetMaker.make_patchworks`, another generator and seed than
the calibration's). Essen, 60 pieces per set: every 1, 2, 4 and 8-bar patchwork within one step of its
chunk size (83%, 100%, 100%, 100% exactly at it), each set's group exactly at it (1.04, 2.01, 4.10, 8.00
bars); 57 of 60 shuffled tunes and 59 of 60 random walks below 1 bar; held-out tunes at 2 bars (2.47,
share 0.68: 60 test-split tunes drawn at random, variants of training tunes under other titles among
them; 29 held-out tunes of 12 bars or more whose near-duplicate group has no other member, chosen by an
independent reviewer, sit at 1.29 bars [1.15, 1.52]: the scale places a group by what it shares, and
a human control's place depends on how close its tunes are to the reference's). Bach chorales (Soprano parts), 40 per set: every patchwork within one step (35%, 100%,
100%, 100% exactly; the 1-bar group below 1 bar, share 0.30); shuffled sopranos below 1 bar as a group
(31 of 40 pieces; the others at 1 bar); held-out chorales at 1 bar (1.19). ∞-gram samples of the
chorales (melody line): context 4 tokens below 1 bar, 8 at the edge (share 0.49 [0.36, 0.62]), 16 at 4
bars (5.1), 32 and unbounded at 8+ bars. Cost: about one more matching pass per piece
(``chance_notes``), +10 to 30% of ``analyze``'s time on 100 pieces, and the calibration, 0.2 s once per
index. Groups are summarized by :mod:`remixmusic.novelty.granularity_summary`.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from remixmusic._util.arrays import ramp
from remixmusic._util.files import write_json
from remixmusic.errors import ConfigError, RemixError
from remixmusic.music.notes import STEPS_PER_BEAT, Piece, bar_length, half_onsets
from remixmusic.novelty.index import Index
from remixmusic.novelty.symbols import encode

GRID = 2.0 ** (np.arange(-12, 21) / 4)
"""Spans ``b`` (bars) of the coverage-by-span curves: 1/8 to 32 bars, four points per octave."""


CHANCE = "chance"
"""Name of the chance component of an estimate (the piece's own shuffles; the first weight)."""


BELOW_ONE_BAR = "below 1 bar"
"""The level of a piece whose recombined share is below ``min_share``."""


@dataclass(frozen=True)
class GranularityConfig:
    """How the calibration family is drawn (saved with it, and in ``report.json``).

    ``chunk_bars``: chunk sizes of the patchwork members (bars, increasing; the largest is read as that
    size *or more*); ``n_pieces``: calibration pieces per member; ``n_bars``: bars per patchwork;
    ``seed``: the draws (keep it apart from the seed of any evaluation set made from the same
    reference; a piece's shuffles are seeded by it and the piece's name); ``chance_notes``: shuffled
    notes behind a piece's chance curve (its lines are shuffled as many times as that takes, once at
    least); ``min_share``: recombined share below which a piece's level is ``below 1 bar``.

    Raises:
        ConfigError: a value out of range (chunk sizes not positive and increasing, ``n_bars`` shorter
            than the largest chunk, ``min_share`` outside [0, 1]).
    """

    chunk_bars: tuple[int, ...] = (1, 2, 4, 8)
    n_pieces: int = 64
    n_bars: int = 16
    seed: int = 7919
    chance_notes: int = 80
    min_share: float = 0.5

    def __post_init__(self) -> None:
        chunks = tuple(self.chunk_bars)
        ok = len(chunks) > 0 and all(isinstance(c, Integral) and not isinstance(c, bool) for c in chunks)
        if not ok or any(c < 1 for c in chunks) or any(b <= a for a, b in itertools.pairwise(chunks)):
            raise ConfigError(f"chunk_bars must be increasing positive integers, not {self.chunk_bars!r}")
        object.__setattr__(self, "chunk_bars", tuple(int(c) for c in chunks))
        for name, minimum in (("n_pieces", 1), ("n_bars", 1), ("seed", 0), ("chance_notes", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
                raise ConfigError(f"{name} must be an integer >= {minimum}, not {value!r}")
        if self.n_bars < chunks[-1]:
            raise ConfigError(f"n_bars ({self.n_bars}) must hold the largest chunk ({chunks[-1]} bars)")
        share = self.min_share
        if isinstance(share, bool) or not isinstance(share, Real) or not 0.0 <= float(share) <= 1.0:
            raise ConfigError(f"min_share must be a number in [0, 1], not {share!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-able values."""
        out = asdict(self)
        out["chunk_bars"] = list(self.chunk_bars)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GranularityConfig:
        """A config from :meth:`to_dict` output (a missing key takes its default).

        Raises:
            ConfigError: an unknown key or an invalid value.
        """
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown granularity setting(s): {', '.join(sorted(unknown))}")
        kwargs = dict(values)
        if "chunk_bars" in kwargs:
            kwargs["chunk_bars"] = tuple(kwargs["chunk_bars"])
        return cls(**kwargs)


# -- measurement --------------------------------------------------------------------------------------
def bar_positions(piece: Piece, steps: np.ndarray) -> np.ndarray:
    """Position of each step (int array) in bars of ``piece``'s meter map: bar index plus the fraction
    of that bar elapsed (a bar cut short by a meter change counts its own length); float64."""
    steps = np.asarray(steps, np.int64)
    if len(steps) == 0:
        return np.zeros(0)
    # per step its bar and that bar's start and end, from the meter segments (no array of every bar,
    # so a stray note far out costs nothing)
    k = piece.bar_of(steps)
    start = piece.bar_step_of(k)
    meter = piece.meter_map()
    onsets = meter["onset"].astype(np.int64)
    segment = np.maximum(np.searchsorted(onsets, steps, side="right") - 1, 0)
    lengths = np.array([bar_length(int(n), int(d)) for n, d in meter[["numerator", "denominator"]]], np.int64)
    following = np.append(onsets[1:], np.iinfo(np.int64).max)  # a meter change cuts a bar short
    end = np.minimum(start + lengths[segment], following[segment])
    return k + (steps - start) / (end - start)


def match_spans(bars: np.ndarray, match_length: np.ndarray, order: int) -> np.ndarray:
    """Per note of one line: span (bars) of the longest-in-time exact match covering it.

    ``bars``: bar position of each of the line's ``n`` notes (onset order, :func:`bar_positions`);
    ``match_length``: the matching statistics of its ``n - order`` symbols (symbols matched from each;
    a run of ``m`` symbols covers ``m + order`` notes). A match's span runs from its first note's onset
    to its last note's onset. Returns ``n`` floats, 0 for a note no match covers.
    """
    bars = np.asarray(bars, np.float64)
    ms = np.asarray(match_length, np.int64)
    out = np.zeros(len(bars))
    if len(ms) == 0:
        return out
    prev_end = np.concatenate([[0], np.arange(len(ms) - 1) + ms[:-1]])
    start = np.flatnonzero((ms > 0) & (np.arange(len(ms)) + ms > prev_end))  # maximal matches only
    n_notes = np.minimum(ms[start] + order, len(bars) - start)
    span = bars[start + n_notes - 1] - bars[start]
    np.maximum.at(out, np.repeat(start, n_notes) + ramp(n_notes), np.repeat(span, n_notes))
    return out


def span_curve(spans: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """Coverage-by-span curve: share of ``spans`` (bars, one per analysed note) that are ``>= b`` for
    each ``b`` of ``grid``; all NaN when there are no spans."""
    spans = np.sort(np.asarray(spans, np.float64))
    if len(spans) == 0:
        return np.full(len(grid), np.nan)
    return 1.0 - np.searchsorted(spans, np.asarray(grid) * (1 - 1e-9), side="left") / len(spans)


def piece_spans(piece: Piece, lines: Sequence[tuple[np.ndarray, np.ndarray]], order: int) -> np.ndarray:
    """Per note of ``piece``: :func:`match_spans` on its line (NaN for notes on no analysed line).

    ``lines``: per analysed line, ``(notes, match_length)``: its notes (indices into ``piece.notes``,
    onset order) and the matching statistics of its symbols (``len(notes) - order``).
    """
    out = np.full(len(piece.notes), np.nan)
    onset = piece.notes["onset"]
    for notes, ms in lines:
        out[notes] = match_spans(bar_positions(piece, onset[notes]), ms, order)
    return out


def shuffled_lines(
    pitch: np.ndarray, onset: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` shuffles of a line: its intervals and inter-onset intervals, each permuted (the chance
    material of the module docstring). Returns ``(pitch, onset)``, n x notes int64 each; every row keeps
    the line's first pitch and its first and last onsets."""
    pitch, onset = np.asarray(pitch, np.int64), np.asarray(onset, np.int64)
    steps = rng.permuted(np.tile(np.diff(pitch), (n, 1)), axis=1)
    ioi = rng.permuted(np.tile(np.diff(onset), (n, 1)), axis=1)
    first = np.zeros((n, 1), np.int64)
    return (
        pitch[0] + np.concatenate([first, np.cumsum(steps, axis=1)], axis=1),
        onset[0] + np.concatenate([first, np.cumsum(ioi, axis=1)], axis=1),
    )


def encode_line(pitch: np.ndarray, onset: np.ndarray, invariance: str, per_step: int = 1) -> np.ndarray:
    """Symbols of a made-up line (a shuffle, a patchwork) under ``invariance``, its durations taken as
    the inter-onset intervals (a beat for the last note): only ``exact`` and ``transposed`` read them.
    ``per_step``: onsets given in steps (1) or half steps (2: a score's half steps exact, as
    :func:`~remixmusic.novelty.symbols.piece_streams` encodes a query)."""
    duration = np.append(np.rint(np.diff(onset) / per_step), STEPS_PER_BEAT).astype(np.int64)
    return encode(np.clip(pitch, 0, 127), onset, np.maximum(duration, 1), invariance).astype(np.int64)


def piece_curves(
    piece: Piece,
    lines: Sequence[tuple[np.ndarray, np.ndarray]],
    analysed: np.ndarray,
    index: Index,
    chance_notes: int,
    rng: np.random.Generator,
    grid: np.ndarray = GRID,
) -> np.ndarray:
    """The piece's coverage-by-span curve and its chance curve: 2 x ``grid``.

    ``lines`` as for :func:`piece_spans` (matching statistics against ``index``); ``analysed``: per
    note of the piece, whether it counts (the first curve is over these notes). The chance curve is
    over shuffles (:func:`shuffled_lines`) of each line's analysed notes, as many as give about
    ``chance_notes`` notes in all (one at least), matched against ``index`` in one pass. Rows are NaN
    when there is no analysed note (or no line long enough to shuffle).
    """
    spans = piece_spans(piece, lines, index.order)
    curve = span_curve(spans[analysed & ~np.isnan(spans)], grid)
    kept = [line[analysed[line]] for line, _ in lines]
    kept = [k for k in kept if len(k) > index.order + 1]
    n = max(1, -(-chance_notes // max(1, sum(len(k) for k in kept))))
    symbols, onsets = [], []
    per_step = 2 if index.half_steps else 1  # shuffled in half steps, as the query's symbols are read
    for line in kept:
        at = half_onsets(piece.notes[line]) if index.half_steps else piece.notes["onset"][line]
        pitch, onset = shuffled_lines(piece.notes["pitch"][line], at, n, rng)
        symbols += [encode_line(p, o, index.invariance, per_step) for p, o in zip(pitch, onset, strict=True)]
        onsets += list(np.rint(onset / per_step).astype(np.int64))
    stats = index.matching_statistics_many(symbols)
    at = np.cumsum([len(o) for o in onsets])[:-1]
    bars = np.split(bar_positions(piece, np.concatenate(onsets)), at) if onsets else []
    chance = [match_spans(b, st[0], index.order) for b, st in zip(bars, stats, strict=True)]
    return np.stack([curve, span_curve(np.concatenate(chance) if chance else np.zeros(0), grid)])


# -- estimate -----------------------------------------------------------------------------------------
@dataclass
class GranularityEstimate:
    """Mixture estimates of several curves (one row each).

    ``weights``: rows x (1 + members), the fitted weights (non-negative, summing to 1): the chance
    curve's first, then the patchwork members' of :attr:`GranularityCalibration.members`; ``share``:
    recombined share (1 minus the chance weight); ``bars``: granularity of the recombined part in bars
    (NaN where ``share`` is 0); ``level``: :func:`granularity_level` per row; ``residual``:
    root-mean-square misfit of each curve.
    """

    weights: np.ndarray
    share: np.ndarray
    bars: np.ndarray
    level: list[str]
    residual: np.ndarray


def granularity_level(share: float, bars: float, chunk_bars: Sequence[int], min_share: float) -> str:
    """The step of the granularity scale: ``below 1 bar`` when ``share < min_share`` (or not a number),
    else the chunk size of ``chunk_bars`` nearest to ``bars`` on the log2 scale, as ``"2 bars"``
    (``"8+ bars"`` for the largest)."""
    if not share >= min_share or not bars > 0:
        return BELOW_ONE_BAR
    k = int(np.argmin(np.abs(np.log2(np.asarray(chunk_bars, np.float64)) - math.log2(bars))))
    size = chunk_bars[k]
    plus = "+" if k == len(chunk_bars) - 1 else ""
    return f"{size}{plus} bar{'s' if size > 1 or plus else ''}"


def level_step(level: str, chunk_bars: Sequence[int]) -> int:
    """Position of a :func:`granularity_level` on the scale: 0 for ``below 1 bar``, then 1, 2, ... for
    the chunk sizes in order (so two levels one step apart differ by 1).

    Raises:
        RemixError: ``level`` is not a level of this scale.
    """
    if level == BELOW_ONE_BAR:
        return 0
    names = [granularity_level(1.0, float(c), chunk_bars, 0.0) for c in chunk_bars]
    if level not in names:
        raise RemixError(f"unknown granularity level {level!r}; one of {BELOW_ONE_BAR!r}, {', '.join(names)}")
    return names.index(level) + 1


def simplex_least_squares(curves: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``w >= 0``, ``sum(w) == 1`` minimizing ``||curve - w @ members||`` for every curve.

    ``curves``: rows x points; ``members``: k x points, or rows x k x points (each row its own members).
    ``k`` is small: every one of the ``2**k - 1`` support sets is solved in closed form (the KKT system of
    the equality-constrained problem), for all rows at once, and the best feasible one kept. Returns
    ``(weights rows x k, root-mean-square residual per row)``; rows with NaN get NaN.
    """
    curves = np.atleast_2d(np.asarray(curves, np.float64))
    n = len(curves)
    members = np.asarray(members, np.float64)
    if members.ndim == 2:
        members = np.broadcast_to(members, (n, *members.shape))
    k = members.shape[1]
    weights = np.full((n, k), np.nan)
    residual = np.full(n, np.nan)
    ok = np.flatnonzero(~np.isnan(curves).any(axis=1) & ~np.isnan(members).any(axis=(1, 2)))
    c, mem = curves[ok], members[ok]
    rows = np.arange(len(ok))
    best_r = np.full(len(ok), np.inf)
    best_w = np.zeros((len(ok), k))
    for size in range(1, k + 1):  # all support sets of one size at once
        sets = np.asarray(list(itertools.combinations(range(k), size)))  # supports x size
        m = mem[:, sets]  # rows x supports x size x points
        kkt = np.zeros((len(ok), len(sets), size + 1, size + 1))
        kkt[..., :size, :size] = m @ np.swapaxes(m, -1, -2) + 1e-10 * np.eye(size)
        kkt[..., :size, size] = kkt[..., size, :size] = 1.0
        rhs = np.concatenate([np.einsum("rusp,rp->rus", m, c), np.ones((len(ok), len(sets), 1))], axis=2)
        w = np.linalg.solve(kkt, rhs[..., None])[..., :size, 0]  # rows x supports x size
        fit = np.einsum("rus,rusp->rup", w, m)
        resid = np.sqrt(np.mean((c[:, None, :] - fit) ** 2, axis=2))
        resid[(w < -1e-9).any(axis=2)] = np.inf  # infeasible
        j = np.argmin(resid, axis=1)
        better = resid[rows, j] < best_r - 1e-12
        r, j = rows[better], j[better]
        best_r[r] = resid[r, j]
        best_w[r] = 0.0
        best_w[r[:, None], sets[j]] = np.clip(w[r, j], 0.0, None)
    weights[ok] = best_w / best_w.sum(axis=1, keepdims=True)
    residual[ok] = best_r
    return weights, residual


@dataclass
class GranularityCalibration:
    """The calibration family of one reference index, and the estimate that reads curves against it.

    ``members``: ``("1", "2", "4", "8")``, one patchwork member per chunk size (bars); ``curves``:
    members x :attr:`grid` (:data:`GRID`), their mean coverage-by-span curves; ``spread``: members x
    grid, the standard deviation over their pieces; ``n_pieces``: calibration pieces per member;
    ``invariance``, ``lines`` and ``manifest_hash``: the index it was drawn from.
    """

    config: GranularityConfig
    grid: np.ndarray
    members: tuple[str, ...]
    curves: np.ndarray
    spread: np.ndarray
    n_pieces: tuple[int, ...]
    invariance: str
    lines: str
    manifest_hash: str

    @property
    def chunk_bars(self) -> tuple[int, ...]:
        """Chunk sizes (bars) of the patchwork members, in member order."""
        return tuple(int(m) for m in self.members)

    def estimate(self, curves: np.ndarray, chance: np.ndarray) -> GranularityEstimate:
        """Read coverage-by-span curves as mixtures of their chance curves and the family (see the module
        docstring). ``curves``, ``chance``: rows x :attr:`grid` (or one curve each, as from
        :func:`piece_curves`); a row with NaN (no analysed note) gets NaN and ``below 1 bar``.

        Raises:
            RemixError: the curves are not on this calibration's grid, or not one chance curve per curve.
        """
        curves = np.atleast_2d(np.asarray(curves, np.float64))
        chance = np.atleast_2d(np.asarray(chance, np.float64))
        if curves.shape[1] != len(self.grid) or chance.shape != curves.shape:
            raise RemixError(
                f"curves {curves.shape} and chance curves {chance.shape}: this calibration's grid has "
                f"{len(self.grid)} points, one chance curve per curve"
            )
        family = np.broadcast_to(self.curves, (len(curves), *self.curves.shape))
        members = np.concatenate([chance[:, None], family], axis=1)
        weights, residual = simplex_least_squares(curves, members)
        chunk = weights[:, 1:]
        share = chunk.sum(axis=1)
        log_size = np.log2(np.asarray(self.chunk_bars, np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            bars = np.where(share > 1e-9, 2.0 ** ((chunk @ log_size) / share), np.nan)
        level = [
            granularity_level(float(s), float(b), self.chunk_bars, self.config.min_share)
            for s, b in zip(share, bars, strict=True)
        ]
        return GranularityEstimate(weights, share, bars, level, residual)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what :meth:`save` writes and ``report.json`` holds)."""
        return {
            "config": self.config.to_dict(),
            "grid_bars": self.grid.tolist(),
            "members": list(self.members),
            "curves": self.curves.tolist(),
            "spread": self.spread.tolist(),
            "n_pieces": list(self.n_pieces),
            "invariance": self.invariance,
            "lines": self.lines,
            "manifest_hash": self.manifest_hash,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GranularityCalibration:
        """A calibration from :meth:`to_dict` output.

        Raises:
            RemixError: a missing key or inconsistent shapes.
        """
        try:
            out = cls(
                config=GranularityConfig.from_dict(d["config"]),
                grid=np.asarray(d["grid_bars"], np.float64),
                members=tuple(d["members"]),
                curves=np.asarray(d["curves"], np.float64),
                spread=np.asarray(d["spread"], np.float64),
                n_pieces=tuple(int(x) for x in d["n_pieces"]),
                invariance=str(d["invariance"]),
                lines=str(d["lines"]),
                manifest_hash=str(d["manifest_hash"]),
            )
        except KeyError as exc:
            raise RemixError(f"not a granularity calibration: missing {exc.args[0]!r}") from None
        if out.curves.shape != (len(out.members), len(out.grid)) or out.spread.shape != out.curves.shape:
            raise RemixError("not a granularity calibration: curves do not match its members and grid")
        return out

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON (atomically); returns ``path``."""
        write_json(path, self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> GranularityCalibration:
        """Read a calibration written by :meth:`save`.

        Raises:
            RemixError: an unreadable or malformed file.
        """
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise RemixError(f"{path}: unreadable granularity calibration ({exc})") from None
