"""Query-versus-control statistics: is there more copying in the query than in human music of the style?

A copying measure means little alone: folk tunes share formulas, chorales share cadences. Following McCoy
et al. (2023, RAVEN), every measure of the query pieces is compared with the same measure on a human
control, and following Merrill et al. (2024) the control is first cleaned of pieces that duplicate the
reference (a leaked control would look like copying and hide real copying in the query).

Per measure: percentile-bootstrap confidence intervals of each group's mean (seeded), a two-sided
Mann-Whitney U test (normal approximation with tie and continuity correction, numpy only), Cliff's delta
(equal to the rank-biserial correlation) as the effect size with the magnitude bands of Romano et al.
(2006), and a one-sentence verdict assembled from those numbers.

Clustered pieces. Pieces of one tune group (five harmonisations of one hymn tune, variants of one folk
tune) are not independent. Given a tune-group label per piece (``query_groups``/``control_groups``; by
default every piece is its own group):

* the bootstrap resamples whole groups with replacement and recomputes the mean over the pieces drawn
  (the cluster bootstrap of Davison & Hinkley 1997, section 3.8, and Field & Welsh 2007: the estimand
  stays the mean over pieces, and the interval carries the between-group variance);
* the Mann-Whitney test and Cliff's delta are computed on group means, one value per group (a
  cluster-level analysis, Donner & Klar 2000, chapter 6; Hayes & Moulton 2017, chapter 9), so the
  effective sample size is the number of groups, not of pieces.

With every piece its own group both reduce exactly to the piece-level statistics.

Several measures. :func:`compare_measures` declares one *primary* measure, tested at ``alpha`` as is,
and corrects the *secondary* measures' p-values for multiple testing with Holm's step-down procedure
(Holm 1979; adjusted p-values as in Wright 1992, :func:`holm`), which controls the family-wise error
rate of the secondary family at ``alpha``. Verdicts are worded by the adjusted p-values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

GroupLabels = Sequence[Any] | np.ndarray
"""A tune-group label per piece (strings or integers); ``None`` or ``""`` marks a piece of unknown group,
which is its own group."""


ROLES = ("single", "primary", "secondary")
"""What a :class:`Comparison` is: a comparison on its own, the declared primary measure of a family
(tested at alpha as is), or one of its secondary measures (Holm-adjusted)."""


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U statistic of the first sample
    z: float  # normal approximation, continuity-corrected
    p_value: float  # two-sided


@dataclass(frozen=True)
class Comparison:
    """One measure, query against control.

    ``role``: one of :data:`ROLES`. ``n_query``/``n_control``: pieces with a value;
    ``n_query_groups``/``n_control_groups``: tune groups among them, the units of the test.
    ``query_mean``/``control_mean``: means over pieces, with percentile bootstrap intervals ``*_ci`` at
    confidence ``1 - alpha`` (whole groups resampled). ``u``: Mann-Whitney U of the query's group means
    against the control's; ``p_value``: its two-sided p-value, unadjusted; ``p_adjusted``: Holm-adjusted
    over the family's secondary measures for a ``secondary`` measure, else ``p_value``; ``adjustment``:
    which correction gave ``p_adjusted``. ``cliffs_delta``: P(query > control) - P(query < control) over
    group means, in [-1, 1]; ``magnitude``: its Romano et al. (2006) band. ``verdict``: one sentence with
    the numbers, decided on ``p_adjusted``.
    """

    measure: str
    role: str
    n_query: int
    n_control: int
    n_query_groups: int
    n_control_groups: int
    query_mean: float
    query_ci: tuple[float, float]
    control_mean: float
    control_ci: tuple[float, float]
    u: float
    p_value: float
    p_adjusted: float
    adjustment: str
    cliffs_delta: float
    magnitude: str
    verdict: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def group_ids(groups: GroupLabels | None, n: int) -> np.ndarray:
    """Group numbers ``0 .. G-1`` (int64, length ``n``) from labels, numbered in order of first
    appearance; ``None`` means every piece its own group, and so does a ``None`` or ``""`` label.

    Raises:
        ValueError: ``groups`` does not hold ``n`` labels.
    """
    if groups is None:
        return np.arange(n, dtype=np.int64)
    labels = np.asarray(["" if g is None else str(g) for g in groups], dtype=str)
    if len(labels) != n:
        raise ValueError(f"{len(labels)} group labels for {n} values")
    if n == 0:
        return np.zeros(0, np.int64)
    keys = np.unique(labels, return_inverse=True)[1].ravel().astype(np.int64)
    keys = np.where(labels == "", n + np.arange(n), keys)  # an unknown group is its own
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


def group_means(values: np.ndarray, groups: GroupLabels | None = None) -> np.ndarray:
    """Mean of ``values`` per group (``G`` values, groups in order of :func:`group_ids`).

    Raises:
        ValueError: ``groups`` does not hold one label per value.
    """
    values = np.asarray(values, dtype=np.float64)
    ids = group_ids(groups, len(values))
    if len(values) == 0:
        return values
    return np.bincount(ids, weights=values) / np.bincount(ids)


def bootstrap_ci(
    values: np.ndarray,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    groups: GroupLabels | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``; NaN bounds for an empty sample.

    With ``groups`` (a label per value), whole groups are resampled with replacement and each replicate
    is the mean over the pieces drawn: the cluster bootstrap (Davison & Hinkley 1997, section 3.8; Field
    & Welsh 2007). Without, every value is its own group (the ordinary bootstrap).

    Raises:
        ValueError: ``groups`` does not hold one label per value.
    """
    values = np.asarray(values, dtype=np.float64)
    ids = group_ids(groups, len(values))
    if len(values) == 0:
        return (math.nan, math.nan)
    sums, counts = np.bincount(ids, weights=values), np.bincount(ids).astype(np.float64)
    means = _resampled_means(sums[:, None], counts, n_boot, seed)[:, 0]
    alpha = (1.0 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def bootstrap_ci_curves(
    curves: np.ndarray,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    groups: GroupLabels | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise bootstrap interval of the mean curve of ``curves`` (pieces x points), resampling pieces,
    or whole groups of pieces when ``groups`` gives a label per piece (as :func:`bootstrap_ci`).

    Raises:
        ValueError: ``groups`` does not hold one label per piece.
    """
    curves = np.asarray(curves, dtype=np.float64)
    if len(curves) == 0:
        nan = np.full(curves.shape[1] if curves.ndim == 2 else 0, np.nan)
        return nan, nan
    ids = group_ids(groups, len(curves))
    n_groups = int(ids.max()) + 1
    sums = np.zeros((n_groups, curves.shape[1]))
    np.add.at(sums, ids, curves)
    counts = np.bincount(ids).astype(np.float64)
    means = _resampled_means(sums, counts, n_boot, seed)
    alpha = (1.0 - confidence) / 2
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1.0 - alpha, axis=0)


_RESAMPLE_CELLS = 1 << 22
"""(replicate, group, point) cells gathered at once by :func:`_resampled_means` (32 MB): a replicate of
2,000 groups of 30-point curves is 60,000 cells, and all 2,000 replicates at once took a gigabyte."""


def _resampled_means(sums: np.ndarray, counts: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap replicates of a mean: ``n_boot`` draws of ``G`` groups with replacement (seeded), each
    replicate the sum of the drawn groups' ``sums`` ``(G, P)`` over the sum of their ``counts`` ``(G,)``.
    float64 ``(n_boot, P)``. Drawn and summed a block of replicates at a time (the same numbers as all at
    once: the generator's stream does not depend on the block size)."""
    n_groups = len(counts)
    rng = np.random.default_rng(seed)
    block = max(1, _RESAMPLE_CELLS // max(1, n_groups * sums.shape[1]))
    out = np.empty((n_boot, sums.shape[1]))
    for start in range(0, n_boot, block):
        draws = rng.integers(0, n_groups, size=(min(block, n_boot - start), n_groups))
        out[start : start + len(draws)] = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)[:, None]
    return out


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


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979; as adjusted p-values, Wright 1992).

    With the ``m`` finite p-values sorted ``p_(1) <= ... <= p_(m)``, the adjusted value of ``p_(i)`` is
    ``max_{j <= i} min(1, (m - j + 1) p_(j))``; rejecting where it is below ``alpha`` controls the
    family-wise error rate at ``alpha`` under any dependence. NaN p-values stay NaN and do not count in
    ``m``. Returns an array of the input's length, in the input's order.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    m = len(finite)
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def _finite(values: np.ndarray, groups: GroupLabels | None, side: str) -> tuple[np.ndarray, np.ndarray]:
    """The non-NaN values of one side and their group numbers."""
    values = np.asarray(values, dtype=np.float64)
    try:
        ids = group_ids(groups, len(values))
    except ValueError as exc:
        raise ValueError(f"{side}: {exc}") from None
    keep = ~np.isnan(values)
    return values[keep], ids[keep]


def compare(
    measure: str,
    query: np.ndarray,
    control: np.ndarray,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
    *,
    query_groups: GroupLabels | None = None,
    control_groups: GroupLabels | None = None,
) -> Comparison:
    """All statistics and a plain-language verdict for one measure (higher = more of the measure).

    ``query``/``control``: one value per piece (NaN values are left out); ``query_groups``/
    ``control_groups``: a tune-group label per piece (default: every piece its own group). The means
    are over pieces, with cluster-bootstrap intervals at confidence ``1 - alpha``; the Mann-Whitney test
    and Cliff's delta compare group means (see the module docstring). Returns a ``single`` comparison
    (``p_adjusted == p_value``); :func:`compare_measures` compares a family of measures.

    Raises:
        ValueError: a ``groups`` argument does not hold one label per value.
    """
    q, q_ids = _finite(query, query_groups, "query")
    c, c_ids = _finite(control, control_groups, "control")
    q_means, c_means = group_means(q, q_ids), group_means(c, c_ids)
    test = mann_whitney_u(q_means, c_means)
    delta = cliffs_delta(q_means, c_means, test.u)
    record = Comparison(
        measure=measure,
        role="single",
        n_query=len(q),
        n_control=len(c),
        n_query_groups=len(q_means),
        n_control_groups=len(c_means),
        query_mean=float(q.mean()) if len(q) else math.nan,
        query_ci=bootstrap_ci(q, 1 - alpha, n_boot, seed, groups=q_ids),
        control_mean=float(c.mean()) if len(c) else math.nan,
        control_ci=bootstrap_ci(c, 1 - alpha, n_boot, seed + 1, groups=c_ids),
        u=test.u,
        p_value=test.p_value,
        p_adjusted=test.p_value,
        adjustment="none",
        cliffs_delta=delta,
        magnitude=magnitude(delta),
        verdict="",
    )
    return replace(record, verdict=verdict_text(record, alpha))


def compare_measures(
    query: Mapping[str, np.ndarray],
    control: Mapping[str, np.ndarray],
    primary: str | None,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
    *,
    query_groups: GroupLabels | None = None,
    control_groups: GroupLabels | None = None,
) -> list[Comparison]:
    """:func:`compare` for every measure of ``query`` (name -> one value per piece; ``control`` likewise,
    same names), in ``query``'s order, as one family: the ``primary`` measure is tested at ``alpha`` as
    is, and the others' p-values are Holm-adjusted among themselves (:func:`holm`), which keeps the
    chance of any false "higher"/"lower" among the secondary measures at ``alpha``. ``primary=None``
    makes every measure secondary. Verdicts are worded by the adjusted p-values.

    Raises:
        ValueError: ``control`` has other measures than ``query``, ``primary`` is not one of them, or a
            ``groups`` argument does not hold one label per piece.
    """
    if set(query) != set(control):
        raise ValueError(f"query measures {sorted(query)} differ from control measures {sorted(control)}")
    if primary is not None and primary not in query:
        raise ValueError(f"primary measure {primary!r} is not among {', '.join(query)}")
    single = [
        compare(
            name,
            query[name],
            control[name],
            alpha,
            n_boot,
            seed,
            query_groups=query_groups,
            control_groups=control_groups,
        )
        for name in query
    ]
    secondary = [k for k, c in enumerate(single) if c.measure != primary]
    adjusted = holm([single[k].p_value for k in secondary])
    m = int(np.count_nonzero(~np.isnan(adjusted)))  # measures without a p-value are not in the family
    out = []
    for k, c in enumerate(single):
        if c.measure == primary:
            c = replace(c, role="primary", adjustment="none (primary measure)")
        else:
            p_adj = float(adjusted[secondary.index(k)])
            how = f"holm over {m} secondary measures" if not math.isnan(p_adj) else "none (no test)"
            c = replace(c, role="secondary", p_adjusted=p_adj, adjustment=how)
        out.append(replace(c, verdict=verdict_text(c, alpha)))
    return out


def verdict_text(c: Comparison, alpha: float = 0.05) -> str:
    """The one-sentence verdict of ``c``: "higher"/"lower" when ``p_adjusted < alpha`` and Cliff's delta
    is not negligible, with every number it rests on."""
    label = {"primary": f"{c.measure} (primary measure)", "secondary": f"{c.measure} (secondary)"}.get(
        c.role, c.measure
    )
    if min(c.n_query_groups, c.n_control_groups) < 2:
        return (
            f"{label}: too few pieces to compare ({c.n_query} query in {c.n_query_groups} group(s), "
            f"{c.n_control} control in {c.n_control_groups} group(s))."
        )
    numbers = (
        f"query mean {c.query_mean:.3f} [{c.query_ci[0]:.3f}, {c.query_ci[1]:.3f}] vs control "
        f"{c.control_mean:.3f} [{c.control_ci[0]:.3f}, {c.control_ci[1]:.3f}]; Cliff's delta "
        f"{c.cliffs_delta:+.2f} ({c.magnitude}), Mann-Whitney p = {c.p_value:.2g}"
    )
    if c.role == "secondary":
        numbers += f", Holm-adjusted p = {c.p_adjusted:.2g}"
    if c.n_query_groups < c.n_query or c.n_control_groups < c.n_control:
        numbers += (
            f"; tested on the means of {c.n_query_groups} query and {c.n_control_groups} control tune groups"
        )
    effect = c.magnitude not in ("negligible", "undefined")
    if c.p_adjusted < alpha and effect:
        direction = "higher" if c.cliffs_delta > 0 else "lower"
        return f"{label} is {direction} in the query than in the human control ({numbers})."
    if c.p_value < alpha and effect:
        return f"{label}: no clear difference after Holm correction ({numbers})."
    return f"{label}: no clear difference between query and human control ({numbers}){_small(c)}."


SMALL_SIDE = 10
"""Tune groups a side needs before a large effect that is not significant is put down to the data rather
than to the sample's size (:func:`verdict_text`)."""


def _small(c: Comparison) -> str:
    """What a large or medium effect without significance says when a side is small: the test has little
    power there, so the sentence asks for more pieces instead of reading as "no difference"."""
    sides = [f"{n} {side}" for n, side in ((c.n_control_groups, "control"), (c.n_query_groups, "query")) if n < SMALL_SIDE]
    if not sides or c.magnitude not in ("medium", "large"):
        return ""
    return (
        f"; with only {' and '.join(sides)} tune groups a {c.magnitude} difference like this one cannot be told "
        "from chance: more pieces are needed"
    )


def leaked(top_source_share: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Control pieces that (near-)duplicate a reference piece, to be dropped before comparing.

    ``top_source_share`` is, per control piece, the largest fraction of its notes covered by above-chance
    exact or varied matches to *one* reference piece. A human piece that takes most of its notes from a
    single training piece is the same tune (a second harmonization, a folk variant, a duplicate file)
    leaked across the split, as Merrill et al. (2024) warn; recombination spreads over many sources.
    """
    return np.asarray(top_source_share, dtype=np.float64) >= threshold
