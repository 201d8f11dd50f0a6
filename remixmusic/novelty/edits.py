"""Edit scripts of varied copies: the least-cost note alignment, its edits grouped by kind, and what
the freedom of edits costs a copy's significance.

A varied copy is a query passage aligned with a reference passage by the Levenshtein distance over notes
(the melodic edit distance of Mongeau & Sankoff 1990, with unit costs but 1.5 for a note changed in
both pitch and time, :data:`UNTIMED_CHANGE`), on an agreement matrix of query
x reference notes (:mod:`remixmusic.novelty.varied` builds it). Its raw edits are grouped: a changed
note, a deleted note, an inserted note, a passing note (one inserted note between two aligned notes, its
pitch strictly between theirs) and an ornament (notes inserted inside one reference inter-onset interval:
a turn, a trill, grace notes) each count as one edit (:class:`EditScript`).

**Significance.** A copy is counted when its information beats chance (an E-value bound, Karlin &
Altschul 1990; see :class:`~remixmusic.novelty.config.MatchConfig` ``false_copies``). For a varied copy two
things change that bound, as gapped alignment changes BLAST's statistics (Altschul & Gish 1996; Altschul
et al. 1997, whose gapped E-values come from separate parameters because gaps widen the search):

* only the relations the query *reproduces* are evidence: a reference symbol whose notes an edit
  spoils (:attr:`EditScript.ref_agree`, :attr:`EditScript.ref_timed`) tells nothing, so it adds no
  bits; under ``transposed+tempo`` a symbol's pitch part (the interval) and timing part (the
  inter-onset ratio) are relations of their own and count apart, so a note changed in pitch at its time
  keeps the rhythm around it, and the interval between its two agreeing neighbours counts as a
  two-step relation (:class:`~remixmusic.novelty.information.PartModels`); across a deleted reference
  note, the query's own symbols over the notes either side are fixed by the reference too
  (:attr:`EditScript.query_ref`) and add theirs, so a deletion costs about one note of evidence rather
  than the ``order + 1`` symbols that read the deleted note;
* the edits themselves are a search: a query reproduces a passage's symbols under *some* pattern of
  ``e`` edits far more often than under one. By a union bound over the patterns, the chance of a copy
  is at most :func:`script_bits` (``log2 C(n, e) + e log2 3``) bits more than that of an exact match with
  the same evidence, and the copy's bit score is lowered by it. (Matching the null of random and
  shuffled queries, the bound is conservative: the chance copies it lets through are far fewer than the
  nominal E-value.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

EDIT_KINDS = 3
"""What a varied copy's edit can do to the query's evidence at one place, for :func:`script_bits`: a
reference note changed in pitch only (its timing still agrees), a reference note missing or off its
time (deleted or changed in time), or query notes inserted (a passing note, an ornament)."""


def script_bits(n_notes: int, n_edits: int) -> float:
    """``log2`` of the number of edit patterns with ``n_edits`` grouped edits on a reference passage of
    ``n_notes`` notes: ``C(n_notes, n_edits) * EDIT_KINDS ** n_edits`` (where the edits go, and what each
    does). This is the multiplicity of a varied copy's chance event: matching at one pair of start notes
    asks the query to reproduce the reference symbols whose notes agree (their information, in bits)
    under *some* edit pattern, which happens at most this many times as often as under one pattern (a
    union bound). So a varied copy's expected chance occurrences are ``2 ** script_bits`` times those
    of an exact match of the same information, and its bit score is lowered by that much."""
    if n_edits <= 0:
        return 0.0
    n = max(n_notes, n_edits)
    return math.log2(math.comb(n, n_edits)) + n_edits * math.log2(EDIT_KINDS)


@dataclass
class EditScript:
    """The edits of a varied copy, from a note alignment (query vs reference passage).

    ``ops``: ``(kind, query position, reference position)`` per edit, positions relative to the passage
    starts (-1 where a side has no note): ``change`` (a note at another pitch or time), ``deletion`` (a
    reference note missing), ``insertion``, ``passing`` (one inserted note between two aligned notes,
    its pitch strictly between theirs) and ``ornament`` (two or more notes inserted inside one reference
    inter-onset interval: a turn, trill or grace group), each counted as one edit. ``agreements``:
    aligned notes that agree; ``ref_agree``: per reference note of the passage, whether it is aligned
    with a query note that agrees; ``ref_timed``: whether it is aligned with a query note at its time
    (agreeing, or changed in pitch only); ``query_ref``: per query note of the passage, the reference
    note it is aligned with (agreeing or changed; -1 for an inserted note), and ``query_agree`` /
    ``query_timed`` whether that pair agrees / is at one time, so the relations between query notes
    that an edit leaves intact across it (the interval over a deleted note) can be scored too.
    """

    ops: list[tuple[str, int, int]]
    agreements: int
    ref_agree: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    ref_timed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    query_ref: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    query_agree: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    query_timed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def n_edits(self) -> int:
        return len(self.ops)

    def text(self, offset: int = 0) -> str:
        """``kind@query line position`` per edit, ``;``-separated (positions shifted by ``offset``)."""
        return ";".join(f"{k}@{q + offset if q >= 0 else 'r' + str(r)}" for k, q, r in self.ops)


def edit_script(
    same: np.ndarray, q_pitch: np.ndarray, q_onset: np.ndarray, timed: np.ndarray | None = None
) -> EditScript:
    """The least-cost alignment of a query passage with a reference passage (Levenshtein distance on
    notes, as in the melodic edit distance of Mongeau & Sankoff 1990; costs in :func:`_path`) and its edits
    grouped as in :class:`EditScript`. ``same``: (query notes, reference notes) agreement matrix; the
    alignment is global over the two passages. ``timed``: the notes' onsets agree (their pitches may
    not); ``None``: as ``same``."""
    raw = _path(same, timed)
    ops = [op for op, _, _ in _groups(raw, q_pitch)]
    ref_agree = np.zeros(same.shape[1], bool)
    ref_timed = np.zeros(same.shape[1], bool)
    query_ref = np.full(same.shape[0], -1, np.int64)
    query_agree = np.zeros(same.shape[0], bool)
    query_timed = np.zeros(same.shape[0], bool)
    for kind, i, j in raw:
        if kind == "agree":
            ref_agree[j] = ref_timed[j] = True
            query_ref[i], query_agree[i], query_timed[i] = j, True, True
        elif kind == "change":
            query_ref[i] = j
            if timed is not None:
                ref_timed[j] = query_timed[i] = bool(timed[i, j])
    return EditScript(ops, int(ref_agree.sum()), ref_agree, ref_timed, query_ref, query_agree, query_timed)


def edit_parts(
    same: np.ndarray, q_pitch: np.ndarray, budget: int, timed: np.ndarray | None = None
) -> list[tuple[int, int, int, int, EditScript]]:
    """The parts of an alignment that keep a run of 0 to ``budget`` consecutive grouped edits, each cut
    at the agreeing notes just outside the edits it drops (so every kept edit lies between agreeing
    notes): ``(query start, query end, reference start, reference end, script)`` relative to ``same``'s
    rows and columns (ends exclusive). The whole alignment is among them when its edits fit the budget,
    and so is each stretch between two edits (no edit: an exact part). A caller scores them and keeps
    the best, which trims edits at the ends of a copy that cost more than the notes past them are worth
    (BLAST's X-drop trims an extension back to its best score the same way: Altschul et al. 1997)."""
    raw = _path(same, timed)
    groups = _groups(raw, q_pitch)
    bounds = [(lo, hi) for _, lo, hi in groups]  # raw-path index spans of each grouped edit
    out: list[tuple[int, int, int, int, EditScript]] = []
    seen: set[tuple[int, int]] = set()
    for size in range(min(budget, len(bounds)) + 1):
        for k in range(len(bounds) - size + 1):
            take = bounds[k : k + size]
            lo = bounds[k - 1][1] if k > 0 else 0
            hi = bounds[k + size][0] if k + size < len(bounds) else len(raw)
            agree = [t for t in range(lo, hi) if raw[t][0] == "agree"]
            if not agree:
                continue
            first, last = agree[0], agree[-1]
            if take and (first > take[0][0] or last < take[-1][1] - 1):
                continue  # the kept edits must lie between agreeing notes
            if (first, last) in seen:
                continue
            seen.add((first, last))
            qa, qb = raw[first][1], raw[last][1] + 1
            sa, sb = raw[first][2], raw[last][2] + 1
            part = None if timed is None else timed[qa:qb, sa:sb]
            out.append((qa, qb, sa, sb, edit_script(same[qa:qb, sa:sb], q_pitch[qa:qb], np.zeros(0), part)))
    return out


UNTIMED_CHANGE = 1.5
"""Alignment cost of pairing two notes that differ in pitch *and* time (a note changed in pitch only, at
its time, costs 1, as a deleted or an inserted note does): more than one edit, less than the deletion and
insertion it stands for, so among fewest-edit alignments the one that explains a note moved off its time
by notes inserted or left out (an ornament next to a deleted note) is preferred, and an ornament stays
one grouped edit instead of a run of changes."""


def _path(same: np.ndarray, timed: np.ndarray | None = None) -> list[tuple[str, int, int]]:
    """A least-cost alignment path as ``(kind, query row, reference column)`` steps in order: ``agree``,
    ``change``, ``insertion`` (column: the reference note before it) or ``deletion`` (row -1). Costs:
    agree 0, a change 1 (:data:`UNTIMED_CHANGE` when ``timed`` says the notes are not at one time either),
    an insertion or a deletion 1."""
    n, m = same.shape
    cost = (~same).astype(np.float64)
    if timed is not None:
        cost[~same & ~timed] = UNTIMED_CHANGE
    dist = np.zeros((n + 1, m + 1))
    dist[:, 0] = np.arange(n + 1)
    dist[0, :] = np.arange(m + 1)
    cols = np.arange(m + 1)
    for i in range(1, n + 1):
        diag = dist[i - 1, :-1] + cost[i - 1]
        row = np.empty(m + 1)
        row[0] = i
        row[1:] = np.minimum(dist[i - 1, 1:] + 1, diag)
        dist[i] = cols + np.minimum.accumulate(row - cols)
    raw: list[tuple[str, int, int]] = []
    # costs are multiples of 0.5, exact in floating point; Python scalars trace back much faster
    d, c, agree = dist.tolist(), cost.tolist(), same.tolist()
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and abs(d[i][j] - d[i - 1][j - 1] - c[i - 1][j - 1]) < 1e-9:
            raw.append(("agree" if agree[i - 1][j - 1] else "change", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and abs(d[i][j] - d[i - 1][j] - 1) < 1e-9:
            raw.append(("insertion", i - 1, j - 1))
            i -= 1
        else:
            raw.append(("deletion", -1, j - 1))
            j -= 1
    raw.reverse()
    return raw


def _groups(
    raw: list[tuple[str, int, int]], q_pitch: np.ndarray
) -> list[tuple[tuple[str, int, int], int, int]]:
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
        elif (
            before >= 0
            and after < len(q_pitch)
            and (min(q_pitch[before], q_pitch[after]) < q_pitch[first] < max(q_pitch[before], q_pitch[after]))
        ):
            group = "passing"
        else:
            group = "insertion"
        out.append(((group, first, rj), k, end))
        k = end
    return out
