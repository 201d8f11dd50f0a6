"""Recombination granularity (remixmusic.novelty.granularity, .patchwork, .granularity_summary)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_piece

from remixmusic.data.datasets import load_dataset
from remixmusic.errors import ConfigError, RemixError
from remixmusic.evaluation.planted import PlantedSetMaker
from remixmusic.music.lines import melody_track
from remixmusic.music.notes import Piece
from remixmusic.novelty.analyze import Analyzer, analyze
from remixmusic.novelty.config import AnalysisConfig
from remixmusic.novelty.granularity import (
    BELOW_ONE_BAR,
    GRID,
    GranularityCalibration,
    GranularityConfig,
    bar_positions,
    granularity_level,
    level_step,
    match_spans,
    simplex_least_squares,
    span_curve,
)
from remixmusic.novelty.granularity_summary import summarize
from remixmusic.novelty.index import Index
from remixmusic.novelty.patchwork import _sample_lines, calibrate
from remixmusic.novelty.records import PieceRecord

EVAL_SEED = 3  # evaluation sets; the calibration draws with GranularityConfig().seed
CHUNKS = (1, 2, 4, 8)


# -- measurement by hand ---------------------------------------------------------------------------------
def test_match_spans_take_the_longest_covering_match_in_bars():
    # Six notes of an order-2 line (4 symbols); matches of 2 symbols at 0 (notes 0-3) and at 2 (notes 2-5).
    bars = np.array([0.0, 0.25, 0.5, 1.0, 1.5, 2.5])
    spans = match_spans(bars, np.array([2, 1, 2, 0]), order=2)
    assert spans.tolist() == [1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    # The match at 1 lies inside the one at 0; notes 4 and 5 have no covering match.
    assert match_spans(bars, np.array([2, 1, 0, 0]), order=2).tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_bar_positions_follow_the_meter_map():
    # Two bars of 4/4 (48 steps each), then 3/4 (36 steps) from step 96.
    piece = make_piece([60] * 5, onsets=[0, 24, 96, 114, 132], time_signatures=[(0, 4, 4), (96, 3, 4)])
    assert bar_positions(piece, np.array([0, 24, 96, 114, 132])).tolist() == [0.0, 0.5, 2.0, 2.5, 3.0]


def test_span_curve_counts_spans_at_least_each_length():
    curve = span_curve(np.array([0.5, 1.0, 1.0, 2.0]), np.array([0.5, 1.0, 2.0, 4.0]))
    assert curve.tolist() == [1.0, 0.75, 0.25, 0.0]
    assert np.isnan(span_curve(np.zeros(0), GRID)).all()


def test_simplex_least_squares_recovers_a_mixture_and_stays_on_the_simplex():
    x = np.linspace(0, 1, 20)
    members = np.stack([1 - x, (1 - x) ** 3, np.clip(1.5 - 2 * x, 0, 1), np.cos(x)])
    weights, residual = simplex_least_squares(0.3 * members[0] + 0.7 * members[2], members)
    np.testing.assert_allclose(weights[0], [0.3, 0.0, 0.7, 0.0], atol=1e-6)
    assert residual[0] < 1e-6
    # A curve outside the hull: the best point of the simplex, weights >= 0 summing to 1.
    outside = np.full(20, 2.0)
    w, r = simplex_least_squares(outside, members)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0) and r[0] > 0.5
    # Per-row members (each curve its own chance member) and NaN rows.
    rows = np.stack([members, members[::-1]])
    w2, _ = simplex_least_squares(np.stack([members[1], members[1]]), rows)
    assert w2[0].argmax() == 1 and w2[1].argmax() == 2
    w3, r3 = simplex_least_squares(np.full((1, 20), np.nan), members)
    assert np.isnan(w3).all() and np.isnan(r3).all()


def test_levels_and_steps_of_the_scale():
    assert granularity_level(0.4, 4.0, CHUNKS, 0.5) == BELOW_ONE_BAR
    assert granularity_level(0.9, math.nan, CHUNKS, 0.5) == BELOW_ONE_BAR
    assert granularity_level(0.9, 1.3, CHUNKS, 0.5) == "1 bar"
    assert granularity_level(0.9, 1.5, CHUNKS, 0.5) == "2 bars"  # log2 1.5 = 0.58: nearer 2 than 1
    assert granularity_level(0.9, 20.0, CHUNKS, 0.5) == "8+ bars"
    assert [level_step(x, CHUNKS) for x in (BELOW_ONE_BAR, "1 bar", "2 bars", "4 bars", "8+ bars")] == [
        0,
        1,
        2,
        3,
        4,
    ]
    with pytest.raises(RemixError, match="unknown granularity level"):
        level_step("3 bars", CHUNKS)


def test_config_is_validated_and_round_trips():
    with pytest.raises(ConfigError, match="increasing"):
        GranularityConfig(chunk_bars=(2, 1))
    with pytest.raises(ConfigError, match="n_bars"):
        GranularityConfig(chunk_bars=(1, 32))
    with pytest.raises(ConfigError, match="min_share"):
        GranularityConfig(min_share=1.5)
    with pytest.raises(ConfigError, match="chance_notes"):
        GranularityConfig(chance_notes=0)
    config = GranularityConfig(chunk_bars=(1, 2, 4), n_pieces=10, seed=5)
    assert GranularityConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown granularity setting"):
        GranularityConfig.from_dict({"chunk": [1]})


def step_curve(bars: float) -> np.ndarray:
    """A synthetic coverage-by-span curve: 1 up to ``bars``, 0 past it."""
    return (bars >= GRID).astype(float)


def test_summarize_places_groups_with_cluster_bootstrap_intervals():
    family = np.stack([step_curve(k) for k in CHUNKS])
    cal = GranularityCalibration(
        GranularityConfig(), GRID, ("1", "2", "4", "8"), family, 0 * family, (1,) * 4, "x", "voices", ""
    )
    chance = step_curve(0.5)
    sizes = [1] + [2] * 10 + [4]  # a geometric mean of 2 bars
    two = np.stack([np.stack([step_curve(k), chance]) for k in sizes])
    nulls = np.stack([np.stack([chance, chance])] * 6)
    nan = np.full((1, 2, len(GRID)), np.nan)
    labels = [f"tune{i // 3}" for i in range(12)]
    summary = summarize(cal, {"query": two, "control": np.concatenate([nulls, nan])}, {"query": labels})
    query, control = summary.groups["query"], summary.groups["control"]
    assert query.level == "2 bars" and query.n_pieces == 12
    assert query.levels == {"1 bar": 1, "2 bars": 10, "4 bars": 1}
    assert query.bars == pytest.approx(2.0) and query.share == pytest.approx(1.0)
    assert query.bars_ci[0] < 2.0 < query.bars_ci[1]
    # Resampled by tune group: the 1 and 4-bar pieces in one group always come together.
    paired = ["tune0"] + [f"tune{i}" for i in range(1, 11)] + ["tune0"]
    assert summarize(cal, {"query": two}, {"query": paired}).groups["query"].bars_ci == (2.0, 2.0)
    assert control.level == BELOW_ONE_BAR and control.n_pieces == 6 and control.share == 0.0
    assert math.isnan(control.bars_ci[0])  # no granularity is read below min_share
    one = int(np.argmin(np.abs(cal.grid - 1.0)))
    # The terminal gives the plotted share at 1 bar, not the patchwork weight, as the notes in stretches.
    assert summary.lines()[1] == (
        "control (n=6): below 1 bar; notes in exact shared stretches of a bar or more (any match, stock "
        f"included; not the copied share) {control.mean_curve[one]:.2f}, shuffled "
        f"{control.mean_chance[one]:.2f}; patchwork weight 0.00 [0.00, 0.00]"
    )
    assert f"copied share) {query.mean_curve[one]:.2f}, shuffled" in summary.lines()[0]
    assert summary.to_dict()["groups"]["query"]["weights"][2] == pytest.approx(10 / 12)
    # A group's interval does not depend on the groups beside it (a reviewer saw the control's move with
    # the query's size: one generator drew for the query first).
    alone = summarize(cal, {"control": two}).groups["control"].bars_ci
    assert summarize(cal, {"query": two[:7], "control": two}).groups["control"].bars_ci == alone
    assert summarize(cal, {"query": two, "control": two}).groups["control"].bars_ci == alone
    with pytest.raises(RemixError, match="tune-group labels"):
        summarize(cal, {"query": two}, {"query": labels[:5]})
    with pytest.raises(RemixError, match="not pieces x"):
        summarize(cal, {"query": two[:, 0]})


# -- on the chorales -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chorales() -> tuple[list[Piece], list[Piece]]:
    ds = load_dataset("bach-chorales")
    return ds.pieces("train"), ds.pieces("test")


@pytest.fixture(scope="module")
def index(chorales) -> Index:
    return Index.build(chorales[0])


@pytest.fixture(scope="module")
def maker(chorales) -> PlantedSetMaker:
    """Evaluation sets from the chorales' Soprano parts (lines the index holds), drawn apart from the
    calibration's seed."""
    assert GranularityConfig().seed != EVAL_SEED
    parts = []
    for p in chorales[0]:
        k = melody_track(p)
        parts.append(p if k is None else p.with_notes(p.notes[p.notes["track"] == k]))
    return PlantedSetMaker(parts, seed=EVAL_SEED)


def test_calibration_family_is_drawn_once_per_index_and_saved(index, tmp_path):
    cal = calibrate(index)
    assert cal is calibrate(index)  # memoized
    assert cal.members == ("1", "2", "4", "8") and cal.chunk_bars == CHUNKS
    assert cal.curves.shape == (4, len(GRID)) and min(cal.n_pieces) >= 60
    assert np.all(np.diff(cal.curves, axis=1) <= 1e-12)  # coverage falls with the span
    for k, curve in zip(CHUNKS, cal.curves, strict=True):
        # A k-bar patchwork: almost every note in a match of k/2 bars, almost none of 2k bars.
        assert np.interp(np.log2(k / 2), np.log2(GRID), curve) > 0.95
        assert np.interp(np.log2(2 * k), np.log2(GRID), curve) < 0.1
    again = GranularityCalibration.load(cal.save(tmp_path / "granularity.json"))
    assert again.members == cal.members and again.config == cal.config
    np.testing.assert_allclose(again.curves, cal.curves)


def levels_of(report) -> list[str]:
    """The granularity level of each query piece of an analysis report."""
    records = report.query_records()
    return [granularity_level(r.granularity_share, r.granularity_bars, CHUNKS, 0.5) for r in records]


def test_patchworks_recover_their_chunk_size(index, maker):
    for k in (1, 2, 4):
        pieces = [p.piece for p in maker.make_patchworks(10, k)]
        report = analyze(pieces, index, originality=False, jobs=1, show_progress=False)
        want = level_step(granularity_level(1.0, float(k), CHUNKS, 0.5), CHUNKS)
        steps = np.array([level_step(x, CHUNKS) for x in levels_of(report)])
        assert np.all(np.abs(steps - want) <= 1), (k, levels_of(report))  # every piece within one step
        group = report.granularity.groups["query"]
        if k == 1:
            # One bar is the chorales' resolution limit (a shuffled soprano matches about a bar at a
            # time): the group reads at 1 bar or just below it.
            assert group.level in (BELOW_ONE_BAR, "1 bar")
        else:
            assert np.all(steps == want), (k, levels_of(report))
            assert group.level == f"{k} bars" and group.bars == pytest.approx(k, rel=0.1)
            assert group.share > 0.9 and group.bars_ci[0] <= k * 1.1 and group.bars_ci[1] >= k / 1.1


def test_shuffled_pieces_come_out_below_one_bar_and_human_music_above(index, maker, chorales):
    shuffled = [p.piece for p in maker.make_null(24) if p.kind == "shuffled"]
    report = analyze(shuffled, index, chorales[1][:16], originality=False, jobs=1, show_progress=False)
    query, control = report.granularity.groups["query"], report.granularity.groups["control"]
    assert query.level == BELOW_ONE_BAR and query.share < 0.3
    assert sum(x == BELOW_ONE_BAR for x in levels_of(report)) >= 0.6 * len(shuffled)
    assert all(level_step(x, CHUNKS) <= 2 for x in levels_of(report))
    # Held-out chorales share the corpus's one-bar formulas: recombined at about a bar, well above chance.
    assert control.level == "1 bar" and control.share > 0.8 and control.share_ci[0] > query.share_ci[1]
    # The report carries it: records, JSON and the HTML section.
    assert report.to_dict()["granularity"]["groups"]["query"]["n_pieces"] == len(shuffled)
    assert "How long the shared stretches are (granularity)" in report.html(max_maps=0)


def test_a_piece_half_quoted_in_four_bar_chunks_puts_half_its_weight_at_four_bars(index, maker):
    """The mixture reading: 16 bars of 4-bar quotations followed by as many random notes put about half
    of the weight on the 4-bar member and next to none above it, not an average between the two."""
    analyzer = Analyzer(index, AnalysisConfig(originality=False))
    cal = analyzer.granularity
    quoted = maker.make_patchworks(1, 4, n_bars=16)[0].piece
    filler = next(p.piece for p in maker.make_null(2) if p.kind == "random")
    tail = filler.notes[: len(quoted.notes)].copy()
    tail["onset"] += quoted.end + (-quoted.end % 48)
    piece = quoted.with_notes(np.concatenate([quoted.notes, tail]))
    curves = analyzer.analyze_piece(piece, "half.mid", "query").span_curve
    estimate = cal.estimate(curves[0], curves[1])
    weights = dict(zip(("chance", *cal.members), estimate.weights[0], strict=True))
    assert 0.4 < weights["4"] < 0.7 and weights["8"] < 0.1
    assert estimate.share[0] >= weights["4"] and 0.5 < estimate.share[0] < 1.0


def test_saved_rows_without_granularity_still_load():
    row = {f: 0 for f in PieceRecord.__dataclass_fields__}
    row.update(piece="a.mid", group="query", path="", segmentation="lbdm", longest_copied_source="")
    row.update(longest_copied_source_bars="", tune_group="", n_notes=10, n_line_notes=10)
    for name in ("granularity_bars", "granularity_share", "leaked"):
        row.pop(name)
    record = PieceRecord.from_dict(row)
    assert math.isnan(record.granularity_bars) and math.isnan(record.granularity_share)
    assert (
        PieceRecord.from_dict({**row, "granularity_bars": 2.0, "granularity_share": None}).measure(
            "granularity_bars"
        )
        == 2.0
    )


def test_a_reference_too_small_to_calibrate_leaves_granularity_out():
    # Two one-bar pieces: no three lines of one bar length to draw patchworks from.
    tiny = [make_piece([60, 62, 64, 65], time_signatures=[(0, 4, 4)]) for _ in range(2)]
    small = Index.build(tiny)
    with pytest.raises(RemixError, match="granularity: no reference line"):
        calibrate(small)
    report = analyze(tiny[:1], small, originality=False, jobs=1, show_progress=False)
    assert report.granularity is None and report.to_dict()["granularity"] is None
    assert math.isnan(report.query_records()[0].granularity_share)
    # Three two-bar pieces: the 1 and 2-bar members only, the largest read as "2+ bars".
    two_bars = [make_piece([60, 62, 64, 65, 67, 65, 64, 62][i:] + [60] * i) for i in range(3)]
    assert calibrate(Index.build(two_bars), GranularityConfig(n_pieces=4)).members == ("1", "2")


def test_worker_processes_read_the_same_granularity(index, maker):
    pieces = [p.piece for p in maker.make_patchworks(3, 2)]
    one = analyze(pieces, index, originality=False, jobs=1, show_progress=False).query_records()
    two = analyze(pieces, index, originality=False, jobs=2, show_progress=False).query_records()
    assert [(r.granularity_bars, r.granularity_share) for r in one] == [
        (r.granularity_bars, r.granularity_share) for r in two
    ]


def test_calibration_reads_bar_lengths_from_the_index():
    # Six 3/4 pieces of four bars (36 steps a bar, a note a beat) and one 4/4 piece.
    waltz = [
        make_piece(list(60 + (np.arange(12) * (k + 1)) % 7), time_signatures=[(0, 3, 4)]) for k in range(6)
    ]
    lines = _sample_lines(Index.build([*waltz, make_piece(list(range(60, 76)))]), np.random.default_rng(0))
    assert sorted(lines.bar_len.tolist()) == [36] * 6 + [48]
    assert sorted(lines.n_bars.tolist()) == [4] * 7
    cal = calibrate(Index.build(waltz), GranularityConfig(chunk_bars=(1, 2, 4), n_bars=4, n_pieces=8))
    assert cal.members == ("1", "2", "4")
    # 1-bar chunks of 3 beats: every note in a match spanning 2/3 bar (onset to onset) or more.
    assert cal.curves[0][GRID <= 2 / 3].min() == 1.0 and cal.curves[0][GRID > 1.5].max() < 0.1
