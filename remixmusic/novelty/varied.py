"""Varied copies: seeds, chains and banded note alignment, with edit scripts.

An exact match stops at the first changed note; a varied copy survives a few edits. Following the
seed-and-extend design of sequence search (BLAST: Altschul et al. 1990), short exact seeds (the
``seed_length``-symbol prefixes of the matching statistics) that sit on one reference line are chained
in query order (co-linear runs on nearby diagonals), and each chain is extended by a banded edit
alignment on notes (Levenshtein distance over notes, as in the melodic edit distance of Mongeau &
Sankoff 1990): two notes agree when their pitches relative to the chain's anchor are equal (``rhythm``
and ``contour`` ignore pitch) and their onsets, the reference's scaled by the chain's tempo ratio, are
within a quarter of the query's median inter-onset interval. The edits of each copy are then grouped:
a changed note, a deleted note, an inserted note, a passing note (one inserted note between two
aligned notes, its pitch strictly between theirs) and an ornament (notes inserted inside one reference
inter-onset interval: a turn, a trill, grace notes) each count as one edit.

:class:`VariedCopies` is a mixin of :class:`~remixmusic.novelty.match.Matcher` (it uses the matcher's
index, config, symbol model and information threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from remixmusic._util.arrays import ramp
from remixmusic.music.notes import Piece
from remixmusic.novelty.matches import _PITCHLESS, _TEMPO_FREE, Source, VariedMatch
from remixmusic.novelty.symbols import Stream

if TYPE_CHECKING:
    from remixmusic.novelty.config import MatchConfig
    from remixmusic.novelty.index import Index
    from remixmusic.novelty.information import SymbolModel

class VariedCopies:
    """Finding varied copies on one query line (mixed into the matcher)."""

    index: Index
    config: MatchConfig
    model: SymbolModel
    min_length: int
    seed_length: int
    _bits_now: float

    def _source(self, slot: int, n_notes: int, query_pitch: int) -> Source:
        raise NotImplementedError

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
        # A run continues the chain of the run before it when both are on one reference line, further on,
        # on a diagonal at most ``raw`` notes away and starting within ``raw + order + 1`` notes of that
        # run's end: ``raw`` (twice the edit budget) note insertions or deletions, since an ornament
        # inserts several notes as one edit, and one edit breaks the ``order + 1`` symbols that see it.
        raw = 2 * self.config.max_edits
        link = (
            (run_line[1:] == run_line[:-1])
            & (run_q[1:] <= run_end[:-1] + raw + order + 1)
            & (np.abs(np.diff(run_diag)) <= raw)
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
        windows: list[np.ndarray] = []  # per chain: agreement of query x reference notes in its window
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
            windows.append(same)
        # Raw (note) edits may exceed the budget: an ornament inserts several notes but is one edit.
        raw = 2 * budget
        fwd_i, fwd_j, fwd_e = _extend(fwd, q_hi - qa, s_hi - sa, np.full(len(qa), raw))
        back_i, back_j, back_e = _extend(back, qa - q_lo, sa - s_lo, raw - fwd_e)
        raw_edits = fwd_e + back_e
        start, end = qa - back_i, qa + fwd_i
        s_first, s_stop = sa - back_j, sa + fwd_j
        min_notes = self.min_length + stream.order
        maybe = np.flatnonzero((raw_edits > 0) & (end - start - raw_edits >= min_notes - budget))
        if len(maybe) == 0:
            return []
        # Information of each candidate's reference passage: its symbols (notes minus order) in its line.
        n_sym = np.maximum(s_stop[maybe] - s_first[maybe] - index.order, 0)
        at = np.repeat(s_first[maybe], n_sym) + ramp(n_sym)
        bits = np.zeros(len(qa))
        bits[maybe] = self.model.passage_bits(np.asarray(index.text[at]), np.cumsum(n_sym) - n_sym, n_sym)
        found: dict[int, EditScript] = {}
        for c in maybe[bits[maybe] >= self._bits_now]:
            win = windows[c][start[c] - q_lo[c] : end[c] - q_lo[c], s_first[c] - s_lo[c] : s_stop[c] - s_lo[c]]
            q_seg = q_pitch[start[c] : end[c]]
            script = edit_script(win, q_seg, q_onset[start[c] : end[c]])
            if script.n_edits > budget:  # keep the best part within the budget, cut at agreeing notes
                part = within_budget(win, q_seg, budget)
                if part is None:
                    continue
                qa_, qb_, sa_, sb_, script = part
                end[c], start[c] = start[c] + qb_, start[c] + qa_
                s_stop[c], s_first[c] = s_first[c] + sb_, s_first[c] + sa_
                n = max(int(s_stop[c] - s_first[c]) - index.order, 0)
                text = np.asarray(index.text[s_first[c] : s_first[c] + n])
                bits[c] = float(self.model.passage_bits(text, np.array([0]), np.array([n]))[0])
                if bits[c] < self._bits_now:
                    continue
            span = int(end[c] - start[c])
            if (
                0 < script.n_edits <= budget
                and script.n_edits <= max(1, self.config.edit_rate * span)
                and script.agreements >= min_notes
            ):
                found[int(c)] = script
        # Best first (most agreeing notes, then fewest edits, then most information). One overlapping a
        # better one by more than half its span is not a copy of its own: it is another source of that
        # one (other pieces only, as for exact matches, up to max_sources).
        piece_of = np.asarray(index.piece[sa])
        order_ = sorted(found, key=lambda c: (-found[c].agreements, found[c].n_edits, -bits[c], piece_of[c]))
        kept: dict[int, list[int]] = {}
        for c in order_:
            span = end[c] - start[c]
            better = [k for k in kept if min(end[c], end[k]) - max(start[c], start[k]) > span / 2]
            if not better:
                kept[c] = [c]
            elif len(kept[better[0]]) < self.config.max_sources and piece_of[c] not in piece_of[kept[better[0]]]:
                kept[better[0]].append(c)

        def source(c: int) -> Source:
            first = int(s_first[c])
            src = self._source(first, int(s_stop[c]) - first, int(q_pitch[qa[c]]))
            src.transposition = int(q_pitch[qa[c]]) - int(index.pitch[sa[c]])
            return src

        return [
            VariedMatch(
                li,
                int(start[c]),
                int(end[c]),
                stream.line.notes[start[c] : end[c]],
                found[c].n_edits,
                found[c].agreements,
                float(bits[c]),
                [source(k) for k in others],
                script=found[c].text(int(start[c])),
            )
            for c, others in kept.items()
        ]



@dataclass
class EditScript:
    """The edits of a varied copy, from a note alignment (query vs reference passage).

    ``ops``: ``(kind, query position, reference position)`` per edit, positions relative to the passage
    starts (-1 where a side has no note): ``change`` (a note at another pitch or time), ``deletion`` (a
    reference note missing), ``insertion``, ``passing`` (one inserted note between two aligned notes,
    its pitch strictly between theirs) and ``ornament`` (two or more notes inserted inside one reference
    inter-onset interval: a turn, trill or grace group), each counted as one edit. ``agreements``:
    aligned notes that agree.
    """

    ops: list[tuple[str, int, int]]
    agreements: int

    @property
    def n_edits(self) -> int:
        return len(self.ops)

    def text(self, offset: int = 0) -> str:
        """``kind@query line position`` per edit, ``;``-separated (positions shifted by ``offset``)."""
        return ";".join(f"{k}@{q + offset if q >= 0 else 'r' + str(r)}" for k, q, r in self.ops)


def edit_script(same: np.ndarray, q_pitch: np.ndarray, q_onset: np.ndarray) -> EditScript:
    """The fewest-edit alignment of a query passage with a reference passage (Levenshtein distance on
    notes, as in the melodic edit distance of Mongeau & Sankoff 1990, with unit costs) and its edits
    grouped as in :class:`EditScript`. ``same``: (query notes, reference notes) agreement matrix; the
    alignment is global over the two passages."""
    raw = _path(same)
    ops = [op for op, _, _ in _groups(raw, q_pitch)]
    return EditScript(ops, sum(kind == "agree" for kind, _, _ in raw))


def within_budget(
    same: np.ndarray, q_pitch: np.ndarray, budget: int
) -> tuple[int, int, int, int, EditScript] | None:
    """The longest part of an alignment with at most ``budget`` grouped edits, cut at agreeing notes:
    ``(query start, query end, reference start, reference end, script)`` relative to ``same``'s rows and
    columns (ends exclusive), or ``None`` when no part keeps an edit between agreeing notes."""
    raw = _path(same)
    groups = _groups(raw, q_pitch)
    if not groups:
        return None
    bounds = [(lo, hi) for _, lo, hi in groups]  # raw-path index spans of each grouped edit
    best: tuple[int, int] | None = None
    for k in range(len(bounds) - min(budget, len(bounds)) + 1):
        take = bounds[k : k + budget] if budget else []
        if not take:
            break
        lo = bounds[k - 1][1] if k > 0 else 0
        hi = bounds[k + budget][0] if k + budget < len(bounds) else len(raw)
        agree = [t for t in range(lo, hi) if raw[t][0] == "agree"]
        if not agree:
            continue
        first, last = agree[0], agree[-1]
        if first > take[0][0] or last < take[-1][1] - 1:
            continue  # the kept edits must lie between agreeing notes
        n = sum(raw[t][0] == "agree" for t in range(first, last + 1))
        if best is None or n > best[1] - best[0]:
            best = (first, last + 1)
    if best is None:
        return None
    first, last = best[0], best[1] - 1
    qa, qb = raw[first][1], raw[last][1] + 1
    sa, sb = raw[first][2], raw[last][2] + 1
    return qa, qb, sa, sb, edit_script(same[qa:qb, sa:sb], q_pitch[qa:qb], np.zeros(0))


def _path(same: np.ndarray) -> list[tuple[str, int, int]]:
    """A fewest-edit alignment path as ``(kind, query row, reference column)`` steps in order: ``agree``,
    ``change``, ``insertion`` (column: the reference note before it) or ``deletion`` (row -1)."""
    n, m = same.shape
    dist = np.zeros((n + 1, m + 1), np.int64)
    dist[:, 0] = np.arange(n + 1)
    dist[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        diag = dist[i - 1, :-1] + ~same[i - 1]
        row = np.empty(m + 1, np.int64)
        row[0] = i
        row[1:] = np.minimum(dist[i - 1, 1:] + 1, diag)
        dist[i] = np.arange(m + 1) + np.minimum.accumulate(row - np.arange(m + 1))
    raw: list[tuple[str, int, int]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and dist[i, j] == dist[i - 1, j - 1] + (not same[i - 1, j - 1]):
            raw.append(("agree" if same[i - 1, j - 1] else "change", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and dist[i, j] == dist[i - 1, j] + 1:
            raw.append(("insertion", i - 1, j - 1))
            i -= 1
        else:
            raw.append(("deletion", -1, j - 1))
            j -= 1
    raw.reverse()
    return raw


def _groups(raw: list[tuple[str, int, int]], q_pitch: np.ndarray) -> list[tuple[tuple[str, int, int], int, int]]:
    """Grouped edits of a path: ``((kind, query position, reference position), first step, end step)``;
    a run of insertions is one ``ornament`` (two or more notes) or a ``passing`` note (one note between
    two neighbours, its pitch strictly between theirs) or a plain ``insertion``."""
    out: list[tuple[tuple[str, int, int], int, int]] = []
    k = 0
    while k < len(raw):
        kind, qi, rj = raw[k]
        if kind == "agree":
            k += 1
            continue
        if kind != "insertion":
            out.append(((kind, qi, rj), k, k + 1))
            k += 1
            continue
        end = k
        while end < len(raw) and raw[end][0] == "insertion":
            end += 1
        first, last = raw[k][1], raw[end - 1][1]
        before, after = first - 1, last + 1
        if end - k >= 2:
            group = "ornament"
        elif before >= 0 and after < len(q_pitch) and (
            min(q_pitch[before], q_pitch[after]) < q_pitch[first] < max(q_pitch[before], q_pitch[after])
        ):
            group = "passing"
        else:
            group = "insertion"
        out.append(((group, first, rj), k, end))
        k = end
    return out


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
        key = np.where(end_ok, (2 * i - 3 * e) * weight - e, np.iinfo(np.int64).min)
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




def merge_copies(
    finder: VariedCopies,
    li: int,
    stream: Stream,
    piece: Piece,
    exact: list[tuple[int, int, list[Source]]],
    varied: list[VariedMatch],
) -> list[VariedMatch]:
    """The varied copies of one line after joining pieces of one copy: exact matches and varied copies
    that follow each other along the query line and along one reference line, at consistent offsets
    (the gaps differ by at most twice the edit budget), are realigned as one passage; the join is kept
    when it passes the varied-copy tests (edits, edit rate, agreeing notes, information), and it then
    replaces the varied copies it joined. ``exact``: ``(start, end, sources)`` of the line's exact
    matches (line positions)."""
    index, budget = finder.index, finder.config.max_edits
    raw = 2 * budget
    segs = []  # (q0, q1, s0, s1, varied id or -1)
    # An order-2 exact match does not fix its last note's pitch: leave that note to the realignment.
    free = 1 if index.invariance == "transposed+tempo" else 0
    for q0, q1, sources in exact:
        for s in sources:
            if s.slot >= 0 and s.n_notes:
                segs.append((q0, q1 - free, s.slot, s.slot + s.n_notes - free, -1))
    for k, v in enumerate(varied):
        s = v.source
        if s.slot >= 0 and s.n_notes:
            segs.append((v.start, v.end, s.slot, s.slot + s.n_notes, k))
    if len(segs) < 2:
        return varied
    arr = np.asarray(segs, np.int64)
    ref_line = index.line_of(arr[:, 2])
    order = np.lexsort((arr[:, 2], arr[:, 0], ref_line))
    chains: list[list[int]] = []
    for i in order:
        q0, q1, s0, s1, _ = arr[i]
        if chains:
            c = chains[-1]
            cq0, cq1 = arr[c, 0].min(), arr[c, 1].max()
            cs0, cs1 = arr[c, 2].min(), arr[c, 3].max()
            if (
                ref_line[c[0]] == ref_line[i]
                and q1 > cq1
                and cq0 <= q0 <= cq1 + raw + 1
                and cs0 <= s0 <= cs1 + raw + 1
                and abs(int(q0 - cq1) - int(s0 - cs1)) <= raw
            ):
                c.append(int(i))
                continue
        chains.append([int(i)])
    notes = piece.notes[stream.line.notes]
    q_pitch = notes["pitch"].astype(np.int64)
    q_onset = notes["onset"].astype(np.float64)
    ioi = np.diff(q_onset)
    tol = 0.25 * float(np.median(ioi)) if len(ioi) else 1.0
    min_notes = finder.min_length + stream.order
    joined: list[VariedMatch] = []
    replaced: set[int] = set()
    for c in chains:
        if len(c) < 2:
            continue
        q0, q1 = int(arr[c, 0].min()), int(arr[c, 1].max())
        s0, s1 = int(arr[c, 2].min()), int(arr[c, 3].max())
        s_pitch = np.asarray(index.pitch[s0:s1]).astype(np.int64)
        s_onset = np.asarray(index.onset[s0:s1]).astype(np.float64)
        span_s, span_q = s_onset[-1] - s_onset[0], q_onset[q1 - 1] - q_onset[q0]
        scale = span_q / span_s if span_s > 0 and index.invariance in _TEMPO_FREE else 1.0
        same = np.abs((q_onset[q0:q1] - q_onset[q0])[:, None] - ((s_onset - s_onset[0]) * scale)[None, :]) <= tol
        if index.invariance not in _PITCHLESS:
            same &= (q_pitch[q0:q1] - q_pitch[q0])[:, None] == (s_pitch - s_pitch[0])[None, :]
        script = edit_script(same, q_pitch[q0:q1], q_onset[q0:q1])
        if not (
            0 < script.n_edits <= budget
            and script.n_edits <= max(1, finder.config.edit_rate * (q1 - q0))
            and script.agreements >= min_notes
        ):
            continue
        n_sym = max(s1 - s0 - index.order, 0)
        bits = float(finder.model.passage_bits(np.asarray(index.text[s0 : s0 + n_sym]), np.array([0]), np.array([n_sym]))[0])
        if bits < finder._bits_now:
            continue
        sources = [finder._source(s0, s1 - s0, int(q_pitch[q0]))]
        for k in sorted({int(arr[i, 4]) for i in c if arr[i, 4] >= 0}):  # the joined copies' other variants
            for other in varied[k].sources:
                if other.piece not in {x.piece for x in sources} and len(sources) < finder.config.max_sources:
                    sources.append(other)
        joined.append(
            VariedMatch(
                li, q0, q1, stream.line.notes[q0:q1], script.n_edits, script.agreements, bits, sources,
                script=script.text(q0),
            )
        )
        replaced.update(int(arr[i, 4]) for i in c if arr[i, 4] >= 0)
    return [v for k, v in enumerate(varied) if k not in replaced] + joined
