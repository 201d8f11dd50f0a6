"""Joining the pieces of one varied copy: exact matches and varied copies of one query line that follow
each other along one reference line are realigned as one passage (:func:`merge_copies`).

Seed chains (:mod:`remixmusic.novelty.varied`) join exact runs a few notes apart; a copy with an edit
every few notes, or one whose exact parts were found as separate matches, is reassembled here, the way
chaining joins local alignments into one (Gapped BLAST's joined HSPs: Altschul et al. 1997).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from remixmusic.music.notes import Piece, half_onsets
from remixmusic.novelty.edits import edit_script
from remixmusic.novelty.matches import VariedMatch
from remixmusic.novelty.symbols import PITCHLESS, TIMELESS, Stream

if TYPE_CHECKING:
    from remixmusic.novelty.index import Index
    from remixmusic.novelty.varied import VariedCopies


def merge_copies(
    finder: VariedCopies,
    li: int,
    stream: Stream,
    piece: Piece,
    exact: list[tuple[int, int, np.ndarray]],
    varied: list[VariedMatch],
) -> list[VariedMatch]:
    """The varied copies of one line after joining pieces of one copy: exact matches and varied copies
    that follow each other along the query line and along one reference line, at consistent offsets
    (the gaps differ by at most twice the edit budget), are realigned as one passage, cut to its first
    and last agreeing notes (an edit at an end is no evidence); the join is kept when it passes the
    varied-copy tests (edits, edit rate, agreeing notes, information), and it then replaces the varied
    copies it joined, as it does when no edit is left (the exact match explains them). ``exact``:
    ``(start, end, slots)`` of the line's exact matches (line positions, and the reference slots where
    each occurs: every occurrence, since a tune that repeats a part holds a match at several offsets
    and only one of them continues the copy)."""
    index, budget = finder.index, finder.config.max_edits
    raw = 2 * budget
    segs = []  # (q0, q1, s0, s1, varied id or -1)
    # An order-2 exact match does not fix its last note's pitch: leave that note to the realignment.
    free = 1 if index.invariance == "transposed+tempo" else 0
    for q0, q1, slots in exact:
        for slot in np.asarray(slots, np.int64).tolist():
            segs.append((q0, q1 - free, slot, slot + (q1 - q0) - free, -1))
    for k, v in enumerate(varied):
        for s in v.sources:
            if s.slot >= 0 and s.n_notes:
                segs.append((v.start, v.end, s.slot, s.slot + s.n_notes, k))
                segs.extend(_repeats(index, v.start, v.end, s.slot, s.n_notes, k, exact, raw))
    if len(segs) < 2:
        return varied
    arr = np.asarray(segs, np.int64)
    ref_line = index.line_of(arr[:, 2])
    shared = np.unique(ref_line, return_counts=True)
    keep = np.isin(ref_line, shared[0][shared[1] >= 2])  # a join needs two segments on one line
    arr, ref_line = arr[keep], ref_line[keep]
    order = np.lexsort((arr[:, 2], arr[:, 0], ref_line))
    chains: list[list[int]] = []
    bounds: list[list[int]] = []  # per chain: its query and reference spans (q0, q1, s0, s1)
    # Chains that may still grow, in creation order: segments come by reference line, then query start,
    # so a chain ending more than `raw + 1` notes before the current segment's start never grows again
    # (this keeps the walk linear on long, repetitive queries instead of quadratic).
    growing: list[int] = []
    line = -1
    for i in order.tolist():
        q0, q1, s0, s1 = (int(x) for x in arr[i, :4])
        if int(ref_line[i]) != line:
            line, growing = int(ref_line[i]), []
        growing = [k for k in growing if bounds[k][1] + raw + 1 >= q0]
        best, best_gap = -1, raw + 1
        for k in growing:
            cq0, cq1, cs0, cs1 = bounds[k]
            gap = abs((q0 - cq1) - (s0 - cs1))
            if q1 > cq1 and cq0 <= q0 <= cq1 + raw + 1 and cs0 <= s0 <= cs1 + raw + 1 and gap < best_gap:
                best, best_gap = k, gap
        if best >= 0:
            chains[best].append(i)
            b = bounds[best]
            bounds[best] = [min(b[0], q0), max(b[1], q1), min(b[2], s0), max(b[3], s1)]
        else:
            chains.append([i])
            bounds.append([q0, q1, s0, s1])
            growing.append(len(chains) - 1)
    notes = piece.notes[stream.line.notes]
    q_pitch = notes["pitch"].astype(np.int64)
    q_onset = half_onsets(notes) / 2.0  # a 32nd's half step kept (music.notes)
    ioi = np.diff(q_onset)
    tol = 0.25 * float(np.median(ioi)) if len(ioi) else 1.0
    min_notes = finder.min_length + stream.order
    joined: list[VariedMatch] = []
    replaced: set[int] = set()
    for c, (q0, q1, s0, s1) in zip(chains, bounds, strict=True):
        if len(c) < 2:
            continue
        for _ in range(3):  # realign until no edit stands at an end (at most twice more)
            same, timed = _agreement(finder, q_pitch, q_onset, tol, q0, q1, s0, s1)
            script = edit_script(same, q_pitch[q0:q1], q_onset[q0:q1], timed)
            agree = np.flatnonzero(script.query_agree)
            if not len(agree) or (agree[0] == 0 and agree[-1] == q1 - q0 - 1):
                break
            # An edit at an end is no evidence of a variation: past it the copy has nothing to agree with
            # (a changed note right after an exact copy, in its rhythm, is the next tune's first note).
            # The alignment is cut to its first and last agreeing notes and made again from there (its
            # pitches are read relative to its first note).
            first, last = int(agree[0]), int(agree[-1])
            s0, s1 = s0 + int(script.query_ref[first]), s0 + int(script.query_ref[last]) + 1
            q0, q1 = q0 + first, q0 + last + 1
        if script.n_edits == 0:
            replaced.update(int(arr[i, 4]) for i in c if arr[i, 4] >= 0)  # the exact match explains them
            continue
        if not (
            0 < script.n_edits <= budget
            and script.n_edits <= max(1, finder.config.edit_rate * (q1 - q0))
            and script.agreements >= min_notes
        ):
            continue
        bits = finder.copy_bits(s0, script, stream.symbols[q0 : max(q1 - stream.order, q0)])
        if bits < finder._varied_bits_now:
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


def _agreement(
    finder: VariedCopies, q_pitch: np.ndarray, q_onset: np.ndarray, tol: float, q0: int, q1: int, s0: int, s1: int
) -> tuple[np.ndarray, np.ndarray]:
    """Agreement of query line notes ``q0:q1`` with reference slots ``s0:s1``, relative to the first of
    each (the query's onsets scaled to the reference's tempo): ``(same, timed)``, boolean (rows, cols)."""
    index = finder.index
    s_pitch = np.asarray(index.pitch[s0:s1]).astype(np.int64)
    s_onset = index.exact_onset(np.arange(s0, s1))
    scale = float(finder._scale(q_onset, np.array([q0]), np.array([s0]), np.array([q1 - 1]), np.array([s1 - 1]))[0])
    timed = np.abs((q_onset[q0:q1] - q_onset[q0])[:, None] - ((s_onset - s_onset[0]) * scale)[None, :]) <= tol
    if index.invariance in TIMELESS:
        timed = np.ones_like(timed)
    same = timed
    if index.invariance not in PITCHLESS:
        same = timed & ((q_pitch[q0:q1] - q_pitch[q0])[:, None] == (s_pitch - s_pitch[0])[None, :])
    return same, timed


def _repeats(
    index: Index, q0: int, q1: int, slot: int, n_notes: int, k: int, exact: list[tuple[int, int, np.ndarray]], raw: int
) -> list[tuple[int, int, int, int, int]]:
    """The varied copy ``k`` (query ``q0:q1`` on ``n_notes`` reference notes from ``slot``) moved onto
    the other occurrences of its reference line's material that an overlapping exact match holds: a tune
    that repeats a part (AABB) lets a varied copy's notes align with one occurrence while the exact part
    it overlaps is found at the other, and the two would never join. Each exact match overlapping the
    copy in the query, at a slot of the same reference line on a diagonal more than ``raw`` notes away,
    gives the copy re-anchored so that its end lies on that diagonal (its reference span kept, with the
    notes its edits add or leave out); the join's realignment then decides."""
    line = int(index.line_of(np.array([slot]))[0])
    first = int(index.line_offsets[line])
    own = slot + n_notes - q1  # the copy's diagonal at its end
    out = []
    for e0, e1, slots in exact:
        if e1 <= q0 or e0 >= q1:
            continue
        slots = np.asarray(slots, np.int64)
        slots = slots[index.line_of(slots) == line] if len(slots) else slots
        for other in slots.tolist():
            diag = other - e0
            if abs(diag - own) > raw and q1 + diag - n_notes >= first:
                out.append((q0, q1, q1 + diag - n_notes, q1 + diag, k))
    return out
