"""Query-versus-control statistics: is there more copying in the query than in human music of the style?

A copying measure means little alone: folk tunes share formulas, chorales share cadences. Following McCoy
et al. (2023, RAVEN), every measure of the query pieces is compared with the same measure on a human
control, and following Merrill et al. (2024) the control is first cleaned of pieces that duplicate the
reference (a leaked control would look like copying and hide real copying in the query).

Per measure: percentile-bootstrap confidence intervals of each group's mean (seeded), a two-sided
Mann-Whitney U test (normal approximation with tie and continuity correction, numpy only), Cliff's delta
(equal to the rank-biserial correlation) as the effect size with the magnitude bands of Romano et al.
(2006), and a one-sentence verdict assembled from those numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U statistic of the first sample
    z: float  # normal approximation, continuity-corrected
    p_value: float  # two-sided


@dataclass(frozen=True)
class Comparison:
    """One measure, query against control."""

    measure: str
    n_query: int
    n_control: int
    query_mean: float
    query_ci: tuple[float, float]
    control_mean: float
    control_ci: tuple[float, float]
    u: float
    p_value: float
    cliffs_delta: float
    magnitude: str
    verdict: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def bootstrap_ci(
    values: np.ndarray, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; NaN bounds for an empty sample."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    alpha = (1.0 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def bootstrap_ci_curves(
    curves: np.ndarray, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise bootstrap interval of the mean curve of ``curves`` (pieces x points), resampling pieces."""
    curves = np.asarray(curves, dtype=np.float64)
    if len(curves) == 0:
        nan = np.full(curves.shape[1] if curves.ndim == 2 else 0, np.nan)
        return nan, nan
    rng = np.random.default_rng(seed)
    means = curves[rng.integers(0, len(curves), size=(n_boot, len(curves)))].mean(axis=1)
    alpha = (1.0 - confidence) / 2
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1.0 - alpha, axis=0)


def rank_with_ties(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing their average rank."""
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    new_group = np.concatenate([[True], sorted_vals[1:] != sorted_vals[:-1]])
    group = np.cumsum(new_group) - 1
    first = np.flatnonzero(new_group)
    last = np.concatenate([first[1:], [len(values)]]) - 1
    avg = (first + last) / 2.0 + 1.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = avg[group]
    return ranks


def mann_whitney_u(x: np.ndarray, y: np.ndarray) -> MannWhitney:
    """Two-sided Mann-Whitney U test with the tie-corrected normal approximation."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return MannWhitney(math.nan, math.nan, math.nan)
    both = np.concatenate([x, y])
    ranks = rank_with_ties(both)
    u = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    n = n1 + n2
    _, counts = np.unique(both, return_counts=True)
    tie_term = float((counts.astype(np.float64) ** 3 - counts).sum()) / (n * (n - 1)) if n > 1 else 0.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    mean = n1 * n2 / 2.0
    if var <= 0:  # every value tied: no evidence either way
        return MannWhitney(u, 0.0, 1.0)
    diff = u - mean
    z = (diff - math.copysign(0.5, diff) if abs(diff) >= 0.5 else 0.0) / math.sqrt(var)
    return MannWhitney(u, z, min(1.0, math.erfc(abs(z) / math.sqrt(2.0))))


def cliffs_delta(x: np.ndarray, y: np.ndarray, u: float | None = None) -> float:
    """P(x > y) - P(x < y), computed from the U statistic (ties count half)."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return math.nan
    u = mann_whitney_u(x, y).u if u is None else u
    return 2.0 * u / (n1 * n2) - 1.0


def magnitude(delta: float) -> str:
    """Romano et al. (2006) bands for |Cliff's delta|."""
    if math.isnan(delta):
        return "undefined"
    d = abs(delta)
    return "negligible" if d < 0.147 else "small" if d < 0.33 else "medium" if d < 0.474 else "large"


def compare(
    measure: str,
    query: np.ndarray,
    control: np.ndarray,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """All statistics and a plain-language verdict for one measure (higher = more of the measure)."""
    query = np.asarray(query, dtype=np.float64)
    control = np.asarray(control, dtype=np.float64)
    query = query[~np.isnan(query)]
    control = control[~np.isnan(control)]
    test = mann_whitney_u(query, control)
    delta = cliffs_delta(query, control, test.u)
    qm = float(query.mean()) if len(query) else math.nan
    cm = float(control.mean()) if len(control) else math.nan
    qci = bootstrap_ci(query, 1 - alpha, n_boot, seed)
    cci = bootstrap_ci(control, 1 - alpha, n_boot, seed + 1)
    size = magnitude(delta)
    numbers = (
        f"query mean {qm:.3f} [{qci[0]:.3f}, {qci[1]:.3f}] vs control {cm:.3f} [{cci[0]:.3f}, {cci[1]:.3f}]; "
        f"Cliff's delta {delta:+.2f} ({size}), Mann-Whitney p = {test.p_value:.2g}"
    )
    if len(query) < 2 or len(control) < 2:
        verdict = f"{measure}: too few pieces to compare ({len(query)} query, {len(control)} control)."
    elif test.p_value < alpha and size != "negligible":
        direction = "higher" if delta > 0 else "lower"
        verdict = f"{measure} is {direction} in the query than in the human control ({numbers})."
    else:
        verdict = f"{measure}: no clear difference between query and human control ({numbers})."
    return Comparison(
        measure=measure,
        n_query=len(query),
        n_control=len(control),
        query_mean=qm,
        query_ci=qci,
        control_mean=cm,
        control_ci=cci,
        u=test.u,
        p_value=test.p_value,
        cliffs_delta=delta,
        magnitude=size,
        verdict=verdict,
    )


def leaked(top_source_share: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Control pieces that (near-)duplicate a reference piece, to be dropped before comparing.

    ``top_source_share`` is, per control piece, the largest fraction of its notes covered by above-chance
    exact or varied matches to *one* reference piece. A human piece that takes most of its notes from a
    single training piece is the same tune (a second harmonization, a folk variant, a duplicate file)
    leaked across the split, as Merrill et al. (2024) warn; recombination spreads over many sources.
    """
    return np.asarray(top_source_share, dtype=np.float64) >= threshold
