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
   formulas), is a stock idiom, not a quotation of one piece. Varied copies must pass the same test
   with their bit score: the information of the reference symbols they reproduce, less the freedom of
   their edits (:mod:`remixmusic.novelty.edits`).
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
from remixmusic.novelty.joins import merge_copies
from remixmusic.novelty.matches import (
    LineMatches,
    Match,
    PieceMatches,
    Source,
    VariedMatch,
)
from remixmusic.novelty.symbols import Stream
from remixmusic.novelty.varied import VariedCopies


class Matcher(VariedCopies):
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
        self._varied_bits_now = self.min_bits  # ... and of its varied copies
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
        """Distinct reference tune groups among the first ``df_cap`` occurrences of each suffix-array
        range (:attr:`Index.piece_group`: near-duplicate groups of a dataset reference, so five
        harmonisations of one tune count once; pieces when the index knows no groups)."""
        take = np.minimum(hi - lo, self.config.df_cap)
        if take.sum() == 0:
            return np.zeros(len(lo), np.int32)
        owner = np.repeat(np.arange(len(lo)), take)
        pieces = self.index.piece[self.index.sa[np.repeat(lo, take) + ramp(take)]].astype(np.int64)
        groups, n = self.index.piece_group[pieces], self.index.n_groups + 1
        pairs = np.unique(owner * n + groups)
        return np.bincount(pairs // n, minlength=len(lo)).astype(np.int32)

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
            onset_first=float(index.exact_onset(slot)),
            onset_last=float(index.exact_onset(last)),
            transposition=int(query_pitch) - int(index.pitch[slot]),
            slot=slot,
            n_notes=n_notes,
        )

    def piece_min_bits(self, n_query_symbols: int, varied: bool = False) -> float:
        """Least information (bits) of a copy in a piece of ``n_query_symbols`` symbols: the calibrated
        ``min_bits``, raised so that chance copies stay below ``false_copies`` per piece (an E-value bound:
        ``log2(reference symbols * query symbols / false_copies)``; see :class:`MatchConfig`). With
        ``varied``: the bound of varied copies (``varied_false_copies`` when set)."""
        n_ref = max(int(self.index.n_symbols), 1)
        allowed = self.config.false_copies
        if varied and self.config.varied_false_copies is not None:
            allowed = self.config.varied_false_copies
        e_bound = math.log2(n_ref * max(n_query_symbols, 1) / allowed)
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
        stats = self.index.matching_statistics_many(flat, self.seed_length, self.config.max_seed_occurrences)
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
        n_symbols = sum(len(st.symbols) for st in streams)
        min_bits = self.piece_min_bits(n_symbols)
        self._bits_now = min_bits
        self._varied_bits_now = self.piece_min_bits(n_symbols, varied=True)
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
                found = self._varied(li, stream, piece, stats[3], stats[4], stats[5])
                cap = self.config.max_seed_occurrences
                exact = []
                for m in matches:
                    if m.line == li:
                        lo = int(lm.sa_lo[m.start])
                        exact.append((m.start, m.start + m.n_notes, index.sa[lo : min(int(lm.sa_hi[m.start]), lo + cap)]))
                varied.extend(merge_copies(self, li, stream, piece, exact, found))
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

def match_piece(
    piece: Piece, index: Index, config: MatchConfig | None = None, **overrides: Any
) -> PieceMatches:
    """Match one piece against ``index``: ``Matcher(index, config, **overrides).match_piece(piece)``.

    Raises:
        ConfigError: an unknown override or an invalid setting.
    """
    return Matcher(index, config, **overrides).match_piece(piece)
