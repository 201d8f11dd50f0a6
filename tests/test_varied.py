"""Varied copies' building blocks: edit scripts and what they leave as evidence, the edit-pattern count
that a copy's bit score pays, and seed chains across a reference line that repeats a part."""

from __future__ import annotations

import math

import numpy as np

from remixmusic.novelty.edits import EDIT_KINDS, edit_parts, edit_script, script_bits
from remixmusic.novelty.varied import _chains


def test_script_bits_count_where_the_edits_go_and_what_each_does():
    assert script_bits(12, 0) == 0.0
    assert math.isclose(script_bits(12, 1), math.log2(12 * EDIT_KINDS))
    assert math.isclose(script_bits(15, 2), math.log2(math.comb(15, 2) * EDIT_KINDS**2))
    assert script_bits(30, 2) > script_bits(15, 2) > script_bits(15, 1)


def test_a_pitch_change_keeps_its_timing_and_a_deletion_loses_both():
    n = 8
    same = np.eye(n, dtype=bool)
    timed = same.copy()
    same[3, 3] = False  # query note 3 at its time, another pitch
    changed = edit_script(same, np.arange(n), np.arange(n), timed)
    assert changed.ops == [("change", 3, 3)] and changed.agreements == n - 1
    assert not changed.ref_agree[3] and changed.ref_timed[3] and changed.ref_timed.all()
    # Reference note 3 missing from the query: the query has n - 1 notes.
    rows = [0, 1, 2, 4, 5, 6, 7]
    deleted = edit_script(np.eye(n, dtype=bool)[rows], np.arange(n - 1), np.arange(n - 1))
    assert deleted.ops == [("deletion", -1, 3)]
    assert not deleted.ref_agree[3] and not deleted.ref_timed[3] and deleted.agreements == n - 1


def test_chains_follow_the_copy_when_the_reference_line_repeats_a_part():
    # One reference line (slots 0..99) whose bars 0..19 come back at 40..59. A query copies slots 10..35
    # with one note deleted at slot 22: runs at diagonal 10 (query 0..11) and 11 (query 12..25). The
    # repeat puts a run of the same query notes on diagonal 50, in between in query order.
    run_q = np.array([0, 0, 12])
    run_slot = np.array([10, 50, 23])
    run_end = np.array([12, 10, 26])
    o = np.lexsort((run_q, run_slot - run_q))  # runs come sorted by diagonal, then query position
    first, last, runs = _chains(run_q[o], run_slot[o], run_end[o], np.zeros(3, np.int64), raw=4, order=2)
    chains = {(int(run_slot[o][f]), int(run_end[o][la]), int(k)) for f, la, k in zip(first, last, runs, strict=True)}
    assert (10, 26, 2) in chains and (50, 10, 1) in chains


def test_a_chain_ends_on_its_best_path_not_on_the_run_that_ends_last():
    # A copy of slots 100..113 is one exact run (query 0..14). The reference repeats a figure four notes
    # later, so the query notes 7..15 also match on diagonal 104, ending one note later by chance (the
    # first note after the copy). Anchoring the chain's tempo and offsets there misaligns the whole copy;
    # its path pays four notes of diagonal shift for one note gained.
    run_q = np.array([0, 7])
    run_slot = np.array([100, 111])
    run_end = np.array([14, 15])
    first, last, runs = _chains(run_q, run_slot, run_end, np.zeros(2, np.int64), raw=4, order=2)
    assert list(zip(first.tolist(), last.tolist(), runs.tolist(), strict=True)) == [(0, 0, 2)]


def test_edit_parts_keep_each_run_of_edits_cut_at_agreeing_notes():
    n = 14
    same = np.eye(n, dtype=bool)
    same[3, 3] = same[10, 10] = False  # two changed notes
    parts = {(qa, qb, sa, sb): s.ops for qa, qb, sa, sb, s in edit_parts(same, np.arange(n), budget=2)}
    assert parts == {
        (0, 3, 0, 3): [],  # the exact stretches between the edits
        (4, 10, 4, 10): [],
        (11, 14, 11, 14): [],
        (0, 10, 0, 10): [("change", 3, 3)],  # the second edit trimmed: cut before it
        (4, 14, 4, 14): [("change", 6, 6)],  # the first trimmed: positions relative to the part
        (0, 14, 0, 14): [("change", 3, 3), ("change", 10, 10)],  # the whole alignment fits the budget
    }
    one = {(qa, qb, sa, sb) for qa, qb, sa, sb, s in edit_parts(same, np.arange(n), budget=1) if s.ops}
    assert one == {(0, 10, 0, 10), (4, 14, 4, 14)}


def test_a_deletion_leaves_the_query_symbols_across_it_aligned():
    n = 8
    rows = [0, 1, 2, 4, 5, 6, 7]  # reference note 3 missing from the query
    s = edit_script(np.eye(n, dtype=bool)[rows], np.arange(n - 1), np.arange(n - 1))
    assert s.query_ref.tolist() == rows and s.query_agree.all() and s.query_timed.all()


def test_an_ornament_beside_a_deleted_note_is_two_edits_not_three_changes():
    # An O'Neill's figure with a turn on its third note (two notes inserted in its time) and its fifth note
    # left out. With unit costs an insertion and two changes (notes off their time, another pitch) tie
    # with the ornament and the deletion; a note changed in pitch and time costs more, so the ornament
    # is one edit and the copy keeps within a two-edit budget.
    ref_p = np.array([74, 78, 79, 76, 78, 74, 76, 74, 71, 74, 74, 76, 78, 79])
    ref_t = np.array([0, 18, 24, 33, 36, 42, 48, 52, 56, 60, 84, 90, 93, 96])
    q_p = np.array([74, 78, 79, 81, 79, 76, 74, 76, 74, 71, 74, 74, 76, 78, 79])
    q_t = np.array([0, 18, 24, 27, 30, 33, 42, 48, 52, 56, 60, 84, 90, 93, 96])
    tol = 0.25 * np.median(np.diff(q_t))
    timed = np.abs(q_t[:, None] - ref_t[None, :]) <= tol
    same = timed & ((q_p - q_p[0])[:, None] == (ref_p - ref_p[0])[None, :])
    script = edit_script(same, q_p, q_t, timed)
    assert script.ops == [("ornament", 3, 2), ("deletion", -1, 4)]
    assert script.agreements == 13  # 15 query notes less the two inserted
