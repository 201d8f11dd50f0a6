import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.evaluation import significance
from remixmusic.evaluation.significance import (
    bootstrap_ci,
    bootstrap_ci_curves,
    cliffs_delta,
    compare,
    compare_measures,
    group_ids,
    group_means,
    holm,
    leaked,
    magnitude,
    mann_whitney_u,
    rank_with_ties,
)


def test_mann_whitney_known_value_without_ties():
    # Complete separation of 5 vs 5: U = 0, z = (0 - 12.5 + 0.5) / sqrt(25 * 11 / 12) = -2.5067,
    # two-sided p = 0.01219 (the textbook asymptotic value, as scipy's method="asymptotic" gives).
    r = mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert r.u == 0
    assert math.isclose(r.z, -2.5067, abs_tol=1e-4)
    assert math.isclose(r.p_value, 0.01219, abs_tol=1e-5)


def test_ranks_share_ties():
    np.testing.assert_allclose(rank_with_ties(np.array([3, 1, 3, 2, 3])), [4, 1, 4, 2, 4])


def test_tie_corrected_variance_equals_the_exact_permutation_variance():
    # Under H0 every split of the pooled sample is equally likely; the tie-corrected normal approximation
    # uses exactly the mean and variance of U over those splits.
    x, y = [1, 2, 2, 3, 5], [2, 3, 3, 4]
    pooled = np.array(x + y, dtype=float)
    us = []
    for idx in itertools.combinations(range(len(pooled)), len(x)):
        mask = np.zeros(len(pooled), bool)
        mask[list(idx)] = True
        us.append(mann_whitney_u(pooled[mask], pooled[~mask]).u)
    us = np.array(us)
    n1, n2 = len(x), len(y)
    r = mann_whitney_u(x, y)
    sigma = (r.u - n1 * n2 / 2 - math.copysign(0.5, r.u - n1 * n2 / 2)) / r.z
    assert math.isclose(us.mean(), n1 * n2 / 2)
    assert math.isclose(sigma**2, us.var(), rel_tol=1e-9)


def test_all_tied_gives_no_evidence():
    assert mann_whitney_u([1, 1, 1], [1, 1]).p_value == 1.0


SMALL = st.lists(st.integers(0, 6), min_size=1, max_size=15)


@settings(max_examples=50, deadline=None)
@given(SMALL, SMALL)
def test_cliffs_delta_is_the_pairwise_dominance(x, y):
    xa, ya = np.array(x)[:, None], np.array(y)[None, :]
    direct = ((xa > ya).sum() - (xa < ya).sum()) / (len(x) * len(y))
    assert math.isclose(cliffs_delta(x, y), direct, abs_tol=1e-12)
    assert math.isclose(cliffs_delta(y, x), -direct, abs_tol=1e-12)


def test_bootstrap_is_seeded_and_brackets_the_mean():
    v = np.random.default_rng(1).normal(3.0, 1.0, 200)
    lo, hi = bootstrap_ci(v, seed=4)
    assert (lo, hi) == bootstrap_ci(v, seed=4)
    assert lo < v.mean() < hi and hi - lo < 0.5
    curves = np.stack([v, v * 2])
    clo, chi = bootstrap_ci_curves(curves.T, seed=4)
    assert np.all(clo < curves.mean(axis=1)) and np.all(chi > curves.mean(axis=1))


def test_verdict_reports_direction_and_numbers():
    rng = np.random.default_rng(0)
    copied = compare("copied coverage", rng.uniform(0.5, 1.0, 30), rng.uniform(0.0, 0.4, 30))
    assert copied.magnitude == "large" and copied.p_value < 1e-6
    assert "higher in the query" in copied.verdict and "Cliff's delta +1.00" in copied.verdict
    same = compare("copied coverage", rng.uniform(0, 1, 30), rng.uniform(0, 1, 30))
    assert "no clear difference" in same.verdict
    few = compare("copied coverage", [0.5], [0.1, 0.2])
    assert "too few" in few.verdict


def test_magnitude_bands_and_leak_rule():
    assert [magnitude(d) for d in (0.1, -0.2, 0.4, -0.9)] == ["negligible", "small", "medium", "large"]
    np.testing.assert_array_equal(leaked(np.array([0.1, 0.5, 0.95])), [False, True, True])


def test_holm_adjusted_p_values_match_a_hand_computed_example():
    # Sorted: 0.005, 0.01, 0.03, 0.04 times m - j + 1 = 4, 3, 2, 1 gives 0.02, 0.03, 0.06, 0.04; the running
    # maximum makes the last 0.06 (Holm 1979, adjusted p-values as in Wright 1992).
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # NaN stays NaN and is not counted in m; values are capped at 1.
    np.testing.assert_allclose(holm([0.01, math.nan, 0.04]), [0.02, math.nan, 0.04])
    np.testing.assert_allclose(holm([0.6, 0.5]), [1.0, 1.0])
    assert holm([]).shape == (0,)


def test_the_primary_measure_is_tested_at_alpha_and_the_secondaries_are_holm_adjusted():
    # U = 79 of 100, two-sided p = 0.0312 (significant alone). Three secondary measures with the same
    # data: Holm multiplies the smallest by 3 and the running maximum gives all three 0.0936.
    query, control = np.arange(10.0) + 3.5, np.arange(10.0)
    names = ("recombined_fraction", "copied_coverage", "stock_fraction", "fan_in")
    family = compare_measures(
        {k: query for k in names}, {k: control for k in names}, primary="recombined_fraction"
    )
    assert [c.measure for c in family] == list(names)
    primary, *secondary = family
    assert primary.role == "primary" and primary.p_adjusted == primary.p_value
    assert math.isclose(primary.p_value, 0.031209, abs_tol=1e-6)
    assert "recombined_fraction (primary measure) is higher in the query" in primary.verdict
    for c in secondary:
        assert c.role == "secondary" and c.adjustment == "holm over 3 secondary measures"
        assert math.isclose(c.p_value, primary.p_value)
        assert math.isclose(c.p_adjusted, 3 * 0.031209012771740242)
        assert "no clear difference after Holm correction" in c.verdict
        assert "Holm-adjusted p = 0.094" in c.verdict
    everything = compare_measures({k: query for k in names}, {k: control for k in names}, primary=None)
    assert all(c.role == "secondary" and math.isclose(c.p_adjusted, 4 * c.p_value) for c in everything)


def test_group_labels_number_groups_and_unknown_labels_stand_alone():
    np.testing.assert_array_equal(group_ids(["b", "a", "b", "", None, "a"], 6), [0, 1, 0, 2, 3, 1])
    np.testing.assert_array_equal(group_ids(None, 3), [0, 1, 2])
    np.testing.assert_allclose(group_means([1.0, 3.0, 2.0], ["x", "y", "x"]), [1.5, 3.0])


def test_cluster_bootstrap_is_the_ordinary_one_for_singletons_and_wider_on_clustered_data():
    rng = np.random.default_rng(5)
    v = rng.normal(0, 1, 40)
    assert bootstrap_ci(v, seed=3, groups=np.arange(40)) == pytest.approx(bootstrap_ci(v, seed=3), abs=1e-12)
    # 8 tune groups of 6 near-identical pieces: about 8 independent values, not 48.
    groups = np.repeat(np.arange(8), 6)
    clustered = np.repeat(rng.normal(0, 1, 8), 6) + rng.normal(0, 0.05, 48)
    naive_lo, naive_hi = bootstrap_ci(clustered, seed=1)
    lo, hi = bootstrap_ci(clustered, seed=1, groups=groups)
    assert lo < clustered.mean() < hi
    assert hi - lo > 2.0 * (naive_hi - naive_lo)  # about sqrt(6) = 2.4 times
    curves = np.stack([clustered, 2 * clustered], axis=1)
    clo, chi = bootstrap_ci_curves(curves, seed=1, groups=groups)
    np.testing.assert_allclose([clo[0], chi[0]], [lo, hi])


def test_cluster_bootstrap_keeps_its_coverage_where_the_naive_one_loses_it():
    # 200 data sets of 10 groups x 5 pieces, between-group sd 1, within 0.2, true mean 0: the naive
    # interval covers 0 in 60% of them, the cluster bootstrap in 91%.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(10), 5)
    covered = np.zeros(2)
    for rep in range(200):
        v = np.repeat(rng.normal(0, 1, 10), 5) + rng.normal(0, 0.2, 50)
        for k, g in enumerate((None, groups)):
            lo, hi = bootstrap_ci(v, 0.95, 500, rep, groups=g)
            covered[k] += lo <= 0 <= hi
    assert covered[0] / 200 < 0.75 and covered[1] / 200 > 0.85


def test_the_rank_test_counts_tune_groups_not_pieces():
    # Control: 4 tune groups of 6 copies each. Piece by piece the query looks clearly higher (24 control
    # "pieces"); on the 4 group means the evidence is what 4 values give.
    query = np.array([0.55, 0.6, 0.65, 0.7, 0.75, 0.8])
    control = np.repeat([0.1, 0.3, 0.5, 0.62], 6)
    groups = np.repeat(["a", "b", "c", "d"], 6)
    naive = compare("recombined_fraction", query, control)
    clustered = compare("recombined_fraction", query, control, control_groups=groups)
    exact = mann_whitney_u(query, [0.1, 0.3, 0.5, 0.62])
    assert clustered.n_control == 24 and clustered.n_control_groups == 4 and clustered.n_query_groups == 6
    assert clustered.u == exact.u and clustered.p_value == pytest.approx(exact.p_value)
    assert clustered.cliffs_delta == pytest.approx(cliffs_delta(query, [0.1, 0.3, 0.5, 0.62]))
    assert naive.p_value < 0.01 < clustered.p_value
    assert clustered.control_mean == pytest.approx(control.mean())  # the mean stays over pieces
    assert "tested on the means of 6 query and 4 control tune groups" in clustered.verdict
    # NaN values drop out with their labels.
    with_nan = compare("x", query, np.append(control, np.nan), control_groups=np.append(groups, "e"))
    assert with_nan.n_control_groups == 4 and with_nan.u == clustered.u
    with pytest.raises(ValueError, match="control: 3 group labels for 24 values"):
        compare("x", query, control, control_groups=["a", "b", "c"])


def test_bootstrap_replicates_are_drawn_in_blocks_with_the_same_numbers(monkeypatch):
    """Replicates are gathered a block at a time (all 2,000 at once held replicates x groups x points:
    a gigabyte for 2,000 one-note pieces' coverage curves); any block size gives the same intervals."""
    rng = np.random.default_rng(5)
    curves, values, groups = rng.random((60, 7)), rng.random(60), rng.integers(0, 25, 60)
    whole = bootstrap_ci_curves(curves, seed=2, groups=groups), bootstrap_ci(values, seed=2, groups=groups)
    monkeypatch.setattr(significance, "_RESAMPLE_CELLS", 50)  # blocks of one or two replicates
    blocks = bootstrap_ci_curves(curves, seed=2, groups=groups), bootstrap_ci(values, seed=2, groups=groups)
    np.testing.assert_array_equal(whole[0][0], blocks[0][0])
    np.testing.assert_array_equal(whole[0][1], blocks[0][1])
    assert whole[1] == blocks[1]


def test_bootstrap_of_many_pieces_stays_small():
    """3,000 pieces of 30-point curves: the replicates' gather stays near its block (32 MB), where all
    at once took 2.2 GB."""
    import tracemalloc

    curves = np.random.default_rng(0).random((3000, 30))
    tracemalloc.start()
    try:
        bootstrap_ci_curves(curves, n_boot=500)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6


def test_a_large_difference_on_a_small_control_asks_for_more_pieces_rather_than_saying_none():
    """A fresh tester's 3-piece control: query 0.63 against control 0.04, Cliff's delta large, p = 0.059:
    "no clear difference" read as if the data said so. The verdict now says the control is too small."""
    from remixmusic.evaluation.significance import Comparison, verdict_text

    base = dict(
        measure="recombined_fraction", role="primary", n_query=17, n_control=3, n_query_groups=17,
        n_control_groups=3, query_mean=0.63, query_ci=(0.5, 0.7), control_mean=0.04, control_ci=(0.0, 0.1),
        u=40.0, p_value=0.059, p_adjusted=0.059, adjustment="none", cliffs_delta=0.57, magnitude="large", verdict="",
    )
    text = verdict_text(Comparison(**base))
    assert text.endswith(
        "; with only 3 control tune groups a large difference like this one cannot be told from chance: more "
        "pieces are needed."
    )
    assert "with only" not in verdict_text(Comparison(**{**base, "n_control": 30, "n_control_groups": 30}))
    assert "with only" not in verdict_text(Comparison(**{**base, "cliffs_delta": 0.05, "magnitude": "negligible"}))
    both = verdict_text(Comparison(**{**base, "n_query": 4, "n_query_groups": 4}))
    assert "with only 3 control and 4 query tune groups" in both
    # a secondary measure significant before Holm's correction: the correction, not the size, is why
    holm = verdict_text(Comparison(**{**base, "role": "secondary", "p_value": 0.004, "p_adjusted": 0.06}))
    assert "after Holm correction" in holm and "with only" not in holm
