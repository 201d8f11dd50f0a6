"""Varied copies: seeds, chains and banded note alignment.

An exact match stops at the first changed note; a varied copy survives a few edits. Following the
seed-and-extend design of sequence search (BLAST: Altschul et al. 1990), short exact seeds (the
``seed_length``-symbol prefixes of the matching statistics) that sit on one reference line are chained
in query order (co-linear runs on nearby diagonals; chains with two hits first, as in Gapped BLAST,
Altschul et al. 1997), and each chain is extended by a banded edit alignment on notes (Levenshtein
distance over notes, as in the melodic edit distance of Mongeau & Sankoff 1990): two notes agree when
their pitches relative to the chain's anchor are equal (``rhythm`` and ``contour`` ignore pitch) and
their onsets, the reference's scaled by the chain's tempo ratio, are within a quarter of the query's
median inter-onset interval. The edits of each copy are grouped (a changed, deleted or inserted note, a
passing note, an ornament: one edit each) and the copy is scored by the information it reproduces less
the freedom of its edits (:mod:`remixmusic.novelty.edits`), against the matcher's information threshold.
Of the parts of an alignment that keep a run of its edits (or none), the best-scoring one is kept, so
an edit at an end whose notes past it do not pay for its cost is trimmed (BLAST's X-drop).

:class:`VariedCopies` is a mixin of :class:`~remixmusic.novelty.match.Matcher` (it uses the matcher's
index, config, symbol model and information threshold).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from remixmusic._util.arrays import ramp
from remixmusic.music.notes import Piece, half_onsets
from remixmusic.novelty.edits import EditScript, edit_parts, script_bits
from remixmusic.novelty.matches import _TEMPO_FREE, Source, VariedMatch
from remixmusic.novelty.symbols import MAX_INTERVAL, PITCHLESS, TIMELESS, Stream

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
    _varied_bits_now: float

    def _source(self, slot: int, n_notes: int, query_pitch: int) -> Source:
        raise NotImplementedError

    def copy_bits(self, slot: int, script: EditScript, query_symbols: np.ndarray | None = None) -> float:
        """The bit score of a varied copy whose reference passage starts at ``slot`` (see the module
        docstring): the information of the relations between notes that the query reproduces, less
        ``log2`` of the number of edit scripts of its length and edit count (:func:`script_bits`).

        A reference symbol is reproduced when the notes its pitch part reads (its first note and, from
        order 1, the next) agree and the notes its timing part reads (all ``order + 1``) are at their
        times. Under ``transposed+tempo`` a symbol's two parts count apart
        (:class:`~remixmusic.novelty.information.PartModels`): a note changed in pitch at its time
        spoils the two intervals around it but not the rhythm around it, and a note off its time spoils
        the ratios that read it but not the interval before it. Relations the reference symbols do not
        hold count too (with ``query_symbols``, the query passage's symbols, its first at the passage's
        first note): across a deleted note, the query's own symbols over the notes on either side (the
        interval over the gap is the sum of the reference's two), and under ``transposed+tempo``, across
        a changed note, the interval between its two agreeing neighbours (a two-step relation). Each
        relation is counted once, from whichever side holds it."""
        order = self.index.order
        agree, timed = script.ref_agree, script.ref_timed
        n_sym = max(len(agree) - order, 0)
        penalty = script_bits(len(agree), script.n_edits)
        if n_sym == 0:
            return -penalty
        text = np.asarray(self.index.text[slot : slot + n_sym])
        parts = self.index.part_models
        if parts is not None:  # order 2: the interval of notes k, k+1; the ratio of k, k+1, k+2
            pitch_ok = agree[:n_sym] & agree[1 : n_sym + 1]
            time_ok = timed[:n_sym] & timed[1 : n_sym + 1] & timed[2 : n_sym + 2]
            bits = float(parts.part_bits(self.model, text, pitch_ok, time_ok).sum())
            if query_symbols is not None and len(script.query_ref):
                bits += self._query_part_bits(script, np.asarray(query_symbols), slot)
            return bits - penalty
        per = self.model.symbol_bits(text, np.array([0]), np.array([n_sym]))
        pitch_notes = 1 + min(order, 1) if self.index.invariance not in PITCHLESS else order + 1
        ok = np.ones(n_sym, bool)
        for k in range(order + 1):
            ok &= (agree if k < pitch_notes else timed)[k : k + n_sym]
        bits = float(per[ok].sum())
        if query_symbols is not None and order > 0 and len(script.query_ref):
            bits += self._bridging_bits(script, np.asarray(query_symbols), order, pitch_notes)
        return bits - penalty

    def _bridging_bits(self, script: EditScript, query_symbols: np.ndarray, order: int, pitch_notes: int) -> float:
        """Information of the query symbols that span a deletion (see :meth:`copy_bits`): all their notes
        aligned (pitch part agreeing, timing part at its time), their reference notes not consecutive."""
        ref, q_agree, q_timed = script.query_ref, script.query_agree, script.query_timed
        n_sym = min(len(ref) - order, len(query_symbols))
        if n_sym <= 0:
            return 0.0
        ok = np.ones(n_sym, bool)
        consecutive = np.ones(n_sym, bool)
        for k in range(order + 1):
            ok &= (q_agree if k < pitch_notes else q_timed)[k : k + n_sym]
            consecutive &= ref[k : k + n_sym] == ref[:n_sym] + k
        bridge = ok & ~consecutive
        if not bridge.any():
            return 0.0
        per = self.model.symbol_bits(query_symbols[:n_sym], np.array([0]), np.array([n_sym]))
        return float(per[bridge].sum())

    def _query_part_bits(self, script: EditScript, query_symbols: np.ndarray, slot: int) -> float:
        """Under ``transposed+tempo``, the information of the query relations that no reference symbol
        holds (see :meth:`copy_bits`): the parts of query symbols whose notes are aligned with reference
        notes that are not consecutive (their interval: both notes agreeing; their ratio: all three at
        their times), and the interval across each changed note between two agreeing neighbours on
        consecutive reference notes (:meth:`~remixmusic.novelty.information.PartModels.span_bits`)."""
        parts = self.index.part_models
        assert parts is not None
        ref, q_agree, q_timed = script.query_ref, script.query_agree, script.query_timed
        bits = 0.0
        n_sym = min(len(ref) - 2, len(query_symbols))
        if n_sym > 0:
            step1 = ref[1 : n_sym + 1] == ref[:n_sym] + 1
            step2 = step1 & (ref[2 : n_sym + 2] == ref[:n_sym] + 2)
            pitch_ok = q_agree[:n_sym] & q_agree[1 : n_sym + 1] & ~step1
            time_ok = q_timed[:n_sym] & q_timed[1 : n_sym + 1] & q_timed[2 : n_sym + 2] & ~step2
            if pitch_ok.any() or time_ok.any():
                bits += float(parts.part_bits(self.model, query_symbols[:n_sym], pitch_ok, time_ok).sum())
        k = np.arange(1, len(ref) - 1)
        changed = (
            ~q_agree[k] & (ref[k] >= 1) & q_agree[k - 1] & q_agree[k + 1]
            & (ref[k - 1] == ref[k] - 1) & (ref[k + 1] == ref[k] + 1)
        )
        if changed.any():
            j = slot + ref[k[changed]]  # the changed reference note; the relation is from j - 1 to j + 1
            span = np.asarray(self.index.pitch[j + 1]).astype(np.int64) - np.asarray(self.index.pitch[j - 1])
            bits += float(parts.span_bits(np.clip(span, -MAX_INTERVAL, MAX_INTERVAL) + 2 * MAX_INTERVAL).sum())
        return bits

    def best_part(
        self, same: np.ndarray, timed: np.ndarray, q_pitch: np.ndarray, q0: int, s0: int, stream: Stream
    ) -> tuple[int, int, int, int, EditScript, float] | None:
        """The best varied copy inside an alignment of query line notes from ``q0`` with reference slots
        from ``s0`` (``same`` / ``timed``: their agreement matrices; ``q_pitch``: the line's pitches).

        Its parts (:func:`edit_parts`) that keep a run of edits and pass the varied-copy tests (1 to
        ``max_edits`` edits, at most ``edit_rate`` per note, ``min_length + order`` agreeing notes), and
        its exact stretches between edits, are scored (:meth:`copy_bits`); the highest score wins (then
        the most agreeing notes). It is a varied copy when it keeps an edit and reaches the piece's varied
        information bound: an edit at an end whose notes past it do not pay for its search cost is
        trimmed, and a chance edit tacked onto an exact copy is dropped (the exact part is exact
        matching's to report), as BLAST's X-drop trims an extension back to its best score. Returns
        ``(query start, query end, reference start, reference end, script, bits)`` relative to ``q0`` /
        ``s0``, or ``None``."""
        min_notes = self.min_length + stream.order
        order = self.index.order
        q_seg = q_pitch[q0 : q0 + same.shape[0]]
        best: tuple[int, int, int, int, EditScript, float] | None = None
        for qa, qb, sa, sb, script in edit_parts(same, q_seg, self.config.max_edits, timed):
            if script.n_edits and (
                script.n_edits > max(1, self.config.edit_rate * (qb - qa)) or script.agreements < min_notes
            ):
                continue
            bits = self.copy_bits(s0 + sa, script, stream.symbols[q0 + qa : max(q0 + qb - order, q0 + qa)])
            if best is None or (bits, script.agreements) > (best[5], best[4].agreements):
                best = (qa, qb, sa, sb, script, bits)
        if best is None or best[4].n_edits == 0 or best[5] < self._varied_bits_now:
            return None
        return best

    def _varied(
        self, li: int, stream: Stream, piece: Piece, lo_d: np.ndarray, hi_d: np.ndarray, depth_d: np.ndarray
    ) -> list[VariedMatch]:
        """Seed, chain and align varied copies of one query line (see the module docstring).

        Seeds are the occurrences of the ``seed_length``-symbol prefix at every query position, or where
        that occurs more than ``max_seed_occurrences`` times, of the shortest longer prefix that does not
        (``lo_d``, ``hi_d``, ``depth_d``: adaptive seeds, Kiełbasa et al. 2011; repetitive material such
        as reels holds few rare 3-symbol prefixes: skipped where none is); seeds on one diagonal form an exact run;
        runs on one reference line, in query order, with diagonals a few notes apart and a small gap form
        a chain (:func:`_chains`). Each chain is aligned once, all chains together.
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
        # a run's notes (exclusive end): to the furthest end of its seeds, which adaptive depths vary
        run_end = np.maximum.reduceat(q + depth_d[q], np.flatnonzero(new)) + order
        run_line = index.line_of(run_slot)
        first, last, n_runs = _chains(run_q, run_slot, run_end, run_line, 2 * self.config.max_edits, order)
        # Align at most ``max_chains`` (near-duplicate-rich corpora give thousands of lone seeds): first
        # those with two hits (Gapped BLAST's two-hit method, Altschul et al. 1997: two seed runs, or one
        # run as long as an exact match), then lone seeds; in each, first those whose flanks agree with
        # their reference line (an ungapped look past the exact part, :meth:`_flank_hits`), then those
        # whose exact parts hold the most information. A lone seed of a varied copy with an edit every few
        # notes has dozens of chance occurrences in a large reference; its flanks single it out.
        span = run_end[last] - run_q[first]
        two_hit = (n_runs >= 2) | (span >= self.min_length + order)
        weight = self._run_bits(stream, run_q, run_end)
        evidence = weight[first] + np.where(last != first, weight[last], 0.0)
        # the flanks of at most RANKED_CHAINS times max_chains chains are looked at (the most evidence
        # first): a 200,000-note line holds millions of chains
        pool = np.lexsort((-evidence, ~two_hit))[: RANKED_CHAINS * self.config.max_chains]
        first, last, two_hit, evidence = first[pool], last[pool], two_hit[pool], evidence[pool]
        flank = self._flank_hits(piece, stream, run_q[first], run_slot[first], run_end[last], run_line[first])
        top = np.lexsort((-evidence, -flank, ~two_hit))[: self.config.max_chains]
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
            run_end[first],
        )

    def _flank_hits(
        self, piece: Piece, stream: Stream, qa: np.ndarray, sa: np.ndarray, q_end: np.ndarray, line: np.ndarray
    ) -> np.ndarray:
        """How well each chain's flanks agree: on each side of its exact part (``FLANK`` query notes
        before ``qa`` and from ``q_end``), the most notes that agree in pitch relative to the anchor
        (``qa`` / ``sa``) with the reference line on one diagonal a few notes off the chain's (an edit
        shifts it). An ungapped look past a lone seed before any alignment (BLAST's cheap ungapped
        extension that decides which hits earn a gapped one), int64 ``(chains,)``."""
        index = self.index
        q_pitch = piece.notes[stream.line.notes]["pitch"].astype(np.int64)
        n_q = len(q_pitch)
        steps = np.arange(FLANK)
        line_start = index.line_offsets[line]
        line_end = line_start + _line_notes(index, line)
        anchor = np.asarray(index.pitch[sa]).astype(np.int64)[:, None]
        total = np.zeros(len(qa), np.int64)
        for q_pos in ((qa - 1)[:, None] - steps, q_end[:, None] + steps):
            q_ok = (q_pos >= 0) & (q_pos < n_q)
            rel_q = q_pitch[np.clip(q_pos, 0, n_q - 1)] - q_pitch[qa][:, None]
            best = np.zeros(len(qa), np.int64)
            for shift in range(-FLANK_SHIFT, FLANK_SHIFT + 1):
                s_pos = sa[:, None] + (q_pos - qa[:, None]) + shift
                s_ok = (s_pos >= line_start[:, None]) & (s_pos < line_end[:, None])
                s_at = np.clip(s_pos, 0, len(index.pitch) - 1)
                rel_s = np.asarray(index.pitch[s_at.ravel()]).reshape(s_at.shape).astype(np.int64) - anchor
                np.maximum(best, (q_ok & s_ok & (rel_q == rel_s)).sum(axis=1), out=best)
            total += best
        return total

    def _run_bits(self, stream: Stream, run_q: np.ndarray, run_end: np.ndarray) -> np.ndarray:
        """Information (bits) of the query symbols each exact seed run reproduces (run ``k``: query line
        notes ``run_q[k]`` to ``run_end[k]``, exclusive), under the matcher's symbol model with the whole
        line as context."""
        symbols = np.asarray(stream.symbols, np.int64)
        per = self.model.symbol_bits(symbols, np.array([0]), np.array([len(symbols)]))
        cum = np.concatenate([[0.0], np.cumsum(per)])
        stop = np.clip(run_end - self.index.order, 0, len(symbols))
        return cum[stop] - cum[np.minimum(run_q, stop)]

    def _scale(
        self, q_onset: np.ndarray, qa: np.ndarray, sa: np.ndarray, q_core: np.ndarray, s_core: np.ndarray
    ) -> np.ndarray:
        """Tempo ratio (query span over reference span) from the anchors ``qa``/``sa`` to ``q_core``/
        ``s_core``; 1 under invariances that keep tempo, or where the reference span is empty."""
        if self.index.invariance not in _TEMPO_FREE:
            return np.ones(len(qa))
        span_s = self.index.exact_onset(s_core) - self.index.exact_onset(sa)
        span_q = q_onset[q_core] - q_onset[qa]
        return np.where(span_s > 0, span_q / np.maximum(span_s, 0.5), 1.0)

    def _agreement(
        self,
        q_pitch: np.ndarray,
        q_onset: np.ndarray,
        tol: float,
        qa: np.ndarray,
        sa: np.ndarray,
        q_from: np.ndarray,
        s_from: np.ndarray,
        nq: np.ndarray,
        ns: np.ndarray,
        scale: np.ndarray,
        step: int = 1,
    ) -> np.ndarray:
        """Agreement of query and reference notes for a batch of chains, all at once: ``(chains, max nq,
        max ns)`` int8 over query notes ``q_from + step * i`` (``i < nq``) and reference slots ``s_from +
        step * j`` (``j < ns``; ``step`` -1 reads backwards); 2 where notes agree (pitch relative to the
        anchors ``qa``/``sa``, onset relative to them with the reference's scaled by ``scale``, within
        ``tol``), 1 where only the onsets do, 0 otherwise and outside the ``nq`` x ``ns`` block."""
        index = self.index
        rows, cols = np.arange(max(int(nq.max()), 1)), np.arange(max(int(ns.max()), 1))
        q_in, s_in = rows < nq[:, None], cols < ns[:, None]
        qi = np.clip(q_from[:, None] + step * rows, 0, len(q_pitch) - 1)
        si = np.clip(s_from[:, None] + step * cols, 0, len(index.pitch) - 1)
        qt = q_onset[qi] - q_onset[qa][:, None]
        s_onset = index.exact_onset(si.ravel()).reshape(si.shape)
        st = (s_onset - index.exact_onset(sa)[:, None]) * scale[:, None]
        timed = (np.abs(qt[:, :, None] - st[:, None, :]) <= tol) & q_in[:, :, None] & s_in[:, None, :]
        if index.invariance in TIMELESS:  # onsets do not count: every pair is "in time"
            timed = q_in[:, :, None] & s_in[:, None, :]
        code = timed.astype(np.int8)
        if index.invariance in PITCHLESS:
            return code * 2
        qp = q_pitch[qi] - q_pitch[qa][:, None]
        s_pitch = np.asarray(index.pitch[si.ravel()]).reshape(si.shape).astype(np.int64)
        sp = s_pitch - np.asarray(index.pitch[sa]).astype(np.int64)[:, None]
        code += timed & (qp[:, :, None] == sp[:, None, :])
        return code

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
        first_end: np.ndarray | None = None,
    ) -> list[VariedMatch]:
        """Align all chains of one query line at once: chain ``c`` starts at query line note ``qa[c]`` /
        reference slot ``sa[c]``; its last run starts at ``q_last[c]`` / ``s_last[c]`` and its exact part
        ends (exclusive) at query note ``q_end[c]``; ``line`` is the reference line; ``first_end``: where
        its first run ends (exclusive; ``None``: one run).

        The tempo ratio of a copy is read from its exact parts: from the anchor to the chain's last run,
        a long base that averages timing noise, and from the anchor across its first run alone, which an
        exact run fixes by itself. They differ when the last run lies past the copy (a chance run of the
        filler after it, on a nearby diagonal): each is tried and the one whose forward extension aligns
        more notes is kept."""
        index = self.index
        notes = piece.notes[stream.line.notes]
        q_pitch = notes["pitch"].astype(np.int64)
        q_onset = half_onsets(notes) / 2.0  # a 32nd's half step kept: x0.5 copies of 16ths keep their time
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
        # Tempo ratio from the anchor to the last but one note of the chain's exact part: the last one is
        # fixed only by a snapped inter-onset ratio, and it may be the first note after a copy.
        q_core = np.maximum(q_end - 1 - index.order // 2, qa + 1)
        q_core = np.where(q_core < q_end, q_core, q_end - 1)
        s_core = s_last + (q_core - q_last)
        scale = self._scale(q_onset, qa, sa, q_core, s_core)
        alt = scale.copy()
        if first_end is not None and index.invariance in _TEMPO_FREE:
            f_core = np.maximum(np.minimum(first_end, n_q) - 1 - index.order // 2, qa + 1)
            f_core = np.where(f_core < q_end, f_core, q_core)
            alt = self._scale(q_onset, qa, sa, f_core, sa + (f_core - qa))
        # Raw (note) edits may exceed the budget: an ornament inserts several notes but is one edit.
        raw = 2 * budget
        n = len(qa)
        fwd_i, fwd_j, fwd_e, back_i, back_j, back_e = (np.zeros(n, np.int64) for _ in range(6))
        fq, fs, bq, bs = q_hi - qa, s_hi - sa, qa - q_lo, sa - s_lo
        args = (q_pitch, q_onset, tol)
        for batch in _batches(fq + bq, fs + bs):
            anchors = (qa[batch], sa[batch])
            fwd = self._agreement(*args, *anchors, *anchors, fq[batch], fs[batch], scale[batch]) == 2
            f_i, f_j, f_e = _extend(fwd, fq[batch], fs[batch], np.full(len(batch), raw))
            two = np.flatnonzero(np.abs(alt[batch] - scale[batch]) > 1e-6 * scale[batch])
            if len(two):  # the first run's tempo: kept where its extension aligns more notes
                b2 = batch[two]
                fwd2 = self._agreement(*args, qa[b2], sa[b2], qa[b2], sa[b2], fq[b2], fs[b2], alt[b2]) == 2
                g_i, g_j, g_e = _extend(fwd2, fq[b2], fs[b2], np.full(len(b2), raw))
                better = 2 * g_i - 3 * g_e > 2 * f_i[two] - 3 * f_e[two]  # _extend's key
                take = two[better]
                f_i[take], f_j[take], f_e[take] = g_i[better], g_j[better], g_e[better]
                scale[batch[take]] = alt[batch[take]]
            back = self._agreement(
                *args, *anchors, qa[batch] - 1, sa[batch] - 1, bq[batch], bs[batch], scale[batch], step=-1
            ) == 2
            b_i, b_j, b_e = _extend(back, bq[batch], bs[batch], raw - f_e)
            fwd_i[batch], fwd_j[batch], fwd_e[batch] = f_i, f_j, f_e
            back_i[batch], back_j[batch], back_e[batch] = b_i, b_j, b_e
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
        take = maybe[bits[maybe] >= self._varied_bits_now]  # the whole passage's bits bound the copy's score
        windows: dict[int, np.ndarray] = {}  # per candidate, its passages: 2 agree, 1 in time only, 0 not
        for batch in _batches(end[take] - start[take], s_stop[take] - s_first[take]):
            c = take[batch]
            code = self._agreement(
                *args, qa[c], sa[c], start[c], s_first[c], end[c] - start[c], s_stop[c] - s_first[c], scale[c]
            )
            windows.update((int(k), code[i, : end[k] - start[k], : s_stop[k] - s_first[k]]) for i, k in enumerate(c))
        for c in take:
            win = windows[int(c)]
            best = self.best_part(win == 2, win >= 1, q_pitch, int(start[c]), int(s_first[c]), stream)
            if best is None:
                continue
            qa_, qb_, sa_, sb_, script, bits[c] = best
            end[c], start[c] = start[c] + qb_, start[c] + qa_
            s_stop[c], s_first[c] = s_first[c] + sb_, s_first[c] + sa_
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



def _chains(
    run_q: np.ndarray, run_slot: np.ndarray, run_end: np.ndarray, run_line: np.ndarray, raw: int, order: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chains of exact seed runs: the first and the last run of each (indices into the run arrays, which
    are sorted by diagonal ``run_slot - run_q`` and then by ``run_q``).

    A run continues a chain from its *predecessor*: the run that ends last among those on the same
    reference line that start earlier in the query and in the reference, lie on a diagonal at most
    ``raw`` notes away (``raw`` note insertions or deletions: twice the edit budget, since an ornament
    inserts several notes as one edit) and end at most ``raw + order + 1`` notes before it starts (one
    edit breaks the ``order + 1`` symbols that see it). Each of the ``2 * raw + 1`` diagonals is searched
    on its own, so a tune that repeats a part (another run of the same query notes on a far diagonal of
    the same line) does not cut the chain. A chain is a run with its successors; its last run ends the
    best path from its first (most query notes covered, less a note per diagonal step; then the one
    ending last). Returns the first and last run of each chain and its number of runs."""
    n = len(run_q)
    diag = run_slot - run_q
    width = int(run_q.max()) + 2 if n else 1
    key = (diag - (int(diag.min()) if n else 0) + raw) * width + run_q  # sorted, as the runs are
    pred = np.full(n, -1, np.int64)
    pred_end = np.full(n, -1, np.int64)
    for shift in sorted(range(-raw, raw + 1), key=abs):
        at = np.searchsorted(key, key + shift * width, side="left") - 1
        p = np.maximum(at, 0)
        ok = (
            (at >= 0)
            & (diag[p] == diag + shift)
            & (run_line[p] == run_line)
            & (run_q[p] < run_q)
            & (run_slot[p] < run_slot)
            & (run_end[p] + raw + order + 1 >= run_q)
            & (run_end[p] > pred_end)
        )
        pred[ok], pred_end[ok] = p[ok], run_end[p[ok]]
    # Score each run's path back to its chain's first run (Gapped BLAST and minimap2 chain anchors the
    # same way): the query notes it adds past its predecessor's end, less the notes its diagonal moved
    # (an insertion or deletion each). Sums along the paths by pointer doubling.
    has = pred >= 0
    moved = np.where(has, np.abs(diag - diag[np.maximum(pred, 0)]), 0)
    total = (run_end - np.where(has, np.maximum(run_q, pred_end), run_q) - moved).astype(np.int64)
    root = np.where(has, pred, np.arange(n))
    jump = pred.copy()
    while True:
        live = jump >= 0
        if not live.any():
            break
        total[live] += total[jump[live]]
        jump[live] = jump[jump[live]]
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    # A chain's last run is the end of its best-scoring path (then the one ending last), not merely the
    # run that ends last: a tune repeating a figure a few notes later holds a run on a nearby diagonal
    # that can end one note later by chance, and anchoring on it gives the wrong tempo and offsets.
    o = np.lexsort((run_end, total, root))
    tail = np.r_[root[o][1:] != root[o][:-1], True]
    last = o[tail]
    runs = np.diff(np.r_[-1, np.flatnonzero(tail)])
    return root[last], last, runs


RANKED_CHAINS = 64
"""Chains whose flanks are looked at, per chain aligned (``max_chains``): a query line of folk-tune length
against Essen holds 1,000 to 1,500 chains, all looked at."""

FLANK = 8
"""Query notes looked at on each side of a seed chain's exact part to rank chains (:meth:`VariedCopies._flank_hits`)."""
FLANK_SHIFT = 2
"""Most notes a flank's diagonal may lie off its chain's (edits inserting or deleting notes)."""

WINDOW_CELLS = 1 << 21
"""Most query x reference note pairs of one batch of chains aligned together (bounds the memory)."""


def _batches(wq: np.ndarray, ws: np.ndarray) -> list[np.ndarray]:
    """Chains in batches of similar window sizes (``wq`` x ``ws`` notes), smallest first, each with at
    most :data:`WINDOW_CELLS` cells once padded to its largest window (or a single chain)."""
    order = np.argsort(wq * ws, kind="stable")
    out, start = [], 0
    while start < len(order):
        rest = order[start:]
        cells = np.arange(1, len(rest) + 1) * np.maximum.accumulate(wq[rest]) * np.maximum.accumulate(ws[rest])
        take = max(1, int(np.searchsorted(cells, WINDOW_CELLS, side="right")))
        out.append(rest[:take])
        start += take
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
