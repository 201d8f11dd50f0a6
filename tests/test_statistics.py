"""The statistics of an analysis and of the experiment (issue 8, item 5): one control set everywhere, one
primary measure with Holm-adjusted secondary measures, and tune groups carried from the dataset manifest
into the records, the intervals and the tests."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from rich.console import Console

from remixmusic.data.datasets import load_dataset
from remixmusic.evaluation.significance import compare, group_means, holm, mann_whitney_u
from remixmusic.experiment.measure import Measured
from remixmusic.experiment.questions import versus_human
from remixmusic.novelty.analyze import analyze
from remixmusic.novelty.index import Index
from remixmusic.novelty.report import MEASURES as REPORT_MEASURES
from remixmusic.novelty.report import PRIMARY_MEASURE

# Test-split chorales of bach-chorales: two tune groups (bwv114.7 and bwv194.6, 4 pieces each) and two
# single tunes; the query is the bwv352 group (3 pieces) and two of bwv420's.
CONTROL = (0, 3, 6, 7, 8, 11, 13, 20, 1, 9)
QUERY = (15, 16, 17, 24, 25)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    ds = load_dataset("bach-chorales")
    train, test = ds.files("train"), ds.files("test")
    index = Index.build(train[:100])
    # The first training chorale is in the control too: the leakage check must remove it.
    control = [test[i] for i in CONTROL] + [train[0]]
    report = analyze([test[i] for i in QUERY], index, control=control, jobs=1, show_progress=False)
    out = report.save(tmp_path_factory.mktemp("analysis"))
    return ds, index, report, out


def test_the_index_and_the_records_carry_the_manifest_tune_groups(setup):
    ds, index, report, out = setup
    train = ds.records("train")[:100]
    assert index.piece_groups == [r["group"] for r in train]
    assert index.n_groups == len({r["group"] for r in train}) < index.n_pieces
    by_id = {r["id"]: r["group"] for r in ds.manifest}
    for record in report.piece_records:
        assert record.tune_group == by_id[record.piece.removesuffix(".mid")]
    with open(out / "pieces.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["tune_group"] for r in rows] == [r.tune_group for r in report.piece_records]
    assert report.params["n_reference_groups"] == index.n_groups


def test_one_control_set_in_the_comparisons_the_tables_and_the_experiment(setup):
    _, _, report, out = setup
    everything = [r for r in report.piece_records if r.group == "control"]
    leaked = [r for r in everything if r.leaked]
    assert "bwv10.7.mid" in [r.piece for r in leaked]  # the training chorale
    kept = report.compared_records("control")
    # compared: neither leaked nor carrying a reference tune (the index's files are read for that check)
    assert kept == [r for r in everything if not r.excluded]
    assert report.leakage["tune_check"]["ran"]
    assert len(kept) == report.params["n_control_compared"] == len(everything) - sum(r.excluded for r in everything)
    assert report.params["n_control"] == len(CONTROL) + 1
    n_groups = len({r.tune_group for r in kept})
    by_name = {c.measure: c for c in report.comparisons}
    primary = by_name[PRIMARY_MEASURE]
    all_mean = np.mean([r.recombined_fraction for r in everything])
    assert primary.n_control == len(kept)
    assert primary.control_mean == pytest.approx(np.mean([r.recombined_fraction for r in kept]))
    assert abs(all_mean - primary.control_mean) > 0.02  # the leaked piece would have moved it
    # The terminal table, the HTML table and the experiment's human group use the same pieces.
    table = {row["measure"]: row for row in report.measure_table()}
    for c in report.comparisons:
        assert table[c.measure]["control"] == pytest.approx(c.control_mean, nan_ok=True)
        assert table[c.measure]["query"] == pytest.approx(c.query_mean, nan_ok=True)
    printed = io.StringIO()
    report.print_summary(Console(file=printed, width=250))
    text = printed.getvalue()
    assert f"control {primary.control_mean:.3f}" in text and f"control {all_mean:.3f}" not in text
    assert f"{len(kept)} control piece(s) in {n_groups} tune group(s)" in text
    page = (out / "report.html").read_text()
    assert f"<b>{100 * primary.control_mean:.1f}%</b>" in page and "p (Holm)" in page


def test_the_report_has_one_primary_measure_and_holm_adjusted_secondaries(setup):
    _, _, report, out = setup
    assert PRIMARY_MEASURE == "recombined_fraction"
    roles = {c.measure: c.role for c in report.comparisons}
    assert roles == {
        name: "primary" if name == PRIMARY_MEASURE else "secondary" for name, _ in REPORT_MEASURES
    }
    secondary = [c for c in report.comparisons if c.role == "secondary"]
    np.testing.assert_allclose([c.p_adjusted for c in secondary], holm([c.p_value for c in secondary]))
    primary = next(c for c in report.comparisons if c.role == "primary")
    assert primary.p_adjusted == primary.p_value
    saved = json.loads((out / "report.json").read_text())
    for row, c in zip(saved["comparisons"], report.comparisons, strict=True):
        assert row["role"] == c.role and row["p_adjusted"] == pytest.approx(c.p_adjusted, nan_ok=True)
    assert saved["params"]["primary_measure"] == PRIMARY_MEASURE


def test_the_report_tests_tune_groups(setup):
    _, _, report, _ = setup
    kept = report.compared_records("control")
    query = report.compared_records("query")
    c = next(c for c in report.comparisons if c.measure == PRIMARY_MEASURE)
    assert (c.n_control, c.n_control_groups) == (len(kept), len({r.tune_group for r in kept}))
    assert c.n_control_groups <= 4 < c.n_control and (c.n_query, c.n_query_groups) == (5, 2)
    q_means = group_means([r.recombined_fraction for r in query], [r.tune_group for r in query])
    c_means = group_means([r.recombined_fraction for r in kept], [r.tune_group for r in kept])
    assert c.u == mann_whitney_u(q_means, c_means).u
    assert c.p_value == pytest.approx(mann_whitney_u(q_means, c_means).p_value)
    assert f"tested on the means of 2 query and {c.n_control_groups} control tune groups" in c.verdict


def _human_and_model(rng: np.random.Generator) -> tuple[Measured, Measured]:
    # Human: 6 tune groups of 5 near-identical pieces. The model: 30 independent pieces.
    groups = [f"tune{k}" for k in range(6) for _ in range(5)]
    human_values = (np.repeat(rng.normal(0.2, 0.15, 6), 5) + rng.normal(0, 0.01, 30)).tolist()
    human = Measured(
        "human", [f"h{i}" for i in range(30)], groups, [False] * 30, {"recombined_fraction": human_values}
    )
    model_values = rng.normal(0.3, 0.1, 30).tolist()
    model = Measured(
        "t",
        [f"t{i}" for i in range(30)],
        [f"t/{i}" for i in range(30)],
        [False] * 30,
        {"recombined_fraction": model_values},
    )
    return human, model


def test_experiment_comparisons_are_clustered_by_tune_group_and_drop_leaked_pieces():
    human, model = _human_and_model(np.random.default_rng(0))
    c = versus_human(model, human, "recombined_fraction", 0.05, 0)
    assert (c.n_control, c.n_control_groups, c.n_query_groups) == (30, 6, 30)
    values = np.asarray(human.values["recombined_fraction"])
    by_group = mann_whitney_u(model.values["recombined_fraction"], group_means(values, human.groups))
    assert c.p_value == pytest.approx(by_group.p_value)
    naive = compare("recombined_fraction", model.values["recombined_fraction"], values)
    assert c.p_value > 10 * naive.p_value  # 6 tune groups are less evidence than 30 pieces
    assert c.control_ci[1] - c.control_ci[0] > 1.5 * (naive.control_ci[1] - naive.control_ci[0])
    human.leaked[:5] = [True] * 5  # a leaked tune group leaves the comparison
    c = versus_human(model, human, "recombined_fraction", 0.05, 0)
    assert (c.n_control, c.n_control_groups) == (25, 5)
    assert c.control_mean == pytest.approx(values[5:].mean())
