"""Matching a query piece against a reference :class:`~remixmusic.index.Index`: exact and varied copies.

Three questions, for every note of every line of the query:

1. *How long a stretch starting here exists somewhere in the reference?* These are the matching
   statistics, the per-token novelty measure of RAVEN (McCoy et al., 2023) computed with the suffix-array
   range narrowing of infini-gram (Liu et al., 2024); see :meth:`Index.matching_statistics`.
2. *Is that chance, an idiom, or a quotation?* Random material reaches some length against a large
   reference by chance: matches must be longer than the index's chance length (the 99th percentile of
   the matching statistics of shuffled reference lines, :meth:`Index.estimate_chance_length`). Length is
   not enough for low-complexity material (repeated notes, scale runs, trills), which a shuffle cannot
   produce but every corpus is full of: a match must also carry more information than chance matches
   reach, in bits (:mod:`remixmusic.information`; the bit-score criterion of sequence search, with a
   short-term model so a passage that repeats itself is cheap). A long match below that information, or
   one that many reference pieces contain (document frequency ``>= stock_df``: cadences, common
   formulas), is a stock idiom, not a quotation of one piece. Varied copies must pass the same
   information test on their reference passage.
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
from collections.abc import Sequence
from typing import Any

import numpy as np

from remixmusic._util.arrays import ramp
from remixmusic.errors import ConfigError, RemixError
from remixmusic.music.notes import Piece
from remixmusic.novelty.config import MatchConfig
from remixmusic.novelty.index import Index
from remixmusic.novelty.matches import (
    _PITCHLESS,
    _TEMPO_FREE,
    LineMatches,
    Match,
    PieceMatches,
    Source,
    VariedMatch,
)
from remixmusic.novelty.symbols import Stream


class Matcher:
    """Matches query pieces against one reference index (settings here, then :meth:`match_piece`).

    ``config``: a :class:`~remixmusic.novelty.config.MatchConfig` (defaults when ``None``; see it for
    every setting and unit); keyword ``overrides`` replace its fields (``Matcher(index, near=False)``).
    Its ``None`` thresholds are derived from ``index``: ``min_length`` is ``index.chance_length + 2``,
    two symbols past the 99th percentile of chance, since each chance hit covers ``min_length + order``
    notes and real query material has more structure than shuffled symbols; ``min_bits`` is
    ``index.chance_bits`` (see :mod:`remixmusic.novelty.information`); ``stock_df`` is ``max(5, 1% of
    the reference pieces)``; ``seed_length`` is ``max(3, min_length // 2)``. ``config`` holds the
    resolved settings, and ``min_length``, ``min_bits``, ``stock_df``, ``seed_length`` the derived ones.

    Raises:
        ConfigError: an unknown override or an invalid setting.
        RemixError: the index has no symbol model (an index of an older version).
    """

    def __init__(self, index: Index, config: MatchConfig | None = None, **overrides: Any) -> None:
        if config is not None and not isinstance(config, MatchConfig):
            raise ConfigError(f"Matcher config must be a MatchConfig, not {type(config).__name__}")
        if index.model is None:
            raise RemixError("the reference index has no symbol model; rebuild it")
        self.index = index
        self.model = index.model
        self.config = (config or MatchConfig()).replace(**overrides).resolve(index)
        resolved = self.config
        assert resolved.min_length is not None and resolved.min_bits is not None  # resolve() set them
        assert resolved.stock_df is not None and resolved.seed_length is not None
        self.min_length: int = resolved.min_length
        self.min_bits: float = resolved.min_bits
        self._bits_now = self.min_bits  # the information threshold of the piece being matched
        self.stock_df: int = resolved.stock_df
        self.seed_length: int = resolved.seed_length

    @property
    def parameters(self) -> dict[str, Any]:
        """The index's views and chance thresholds with the resolved :attr:`config`'s settings (what
        :attr:`PieceMatches.parameters` records)."""
        index = self.index
        views = {"invariance": index.invariance, "lines": index.lines}
        chance = {"chance_length": index.chance_length, "chance_bits": index.chance_bits}
        return {**views, **chance, **self.config.to_dict()}

    # -- one line -----------------------------------------------------------------------------------
    def _line_matches(self, stream: Stream, piece: Piece, stats: tuple[np.ndarray, ...]) -> LineMatches:
        """Per-symbol results of one stream from its matching statistics ``(length, lo, hi, ...)``."""
        index = self.index
        length, lo, hi = stats[:3]
        has = length > 0
        slot = np.full(len(length), -1, np.int64)
        slot[has] = index.sa[lo[has]]
        source_piece = np.full(len(length), -1, np.int32)
        source_piece[has] = index.piece[slot[has]]
        transposition = np.zeros(len(length), np.int16)
        query_pitch = piece.notes["pitch"][stream.note_index].astype(np.int16)
        transposition[has] = query_pitch[has] - index.pitch[slot[has]]
        return LineMatches(
            stream,
            length.astype(np.int32),
            hi - lo,
            self._doc_freq(lo, hi),
            source_piece,
            slot,
            transposition,
            lo,
            hi,
        )

    def _doc_freq(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Distinct pieces among the first ``df_cap`` occurrences of each suffix-array range."""
        take = np.minimum(hi - lo, self.config.df_cap)
        if take.sum() == 0:
            return np.zeros(len(lo), np.int32)
        owner = np.repeat(np.arange(len(lo)), take)
        pieces = self.index.piece[self.index.sa[np.repeat(lo, take) + ramp(take)]].astype(np.int64)
        pairs = np.unique(owner * (self.index.n_pieces + 1) + pieces)
        return np.bincount(pairs // (self.index.n_pieces + 1), minlength=len(lo)).astype(np.int32)

    def _sources(self, lo: int, hi: int, query_pitch: int, n_notes: int) -> list[Source]:
        """Up to ``max_sources`` occurrences from distinct pieces in ``sa[lo:hi]``."""
        index = self.index
        slots = np.asarray(index.sa[lo : min(hi, lo + self.config.df_cap)]).astype(np.int64)
        _, first = np.unique(index.piece[slots], return_index=True)
        return [self._source(int(s), n_notes, query_pitch) for s in slots[np.sort(first)][: self.config.max_sources]]

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
            slot=slot,
            n_notes=n_notes,
        )

    def piece_min_bits(self, n_query_symbols: int) -> float:
        """Least information (bits) of a copy in a piece of ``n_query_symbols`` symbols: the calibrated
        ``min_bits``, raised so that chance copies stay below ``false_copies`` per piece (an E-value bound:
        ``log2(reference symbols * query symbols / false_copies)``; see :class:`MatchConfig`)."""
        n_ref = max(int(self.index.n_symbols), 1)
        e_bound = math.log2(n_ref * max(n_query_symbols, 1) / self.config.false_copies)
        return max(self.min_bits, e_bound)

    # -- a whole piece ------------------------------------------------------------------------------
    def match_piece(self, piece: Piece) -> PieceMatches:
        """Match one piece (see :class:`PieceMatches` for what comes back)."""
        return self.match_pieces([piece])[0]

    def match_pieces(self, pieces: Sequence[Piece], batch_symbols: int = 200_000) -> list[PieceMatches]:
        """Match many pieces; their matching statistics are computed in vectorized batches of about
        ``batch_symbols`` query symbols, which is much faster than one piece at a time."""
        out: list[PieceMatches] = []
        batch: list[tuple[Piece, list[Stream]]] = []
        size = 0
        for piece in pieces:
            streams = self.index.streams(piece)
            batch.append((piece, streams))
            size += sum(len(st.symbols) for st in streams)
            if size >= batch_symbols:
                out.extend(self._match_batch(batch))
                batch, size = [], 0
        return out + self._match_batch(batch)

    def _match_batch(self, batch: list[tuple[Piece, list[Stream]]]) -> list[PieceMatches]:
        flat = [st.symbols for _, streams in batch for st in streams]
        stats = self.index.matching_statistics_many(flat, self.seed_length)
        out, at = [], 0
        for piece, streams in batch:
            out.append(self._match_one(piece, streams, stats[at : at + len(streams)]))
            at += len(streams)
        return out

    def _match_one(self, piece: Piece, streams: list[Stream], all_stats: list[tuple]) -> PieceMatches:
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
        min_bits = self.piece_min_bits(sum(len(st.symbols) for st in streams))
        self._bits_now = min_bits
        for li, (stream, stats) in enumerate(zip(streams, all_stats, strict=True)):
            lm = self._line_matches(stream, piece, stats)
            lines.append(lm)
            notes = stream.line.notes
            in_line[notes] = True
            ms = lm.match_length.astype(np.int64)
            prev_end = np.concatenate([[0], np.arange(len(ms) - 1) + ms[:-1]])
            maximal = np.flatnonzero((ms > 0) & (np.arange(len(ms)) + ms > prev_end))
            span = ms[maximal] + order
            pos = np.repeat(maximal, span) + ramp(span)
            cover_note.append(notes[pos])
            cover_len.append(np.repeat(span, span))
            cover_line.append(np.full(len(pos), li))
            cover_pos.append(np.repeat(maximal, span))
            long_enough = maximal[ms[maximal] >= self.min_length]
            bits = self.model.passage_bits(stream.symbols, long_enough, ms[long_enough])
            for i, b in zip(long_enough, bits, strict=True):
                lo, hi = int(lm.sa_lo[i]), int(lm.sa_hi[i])
                m = Match(
                    line=li,
                    start=int(i),
                    length=int(ms[i]),
                    notes=notes[i : i + ms[i] + order],
                    count=int(lm.count[i]),
                    doc_freq=int(lm.doc_freq[i]),
                    bits=float(b),
                    low_information=bool(b < min_bits),
                    stock=bool(lm.doc_freq[i] >= self.stock_df or b < min_bits),
                    sources=self._sources(lo, hi, int(piece.notes["pitch"][notes[i]]), int(ms[i]) + order),
                )
                matches.append(m)
                (stock if m.stock else copied)[m.notes] = True
            if self.config.near:
                varied.extend(self._varied(li, stream, piece, stats[3], stats[4]))
        if any(len(c) for c in cover_note):
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
            min_bits=min_bits,
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
        self, li: int, stream: Stream, piece: Piece, lo_d: np.ndarray, hi_d: np.ndarray
    ) -> list[VariedMatch]:
        """Seed, chain and align varied copies of one query line (see the module docstring).

        Seeds are the occurrences of the ``seed_length``-symbol prefix at every query position (skipped
        where there are more than ``max_seed_occurrences``); seeds on one diagonal form an exact run;
        runs on one reference line, in query order, with diagonals at most ``max_edits`` apart and a
        small gap form a chain. Each chain is aligned once, all chains together.
        """
        index = self.index
        order = index.order
        width = hi_d - lo_d
        ok = np.flatnonzero((width > 0) & (width <= self.config.max_seed_occurrences))
        if len(ok) == 0:
            return []
        q = np.repeat(ok, width[ok])
        slot = np.asarray(index.sa[np.repeat(lo_d[ok], width[ok]) + ramp(width[ok])]).astype(np.int64)
        diag = slot - q
        o = np.lexsort((q, diag))
        q, slot, diag = q[o], slot[o], diag[o]
        new = np.r_[True, (diag[1:] != diag[:-1]) | (q[1:] != q[:-1] + 1)]
        run_q, run_slot = q[new], slot[new]
        run_end = np.r_[q[np.flatnonzero(new)[1:] - 1], q[-1]] + self.seed_length + order  # notes, exclusive
        run_line = index.line_of(run_slot)
        o = np.lexsort((run_q, run_line))
        run_q, run_slot, run_end, run_line = run_q[o], run_slot[o], run_end[o], run_line[o]
        run_diag = run_slot - run_q
        # A run continues the chain of the run before it when both are on one reference line, it starts
        # within max_edits notes of that run's end, on a diagonal at most max_edits away, further on.
        link = (
            (run_line[1:] == run_line[:-1])
            & (run_q[1:] <= run_end[:-1] + self.config.max_edits)
            & (np.abs(np.diff(run_diag)) <= self.config.max_edits)
            & (run_slot[1:] > run_slot[:-1])
        )
        first = np.flatnonzero(np.r_[True, ~link])
        last = np.r_[first[1:] - 1, len(run_q) - 1]
        # Align only the chains with the longest exact parts (near-duplicate-rich corpora give many).
        top = np.argsort(-(run_end[last] - run_q[first]), kind="stable")[: self.config.max_chains]
        first, last = first[top], last[top]
        return self._align(
            li,
            stream,
            piece,
            run_q[first],
            run_slot[first],
            run_q[last],
            run_slot[last],
            run_end[last],
            run_line[first],
        )

    def _align(
        self,
        li: int,
        stream: Stream,
        piece: Piece,
        qa: np.ndarray,
        sa: np.ndarray,
        q_last: np.ndarray,
        s_last: np.ndarray,
        q_end: np.ndarray,
        line: np.ndarray,
    ) -> list[VariedMatch]:
        """Align all chains of one query line at once: chain ``c`` starts at query line note ``qa[c]`` /
        reference slot ``sa[c]``; its last run starts at ``q_last[c]`` / ``s_last[c]`` and its exact part
        ends (exclusive) at query note ``q_end[c]``; ``line`` is the reference line."""
        index = self.index
        notes = piece.notes[stream.line.notes]
        q_pitch = notes["pitch"].astype(np.int64)
        q_onset = notes["onset"].astype(np.float64)
        n_q = len(q_pitch)
        ioi = np.diff(q_onset)
        tol = 0.25 * float(np.median(ioi)) if len(ioi) else 1.0
        ext, budget = self.config.extension, self.config.max_edits
        q_end = np.minimum(q_end, n_q)
        line_start = index.line_offsets[line]
        line_end = line_start + _line_notes(index, line)
        q_lo = np.maximum(0, qa - ext)
        q_hi = np.minimum(n_q, q_end + ext)
        s_lo = np.maximum(line_start, sa - ext - budget)
        s_hi = np.minimum(line_end, s_last + (q_end - q_last) + ext + budget)
        # Tempo ratio from the anchor to the last exact note of the chain (exact on both sides).
        s_core = s_last + (q_end - 1 - q_last)
        scale = np.ones(len(qa))
        if index.invariance in _TEMPO_FREE:
            span_s = np.asarray(index.onset[s_core]) - np.asarray(index.onset[sa])
            span_q = q_onset[q_end - 1] - q_onset[qa]
            scale = np.where(span_s > 0, span_q / np.maximum(span_s, 1), 1.0)
        fq, fs = int((q_hi - qa).max()), int((s_hi - sa).max())
        bq, bs = int((qa - q_lo).max()), int((sa - s_lo).max())
        fwd = np.zeros((len(qa), fq, fs), bool)
        back = np.zeros((len(qa), max(bq, 1), max(bs, 1)), bool)
        for c in range(len(qa)):
            s_pitch = np.asarray(index.pitch[s_lo[c] : s_hi[c]]).astype(np.int64)
            s_onset = np.asarray(index.onset[s_lo[c] : s_hi[c]]).astype(np.float64)
            a = sa[c] - s_lo[c]
            qt = q_onset[q_lo[c] : q_hi[c]] - q_onset[qa[c]]
            st = (s_onset - s_onset[a]) * scale[c]
            same = np.abs(qt[:, None] - st[None, :]) <= tol
            if index.invariance not in _PITCHLESS:
                qp = q_pitch[q_lo[c] : q_hi[c]] - q_pitch[qa[c]]
                same &= qp[:, None] == (s_pitch - s_pitch[a])[None, :]
            qa_w = qa[c] - q_lo[c]
            f = same[qa_w:, a:]
            fwd[c, : f.shape[0], : f.shape[1]] = f
            r = same[:qa_w, :a][::-1, ::-1]
            back[c, : r.shape[0], : r.shape[1]] = r
        fwd_i, fwd_j, fwd_e = _extend(fwd, q_hi - qa, s_hi - sa, np.full(len(qa), budget))
        back_i, back_j, back_e = _extend(back, qa - q_lo, sa - s_lo, budget - fwd_e)
        edits = fwd_e + back_e
        start, end = qa - back_i, qa + fwd_i
        span = end - start
        matched = span - edits
        # Information of each reference passage: its symbols (notes minus order) within its line.
        s_first = sa - back_j
        n_sym = np.maximum(back_j + fwd_j - index.order, 0)
        at = np.repeat(s_first, n_sym) + ramp(n_sym)
        bits = self.model.passage_bits(np.asarray(index.text[at]), np.cumsum(n_sym) - n_sym, n_sym)
        keep = (
            (edits > 0)
            & (matched >= self.min_length + stream.order)
            & (edits <= np.maximum(1, self.config.edit_rate * span))
            & (bits >= self._bits_now)
        )
        # Best first (most agreeing notes, then fewest edits). One overlapping a better one by more than half
        # its span is not a copy of its own: it is another source of that one (other pieces only, as for
        # exact matches, up to max_sources).
        piece_of = np.asarray(index.piece[sa])
        kept: dict[int, list[int]] = {}
        for c in np.lexsort((piece_of, edits, -matched)):
            if not keep[c]:
                continue
            better = [k for k in kept if min(end[c], end[k]) - max(start[c], start[k]) > span[c] / 2]
            if not better:
                kept[int(c)] = [int(c)]
            elif len(kept[better[0]]) < self.config.max_sources and piece_of[c] not in piece_of[kept[better[0]]]:
                kept[better[0]].append(int(c))

        def source(c: int) -> Source:
            first = int(s_first[c])
            src = self._source(first, int(sa[c] + fwd_j[c]) - first, int(q_pitch[qa[c]]))
            src.transposition = int(q_pitch[qa[c]]) - int(index.pitch[sa[c]])
            return src

        return [
            VariedMatch(
                li,
                int(start[c]),
                int(end[c]),
                stream.line.notes[start[c] : end[c]],
                int(edits[c]),
                int(matched[c]),
                float(bits[c]),
                [source(k) for k in others],
            )
            for c, others in kept.items()
        ]


def _line_notes(index: Index, line: np.ndarray) -> np.ndarray:
    """Number of note slots of each reference line (its slots minus the trailing separator padding)."""
    slots = index.line_offsets[line + 1] - index.line_offsets[line]
    return slots - (1 if index.order == 0 else 0)


def _extend(same: np.ndarray, n_q: np.ndarray, n_s: np.ndarray, budget: np.ndarray):
    """Best free-end alignments of note sequences from their starts, for a batch of pairs.

    ``same[b, i, j]``: query note ``i`` and reference note ``j`` of pair ``b`` agree (the first ``n_q[b]``
    and ``n_s[b]`` notes are real). Levenshtein DP, one query note per step for all pairs at once; the
    chosen end ``(i, j)`` closes on an agreeing pair and maximizes ``agreements - edits`` (an edit needs
    two agreeing notes after it to be taken) with at most ``budget[b]`` edits, then fewest edits.
    Returns per pair (query notes, reference notes, edits).
    """
    batch, rows, cols_n = same.shape
    cols = np.arange(cols_n + 1)
    prev = np.broadcast_to(cols, (batch, cols_n + 1)).astype(np.int64)
    weight = rows + cols_n + 2
    best_key = np.zeros(batch, np.int64)
    best_i, best_j, best_e = (np.zeros(batch, np.int64) for _ in range(3))
    col_ok = cols[None, 1:] <= n_s[:, None]
    budget = np.asarray(budget)
    for i in range(1, rows + 1):
        agree = same[:, i - 1, :]
        diag = prev[:, :-1] + ~agree
        tmp = np.empty_like(prev)
        tmp[:, 0] = i
        tmp[:, 1:] = np.minimum(prev[:, 1:] + 1, diag)
        row = cols + np.minimum.accumulate(tmp - cols, axis=1)
        e = row[:, 1:]
        end_ok = agree & (diag == e) & (e <= budget[:, None]) & col_ok & (i <= n_q)[:, None]
        key = np.where(end_ok, (i - 2 * e) * weight - e, np.iinfo(np.int64).min)
        k = np.argmax(key, axis=1)
        kv = key[np.arange(batch), k]
        better = kv > best_key
        best_key = np.where(better, kv, best_key)
        best_i = np.where(better, i, best_i)
        best_j = np.where(better, k + 1, best_j)
        best_e = np.where(better, e[np.arange(batch), k], best_e)
        prev = row
        if np.all(row.min(axis=1) > budget):
            break
    return best_i, best_j, best_e


def match_piece(
    piece: Piece, index: Index, config: MatchConfig | None = None, **overrides: Any
) -> PieceMatches:
    """Match one piece against ``index``: ``Matcher(index, config, **overrides).match_piece(piece)``.

    Raises:
        ConfigError: an unknown override or an invalid setting.
    """
    return Matcher(index, config, **overrides).match_piece(piece)
