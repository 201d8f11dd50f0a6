"""The three questions answered from the measured conditions, by the rules of
:mod:`remixmusic.experiment.design` (written before any result): one :class:`Answer` per question.

Comparisons of a condition with the human control test tune-group means (Mann-Whitney U, Cliff's delta;
the human pieces resampled by whole tune group for intervals: :func:`~remixmusic.evaluation.significance.
compare`). "Above" means a Holm-adjusted two-sided ``p < alpha`` (Holm 1979, over the family the rule
names) and a Cliff's delta of at least "small" (0.147, Romano et al. 2006) in that direction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from remixmusic.evaluation.significance import Comparison, compare, holm, magnitude, rank_with_ties
from remixmusic.experiment.design import (
    HUMAN,
    MAIN_SETTING,
    PROMPTED_HUMAN,
    PROMPTED_MODEL,
    Q2_QUALITY,
    Q2_RECOMBINATION,
    Q3_MEASURE,
    curve_parts,
    patchwork,
    span_measure,
    transformer,
)
from remixmusic.experiment.measure import Measured


@dataclass
class Answer:
    """One question's verdict: ``outcome`` (a short label from the rules), ``text`` (the sentence that
    states it with its numbers and the granularity it speaks for), and ``rows``: the table behind it."""

    question: str
    outcome: str
    text: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def versus_human(a: Measured, human: Measured, measure: str, alpha: float, seed: int) -> Comparison:
    """``a`` against the human control on ``measure`` (human pieces by tune group, leaked ones out)."""
    qa, ga = a.kept(measure)
    qh, gh = human.kept(measure)
    return compare(measure, qa, qh, alpha, seed=seed, query_groups=ga, control_groups=gh)


def _direction(c: Comparison, p: float, alpha: float) -> int:
    """+1 significantly and non-negligibly above, -1 below, 0 neither."""
    if not (p < alpha) or magnitude(c.cliffs_delta) in ("negligible", "undefined"):
        return 0
    return 1 if c.cliffs_delta > 0 else -1


def _row(name: str, c: Comparison, p_adj: float) -> dict[str, Any]:
    return {
        "condition": name,
        "measure": c.measure,
        "n": c.n_query,
        "mean": c.query_mean,
        "ci_low": c.query_ci[0],
        "ci_high": c.query_ci[1],
        "human_mean": c.control_mean,
        "human_ci_low": c.control_ci[0],
        "human_ci_high": c.control_ci[1],
        "p_value": c.p_value,
        "p_holm": p_adj,
        "cliffs_delta": c.cliffs_delta,
    }


def _fmt(c: Comparison) -> str:
    return (
        f"{c.query_mean:.3f} [{c.query_ci[0]:.3f}, {c.query_ci[1]:.3f}] vs human {c.control_mean:.3f} "
        f"[{c.control_ci[0]:.3f}, {c.control_ci[1]:.3f}], Cliff's delta {c.cliffs_delta:+.2f}"
    )


# -- question 1 -----------------------------------------------------------------------------------------
def question1(
    measured: Mapping[str, Measured], patchwork_bars: Sequence[int], alpha: float, min_pieces: int, seed: int
) -> Answer:
    """How much, and at what granularity (:data:`~remixmusic.experiment.design.RULES_Q1`)."""
    human = measured[HUMAN]
    model = measured[transformer(*MAIN_SETTING)]
    bars = [b for b in patchwork_bars if patchwork(b) in measured]
    tests = [versus_human(model, human, span_measure(b), alpha, seed) for b in bars]
    controls = [versus_human(measured[patchwork(b)], human, span_measure(b), alpha, seed) for b in bars]
    p_model = holm([c.p_value for c in tests]) if tests else np.zeros(0)
    p_control = holm([c.p_value for c in controls]) if controls else np.zeros(0)
    rows, outcomes = [], {}
    for k, b in enumerate(bars):
        enough = min(tests[k].n_query, tests[k].n_control, controls[k].n_query) >= min_pieces
        registers = _direction(controls[k], float(p_control[k]), alpha) > 0
        direction = _direction(tests[k], float(p_model[k]), alpha)
        if not enough:
            outcome = "inconclusive (n too small)"
        elif not registers:
            outcome = "no verdict (control fails)"
        else:
            outcome = {1: "more", -1: "less", 0: "like"}[direction]
        outcomes[b] = outcome
        position = _position(tests[k].query_mean, controls[k].query_mean, tests[k].control_mean)
        rows.append(
            {
                "bars": b,
                "outcome": outcome,
                **_row(model.condition, tests[k], float(p_model[k])),
                "control_mean": controls[k].query_mean,
                "control_p_holm": float(p_control[k]),
                "control_registers": registers,
                "position": position,
            }
        )
    if PROMPTED_MODEL in measured and PROMPTED_HUMAN in measured:  # RAVEN's setting: reported, not decided on
        for b in bars:
            c = versus_human(measured[PROMPTED_MODEL], measured[PROMPTED_HUMAN], span_measure(b), alpha, seed)
            rows.append({"bars": b, "outcome": "reported (prompted)", **_row(PROMPTED_MODEL, c, c.p_value)})
    more = [b for b in bars if outcomes[b] == "more"]
    valid = [b for b in bars if outcomes[b] in ("more", "less", "like")]
    detail = "; ".join(
        f"{b} bar{'s' if b > 1 else ''}: {outcomes[b]} (transformer {_fmt(tests[k])}; {b}-bar patchwork "
        f"{controls[k].query_mean:.3f})"
        for k, b in enumerate(bars)
    )
    if not bars or all(o.startswith("inconclusive") for o in outcomes.values()):
        outcome, text = "inconclusive", f"Too few pieces for a verdict at any granularity. {detail}."
    elif not valid:
        outcome = "no verdict"
        text = (
            "The analyser does not register pure recombination above human music at any granularity "
            f"tried, so no verdict on the transformer is possible. {detail}."
        )
    elif more:
        outcome = f"recombines more at >= {min(more)} bar{'s' if min(more) > 1 else ''}"
        text = (
            f"The transformer (T={MAIN_SETTING[0]:g}, top-p={MAIN_SETTING[1]:g}) recombines training material "
            f"more than held-out human music at spans of {', '.join(map(str, more))} bar(s), measured as "
            f"the share of notes inside exact matches spanning that many bars. {detail}."
        )
    elif all(outcomes[b] == "less" for b in valid):
        outcome = "recombines less"
        text = (
            "The transformer recombines training material less than held-out human music at every "
            f"granularity where the analyser registers recombination ({', '.join(map(str, valid))} bars). {detail}."
        )
    else:
        outcome = "no more than human"
        text = (
            "The transformer recombines training material no more than held-out human music at the "
            f"granularities where the analyser registers recombination ({', '.join(map(str, valid))} bars). "
            f"{detail}."
        )
    return Answer("1. How much, and at what granularity?", outcome, text, rows)


def _position(t: float, r: float, h: float) -> float:
    """``(T - H) / (R - H)``: 0 where human music sits, 1 where the pure-recombination control sits."""
    span = r - h
    if not all(map(math.isfinite, (t, r, h))) or abs(span) <= 0.01 * max(abs(r), abs(h), 1e-12):
        return math.nan
    return (t - h) / span


# -- question 2 -----------------------------------------------------------------------------------------
def question2(settings: Sequence[Measured], min_settings: int, seed: int, n_boot: int = 2000) -> Answer:
    """Does quality go with remixing (:data:`~remixmusic.experiment.design.RULES_Q2`)?"""
    rows: list[dict[str, Any]] = []
    for m in settings:
        acc = m.quality.get(Q2_QUALITY, math.nan)
        rows.append(
            {
                "condition": m.condition,
                "recombination": m.mean(Q2_RECOMBINATION),
                "copied_coverage": m.mean("copied_coverage"),
                "quality": 1 - 2 * abs(acc - 0.5) if math.isfinite(acc) else math.nan,
                "c2st_accuracy": acc,
                "descriptor_overlap": m.quality.get("descriptor_overlap", math.nan),
                "judge_bits_per_note": m.quality.get("judge_bits_per_note", math.nan),
                "n": m.n,
            }
        )
    usable = [r for r in rows if math.isfinite(r["recombination"]) and math.isfinite(r["quality"])]
    frontier = pareto_frontier([(r["recombination"], r["quality"]) for r in usable])
    for i, r in enumerate(usable):
        r["frontier"] = i in frontier
    secondary = {
        q: spearman_ci([r["recombination"] for r in usable], [s * r[q] for r in usable], seed, n_boot)
        for q, s in (("descriptor_overlap", 1.0), ("judge_bits_per_note", -1.0))
    }
    sec_text = "; ".join(
        f"with {name.replace('_', ' ')}{' (negated)' if name.startswith('judge') else ''}: rho {v[0]:+.2f} "
        f"[{v[1]:+.2f}, {v[2]:+.2f}]"
        for name, v in secondary.items()
    )
    if len(usable) < min_settings:
        return Answer(
            "2. Does quality go with remixing?",
            "inconclusive (too few settings)",
            f"{len(usable)} settings with both values; {min_settings} needed.",
            rows,
        )
    rho, lo, hi = spearman_ci(
        [r["recombination"] for r in usable], [r["quality"] for r in usable], seed, n_boot
    )
    stat = (
        f"Spearman rho {rho:+.2f} [{lo:+.2f}, {hi:+.2f}] between the share of notes recombined at one bar "
        f"or more and classifier-test quality over {len(usable)} settings (sampling settings and training "
        f"snapshots); secondary, {sec_text}"
    )
    if lo > 0:
        outcome, lead = (
            "yes",
            "Quality goes with remixing: settings whose output recombines more are judged better",
        )
    elif hi < 0:
        outcome, lead = "opposite", "Quality goes against remixing: the better settings recombine less"
    else:
        outcome, lead = "no association", "No association between quality and remixing was detected"
    caveat = (
        " What it cannot say: recombined stretches are human music, so a judge comparing with human "
        "pieces favours them by construction; the association does not show that remixing causes quality."
        if outcome == "yes"
        else ""
    )
    return Answer("2. Does quality go with remixing?", outcome, f"{lead} ({stat}).{caveat}", rows)


def spearman_ci(
    x: Sequence[float], y: Sequence[float], seed: int, n_boot: int = 2000
) -> tuple[float, float, float]:
    """Spearman's rho of ``x`` and ``y`` with a percentile bootstrap 95% interval (pairs resampled);
    NaN with fewer than 3 pairs."""
    xa, ya = np.asarray(x, np.float64), np.asarray(y, np.float64)
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    if len(xa) < 3:
        return math.nan, math.nan, math.nan

    def rho(a: np.ndarray, b: np.ndarray) -> float:
        ra, rb = rank_with_ties(a), rank_with_ties(b)
        if ra.std() == 0 or rb.std() == 0:
            return math.nan
        return float(np.corrcoef(ra, rb)[0, 1])

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(xa), size=(n_boot, len(xa)))
    boots = np.array([rho(xa[d], ya[d]) for d in draws])
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [0.025, 0.975]) if len(boots) else (math.nan, math.nan)
    return rho(xa, ya), float(lo), float(hi)


def pareto_frontier(points: Sequence[tuple[float, float]]) -> set[int]:
    """Indices of the points no other point beats on quality (second) at no more recombination (first):
    the best quality reachable at each level of recombination."""
    out = set()
    for i, (r, q) in enumerate(points):
        if not any(
            (r2 <= r and q2 > q) or (r2 < r and q2 >= q) for j, (r2, q2) in enumerate(points) if j != i
        ):
            out.add(i)
    return out


# -- question 3 -----------------------------------------------------------------------------------------
def question3(
    runs: Mapping[str, list[tuple[dict[str, Any], Measured]]],
    human: Measured,
    best_steps: Mapping[str, int | None],
    alpha: float,
    min_pieces: int,
    seed: int,
) -> Answer:
    """When does a model start to copy (:data:`~remixmusic.experiment.design.RULES_Q3`)? ``runs``: run
    name -> its snapshots in step order, each (snapshot record, measured samples)."""
    rows: list[dict[str, Any]] = []
    onsets: dict[str, dict[str, Any] | None] = {}
    usable: list[str] = []
    for run, snaps in runs.items():
        tests = [versus_human(m, human, Q3_MEASURE, alpha, seed) for _, m in snaps]
        p = holm([c.p_value for c in tests]) if tests else np.zeros(0)
        enough = sum(min(c.n_query, c.n_control) >= min_pieces for c in tests)
        if enough >= 4:
            usable.append(run)
        onset = None
        for k, ((snap, _m), c) in enumerate(zip(snaps, tests, strict=True)):
            above = _direction(c, float(p[k]), alpha) > 0
            if above and onset is None:
                onset = snap
            rows.append(
                {
                    "run": run,
                    "step": snap["step"],
                    "train_bits_per_note": snap["train_bits_per_note"],
                    "valid_bits_per_note": snap["valid_bits_per_note"],
                    "gap": snap["gap"],
                    "best_valid_step": best_steps.get(run),
                    "copies": above,
                    **_row(_m.condition, c, float(p[k])),
                }
            )
        onsets[run] = onset
    if not usable:
        return Answer(
            "3. When does a model start to copy?",
            "inconclusive",
            f"No run has 4 snapshots with {min_pieces} pieces each.",
            rows,
        )
    parts = []
    for run in usable:
        onset = onsets[run]
        best = best_steps.get(run)
        if onset is None:
            last = runs[run][-1][0]
            parts.append(
                f"{run}: no copying within {last['step']} steps (train-valid gap {last['gap']:+.2f} bits/note)"
            )
        else:
            when = (
                ""
                if best is None
                else (" after" if onset["step"] > best else " at or before")
                + f" the best validation step {best}"
            )
            parts.append(
                f"{run}: copies from step {onset['step']}{when} (train-valid gap {onset['gap']:+.2f} bits/note)"
            )
    copying = [r for r in usable if onsets[r] is not None]
    measure = "copied coverage (share of notes in above-chance exact copies) against the human control"
    # Several snapshot temperatures make several curves per run ("mini-10pct at T=0.7").
    unit = "curves (runs x sampling temperatures)" if any(curve_parts(r)[1] != "1" for r in usable) else "runs"
    if copying:
        outcome = f"copies ({len(copying)} of {len(usable)} {unit.split()[0]})"
        text = (
            f"Models start to copy training passages verbatim in {len(copying)} of {len(usable)} {unit}, measured as {measure}: "
            + "; ".join(parts)
            + "."
        )
    else:
        outcome = "no copying"
        text = (
            f"No run copies training passages more than human music does within its trained steps, measured as {measure}: "
            + "; ".join(parts)
            + "."
        )
    return Answer("3. When does a model start to copy?", outcome, text, rows)
