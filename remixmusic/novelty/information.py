"""Information content of symbol passages: low-complexity matches are stock, not quotations.

Matching against a reference counts a passage as copied when it is longer than chance. Length alone
is a poor test for the material a shuffled stream cannot produce but any corpus is full of: repeated
notes, scale runs, trills. Twelve repeated quarter notes match a chorale's pedal note as well as a
quotation does. Sequence search has the same trouble: BLAST masks low-complexity regions (SEG,
Wootton & Federhen 1993) and counts a hit as significant by its *bit score* (Karlin & Altschul 1990),
not by its length. Here the test is in bits as well:

* The **information content** of a passage is ``sum_j -log2 p(s_j | s_{j-1})``, in the sense of IDyOM
  (Pearce 2005), under a model that combines a long-term model of the reference with a short-term model
  of the passage itself:

  - long-term: a first-order Markov model of the reference's symbol streams, interpolated with the
    unigram distribution by Witten-Bell smoothing (the escape method C of PPM), so every symbol has a
    probability. The first symbol of a passage gets its unigram probability.
  - short-term: a cache (Kuhn & De Mori 1990) of the bigrams already seen *inside the passage*. The
    passage's symbol at ``j`` gets ``(c + t * p_long) / (n + t)``, where ``n`` is how often its context
    ``s_{j-1}`` occurred earlier in the passage, ``c`` how often that context was followed by ``s_j`` and
    ``t`` by how many distinct symbols (Witten-Bell again, backing off to the long-term model). A passage
    that repeats itself (a repeated note, a scale of equal steps, a trill) becomes predictable after a
    few symbols and carries few bits, however long it is; a melody that does not, keeps its long-term
    information.

* The **chance level in bits** is calibrated by Monte Carlo, like the shuffles that give the chance
  length, but with surrogate streams sampled from the reference's own first-order model, which keep its
  runs and steps (a symbol shuffle destroys them; preserving doublet statistics is the point of
  Altschul & Erickson's 1985 shuffle). Their longest matches at every position, scored the same way, give
  the quantile a copied passage must exceed (see :meth:`remixmusic.index.Index.estimate_chance_bits`).

The model needs only the distinct symbols, their counts and the distinct bigram counts (a few MB even
for a Lakh-size corpus), read off the suffix array in one pass (its suffixes are sorted by their first
two symbols already).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from remixmusic._util.arrays import ramp

MODEL_ARRAYS = ("symbols", "counts", "pair_keys", "pair_counts")


@dataclass
class SymbolModel:
    """First-order model of a reference's symbol streams (see the module docstring).

    ``symbols``: the distinct symbols, sorted; ``counts``: occurrences of each; ``pair_keys``: sorted
    ``a * len(symbols) + b`` for every distinct bigram of symbol indices ``(a, b)`` inside a line;
    ``pair_counts``: its occurrences.
    """

    symbols: np.ndarray
    counts: np.ndarray
    pair_keys: np.ndarray
    pair_counts: np.ndarray

    @classmethod
    def fit(cls, text: np.ndarray, sa: np.ndarray) -> SymbolModel:
        """Count symbols and bigrams of ``text`` (negative values separate lines) using its suffix array
        ``sa`` over symbol slots, in which bigrams are already grouped and sorted."""
        text = np.asarray(text)
        sa = np.asarray(sa).astype(np.int64)
        first = text[sa].astype(np.int64)
        symbols, counts = np.unique(first, return_counts=True)
        nxt = np.where(sa + 1 < len(text), text[np.minimum(sa + 1, len(text) - 1)], -1).astype(np.int64)
        inside = nxt >= 0
        v = len(symbols)
        keys = np.searchsorted(symbols, first[inside]) * v + np.searchsorted(symbols, nxt[inside])
        head = np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, bool)
        starts = np.flatnonzero(head)
        pair_counts = np.diff(np.r_[starts, len(keys)])
        return cls(
            symbols.astype(np.int32), counts.astype(np.int64), keys[starts].astype(np.int64), pair_counts
        )

    @classmethod
    def count(cls, text: np.ndarray) -> SymbolModel:
        """Count symbols and bigrams of ``text`` (negative values separate lines) directly, without a
        suffix array (for derived streams such as :class:`PartModels`' parts)."""
        text = np.asarray(text, dtype=np.int64)
        live = text >= 0
        symbols, counts = np.unique(text[live], return_counts=True)
        v = len(symbols)
        both = live[:-1] & live[1:]
        keys = np.searchsorted(symbols, text[:-1][both]) * v + np.searchsorted(symbols, text[1:][both])
        pair_keys, pair_counts = np.unique(keys, return_counts=True)
        return cls(symbols.astype(np.int32), counts.astype(np.int64), pair_keys.astype(np.int64), pair_counts)

    # -- the long-term model ----------------------------------------------------------------------
    @property
    def n_symbols(self) -> int:
        return int(self.counts.sum())

    @cached_property
    def _pair_context(self) -> np.ndarray:
        """Dense index of the first symbol of each bigram in ``pair_keys`` (sorted)."""
        return self.pair_keys // max(len(self.symbols), 1)

    @cached_property
    def _pair_cum(self) -> np.ndarray:
        """``[0, cumsum(pair_counts)]``: bigram occurrences before each key."""
        return np.r_[0, np.cumsum(self.pair_counts)]

    def _lookup(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dense index of each symbol and whether the reference has it."""
        return _find(self.symbols, np.asarray(s, dtype=np.int64))

    def unigram(self, s: np.ndarray) -> np.ndarray:
        """Add-one unigram probability; a symbol the reference lacks shares one count with all others."""
        i, known = self._lookup(s)
        total = self.n_symbols + len(self.symbols) + 1
        count = np.zeros(len(i), np.int64)
        count[known] = self.counts[i[known]]
        return (count + 1) / total

    def conditional(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        """Long-term ``p(cur | prev)``: bigram counts interpolated with the unigram by Witten-Bell."""
        a, a_known = self._lookup(prev)
        b, b_known = self._lookup(cur)
        v = len(self.symbols)
        ctx, cum = self._pair_context, self._pair_cum
        lo = np.searchsorted(ctx, a)
        hi = np.searchsorted(ctx, a, side="right")
        n_ctx = np.where(a_known, cum[hi] - cum[lo], 0)
        t_ctx = np.where(a_known, hi - lo, 0)
        at, found = _find(self.pair_keys, a * v + b)
        hit = a_known & b_known & found
        c_pair = np.zeros(len(at), np.int64)
        c_pair[hit] = self.pair_counts[at[hit]]
        base = self.unigram(cur)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = (c_pair + t_ctx * base) / (n_ctx + t_ctx)
        return np.where(n_ctx > 0, p, base)

    # -- passages ----------------------------------------------------------------------------------
    def passage_bits(self, stream: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Information content (bits) of passages ``stream[starts[k] : starts[k] + lengths[k]]`` under the
        long-term model with the passage's own short-term cache (module docstring); vectorized over all
        passages at once."""
        lengths = np.asarray(lengths, dtype=np.int64)
        per_symbol = self.symbol_bits(stream, starts, lengths)
        out = np.zeros(len(lengths))
        np.add.at(out, np.repeat(np.arange(len(lengths)), lengths), per_symbol)
        return out

    def symbol_bits(self, stream: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The information (bits) of every symbol of passages ``stream[starts[k] : starts[k] + lengths[k]]``
        in its passage's context, passages concatenated (``lengths.sum()`` values): what
        :meth:`passage_bits` sums, for scoring only some symbols of a passage (those of a varied copy
        that its query agrees with)."""
        stream = np.asarray(stream, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        out = np.zeros(int(lengths.sum()))
        first = np.cumsum(lengths) - lengths  # where each passage's symbols begin in ``out``
        has = lengths > 0
        out[first[has]] = -np.log2(self.unigram(stream[starts[has]]))
        n_pairs = np.maximum(lengths - 1, 0)
        total = int(n_pairs.sum())
        if total == 0:
            return out
        group = np.repeat(np.arange(len(starts)), n_pairs)
        step = ramp(n_pairs)
        pos = np.repeat(starts, n_pairs) + step + 1
        prev, cur = stream[pos - 1], stream[pos]
        p_long = self.conditional(prev, cur)
        # Short-term counts from the earlier bigrams of the same passage: ranks inside sorted groups.
        n_ctx = _earlier((group, prev), step)
        c_pair = _earlier((group, prev, cur), step)
        t_ctx = _earlier((group, prev), step, c_pair == 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(n_ctx > 0, (c_pair + t_ctx * p_long) / (n_ctx + t_ctx), p_long)
        out[np.repeat(first, n_pairs) + step + 1] = -np.log2(p)
        return out

    def sample(self, lengths: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Surrogate streams of the given lengths from the first-order model (unsmoothed: only bigrams the
        reference has); a state the reference never continues restarts from the unigram."""
        lengths = np.asarray(lengths, dtype=np.int64)
        v = len(self.symbols)
        n, steps = len(lengths), int(lengths.max()) if len(lengths) else 0
        out = np.zeros((n, steps), np.int64)
        uni_cum = np.cumsum(self.counts)
        pair_cum = np.cumsum(self.pair_counts)
        ctx = self.pair_keys // max(v, 1)
        first_pair = np.searchsorted(ctx, np.arange(v))
        before = np.r_[0, pair_cum][first_pair]
        ctx_total = np.r_[0, pair_cum][np.searchsorted(ctx, np.arange(v), side="right")] - before
        state = np.searchsorted(uni_cum, rng.random(n) * uni_cum[-1], side="right")
        for t in range(steps):
            out[:, t] = state
            restart = ctx_total[state] == 0
            u = rng.random(n)
            at = np.searchsorted(pair_cum, before[state] + u * ctx_total[state], side="right")
            fresh = np.searchsorted(uni_cum, u * uni_cum[-1], side="right")
            state = fresh.copy()
            state[~restart] = self.pair_keys[at[~restart]] % v
        return [self.symbols[out[i, : lengths[i]]].astype(np.int64) for i in range(n)]


def _find(sorted_values: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each ``x`` in ``sorted_values`` and whether it is there."""
    at = np.searchsorted(sorted_values, x)
    found = at < len(sorted_values)
    found[found] = sorted_values[at[found]] == x[found]
    return at, found


def _earlier(keys: tuple[np.ndarray, ...], step: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """For each element, the number (or the summed ``weights``) of elements with the same ``keys`` and a
    smaller ``step``: counts of earlier occurrences, from one sort and a cumulative sum."""
    order = np.lexsort((step, *reversed(keys)))
    head = np.zeros(len(order), bool)
    head[:1] = True
    for k in keys:
        s = k[order]
        head[1:] |= s[1:] != s[:-1]
    w = np.ones(len(order), np.int64) if weights is None else weights[order].astype(np.int64)
    before = np.cumsum(w) - w
    group_start = np.maximum.accumulate(np.where(head, np.arange(len(order)), 0))
    out = np.empty(len(order), np.int64)
    out[order] = before - before[group_start]
    return out


@dataclass
class PartModels:
    """Models of the two parts of a ``transposed+tempo`` symbol, for scoring the relations a varied copy
    keeps when an edit spoils only one part of a symbol (:meth:`~remixmusic.novelty.varied.VariedCopies.copy_bits`).

    A symbol ``s = interval * n_ratios + ratio`` describes a pitch relation (the interval between two
    notes) and a timing relation (the inter-onset ratio of three). Its information factors as
    ``-log2 p(s) = -log2 p(interval) - log2 p(ratio | interval)``: a copy that reproduces only the
    interval (the third note is off its time) keeps the first term, one that reproduces only the ratio
    (a note changed in pitch, at its time) keeps at most the second. ``interval`` and ``ratio``: first-order
    models (:class:`SymbolModel`) of the two part streams of the reference; ``span_values`` /
    ``span_counts``: the sorted distinct two-step intervals (the pitch relation of two notes with one note
    between them, in semitones) and their counts, for the relation a changed note leaves between its
    neighbours.
    """

    n_ratios: int
    interval: SymbolModel
    ratio: SymbolModel
    span_values: np.ndarray
    span_counts: np.ndarray

    @classmethod
    def fit(cls, text: np.ndarray, n_ratios: int) -> PartModels:
        """Count the part streams of ``text`` (symbols of ``n_ratios`` ratio classes; negative values
        separate lines)."""
        text = np.asarray(text, dtype=np.int64)
        live = text >= 0
        interval = np.where(live, text // n_ratios, -1)
        ratio = np.where(live, text % n_ratios, -1)
        both = live[:-1] & live[1:]
        span = (interval[:-1] + interval[1:])[both]
        values, counts = np.unique(span, return_counts=True)
        return cls(n_ratios, SymbolModel.count(interval), SymbolModel.count(ratio), values, counts)

    def split(self, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The interval and ratio codes of ``symbols``."""
        symbols = np.asarray(symbols, dtype=np.int64)
        return symbols // self.n_ratios, symbols % self.n_ratios

    def span_bits(self, interval_codes_sum: np.ndarray) -> np.ndarray:
        """Information (bits, add-one unigram) of two-step relations, given as the sum of the two interval
        codes (the same offset representation as :meth:`split`'s intervals, added)."""
        x = np.asarray(interval_codes_sum, dtype=np.int64)
        at, found = _find(self.span_values, x)
        count = np.zeros(len(x), np.int64)
        count[found] = self.span_counts[at[found]]
        total = int(self.span_counts.sum()) + len(self.span_values) + 1
        return -np.log2((count + 1) / total)

    def part_bits(
        self, model: SymbolModel, symbols: np.ndarray, pitch_ok: np.ndarray, time_ok: np.ndarray
    ) -> np.ndarray:
        """Bits of each symbol of one passage (``symbols``, scored in the passage's context) that a copy
        reproduces: all of its information where both its parts are reproduced, the interval's (at most
        the symbol's) where only ``pitch_ok``, the ratio's (at most what the symbol holds beyond its
        interval) where only ``time_ok``, none otherwise."""
        symbols = np.asarray(symbols, dtype=np.int64)
        n = len(symbols)
        whole = model.symbol_bits(symbols, np.array([0]), np.array([n]))
        intervals, ratios = self.split(symbols)
        pitch = np.minimum(self.interval.symbol_bits(intervals, np.array([0]), np.array([n])), whole)
        time = np.minimum(self.ratio.symbol_bits(ratios, np.array([0]), np.array([n])), whole - pitch)
        return np.where(pitch_ok & time_ok, whole, np.where(pitch_ok, pitch, np.where(time_ok, time, 0.0)))
