"""Matching a query piece against a reference :class:`~remixmusic.index.Index`: exact and varied copies.

Three questions, for every note of every line of the query:

1. *How long a stretch starting here exists somewhere in the reference?* These are the matching
   statistics, the per-token novelty measure of RAVEN (McCoy et al., 2023) computed with the suffix-array
   range narrowing of infini-gram (Liu et al., 2024); see :meth:`Index.matching_statistics`.
2. *Is that chance, an idiom, or a quotation?* Random material reaches some length against a large
   reference by chance: matches must be longer than the index's chance length (the 99th percentile of
   the matching statistics of shuffled reference lines, :meth:`Index.estimate_chance_length`). A match
   that many reference pieces contain (document frequency ``>= stock_df``) is a stock idiom (cadence,
   scale run), not a quotation of one piece.
3. *Is it a varied copy?* Short exact seeds that sit on one reference line are chained and extended by a
   banded edit alignment on notes, so an added passing note, a dropped or a changed note costs one edit.

Near-match alignment works on notes, not symbols, because one inserted note changes two or three
interval/ratio symbols. Each note becomes (pitch relative to the seed's first note, onset relative to it)
with the reference's onsets scaled by the seed's tempo ratio (``transposed+tempo``, ``rhythm``,
``contour``); two notes agree when the relative pitches are equal (``rhythm`` and ``contour`` ignore
pitch) and the onsets differ by at most a quarter of the query's median inter-onset interval. One edit is
one note inserted, deleted or changed (Levenshtein distance over notes), and a varied copy may have at
most ``max_edits`` edits and at most one per ``1 / edit_rate`` notes.

Lengths: ``match_length`` counts *symbols*; a run of ``m`` symbols covers ``m + order`` notes
(:mod:`remixmusic.views`). Note spans are line positions ``[start, end)`` unless named ``*_note*``
(piece note indices).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from remixmusic.index import Index
from remixmusic.notes import Piece
from remixmusic.views import Stream

_PITCHLESS = ("rhythm", "contour")
_TEMPO_FREE = ("transposed+tempo", "rhythm", "contour")


@dataclass
class Source:
    """One reference occurrence: piece, its notes (piece note indices, ``note_last`` inclusive), bars
    (zero-based, ``bar_last`` inclusive), onset steps, and the transposition query minus source."""

    piece: int
    name: str
    note_first: int
    note_last: int
    bar_first: int
    bar_last: int
    onset_first: int
    onset_last: int
    transposition: int


@dataclass
class Match:
    """A maximal exact match of one query line: ``length`` symbols from symbol ``start`` of line ``line``
    (an index into ``PieceMatches.lines``), i.e. line notes ``start .. start + length + order - 1``."""

    line: int
    start: int
    length: int
    notes: np.ndarray
    count: int
    doc_freq: int
    stock: bool
    sources: list[Source]

    @property
    def n_notes(self) -> int:
        return len(self.notes)


@dataclass
class VariedMatch:
    """A varied copy: query line notes ``[start, end)`` of line ``line`` align with one reference passage
    up to ``edits`` note insertions, deletions or changes."""

    line: int
    start: int
    end: int
    notes: np.ndarray
    edits: int
    matched: int
    source: Source


@dataclass
class LineMatches:
    """Per-symbol match results of one query line (arrays of ``len(stream.symbols)``).

    ``match_length``: longest reference match from this symbol (symbols); ``count``: its occurrences;
    ``doc_freq``: distinct reference pieces containing it (exact when ``count <= df_cap``, else a lower
    bound from the first ``df_cap`` occurrences); ``source_*``: one representative occurrence (``-1``
    where nothing matches); ``transposition``: query pitch minus source pitch of the first note;
    ``sa_lo, sa_hi``: the match's suffix-array range (all its occurrences).
    """

    stream: Stream
    match_length: np.ndarray
    count: np.ndarray
    doc_freq: np.ndarray
    source_piece: np.ndarray
    source_slot: np.ndarray
    transposition: np.ndarray
    sa_lo: np.ndarray
    sa_hi: np.ndarray


@dataclass
class PieceMatches:
    """Everything found for one query piece.

    Per-note arrays (``len(piece.notes)``; notes on no analyzed line have ``in_line`` false):
    ``longest`` (notes of the longest exact match covering the note, any length), ``longest_source``
    (its representative reference piece, -1 none), ``longest_doc_freq``, ``transposition``; ``copied``
    (covered by an exact match longer than chance that is not stock), ``stock`` (covered by a
    longer-than-chance match found in ``>= stock_df`` pieces), ``varied`` (covered by a varied copy),
    ``varied_edits`` (fewest edits of such a copy, -1 none).
    """

    piece: Piece
    invariance: str
    chance_length: int
    min_length: int
    stock_df: int
    lines: list[LineMatches]
    matches: list[Match]
    varied_matches: list[VariedMatch]
    in_line: np.ndarray
    longest: np.ndarray
    longest_source: np.ndarray
    longest_doc_freq: np.ndarray
    transposition: np.ndarray
    copied: np.ndarray
    stock: np.ndarray
    varied: np.ndarray
    varied_edits: np.ndarray
    parameters: dict = field(default_factory=dict)

    def coverage(self, lengths: np.ndarray) -> np.ndarray:
        """Fraction of analyzed notes covered by an exact match of at least ``L`` notes, per ``L``."""
        n = max(1, int(self.in_line.sum()))
        longest = self.longest[self.in_line]
        return np.array([np.count_nonzero(longest >= length) / n for length in np.asarray(lengths)])

    def source_ranking(self) -> list[tuple[int, int]]:
        """Reference pieces by how many query notes they account for (exact matches longer than chance,
        stock ones included, and varied copies): ``[(piece, n_notes), ...]``, most first."""
        covered: dict[int, set[int]] = {}
        for m in self.matches:
            for s in m.sources:
                covered.setdefault(s.piece, set()).update(m.notes.tolist())
        for v in self.varied_matches:
            covered.setdefault(v.source.piece, set()).update(v.notes.tolist())
        return sorted(((p, len(n)) for p, n in covered.items()), key=lambda x: (-x[1], x[0]))


class Matcher:
    """Matches query pieces against one reference index (parameters here, then :meth:`match_piece`).

    ``min_length``: shortest exact match (symbols) that counts; default ``index.chance_length + 2``, two
    symbols past the 99th percentile of chance, since each chance hit covers ``min_length + order`` notes
    and real query material has more structure than shuffled symbols.
    ``stock_df``: document frequency from which a match is a stock idiom; default ``max(5, 1% of the
    reference pieces)``. ``max_sources``: occurrences listed per match. ``df_cap``: occurrences scanned
    to count distinct pieces. ``near``: look for varied copies, from seeds of ``seed_length`` symbols
    (default ``max(3, min_length // 2)``) found at most ``max_seed_occurrences`` times, extended by up
    to ``extension`` notes on each side with at most ``max_edits`` edits, one per ``1/edit_rate`` notes.
    """

    def __init__(
        self,
        index: Index,
        min_length: int | None = None,
        stock_df: int | None = None,
        max_sources: int = 5,
        df_cap: int = 2000,
        near: bool = True,
        seed_length: int | None = None,
        max_seed_occurrences: int = 64,
        max_edits: int = 2,
        edit_rate: float = 0.2,
        extension: int = 8,
    ) -> None:
        self.index = index
        self.min_length = int(min_length if min_length is not None else index.chance_length + 2)
        self.stock_df = int(stock_df if stock_df is not None else max(5, math.ceil(0.01 * index.n_pieces)))
        self.max_sources = max_sources
        self.df_cap = df_cap
        self.near = near
        self.seed_length = int(seed_length if seed_length is not None else max(3, self.min_length // 2))
        self.max_seed_occurrences = max_seed_occurrences
        self.max_edits = max_edits
        self.edit_rate = edit_rate
        self.extension = extension

    @property
    def parameters(self) -> dict:
        return {
            "invariance": self.index.invariance,
            "lines": self.index.lines,
            "chance_length": self.index.chance_length,
            "min_length": self.min_length,
            "stock_df": self.stock_df,
            "near": self.near,
            "seed_length": self.seed_length,
            "max_edits": self.max_edits,
            "edit_rate": self.edit_rate,
        }

    # -- one line -----------------------------------------------------------------------------------
    def match_stream(self, stream: Stream, piece: Piece) -> tuple[LineMatches, tuple[np.ndarray, np.ndarray]]:
        """Matching statistics of one stream with document frequencies and a representative source.

        Also returns the seed ranges (``lo_d, hi_d`` at depth ``seed_length``) used for near matches.
        """
        index = self.index
        length, lo, hi, lo_d, hi_d = index.matching_statistics(stream.symbols, record_depth=self.seed_length)
        count = hi - lo
        doc_freq = self._doc_freq(lo, hi)
        has = length > 0
        slot = np.full(len(length), -1, np.int64)
        slot[has] = index.sa[lo[has]]
        source_piece = np.full(len(length), -1, np.int32)
        source_piece[has] = index.piece[slot[has]]
        transposition = np.zeros(len(length), np.int16)
        query_pitch = piece.notes["pitch"][stream.note_index].astype(np.int16)
        transposition[has] = query_pitch[has] - index.pitch[slot[has]]
        line = LineMatches(
            stream, length.astype(np.int32), count, doc_freq, source_piece, slot, transposition, lo, hi
        )
        return line, (lo_d, hi_d)

    def _doc_freq(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Distinct pieces among the first ``df_cap`` occurrences of each suffix-array range."""
        take = np.minimum(hi - lo, self.df_cap)
        if take.sum() == 0:
            return np.zeros(len(lo), np.int32)
        owner = np.repeat(np.arange(len(lo)), take)
        offset = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
        pieces = self.index.piece[self.index.sa[np.repeat(lo, take) + offset]].astype(np.int64)
        pairs = np.unique(owner * (self.index.n_pieces + 1) + pieces)
        return np.bincount(pairs // (self.index.n_pieces + 1), minlength=len(lo)).astype(np.int32)

    def _sources(self, lo: int, hi: int, query_pitch: int, n_notes: int) -> list[Source]:
        """Up to ``max_sources`` occurrences from distinct pieces in ``sa[lo:hi]``."""
        index = self.index
        slots = np.asarray(index.sa[lo : min(hi, lo + self.df_cap)]).astype(np.int64)
        _, first = np.unique(index.piece[slots], return_index=True)
        return [self._source(int(s), n_notes, query_pitch) for s in slots[np.sort(first)][: self.max_sources]]

    def _source(self, slot: int, n_notes: int, query_pitch: int) -> Source:
        index = self.index
        last = slot + n_notes - 1
        return Source(
            piece=int(index.piece[slot]),
            name=index.piece_names[int(index.piece[slot])],
            note_first=int(index.note[slot]),
            note_last=int(index.note[last]),
            bar_first=int(index.bar[slot]),
            bar_last=int(index.bar[last]),
            onset_first=int(index.onset[slot]),
            onset_last=int(index.onset[last]),
            transposition=int(query_pitch) - int(index.pitch[slot]),
        )

    # -- a whole piece ------------------------------------------------------------------------------
    def match_piece(self, piece: Piece) -> PieceMatches:
        index = self.index
        order = index.order
        n = len(piece.notes)
        in_line = np.zeros(n, bool)
        longest = np.zeros(n, np.int32)
        longest_source = np.full(n, -1, np.int32)
        longest_df = np.zeros(n, np.int32)
        transposition = np.zeros(n, np.int16)
        copied = np.zeros(n, bool)
        stock = np.zeros(n, bool)
        lines: list[LineMatches] = []
        matches: list[Match] = []
        varied: list[VariedMatch] = []
        cover_note, cover_len, cover_line, cover_pos = [], [], [], []
        for li, stream in enumerate(index.streams(piece)):
            lm, seeds = self.match_stream(stream, piece)
            lines.append(lm)
            notes = stream.line.notes
            in_line[notes] = True
            ms = lm.match_length.astype(np.int64)
            prev_end = np.concatenate([[0], np.arange(len(ms) - 1) + ms[:-1]])
            maximal = np.flatnonzero((ms > 0) & (np.arange(len(ms)) + ms > prev_end))
            span = ms[maximal] + order
            pos = np.repeat(maximal, span) + _ramp(span)
            cover_note.append(notes[pos])
            cover_len.append(np.repeat(span, span))
            cover_line.append(np.full(len(pos), li))
            cover_pos.append(np.repeat(maximal, span))
            for i in maximal[ms[maximal] >= self.min_length]:
                lo, hi = int(lm.sa_lo[i]), int(lm.sa_hi[i])
                m = Match(
                    line=li,
                    start=int(i),
                    length=int(ms[i]),
                    notes=notes[i : i + ms[i] + order],
                    count=int(lm.count[i]),
                    doc_freq=int(lm.doc_freq[i]),
                    stock=bool(lm.doc_freq[i] >= self.stock_df),
                    sources=self._sources(lo, hi, int(piece.notes["pitch"][notes[i]]), int(ms[i]) + order),
                )
                matches.append(m)
                (stock if m.stock else copied)[m.notes] = True
            if self.near:
                varied.extend(self._varied(li, stream, piece, lm, seeds))
        if cover_note:
            note = np.concatenate(cover_note)
            length = np.concatenate(cover_len)
            line_i = np.concatenate(cover_line)
            start = np.concatenate(cover_pos)
            best = np.lexsort((length, note))
            last = best[np.r_[note[best][1:] != note[best][:-1], True]]
            longest[note[last]] = length[last]
            for k in np.unique(line_i[last]):
                sel = last[line_i[last] == k]
                lm = lines[int(k)]
                longest_source[note[sel]] = lm.source_piece[start[sel]]
                longest_df[note[sel]] = lm.doc_freq[start[sel]]
                transposition[note[sel]] = lm.transposition[start[sel]]
        varied_mask = np.zeros(n, bool)
        varied_edits = np.full(n, -1, np.int32)
        for v in sorted(varied, key=lambda v: -v.edits):
            varied_mask[v.notes] = True
            varied_edits[v.notes] = v.edits
        return PieceMatches(
            piece=piece,
            invariance=index.invariance,
            chance_length=index.chance_length,
            min_length=self.min_length,
            stock_df=self.stock_df,
            lines=lines,
            matches=matches,
            varied_matches=varied,
            in_line=in_line,
            longest=longest,
            longest_source=longest_source,
            longest_doc_freq=longest_df,
            transposition=transposition,
            copied=copied,
            stock=stock & ~copied,
            varied=varied_mask,
            varied_edits=varied_edits,
            parameters=self.parameters,
        )

    # -- varied copies ------------------------------------------------------------------------------
    def _varied(
        self, li: int, stream: Stream, piece: Piece, lm: LineMatches, seeds: tuple[np.ndarray, np.ndarray]
    ) -> list[VariedMatch]:
        """Seed, chain and align varied copies of one query line (see the module docstring)."""
        index = self.index
        order = index.order
        lo_d, hi_d = seeds
        width = hi_d - lo_d
        ok = np.flatnonzero((width > 0) & (width <= self.max_seed_occurrences))
        if len(ok) == 0:
            return []
        q = np.repeat(ok, width[ok])
        slot = np.asarray(index.sa[np.repeat(lo_d[ok], width[ok]) + _ramp(width[ok])]).astype(np.int64)
        # Runs of seeds on one diagonal are one exact stretch: [q_first, q_last + seed_length) symbols.
        diag = slot - q
        o = np.lexsort((q, diag))
        q, slot, diag = q[o], slot[o], diag[o]
        new = np.r_[True, (diag[1:] != diag[:-1]) | (q[1:] != q[:-1] + 1)]
        run_q = q[new]
        run_slot = slot[new]
        run_end = np.r_[q[np.flatnonzero(new)[1:] - 1], q[-1]] + self.seed_length + order  # notes, exclusive
        run_line = index.line_of(run_slot)
        # Chain runs on the same reference line whose diagonals differ by at most max_edits.
        o = np.lexsort((run_q, run_line))
        run_q, run_slot, run_end, run_line = run_q[o], run_slot[o], run_end[o], run_line[o]
        line_notes = piece.notes[stream.line.notes]
        q_pitch = line_notes["pitch"].astype(np.int64)
        q_onset = line_notes["onset"].astype(np.float64)
        ioi = np.diff(q_onset)
        tol = 0.25 * float(np.median(ioi)) if len(ioi) else 1.0
        found: list[VariedMatch] = []
        i = 0
        while i < len(run_q):
            j = i
            while (
                j + 1 < len(run_q)
                and run_line[j + 1] == run_line[i]
                and run_q[j + 1] <= run_end[j] + self.max_edits
                and abs((run_slot[j + 1] - run_q[j + 1]) - (run_slot[j] - run_q[j])) <= self.max_edits
                and run_slot[j + 1] > run_slot[j]
            ):
                j += 1
            v = self._align(
                li,
                stream,
                q_pitch,
                q_onset,
                tol,
                (run_q[i], run_slot[i]),
                (run_q[j], run_slot[j], run_end[j]),
            )
            if v is not None:
                found.append(v)
            i = j + 1
        return _best_per_region(found)

    def _align(
        self,
        li: int,
        stream: Stream,
        q_pitch: np.ndarray,
        q_onset: np.ndarray,
        tol: float,
        first: tuple[int, int],
        last: tuple[int, int, int],
    ) -> VariedMatch | None:
        """Align around a seed chain: ``first`` = (query line note, reference slot) where its first run
        starts, ``last`` = (query note, slot, query end note) of its last run."""
        index = self.index
        qa, sa = int(first[0]), int(first[1])
        q_last, s_last_run, q_core_end = (int(x) for x in last)
        line = int(index.line_of(np.array([sa]))[0])
        line_start, line_end = int(index.line_offsets[line]), int(index.line_offsets[line + 1])
        line_end = line_start + int(np.count_nonzero(np.asarray(index.note[line_start:line_end]) >= 0))
        q_hi = min(len(q_pitch), q_core_end + self.extension)
        s_hi = min(line_end, s_last_run + (q_core_end - q_last) + self.extension + self.max_edits)
        q_lo = max(0, qa - self.extension)
        s_lo = max(line_start, sa - self.extension - self.max_edits)
        s_pitch = np.asarray(index.pitch[s_lo:s_hi]).astype(np.int64)
        s_onset = np.asarray(index.onset[s_lo:s_hi]).astype(np.float64)
        a = sa - s_lo  # anchor inside the source window
        # Tempo ratio from the anchor to the last note of the last run (exact on both sides).
        scale = 1.0
        q_core = min(q_core_end, len(q_pitch)) - 1
        s_core = s_last_run + (q_core - q_last) - s_lo
        if index.invariance in _TEMPO_FREE and 0 <= s_core < len(s_onset) and s_onset[s_core] > s_onset[a]:
            scale = (q_onset[q_core] - q_onset[qa]) / (s_onset[s_core] - s_onset[a])
        qp = q_pitch[q_lo:q_hi] - q_pitch[qa]
        qt = q_onset[q_lo:q_hi] - q_onset[qa]
        sp = s_pitch - s_pitch[a]
        st = (s_onset - s_onset[a]) * scale
        same = np.abs(qt[:, None] - st[None, :]) <= tol
        if index.invariance not in _PITCHLESS:
            same &= qp[:, None] == sp[None, :]
        qa_w = qa - q_lo
        fwd_i, fwd_j, fwd_e = _extend(same[qa_w:, a:], self.max_edits)
        back_i, back_j, back_e = _extend(same[:qa_w, :a][::-1, ::-1], self.max_edits - fwd_e)
        edits = fwd_e + back_e
        start, end = qa - back_i, qa + fwd_i
        span = end - start
        matched = span - edits
        if edits == 0 or matched < self.min_length + stream.order or edits > max(1, self.edit_rate * span):
            return None
        s_first, s_last = s_lo + a - back_j, s_lo + a + fwd_j - 1
        source = self._source(s_first, s_last - s_first + 1, int(q_pitch[start]))
        source.transposition = int(q_pitch[qa]) - int(index.pitch[sa])
        return VariedMatch(li, int(start), int(end), stream.line.notes[start:end], edits, matched, source)


def _extend(same: np.ndarray, budget: int) -> tuple[int, int, int]:
    """Best free-end alignment of two note sequences from their starts (``same[i, j]``: notes agree).

    Levenshtein DP, vectorized per row; the chosen end ``(i, j)`` closes on an agreeing pair and
    maximizes ``agreements - edits`` (so an edit needs two agreeing notes after it to be taken) with at most ``budget``
    edits. Returns (query notes, reference notes, edits).
    """
    n_q, n_s = same.shape
    if n_q == 0 or n_s == 0 or budget < 0:
        return 0, 0, 0
    big = n_q + n_s + 1
    prev = np.arange(n_s + 1, dtype=np.int64)
    best = (0, 0, 0, 0)  # score, i, j, edits
    cols = np.arange(n_s + 1)
    for i in range(1, n_q + 1):
        diag = prev[:-1] + np.where(same[i - 1], 0, 1)
        tmp = np.empty(n_s + 1, np.int64)
        tmp[0] = i
        tmp[1:] = np.minimum(prev[1:] + 1, diag)
        row = cols + np.minimum.accumulate(tmp - cols)
        ends = np.flatnonzero(same[i - 1] & (diag == row[1:]) & (row[1:] <= budget)) + 1
        if len(ends):
            e = row[ends]
            score = i - 2 * e
            k = int(np.lexsort((e, -score))[0])
            if score[k] > best[0] or (score[k] == best[0] and e[k] < best[3]):
                best = (int(score[k]), i, int(ends[k]), int(e[k]))
        prev = np.minimum(row, big)
        if prev.min() > budget:
            break
    return best[1], best[2], best[3]


def _best_per_region(found: list[VariedMatch]) -> list[VariedMatch]:
    """Drop varied copies that overlap a better one (more agreeing notes, then fewer edits) by half."""
    kept: list[VariedMatch] = []
    for v in sorted(found, key=lambda v: (-v.matched, v.edits, v.source.piece)):
        overlap = any(min(v.end, k.end) - max(v.start, k.start) > (v.end - v.start) / 2 for k in kept)
        if not overlap:
            kept.append(v)
    return kept


def _ramp(lengths: np.ndarray) -> np.ndarray:
    """``[0..l0-1, 0..l1-1, ...]`` for run lengths ``lengths``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    return np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def match_piece(piece: Piece, index: Index, **params: object) -> PieceMatches:
    """Match one piece against ``index`` with :class:`Matcher` parameters ``params``."""
    return Matcher(index, **params).match_piece(piece)
