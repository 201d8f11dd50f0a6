import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.evaluation.significance import (
    bootstrap_ci,
    bootstrap_ci_curves,
    cliffs_delta,
    compare,
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
