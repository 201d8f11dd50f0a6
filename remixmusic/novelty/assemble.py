"""Assembling per-piece results into an :class:`~remixmusic.novelty.report.AnalysisReport`: leakage check, comparisons and parameters.

One control set: the leakage check flags control pieces that duplicate a reference piece (``leaked`` in
their records); every comparison, coverage curve and table uses the others
(:meth:`AnalysisReport.compared_records`). The comparisons are one family
(:func:`~remixmusic.evaluation.significance.compare_measures`): :data:`~remixmusic.novelty.report.PRIMARY_MEASURE`
tested at alpha, the other measures Holm-adjusted (Holm 1979), with intervals and tests by tune group
(each record's ``tune_group``; a piece of unknown group is its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic.evaluation.significance import compare_measures, leaked
from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.novelty.index import Index
from remixmusic.novelty.originality import OriginalityResult
from remixmusic.novelty.plots import min_copy_notes
from remixmusic.novelty.records import MotifRecord, PassageRecord, PieceRecord
from remixmusic.novelty.report import MEASURES, PRIMARY_MEASURE, AnalysisReport, NoteMap

COVERAGE_LENGTHS = np.arange(2, 33)
"""Minimum match lengths L (notes) of the coverage curves."""

if TYPE_CHECKING:
    from remixmusic.novelty.analyze import Analyzer


@dataclass
class PieceResult:
    """One piece's records, curves and note map (what a worker process sends back).

    ``coverage``: share of line notes in exact matches of at least each of :data:`COVERAGE_LENGTHS`
    notes. ``span_curve``: the piece's coverage-by-span curve and chance curve, 2 x grid
    (:func:`remixmusic.novelty.granularity.piece_curves`; ``None`` when not computed).
    """

    record: PieceRecord
    motifs: list[MotifRecord]
    coverage: np.ndarray
    originality: OriginalityResult
    note_map: NoteMap
    passages: list[PassageRecord] = field(default_factory=list)
    span_curve: np.ndarray | None = None


def _assemble(
    analyzer: Analyzer,
    index: Index,
    results: list[PieceResult],
    skipped: list[tuple[str, str]],
    tunes: dict[str, str] | None = None,
) -> AnalysisReport:
    """The report of ``results``: control pieces that duplicate a reference piece (``leak_share``) or
    carry the tune of one (``tunes``: control piece name to reference piece name; ``None`` when the
    check could not run) flagged and left out of the query-vs-control comparisons, and the parameters
    (see :class:`AnalysisReport`)."""
    config = analyzer.config
    leak_share, seed = config.leak_share, config.seed
    query = [r for r in results if r.record.group == "query"]
    control = [r for r in results if r.record.group == "control"]
    is_leak = leaked(np.asarray([r.record.top_source_share for r in control]), leak_share)
    for r, flag in zip(control, is_leak, strict=True):
        r.record.leaked = bool(flag)
        share = r.record.top_source_share
        if flag:
            r.record.left_out = f"duplicates a reference piece ({percent_text(share)} of its notes from one)"
        elif tunes and r.record.piece in tunes:
            r.record.left_out = f"carries the tune of reference {tunes[r.record.piece]} (same melody)"
    for r in query:
        r.record.leaked, r.record.left_out = False, ""
    clean = [r for r in control if not r.record.excluded]
    removed = [r.record.piece for r, flag in zip(control, is_leak, strict=True) if flag]
    same_tune = [
        {"piece": r.record.piece, "reference": (tunes or {})[r.record.piece]}
        for r in control
        if not r.record.leaked and r.record.piece in (tunes or {})
    ]
    leakage = {
        "rule": f"a control piece with >= {leak_share:.0%} of its line notes matched to one reference piece",
        "n_control": len(control),
        "n_removed": len(removed),
        "removed": removed,
        "summary": (
            f"Leakage check: removed {len(removed)} of {len(control)} control piece(s) that duplicate a "
            f"reference piece."
            if control
            else ""
        ),
        "tune_check": {
            "ran": tunes is not None,
            "rule": "a control piece whose melody is the tune of a reference piece (the near-duplicate rule "
            "of dataset splits, TuneMatchRule, on the melody part)",
            "n_removed": len(same_tune),
            "removed": same_tune,
            "summary": _tune_summary(tunes, same_tune) if control else "",
        },
    }
    comparisons = []
    # without the originality score (--no-originality) there is nothing of it to compare
    measured = [name for name, _ in MEASURES if name != "originality" or analyzer.scorer is not None]
    if clean:
        comparisons = compare_measures(
            {name: np.asarray([r.record.measure(name) for r in query]) for name in measured},
            {name: np.asarray([r.record.measure(name) for r in clean]) for name in measured},
            primary=PRIMARY_MEASURE,
            seed=seed,
            query_groups=[r.record.tune_group for r in query],
            control_groups=[r.record.tune_group for r in clean],
        )
    params: dict[str, Any] = {
        "config": config.to_dict(),
        "invariance": index.invariance,
        "lines": index.lines,
        "reference_timing": index.timing,  # how the reference's onsets were read (config: the queries')
        "chance_length": index.chance_length,
        "min_match_symbols": analyzer.matcher.min_length,
        "min_match_notes": analyzer.min_match_notes,
        "min_copy_notes": min_copy_notes(
            {"min_match_notes": analyzer.min_match_notes, "invariance": index.invariance}
        ),
        "seed_length": analyzer.matcher.seed_length,
        "chance_bits": index.chance_bits,
        "min_match_bits": analyzer.matcher.min_bits,
        "n_reference_symbols": index.n_symbols,
        "df_threshold": analyzer.matcher.stock_df,
        "originality": analyzer.scorer.params() if analyzer.scorer is not None else None,
        "reference_manifest_hash": index.manifest_hash,
        "n_reference": index.n_pieces,
        "n_reference_groups": index.n_groups,
        "n_query": len(query),
        "n_control": len(control),
        "n_control_compared": len(clean),
        "n_control_groups": len({r.record.tune_group or f"#{i}" for i, r in enumerate(clean)}),
        "primary_measure": PRIMARY_MEASURE,
    }
    return AnalysisReport(
        params=params,
        piece_records=[r.record for r in results],
        motif_records=[m for r in results for m in r.motifs],
        passage_records=[p for r in results for p in r.passages],
        coverage_lengths=COVERAGE_LENGTHS,
        coverage={
            "query": np.asarray([r.coverage for r in query]).reshape(len(query), len(COVERAGE_LENGTHS)),
            "control": np.asarray([r.coverage for r in clean]).reshape(len(clean), len(COVERAGE_LENGTHS)),
        },
        originality_curves=[
            {
                "piece": r.record.piece,
                "group": r.record.group,
                "window_start_beat": r.originality.window_start / STEPS_PER_BEAT,
                "originality": r.originality.originality,
                "best_reference": [index.piece_names[p] if p >= 0 else "" for p in r.originality.best_piece],
            }
            for r in results
        ],
        comparisons=comparisons,
        leakage=leakage,
        skipped=skipped,
        reference_names=list(index.piece_names),
        note_maps=[r.note_map for r in query],
        control_note_maps=_most_copying(control),
    )


def percent_text(share: float) -> str:
    return "?" if share != share else f"{100 * share:.0f}%"


def _tune_summary(tunes: dict[str, str] | None, same_tune: list[dict[str, str]]) -> str:
    """The same-tune check in one sentence (plain text)."""
    if tunes is None:
        return (
            "Same-tune check: not run, since the reference was given as an index whose source files are "
            "not at hand (moved, or pieces given in memory); give it as a dataset or a MIDI folder to "
            "check whether a control piece carries a reference tune."
        )
    if not same_tune:
        return "Same-tune check: no control piece carries the tune of a reference piece."
    named = "; ".join(
        f"{t['piece']} carries the tune of reference {t['reference']} (same melody)" for t in same_tune
    )
    return f"Same-tune check: {named}: left out of the comparison."


def _most_copying(results: list[PieceResult]) -> dict[str, NoteMap]:
    """The note maps of the control pieces with any copied or varied note, most such notes first (none
    that copy nothing): report.html shows each in detail, up to its limit of pieces."""

    def notes(r: PieceResult) -> float:
        share = r.record.recombined_fraction
        return 0.0 if share != share else share * r.record.n_line_notes  # NaN: nothing analysed

    ranked = sorted((r for r in results if notes(r) > 0), key=lambda r: -notes(r))
    return {r.record.piece: r.note_map for r in ranked}
