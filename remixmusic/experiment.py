"""The experiment: does a music transformer recombine its training data more than human composers do?

It tests one prediction of the "deep retrieval and remixing" hypothesis (generative models write good
output mainly by retrieving and recombining pieces of their training data): a trained transformer's
output should be made of recombined training phrases clearly more than held-out human music of the same
style, while being better music than a model that does nothing but recombine. Three groups are analysed
against one reference index of the checkpoint's training split:

* ``transformer``: ``n`` pieces sampled from the checkpoint;
* ``ngram``: ``n`` pieces, with the same sampling settings and seed, from an interpolated Kneser-Ney
  n-gram over the same tokens and training split (:mod:`remixmusic.ngram`): the pure-recombination
  baseline, which can only continue contexts it has counted;
* ``human``: the dataset's held-out test split, cleaned of pieces that duplicate a training piece (the
  analyzer's leakage check, Merrill et al. 2024), as the human control of McCoy et al. (2023, RAVEN).

Like with like. A model only ever sees music through its tokenizer (tracks merged, onsets on the token
grid), and a generated piece is one track. Reference and human pieces therefore go through
:meth:`~remixmusic.tokenizer.RemiTokenizer.canonicalize` too, or a verbatim copy of a four-part chorale
would not match its own four-track source; human pieces are cut to the generated length (``bars``), so
length-dependent measures (longest copied span, fan-in) compare pieces of one size.

Statistics per measure and pair of groups (transformer-human, ngram-human, transformer-ngram): bootstrap
95% intervals of the means, two-sided Mann-Whitney U, Cliff's delta (:mod:`remixmusic.significance`).
The *position* of the transformer on a measure is ``(T - H) / (N - H)`` with ``T, N, H`` the group
means: 0 is where human music sits, 1 where pure recombination sits (bootstrap interval from resampling
each group); it is undefined when the n-gram and the human means (nearly) coincide.

Quality proxies: held-out (test split) bits per note of each model, and the overlapping area of
per-piece descriptor distributions with the human pieces (Yang & Lerch 2020, :func:`remixmusic.stats.compare`),
averaged over descriptors.

The verdict follows the decision rules in :data:`RULES`, in order, on the primary measure :data:`PRIMARY`
(the share of motifs labelled copied or varied: the hypothesis speaks of recombining *and slightly
modifying* retrieved parts). "Higher" there means a two-sided Mann-Whitney ``p < alpha`` (0.05) and a
non-negligible Cliff's delta (``|delta| >= 0.147``, Romano et al. 2006) in that direction.
"""

from __future__ import annotations

import html
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remixmusic.errors import RemixError
from remixmusic.fileio import write_bytes, write_json, write_text
from remixmusic.report import (
    CSS,
    csv_text,
    html_table,
    img_tag,
    json_ready,
    plot_coverage_curves,
    png_bytes,
)
from remixmusic.significance import Comparison, compare, magnitude

SCHEMA_VERSION = 1

GROUPS = ("transformer", "ngram", "human")
PAIRS = (("transformer", "human"), ("ngram", "human"), ("transformer", "ngram"))
GROUP_COLORS = {"transformer": "#d62728", "ngram": "#2ca02c", "human": "#1f77b4"}

MEASURES = (
    ("copied_coverage", "copied coverage", "share of notes in above-chance rare exact matches"),
    ("recombined_fraction", "recombined fraction", "share of motifs copied or varied"),
    ("varied_fraction", "varied fraction", "share of motifs that are varied copies"),
    ("novel_fraction", "novel fraction", "share of motifs that are novel glue"),
    ("longest_copied_notes", "longest copied span", "longest rare exact match (notes)"),
    ("fan_in", "fan-in", "distinct reference pieces among copied motifs"),
    ("originality", "originality", "mean originality score (Yin et al.)"),
)
"""Per-piece measures (analysis record key, display name, meaning) compared between the groups."""

PRIMARY = "recombined_fraction"
"""The measure the verdict's rules are decided on."""

RULES = (
    ("n", "inconclusive (n too small) when a group has fewer than min_pieces pieces with a value"),
    (
        "recombination",
        "supported when the transformer is higher than the human control and its descriptor overlap with the "
        "human pieces is larger than the n-gram's (it recombines, and writes more human-like music than pure "
        "recombination does)",
    ),
    (
        "quality",
        "partly supported when the transformer is higher than the human control but not closer to the human "
        "descriptors than the n-gram",
    ),
    (
        "positive control",
        "inconclusive (positive control failed) when the transformer is not higher and neither is the n-gram: "
        "if pure recombination does not register as recombination, the analysis may miss the transformer's "
        "too, so no recombination found is no evidence against it",
    ),
    (
        "otherwise",
        "not supported otherwise: with enough pieces, the transformer does not recombine more training "
        "phrases than held-out human music, while the analysis does register the n-gram's recombination",
    ),
)
"""The verdict's decision rules (name, statement), applied in order on :data:`PRIMARY`."""

COMPARISON_COLUMNS = (
    "measure",
    "group_a",
    "group_b",
    "n_a",
    "n_b",
    "mean_a",
    "ci_a_low",
    "ci_a_high",
    "mean_b",
    "ci_b_low",
    "ci_b_high",
    "p_value",
    "cliffs_delta",
    "magnitude",
)

Log = Callable[[str], None]


# -- results ------------------------------------------------------------------------------------------
@dataclass
class Verdict:
    """The outcome, a sentence that states it with its numbers, and each decision rule's check."""

    outcome: str  # supported, partly supported, not supported, inconclusive (...)
    text: str
    checks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ExperimentResult:
    """Everything one experiment produced; :meth:`save` writes it, :meth:`summary` says it in one line."""

    settings: dict[str, Any]
    provenance: dict[str, Any]
    values: dict[str, dict[str, list[float]]]  # group -> measure -> one value per piece
    comparisons: list[dict[str, Any]]  # one row per (measure, pair), see COMPARISON_COLUMNS
    positions: list[dict[str, Any]]  # one row per measure: group means and the transformer's position
    quality: dict[str, Any]
    leakage: dict[str, Any]
    coverage_lengths: np.ndarray
    coverage: dict[str, np.ndarray]  # group -> pieces x coverage_lengths
    min_match_notes: int
    verdict: Verdict
    timings: dict[str, float]
    reports: dict[str, str] = field(default_factory=dict)  # group -> analysis report folder (relative)

    def comparison(self, measure: str, a: str, b: str) -> dict[str, Any]:
        """The comparison row of ``measure`` between groups ``a`` and ``b``."""
        for row in self.comparisons:
            if (row["measure"], row["group_a"], row["group_b"]) == (measure, a, b):
                return row
        raise KeyError((measure, a, b))

    def group_mean(self, measure: str, group: str) -> tuple[float, float, float]:
        """Mean of ``measure`` in ``group`` with its bootstrap 95% interval (low, high)."""
        if group == "human":
            row = self.comparison(measure, "transformer", "human")
            return row["mean_b"], row["ci_b_low"], row["ci_b_high"]
        row = self.comparison(measure, group, "human")
        return row["mean_a"], row["ci_a_low"], row["ci_a_high"]

    def summary(self) -> str:
        return f"{self.verdict.outcome}: {self.verdict.text}"

    # -- plots ----------------------------------------------------------------------------------
    def plot_coverage(self, ax: Any = None) -> Any:
        """Mean coverage curves of the three groups with bootstrap 95% intervals."""
        return plot_coverage_curves(
            self.coverage_lengths,
            self.coverage,
            self.min_match_notes,
            "Coverage by training-set matches: transformer, n-gram, human",
            seed=int(self.settings["seed"]),
            ax=ax,
            colors=GROUP_COLORS,
        )

    def plot_measures(self) -> Any:
        """One panel per measure: each group's mean with its bootstrap 95% interval."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 5.2))
        axes = fig.subplots(2, 4).ravel()
        for ax, (key, name, _) in zip(axes, MEASURES, strict=False):
            for k, group in enumerate(GROUPS):
                mean, lo, hi = self.group_mean(key, group)
                if math.isnan(mean):
                    continue
                ax.errorbar(
                    [k],
                    [mean],
                    yerr=[[mean - lo], [hi - mean]],
                    fmt="o",
                    color=GROUP_COLORS[group],
                    capsize=4,
                )
            ax.set_xticks(range(len(GROUPS)), GROUPS, fontsize=8)
            ax.set_xlim(-0.5, len(GROUPS) - 0.5)
            ax.set_title(name, fontsize=9)
        for ax in axes[len(MEASURES) :]:
            ax.set_axis_off()
        fig.suptitle("Group means with bootstrap 95% intervals", fontsize=10)
        fig.tight_layout()
        return fig

    # -- output ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "settings": self.settings,
            "provenance": self.provenance,
            "verdict": {
                "outcome": self.verdict.outcome,
                "text": self.verdict.text,
                "checks": self.verdict.checks,
                "primary_measure": PRIMARY,
                "rules": [rule for _, rule in RULES],
            },
            "leakage": self.leakage,
            "quality": self.quality,
            "positions": self.positions,
            "comparisons": self.comparisons,
            "coverage": {
                "lengths": self.coverage_lengths,
                "min_match_notes": self.min_match_notes,
                **{
                    g: {"mean": c.mean(axis=0) if len(c) else [], "per_piece": c}
                    for g, c in self.coverage.items()
                },
            },
            "values": self.values,
            "timings_s": self.timings,
            "reports": self.reports,
        }

    def save(self, out_dir: str | Path) -> Path:
        """Write experiment.json, comparison.csv, coverage.png, measures.png and experiment.html."""
        out = Path(out_dir)
        write_json(out / "experiment.json", json_ready(self.to_dict()))
        write_text(out / "comparison.csv", csv_text(self.comparisons, COMPARISON_COLUMNS))
        write_text(out / "positions.csv", csv_text(self.positions, _position_columns()))
        for name, fig in (("coverage.png", self.plot_coverage()), ("measures.png", self.plot_measures())):
            write_bytes(out / name, png_bytes(fig))
        write_bytes(out / "experiment.html", self.html().encode("utf-8"))
        return out

    def html(self) -> str:
        """One self-contained page: verdict, rules, quality, positions, plots, tables, report links."""
        s = self.settings
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'><title>remixmusic experiment</title>",
            f"<style>{CSS}</style></head><body><h1>remixmusic experiment</h1>",
            f"<h2>Verdict: {html.escape(self.verdict.outcome)}</h2><p>{html.escape(self.verdict.text)}</p>",
            "<h3>Decision rules</h3><ol>" + "".join(f"<li>{html.escape(r)}</li>" for _, r in RULES) + "</ol>",
            html_table(self.verdict.checks, ("rule", "holds", "detail")),
            f"<p>{html.escape(self.leakage.get('summary', ''))}</p>",
            "<h2>Where the transformer sits</h2><p>Position 0 = the human control's mean, 1 = the "
            "pure-recombination n-gram's mean.</p>",
            html_table(self.positions, _position_columns()),
            "<h2>Quality proxies</h2>",
            html_table(self.quality["models"], ("group", "test_bits_per_note", "descriptor_overlap")),
            html_table(self.quality["descriptors"], ("descriptor", "transformer", "ngram")),
            "<h2>Coverage curves</h2>",
            img_tag(self.plot_coverage()),
            "<h2>Measures</h2>",
            img_tag(self.plot_measures()),
            "<h2>Comparisons</h2>",
            html_table(self.comparisons, COMPARISON_COLUMNS),
            "<h2>Per-group analysis reports</h2><ul>",
        ]
        for group, folder in self.reports.items():
            link = html.escape(f"{folder}/report.html")
            parts.append(f"<li><a href='{link}'>{html.escape(group)}</a></li>")
        parts.append(
            "</ul><p>The human control is the control group of the transformer's report.</p>"
            "<h2>Settings and provenance</h2>"
        )
        parts.append(html_table([{"setting": k, "value": v} for k, v in {**s, **self.provenance}.items()]))
        parts.append("</body></html>")
        return "\n".join(parts)

    def print_summary(self, console: Any = None) -> None:
        """A rich table of group means, the transformer's position and p-values, then the verdict."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        table = Table(title="transformer vs n-gram (pure recombination) vs held-out human", show_edge=False)
        for column in ("measure", "transformer", "n-gram", "human", "position", "p T-H", "delta T-H"):
            table.add_column(column, justify="left" if column == "measure" else "right")
        for row in self.positions:
            c = self.comparison(row["measure"], "transformer", "human")
            table.add_row(
                row["name"],
                *(f"{row[g]:.3f}" for g in GROUPS),
                _num(row["position"], "{:+.2f}"),
                _num(c["p_value"], "{:.2g}"),
                _num(c["cliffs_delta"], "{:+.2f}"),
            )
        console.print(table)
        models = ", ".join(
            f"{m['group']} {_num(m['test_bits_per_note'], '{:.2f}')} bits/note, descriptor overlap "
            f"{_num(m['descriptor_overlap'], '{:.2f}')}"
            for m in self.quality["models"]
        )
        console.print(f"quality: {models}", highlight=False)
        if self.leakage.get("summary"):
            console.print(self.leakage["summary"], highlight=False)
        console.print(f"[bold]{self.verdict.outcome}[/bold]: {self.verdict.text}", highlight=False)


def _num(value: float, spec: str) -> str:
    return "n/a" if value is None or math.isnan(value) else spec.format(value)


def _position_columns() -> tuple[str, ...]:
    return ("measure", "name", *GROUPS, "position", "position_ci_low", "position_ci_high")


# -- the run ------------------------------------------------------------------------------------------
def run_experiment(
    checkpoint: str | Path | None = None,
    n: int = 32,
    bars: int = 16,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    ngram_order: int | None = None,
    jobs: int = 0,
    out_dir: str | Path = "experiments/run",
    *,
    dataset: str | Path | None = None,
    min_pieces: int = 8,
    alpha: float = 0.05,
    overwrite: bool = False,
    show_progress: bool = True,
    log: Log | None = None,
) -> ExperimentResult:
    """Run the experiment end to end (see the module docstring) and save it into ``out_dir``.

    ``checkpoint``: a transformer checkpoint (default: the shipped one). Its training dataset is found by
    the name it records (or ``dataset``, a folder, when that name is not in the dataset roots) and must
    have the recorded manifest hash. ``ngram_order``: the n-gram order to sample with (default: the order
    chosen on the valid split); an n-gram saved next to the checkpoint (``CHECKPOINT/ngram`` or
    ``ngram-DATASET`` beside it, as ``remixmusic ngram`` writes) is reused when it has the checkpoint's
    tokenizer and dataset, else one is fitted and saved in ``out_dir/ngram-model``. Both models sample
    with the same ``bars``, ``temperature``, ``top_k``, ``top_p`` and ``seed``. ``log`` receives one line
    per stage.
    """
    from remixmusic.analyze import analyze
    from remixmusic.checkpoint import package_versions, read_info
    from remixmusic.index import Index
    from remixmusic.sample import generate, load_model, write_generated

    say = log or (lambda message: None)
    if n < 1 or bars < 1:
        raise RemixError("n and bars must be at least 1")
    out = Path(out_dir)
    _prepare_output(out, overwrite)
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = round(now - clock[0], 3)
        clock[0] = now

    say("1/5 loading the checkpoint, its dataset and the human control")
    model, tokenizer, t_identity = load_model(checkpoint)
    info = read_info(t_identity["path"])
    data = _checkpoint_dataset(info, dataset)
    train = _canonical(tokenizer, data.pieces("train", jobs=jobs, show_progress=show_progress))
    test = data.pieces("test", jobs=jobs, show_progress=show_progress)
    if not train or not test:
        raise RemixError(f"dataset {data.name!r} needs non-empty train and test splits for the experiment")
    human = [p for p in (q.crop_bars(0, bars) for q in _canonical(tokenizer, test)) if len(p.notes)]
    lap("load")

    say("2/5 the n-gram baseline (pure recombination) on the same training split and tokens")
    ngram_path, ngram_source = _ngram_model(info, data, ngram_order, out, jobs, say)
    ngram, _, n_identity = load_model(ngram_path)
    if ngram_order is not None:
        if not 1 <= ngram_order <= ngram.max_order:
            raise RemixError(f"ngram_order must be in 1..{ngram.max_order}")
        ngram.order_ = ngram_order
    n_identity = {**n_identity, "order": ngram.order_, "source": ngram_source}
    lap("ngram")

    sampling = {"bars": bars, "temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed}
    paths: dict[str, list[Path]] = {}
    pieces: dict[str, list[Any]] = {}
    for group, (m, identity) in (("transformer", (model, t_identity)), ("ngram", (ngram, n_identity))):
        say(f"3/5 generating {n} pieces from the {group}")
        results = generate(m, tokenizer, n, show_progress=show_progress, **sampling)
        paths[group] = write_generated(results, out / group, identity)
        pieces[group] = [r.piece for r in results]
    lap("generate")

    say(f"4/5 analysing both against one index of {len(train)} training pieces, with {len(human)} human ones")
    index = Index.build(train, show_progress=show_progress)
    common = {"jobs": jobs, "seed": seed, "show_progress": show_progress}
    t_report = analyze(paths["transformer"], index, control=human, **common)
    n_report = analyze(paths["ngram"], index, **common)
    reports = {"transformer": "analysis/transformer", "ngram": "analysis/ngram"}
    t_report.save(out / reports["transformer"])
    n_report.save(out / reports["ngram"])
    lap("analyze")

    say("5/5 comparing the groups and deciding")
    removed = set(t_report.leakage["removed"])
    human_records = [r for r in t_report.piece_records if r["group"] == "control" and not r["leaked"]]
    records = {
        "transformer": t_report.query_records(),
        "ngram": n_report.query_records(),
        "human": human_records,
    }
    values = {
        g: {key: [_float(r[key]) for r in recs] for key, _, _ in MEASURES} for g, recs in records.items()
    }
    comparisons = [
        _row(key, a, b, compare(key, values[a][key], values[b][key], alpha=alpha, seed=seed))
        for key, _, _ in MEASURES
        for a, b in PAIRS
    ]
    positions = [_position(key, name, values, seed) for key, name, _ in MEASURES]
    clean_human = [p for p in human if Path(p.source or "").name not in removed]
    quality = _quality(info, ngram, tokenizer, test, pieces, clean_human)
    by_key = {(r["measure"], r["group_a"], r["group_b"]): r for r in comparisons}
    verdict = decide(by_key, positions, quality, min_pieces, alpha)
    lap("compare")

    settings = {
        "checkpoint": t_identity["path"],
        "n": n,
        **sampling,
        "ngram_order": ngram_order,
        "jobs": jobs,
        "min_pieces": min_pieces,
        "alpha": alpha,
        "primary_measure": PRIMARY,
        "analysis": {k: v for k, v in t_report.params.items() if k not in ("n_query", "n_control")},
    }
    provenance = {
        "transformer": t_identity,
        "transformer_metrics": info.metrics,
        "ngram": n_identity,
        "ngram_valid_bits_per_token": ngram.valid_bits_per_token_,
        "dataset": {
            "name": data.name,
            "manifest_hash": data.manifest_hash,
            "n_train": len(train),
            "n_test": len(test),
            "n_test_nonempty_after_crop": len(human),
        },
        "versions": package_versions(),
    }
    result = ExperimentResult(
        settings=settings,
        provenance=provenance,
        values=values,
        comparisons=comparisons,
        positions=positions,
        quality=quality,
        leakage=t_report.leakage,
        coverage_lengths=t_report.coverage_lengths,
        coverage={
            "transformer": t_report.coverage["query"],
            "ngram": n_report.coverage["query"],
            "human": t_report.coverage["control"],
        },
        min_match_notes=int(t_report.params["min_match_notes"]),
        verdict=verdict,
        timings=timings,
        reports=reports,
    )
    result.save(out)
    return result


def _prepare_output(out: Path, overwrite: bool) -> None:
    """Refuse to mix with an earlier run unless ``overwrite``; then clear only what an experiment writes."""
    if out.exists() and not out.is_dir():
        raise RemixError(f"{out} is a file; give a folder for the experiment")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise RemixError(f"{out} is not empty; choose another folder or pass --overwrite")
        for name in ("transformer", "ngram", "ngram-model", "analysis"):
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def _checkpoint_dataset(info: Any, dataset: str | Path | None) -> Any:
    """The dataset the checkpoint was trained on, verified by the manifest hash it recorded."""
    from remixmusic.corpora import load_dataset

    name = dataset if dataset is not None else info.dataset.get("name")
    if not name:
        raise RemixError(f"{info.path}: the checkpoint does not record its training dataset; pass dataset=")
    data = load_dataset(name)
    expected = info.dataset.get("manifest_hash")
    if expected and expected != data.manifest_hash:
        raise RemixError(
            f"dataset {data.name!r} ({data.root}) is not the one {info.name} was trained on (manifest hash "
            f"{data.manifest_hash[:12]} != {expected[:12]})"
        )
    return data


def _canonical(tokenizer: Any, pieces: list[Any]) -> list[Any]:
    """Pieces as the model's tokenizer represents them (see "Like with like" in the module docstring)."""
    return [tokenizer.canonicalize(p) for p in pieces]


def _ngram_model(info: Any, data: Any, order: int | None, out: Path, jobs: int, say: Log) -> tuple[Path, str]:
    """A saved n-gram next to the checkpoint with its tokenizer and dataset, else a freshly fitted one."""
    from remixmusic.errors import CheckpointError
    from remixmusic.ngram import NGramModel, fit_ngram

    for candidate in (info.path / "ngram", info.path.parent / f"ngram-{data.name}"):
        if not (candidate / "ngram.json").exists():
            continue
        try:
            model = NGramModel.load(candidate)
        except CheckpointError as exc:
            say(f"   ignoring {candidate}: {exc}")
            continue
        same = (
            model.metadata.get("tokenizer") == info.tokenizer_config
            and model.metadata.get("dataset", {}).get("manifest_hash") == data.manifest_hash
        )
        if same and (order is None or order <= model.max_order):
            say(f"   using the saved n-gram {candidate} (order {model.order_})")
            return candidate, str(candidate)
        say(f"   ignoring {candidate}: another tokenizer, dataset or too low an order")
    # The transformer's training data includes its random transpositions; the n-gram counts them all.
    transpose = int(info.train_config.get("transpose", 0))
    model = fit_ngram(
        data.root, info.tokenizer_config, max(16, order or 0), transpositions=transpose, jobs=jobs
    )
    path = model.save(out / "ngram-model")
    say(
        f"   fitted an n-gram up to order {model.max_order} (transpositions +-{transpose}); order "
        f"{model.order_} is best on valid"
    )
    return path, "fitted"


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _row(measure: str, a: str, b: str, c: Comparison) -> dict[str, Any]:
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
        "cliffs_delta": c.cliffs_delta,
        "magnitude": c.magnitude,
    }


def normalized_position(
    transformer: np.ndarray, ngram: np.ndarray, human: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """``(T - H) / (N - H)`` of the group means, with a percentile bootstrap interval (groups resampled
    independently). NaN when the n-gram and human means (nearly) coincide, so no scale exists."""
    groups = [np.asarray(v, np.float64) for v in (transformer, ngram, human)]
    groups = [v[~np.isnan(v)] for v in groups]
    if any(len(v) == 0 for v in groups):
        return math.nan, (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = [v.mean() for v in groups]
    boot = [v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1) for v in groups]

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


def _position(key: str, name: str, values: dict[str, dict[str, list[float]]], seed: int) -> dict[str, Any]:
    arrays = {g: np.asarray(values[g][key], np.float64) for g in GROUPS}
    point, (lo, hi) = normalized_position(arrays["transformer"], arrays["ngram"], arrays["human"], seed=seed)
    means = {g: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for g, v in arrays.items()}
    return {
        "measure": key,
        "name": name,
        **means,
        "position": point,
        "position_ci_low": lo,
        "position_ci_high": hi,
    }


def _quality(
    info: Any, ngram: Any, tokenizer: Any, test: list[Any], pieces: dict[str, list[Any]], human: list[Any]
) -> dict[str, Any]:
    """Held-out bits per note of both models and descriptor overlap of their pieces with human ones."""
    from remixmusic.stats import DESCRIPTORS, describe_pieces
    from remixmusic.stats import compare as compare_descriptors
    from remixmusic.train import count_notes, encode_pieces

    seqs = encode_pieces(tokenizer, test)
    ngram_bits = ngram.evaluate(seqs, count_notes(tokenizer, seqs)).bits_per_note
    bits = {"transformer": _float(info.metrics.get("test_bits_per_note")), "ngram": float(ngram_bits)}
    human_stats = describe_pieces(human)
    overlap = {
        g: compare_descriptors(describe_pieces(pieces[g]), human_stats) for g in ("transformer", "ngram")
    }
    mean_overlap = {g: _nanmean(list(o.values())) for g, o in overlap.items()}
    return {
        "bits_per_note_split": "test",
        "models": [
            {"group": g, "test_bits_per_note": bits[g], "descriptor_overlap": mean_overlap[g]}
            for g in ("transformer", "ngram")
        ],
        "descriptors": [{"descriptor": d, **{g: overlap[g][d] for g in overlap}} for d in DESCRIPTORS],
        "descriptor_overlap": mean_overlap,
        "bits_per_note": bits,
    }


def _nanmean(values: list[float]) -> float:
    arr = np.asarray(values, np.float64)
    return float(arr[~np.isnan(arr)].mean()) if (~np.isnan(arr)).any() else math.nan


# -- the verdict --------------------------------------------------------------------------------------
def _higher(row: dict[str, Any], alpha: float) -> bool:
    """Significantly and non-negligibly higher in group a than in group b."""
    return bool(
        row["p_value"] < alpha and magnitude(row["cliffs_delta"]) not in ("negligible", "undefined")
    ) and (row["cliffs_delta"] > 0)


def _describe(row: dict[str, Any], label_a: str, label_b: str) -> str:
    return (
        f"{label_a} {row['mean_a']:.2f} [{row['ci_a_low']:.2f}, {row['ci_a_high']:.2f}] vs {label_b} "
        f"{row['mean_b']:.2f} [{row['ci_b_low']:.2f}, {row['ci_b_high']:.2f}], Mann-Whitney p = "
        f"{row['p_value']:.2g}, Cliff's delta = {row['cliffs_delta']:+.2f}"
    )


def decide(
    comparisons: dict[tuple[str, str, str], dict[str, Any]],
    positions: list[dict[str, Any]],
    quality: dict[str, Any],
    min_pieces: int = 8,
    alpha: float = 0.05,
) -> Verdict:
    """Apply :data:`RULES` to the primary measure's comparisons; the text names every number it used."""
    th = comparisons[(PRIMARY, "transformer", "human")]
    nh = comparisons[(PRIMARY, "ngram", "human")]
    name = dict((k, n) for k, n, _ in MEASURES)[PRIMARY]
    t_vs_h = f"{name}: {_describe(th, 'transformer', 'human')}"
    n_vs_h = f"{name}: {_describe(nh, 'n-gram', 'human')}"
    q = quality["descriptor_overlap"]
    q_text = f"descriptor overlap with human music {q['transformer']:.2f} (transformer) vs {q['ngram']:.2f} (n-gram)"
    pos = next(p for p in positions if p["measure"] == PRIMARY)
    pos_text = (
        f"on {name} the transformer sits at {pos['position']:+.2f} "
        f"[{pos['position_ci_low']:+.2f}, {pos['position_ci_high']:+.2f}] between human music (0) and pure "
        "recombination (1)"
        if not math.isnan(pos["position"])
        else f"its position between human music and pure recombination on {name} is undefined"
    )
    counts = {"transformer": th["n_a"], "ngram": nh["n_a"], "human": th["n_b"]}
    enough = min(counts.values()) >= min_pieces
    control_ok = _higher(nh, alpha)
    recombines = _higher(th, alpha)
    closer = q["transformer"] > q["ngram"]
    checks = [
        {"rule": "n", "holds": not enough, "detail": f"pieces per group {counts}, need {min_pieces}"},
        {"rule": "recombination", "holds": recombines and closer, "detail": f"{t_vs_h}; {q_text}"},
        {"rule": "quality", "holds": recombines and not closer, "detail": q_text},
        {"rule": "positive control", "holds": not recombines and not control_ok, "detail": n_vs_h},
        {"rule": "otherwise", "holds": not recombines and control_ok, "detail": t_vs_h},
    ]
    if not enough:
        needed = (
            f"{counts['transformer']} transformer, {counts['ngram']} n-gram, {counts['human']} human pieces"
        )
        outcome = "inconclusive (n too small)"
        text = f"Inconclusive (n too small: {needed}; need {min_pieces} each). {t_vs_h}. {n_vs_h}. {q_text}."
    elif recombines and closer:
        outcome = "supported"
        text = (
            "Prediction supported: transformer output recombines significantly more training phrases than "
            f"held-out human music ({t_vs_h}), while being closer to the human descriptors than the "
            f"pure-recombination n-gram ({q_text}); {pos_text}."
        )
    elif recombines:
        outcome = "partly supported"
        text = (
            "Prediction partly supported: transformer output recombines significantly more training phrases "
            f"than held-out human music ({t_vs_h}), but it is not closer to the human descriptors than the "
            f"pure-recombination n-gram ({q_text}); {pos_text}."
        )
    elif not control_ok:
        outcome = "inconclusive (positive control failed)"
        text = (
            f"Inconclusive (positive control failed): transformer output does not recombine more training "
            f"phrases than held-out human music ({t_vs_h}), but neither does the pure-recombination n-gram "
            f"({n_vs_h}), so this analysis does not register recombination at these settings. {q_text}."
        )
    else:
        outcome = "not supported"
        text = (
            "Prediction not supported: transformer output does not recombine more training phrases than "
            f"held-out human music ({t_vs_h}), while the pure-recombination n-gram does ({n_vs_h}); {pos_text}."
        )
    return Verdict(outcome, text, checks)
