"""From comparisons to verdicts: comparison rows, normalized positions and the decision rules applied.

Per pair of groups (:data:`~remixmusic.experiment.design.PAIRS`) the measures are one family
(:func:`~remixmusic.evaluation.significance.compare_measures`): :data:`PRIMARY` tested at alpha, the
others Holm-adjusted (Holm 1979). The human pieces are clustered by tune group: intervals resample whole
groups (cluster bootstrap, Davison & Hinkley 1997; Field & Welsh 2007) and the Mann-Whitney test and
Cliff's delta compare group means (a cluster-level analysis, Donner & Klar 2000); generated pieces are
each their own group.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from remixmusic.evaluation.significance import Comparison, compare_measures, group_ids, magnitude
from remixmusic.experiment.design import CONTROL, GROUPS, LABELS, MEASURES, PAIRS, PRIMARY
from remixmusic.experiment.result import Verdict


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def comparison_row(measure: str, a: str, b: str, c: Comparison) -> dict[str, Any]:
    """One row of ``comparison.csv`` (:data:`~remixmusic.experiment.design.COMPARISON_COLUMNS`): group
    ``a`` against group ``b`` on ``measure``."""
    return {
        "measure": measure,
        "group_a": a,
        "group_b": b,
        "n_a": c.n_query,
        "n_b": c.n_control,
        "mean_a": c.query_mean,
        "ci_a_low": c.query_ci[0],
        "ci_a_high": c.query_ci[1],
        "mean_b": c.control_mean,
        "ci_b_low": c.control_ci[0],
        "ci_b_high": c.control_ci[1],
        "p_value": c.p_value,
        "p_adjusted": c.p_adjusted,
        "cliffs_delta": c.cliffs_delta,
        "magnitude": c.magnitude,
        "role": c.role,
        "n_groups_a": c.n_query_groups,
        "n_groups_b": c.n_control_groups,
    }


def compare_pairs(
    values: Mapping[str, Mapping[str, Sequence[float]]],
    groups: Mapping[str, Sequence[str]] | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    n_boot: int = 2000,
) -> list[dict[str, Any]]:
    """Comparison rows of every measure of :data:`MEASURES` and pair of groups of
    :data:`~remixmusic.experiment.design.PAIRS`, measure by measure.

    ``values``: group -> measure -> one value per piece (NaN where undefined); ``groups``: group -> a
    tune-group label per piece (``""`` unknown; a group left out has every piece its own group). Per
    pair, :data:`PRIMARY` is tested at ``alpha`` and the other measures are Holm-adjusted among
    themselves.

    Raises:
        ValueError: a group's labels are not one per piece.
    """
    labels = groups or {}
    keys = [key for key, _, _ in MEASURES]
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for a, b in PAIRS:
        family = compare_measures(
            {key: np.asarray(values[a][key], np.float64) for key in keys},
            {key: np.asarray(values[b][key], np.float64) for key in keys},
            primary=PRIMARY,
            alpha=alpha,
            n_boot=n_boot,
            seed=seed,
            query_groups=labels.get(a),
            control_groups=labels.get(b),
        )
        for c in family:
            rows[(c.measure, a, b)] = comparison_row(c.measure, a, b, c)
    return [rows[(key, a, b)] for key in keys for a, b in PAIRS]


def normalized_position(
    transformer: np.ndarray,
    recombiner: np.ndarray,
    human: np.ndarray,
    n_boot: int = 2000,
    seed: int = 0,
    human_groups: Sequence[str] | None = None,
) -> tuple[float, tuple[float, float]]:
    """``(T - H) / (R - H)`` of the group means, with a percentile bootstrap interval (the three groups
    resampled independently; the human pieces by whole tune group when ``human_groups`` gives a label
    per human piece, the cluster bootstrap). NaN when the recombiner's and human means (nearly)
    coincide, so no scale exists.

    Raises:
        ValueError: ``human_groups`` does not hold one label per human piece.
    """
    arrays = [np.asarray(v, np.float64) for v in (transformer, recombiner, human)]
    ids = [np.arange(len(v)) for v in arrays[:2]] + [group_ids(human_groups, len(arrays[2]))]
    keep = [~np.isnan(v) for v in arrays]
    arrays, ids = (
        [v[k] for v, k in zip(arrays, keep, strict=True)],
        [g[k] for g, k in zip(ids, keep, strict=True)],
    )
    if any(len(v) == 0 for v in arrays):
        return math.nan, (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = [v.mean() for v in arrays]
    boot = []
    for v, g in zip(arrays, ids, strict=True):
        g = np.unique(g, return_inverse=True)[1].ravel()
        sums, counts = np.bincount(g, weights=v), np.bincount(g).astype(np.float64)
        draws = rng.integers(0, len(sums), size=(n_boot, len(sums)))
        boot.append(sums[draws].sum(axis=1) / counts[draws].sum(axis=1))

    def ratio(t: Any, g: Any, h: Any) -> Any:
        span = np.asarray(g - h, np.float64)
        tiny = np.abs(span) <= 0.01 * np.maximum(np.abs(g), np.abs(h))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(tiny, np.nan, (t - h) / np.where(tiny, 1.0, span))

    point = float(ratio(*means))
    if math.isnan(point):
        return math.nan, (math.nan, math.nan)
    samples = ratio(*boot)
    samples = samples[~np.isnan(samples)]
    lo, hi = np.quantile(samples, [0.025, 0.975]) if len(samples) else (math.nan, math.nan)
    return point, (float(lo), float(hi))


def _position(
    key: str,
    name: str,
    values: dict[str, dict[str, list[float]]],
    seed: int,
    human_groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    arrays = {g: np.asarray(values[g][key], np.float64) for g in GROUPS}
    point, (lo, hi) = normalized_position(
        arrays["transformer"], arrays[CONTROL], arrays["human"], seed=seed, human_groups=human_groups
    )
    means = {g: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for g, v in arrays.items()}
    return {
        "measure": key,
        "name": name,
        **means,
        "position": point,
        "position_ci_low": lo,
        "position_ci_high": hi,
    }


def _higher(row: dict[str, Any], alpha: float) -> bool:
    """Significantly (``p_adjusted``, which is the raw p of the primary measure) and non-negligibly
    higher in group a than in group b."""
    p = row.get("p_adjusted", row["p_value"])
    return bool(p < alpha and magnitude(row["cliffs_delta"]) not in ("negligible", "undefined")) and (
        row["cliffs_delta"] > 0
    )


def _describe(row: dict[str, Any], label_a: str, label_b: str) -> str:
    text = (
        f"{label_a} {row['mean_a']:.2f} [{row['ci_a_low']:.2f}, {row['ci_a_high']:.2f}] vs {label_b} "
        f"{row['mean_b']:.2f} [{row['ci_b_low']:.2f}, {row['ci_b_high']:.2f}], Mann-Whitney p = "
        f"{row['p_value']:.2g}, Cliff's delta = {row['cliffs_delta']:+.2f}"
    )
    if row.get("role") == "secondary":
        text += f", Holm-adjusted p = {row['p_adjusted']:.2g}"
    n_groups_b = row.get("n_groups_b", row["n_b"])
    if n_groups_b < row["n_b"]:
        text += f" ({row['n_b']} {label_b} pieces in {n_groups_b} tune groups, tested on group means)"
    return text


def decide(
    comparisons: dict[tuple[str, str, str], dict[str, Any]],
    positions: list[dict[str, Any]],
    quality: dict[str, Any],
    min_pieces: int = 8,
    alpha: float = 0.05,
) -> Verdict:
    """Apply :data:`RULES` to the primary measure's comparisons; the text names every number it used."""
    th = comparisons[(PRIMARY, "transformer", "human")]
    rh = comparisons[(PRIMARY, CONTROL, "human")]
    name = dict((k, n) for k, n, _ in MEASURES)[PRIMARY]
    t_vs_h = f"{name}: {_describe(th, 'transformer', 'human')}"
    r_vs_h = f"{name}: {_describe(rh, LABELS[CONTROL], 'human')}"
    q = quality["descriptor_overlap"]
    q_text = (
        f"descriptor overlap with human music {q['transformer']:.2f} (transformer) vs {q[CONTROL]:.2f} "
        f"({LABELS[CONTROL]})"
    )
    pos = next(p for p in positions if p["measure"] == PRIMARY)
    pos_text = (
        f"on {name} the transformer sits at {pos['position']:+.2f} "
        f"[{pos['position_ci_low']:+.2f}, {pos['position_ci_high']:+.2f}] between human music (0) and pure "
        "recombination (1)"
        if not math.isnan(pos["position"])
        else f"its position between human music and pure recombination on {name} is undefined"
    )
    counts = {"transformer": th["n_a"], CONTROL: rh["n_a"], "human": th["n_b"]}
    enough = min(counts.values()) >= min_pieces
    control_ok = _higher(rh, alpha)
    recombines = _higher(th, alpha)
    closer = q["transformer"] > q[CONTROL]
    checks = [
        {"rule": "n", "holds": not enough, "detail": f"pieces per group {counts}, need {min_pieces}"},
        {"rule": "recombination", "holds": recombines and closer, "detail": f"{t_vs_h}; {q_text}"},
        {"rule": "quality", "holds": recombines and not closer, "detail": q_text},
        {"rule": "positive control", "holds": not recombines and not control_ok, "detail": r_vs_h},
        {"rule": "otherwise", "holds": not recombines and control_ok, "detail": t_vs_h},
    ]
    if not enough:
        needed = (
            f"{counts['transformer']} transformer, {counts[CONTROL]} {LABELS[CONTROL]}, "
            f"{counts['human']} human pieces"
        )
        outcome = "inconclusive (n too small)"
        text = f"Inconclusive (n too small: {needed}; need {min_pieces} each). {t_vs_h}. {r_vs_h}. {q_text}."
    elif recombines and closer:
        outcome = "supported"
        text = (
            "Prediction supported: transformer output recombines significantly more training phrases than "
            f"held-out human music ({t_vs_h}), while being closer to the human descriptors than the "
            f"pure-recombination ∞-gram ({q_text}); {pos_text}."
        )
    elif recombines:
        outcome = "partly supported"
        text = (
            "Prediction partly supported: transformer output recombines significantly more training phrases "
            f"than held-out human music ({t_vs_h}), but it is not closer to the human descriptors than the "
            f"pure-recombination ∞-gram ({q_text}); {pos_text}."
        )
    elif not control_ok:
        outcome = "inconclusive (positive control failed)"
        text = (
            f"Inconclusive (positive control failed): transformer output does not recombine more training "
            f"phrases than held-out human music ({t_vs_h}), but neither does the pure-recombination ∞-gram "
            f"({r_vs_h}), so this analysis does not register recombination at these settings. {q_text}."
        )
    else:
        outcome = "not supported"
        text = (
            "Prediction not supported: transformer output does not recombine more training phrases than "
            f"held-out human music ({t_vs_h}), while the pure-recombination ∞-gram does ({r_vs_h}); "
            f"{pos_text}."
        )
    return Verdict(outcome, text, checks)
