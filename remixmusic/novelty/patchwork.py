"""Pure-recombination references drawn from a reference index, and the granularity calibration on them.

The calibration family of :mod:`remixmusic.novelty.granularity` is made from the index alone (no reference
pieces need to be at hand, so a saved index calibrates too): reference lines are read from the slot
arrays (pitch, onset and bar of every note; the symbols themselves), and only lines whose onsets and bar
numbers fit one bar length from step 0 are used (single-meter lines; the bar length is the largest that
puts every note in its bar).

**Patchworks** of ``k``-bar chunks: ``n_bars // k`` chunks, each the notes of bars ``[f, f + k)`` of a
random line of the patchwork's bar length, moved to the next chunk position and transposed to start
  within a fifth of the previous chunk's last pitch (plus -2..+2 semitones; no transposition under the
  ``exact`` invariance), as :meth:`remixmusic.evaluation.planted.PlantedSetMaker.make_patchworks` builds
  its evaluation patchworks from pieces. The symbols inside a chunk are the reference's own; the join
  symbols are encoded from pitches and onsets (durations taken as inter-onset intervals, which only the
  ``exact`` and ``transposed`` views read).

(The chance floor is not drawn here: each piece is read against its own shuffles,
:func:`~remixmusic.novelty.granularity.piece_curves`.)

Every calibration line is matched against the index in one vectorized pass and measured exactly as a
query is (:func:`~remixmusic.novelty.granularity.match_spans`, bar positions ``onset / bar length``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from remixmusic._util.arrays import ramp
from remixmusic.errors import ConfigError, RemixError
from remixmusic.novelty.granularity import (
    GRID,
    GranularityCalibration,
    GranularityConfig,
    encode_line,
    match_spans,
    span_curve,
)
from remixmusic.novelty.index import Index
from remixmusic.novelty.symbols import ORDER


@dataclass
class _Lines:
    """Sampled single-meter reference lines: slot ranges, bar lengths (steps) and bar counts."""

    start: np.ndarray
    n_notes: np.ndarray
    bar_len: np.ndarray
    n_bars: np.ndarray


@dataclass
class _Line:
    """One calibration line: pitch, onset (steps), bar position of each note, and its symbols."""

    pitch: np.ndarray
    onset: np.ndarray
    bars: np.ndarray
    symbols: np.ndarray


def _sample_lines(index: Index, rng: np.random.Generator, max_lines: int = 4000) -> _Lines:
    """Up to ``max_lines`` random reference lines whose onsets and bar numbers fit one bar length from
    step 0 (``bar == onset // bar_len`` for every note), with that bar length."""
    n_lines = len(index.line_piece)
    chosen = np.sort(rng.permutation(n_lines)[:max_lines])
    a = np.asarray(index.line_offsets[chosen], np.int64)
    slots = np.asarray(index.line_offsets[chosen + 1], np.int64) - a
    owner = np.repeat(np.arange(len(chosen)), slots)
    at = np.repeat(a, slots) + ramp(slots)
    note = np.asarray(index.note[at])
    valid = note >= 0
    n_notes = np.bincount(owner[valid], minlength=len(chosen))
    onset = np.asarray(index.onset[at], np.int64)
    bar = np.asarray(index.bar[at], np.int64)
    big = np.iinfo(np.int64).max
    candidate = np.where(valid & (bar > 0), onset // np.maximum(bar, 1), big)
    bar_len = np.full(len(chosen), big)
    np.minimum.at(bar_len, owner, candidate)
    fits = (bar * bar_len[owner] <= onset) & (onset < (bar + 1) * bar_len[owner])
    bad = np.zeros(len(chosen), bool)
    np.logical_or.at(bad, owner, valid & ~fits)
    n_bars = np.zeros(len(chosen), np.int64)
    np.maximum.at(n_bars, owner, np.where(valid, bar + 1, 0))
    keep = ~bad & (bar_len < big) & (bar_len >= 3) & (n_notes > ORDER[index.invariance] + 1)
    return _Lines(a[keep], n_notes[keep], bar_len[keep], n_bars[keep])


def _line_notes(index: Index, lines: _Lines, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pitch, onset, bar and symbol arrays of sampled line ``i`` (symbols: ``n - order``)."""
    a, n = int(lines.start[i]), int(lines.n_notes[i])
    order = ORDER[index.invariance]
    return (
        np.asarray(index.pitch[a : a + n], np.int64),
        np.asarray(index.onset[a : a + n], np.int64),
        np.asarray(index.bar[a : a + n], np.int64),
        np.asarray(index.text[a : a + n - order], np.int64),
    )


def _patchwork(
    index: Index, lines: _Lines, group: np.ndarray, chunk: int, n_bars: int, rng: np.random.Generator
) -> _Line | None:
    """One patchwork of ``n_bars // chunk`` chunks of ``chunk`` bars from lines ``group`` (one bar length).

    Each chunk is the notes of bars ``[f, f + chunk)`` of a random line (two notes at least), moved to
    the patchwork's next chunk position and transposed to start within a fifth of the previous chunk's
    last pitch (plus -2..+2), as :meth:`PlantedSetMaker.make_patchworks` does; not transposed under the
    ``exact`` invariance. Symbols inside a chunk are the reference's own; the join symbols are encoded.
    """
    order = ORDER[index.invariance]
    bar_len = int(lines.bar_len[group[0]])
    pitch_parts, onset_parts, inner = [], [], []
    last = 64
    for c in range(n_bars // chunk):
        for _attempt in range(50):
            i = int(group[rng.integers(len(group))])
            pitch, onset, bar, symbols = _line_notes(index, lines, i)
            first = int(rng.integers(0, max(1, int(lines.n_bars[i]) - chunk + 1)))
            sel = np.flatnonzero((bar >= first) & (bar < first + chunk))
            if len(sel) >= 2:
                break
        else:
            return None
        shift = 0
        if c and index.invariance != "exact":
            shift = int(np.clip(last - int(pitch[sel[0]]), -7, 7)) + int(rng.integers(-2, 3))
        pitch_parts.append(pitch[sel] + shift)
        onset_parts.append(onset[sel] - first * bar_len + c * chunk * bar_len)
        sym = np.full(len(sel), -1, np.int64)
        own = sel[sel < len(symbols)]
        interior = own[own + order <= sel[-1]]  # symbols whose notes all lie in the chunk
        sym[interior - sel[0]] = symbols[interior]
        inner.append(sym)
        last = int(pitch_parts[-1][-1])
    pitch, onset = np.concatenate(pitch_parts), np.concatenate(onset_parts)
    symbols = encode_line(pitch, onset, index.invariance)
    own = np.concatenate(inner)[: len(symbols)]
    symbols = np.where(own >= 0, own, symbols)
    return _Line(pitch, onset, onset / bar_len, symbols)


def _member_curves(index: Index, pieces: list[_Line]) -> np.ndarray:
    """Coverage-by-span curves (pieces x :data:`GRID`) of calibration lines, matched in one pass."""
    order = ORDER[index.invariance]
    stats = index.matching_statistics_many([p.symbols for p in pieces])
    return np.asarray(
        [span_curve(match_spans(p.bars, s[0], order)) for p, s in zip(pieces, stats, strict=True)]
    )


_CACHE: dict[tuple[Any, ...], GranularityCalibration] = {}


def calibrate(index: Index, config: GranularityConfig | None = None) -> GranularityCalibration:
    """The calibration family of ``index`` (see the module docstring), memoized per index content
    (manifest hash, views, size and chance length) and config in this process.

    Cost: ``n_pieces`` pieces per member, matched in one vectorized pass (about 0.3 s on Essen's 6,800
    tunes with the defaults).

    Raises:
        ConfigError: ``config`` is not a :class:`GranularityConfig`.
        RemixError: fewer than 3 single-meter reference lines of one bar length, so no patchwork
            member. A member whose chunks no 3 lines of one bar length hold is left out, with every
            larger one (the largest member left then reads as that size or more).
    """
    if config is not None and not isinstance(config, GranularityConfig):
        raise ConfigError(f"granularity config must be a GranularityConfig, not {type(config).__name__}")
    config = config or GranularityConfig()
    key = (index.manifest_hash, index.invariance, index.lines, index.n_symbols, index.chance_length, config)
    if key in _CACHE:
        return _CACHE[key]
    rng = np.random.default_rng(config.seed)
    lines = _sample_lines(index, rng)
    if len(lines.start) == 0:
        raise RemixError("granularity: no reference line of one meter to calibrate on")
    members: list[str] = []
    curves: list[np.ndarray] = []
    sets: list[list[_Line]] = []
    for chunk in config.chunk_bars:
        long_enough = np.flatnonzero(lines.n_bars >= chunk)
        by_len: dict[int, np.ndarray] = {}
        for b in np.unique(lines.bar_len[long_enough]):
            by_len[int(b)] = long_enough[lines.bar_len[long_enough] == b]
        usable = [g for g in by_len.values() if len(g) >= 3]
        if not usable:  # a reference of short lines has no member this long (nor any longer)
            break
        weight = np.asarray([len(g) for g in usable], np.float64)
        made = []
        for _ in range(config.n_pieces):
            group = usable[int(rng.choice(len(usable), p=weight / weight.sum()))]
            p = _patchwork(index, lines, group, chunk, config.n_bars, rng)
            if p is not None:
                made.append(p)
        sets.append(made)
        members.append(str(chunk))
    drawn = [(m, made) for m, made in zip(members, sets, strict=True) if made]
    members, sets = [m for m, _ in drawn], [made for _, made in drawn]
    if not sets:
        raise RemixError("granularity: too few single-meter reference lines to draw the calibration from")
    all_curves = _member_curves(index, [p for made in sets for p in made])
    at = 0
    spread: list[np.ndarray] = []
    for made in sets:
        part = all_curves[at : at + len(made)]
        curves.append(part.mean(axis=0))
        spread.append(part.std(axis=0))
        at += len(made)
    out = GranularityCalibration(
        config=config,
        grid=GRID.copy(),
        members=tuple(members),
        curves=np.asarray(curves),
        spread=np.asarray(spread),
        n_pieces=tuple(len(s) for s in sets),
        invariance=index.invariance,
        lines=index.lines,
        manifest_hash=index.manifest_hash,
    )
    _CACHE[key] = out
    return out
