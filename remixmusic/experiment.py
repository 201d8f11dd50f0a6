"""The experiment: does a music transformer recombine its training data more than human composers do?

It tests one prediction of the "deep retrieval and remixing" hypothesis (generative models write good
output mainly by retrieving and recombining pieces of their training data): a trained transformer's
output should be made of recombined training phrases clearly more than held-out human music of the same
style, while being better music than a model that does nothing but recombine. Four groups are analysed
against one reference index of the checkpoint's training split:

* ``transformer``: ``n`` pieces sampled from the checkpoint;
* ``infinigram``: ``n`` pieces, with the same sampling settings and seed, from the unsmoothed
  longest-context model over the same tokens and training split (:mod:`remixmusic.infinigram`, the
  ∞-gram of Liu et al. 2024, its context capped at ``infinigram_context`` tokens): the
  *pure-recombination* positive control. It continues the training passage its last tokens come from
  and can only jump to another passage that shares them, so its output is nothing but training music.
  It indexes the training pieces as they are (no transpositions: the analysis matches
  transposition-invariantly, so transposed copies would add no other recombination);
* ``ngram``: ``n`` pieces from an interpolated Kneser-Ney n-gram (:mod:`remixmusic.ngram`), a smoothed
  short-context baseline. Smoothing lets it wander off every training passage (at temperature 1 it shows
  about no copying, measured 2026-11), so it is reported, never used as the recombination reference;
* ``human``: the dataset's held-out test split, cleaned of pieces that duplicate a training piece (the
  analyzer's leakage check, Merrill et al. 2024), as the human control of McCoy et al. (2023, RAVEN).

Like with like. A model only ever sees music through its tokenizer (tracks merged, onsets on the token
grid), and a generated piece is one track. Reference and human pieces therefore go through
:meth:`~remixmusic.tokenizer.RemiTokenizer.canonicalize` too, or a verbatim copy of a four-part chorale
would not match its own four-track source; human pieces are cut to the generated length (``bars``), so
length-dependent measures (longest copied span, fan-in) compare pieces of one size.

Statistics per measure and pair of groups (:data:`PAIRS`): bootstrap 95% intervals of the means,
two-sided Mann-Whitney U, Cliff's delta (:mod:`remixmusic.significance`). The *position* of the
transformer on a measure is ``(T - H) / (R - H)`` with ``T, R, H`` the means of the transformer, the
∞-gram and the human control: 0 is where human music sits, 1 where pure recombination sits (bootstrap
interval from resampling each group); it is undefined when the ∞-gram and the human means (nearly)
coincide.

Quality proxies: held-out (test split) bits per note of the transformer and the n-gram (the ∞-gram has
none: it gives probability zero to every continuation it has not seen, so its share of such held-out
tokens is reported instead), and the overlapping area of per-piece descriptor distributions with the
human pieces (Yang & Lerch 2020, :func:`remixmusic.stats.compare`), averaged over descriptors.

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

GROUPS = ("transformer", "infinigram", "ngram", "human")
MODELS = GROUPS[:3]
CONTROL = "infinigram"
"""The pure-recombination positive control and the 1 of every position."""
PAIRS = (
    ("transformer", "human"),
    ("infinigram", "human"),
    ("ngram", "human"),
    ("transformer", "infinigram"),
    ("transformer", "ngram"),
)
LABELS = {"transformer": "transformer", "infinigram": "∞-gram", "ngram": "KN n-gram", "human": "human"}
GROUP_COLORS = {"transformer": "#d62728", "infinigram": "#9467bd", "ngram": "#2ca02c", "human": "#1f77b4"}
DEFAULT_INFINIGRAM_CONTEXT = 16
"""Tokens of context the experiment's ∞-gram uses at most: about two four-voice chords in REMI
(``Position`` + 4 x ``Pitch Duration``), so it can jump to another training passage wherever two chords
recur. Unbounded, it replays one training piece to its end (fan-in 1.0 against 2.0 at 16 tokens over 8
pieces of 16 bars; copied coverage 1.0 both)."""

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
        "human pieces is larger than the ∞-gram's (it recombines, and writes more human-like music than pure "
        "recombination does)",
    ),
    (
        "quality",
        "partly supported when the transformer is higher than the human control but not closer to the human "
        "descriptors than the ∞-gram",
    ),
    (
        "positive control",
        "inconclusive (positive control failed) when the transformer is not higher and neither is the ∞-gram "
        "(pure recombination): if it does not register as recombination, the analysis may miss the "
        "transformer's too, so no recombination found is no evidence against it",
    ),
    (
        "otherwise",
        "not supported otherwise: with enough pieces, the transformer does not recombine more training "
        "phrases than held-out human music, while the analysis does register the ∞-gram's recombination",
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
            "Coverage by training-set matches: transformer, ∞-gram, KN n-gram, human",
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
            ax.set_xticks(range(len(GROUPS)), [LABELS[g] for g in GROUPS], fontsize=7)
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
                "recombination_control": CONTROL,
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
            "pure-recombination ∞-gram's mean.</p>",
            html_table(self.positions, _position_columns()),
            "<h2>Quality proxies</h2>",
            html_table(self.quality["models"], _QUALITY_COLUMNS),
            f"<p>{html.escape(self.quality['note'])}</p>",
            html_table(self.quality["descriptors"], ("descriptor", *MODELS)),
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
        table = Table(
            title="transformer vs ∞-gram (pure recombination) vs KN n-gram vs held-out human", show_edge=False
        )
        for column in ("measure", *(LABELS[g] for g in GROUPS), "position", "p T-H", "delta T-H"):
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
            f"{LABELS[m['group']]} {_num(m['test_bits_per_note'], '{:.2f}')} bits/note, descriptor overlap "
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


_QUALITY_COLUMNS = ("group", "test_bits_per_note", "test_zero_probability_rate", "descriptor_overlap")


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
    infinigram_context: int | None = DEFAULT_INFINIGRAM_CONTEXT,
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
    have the recorded manifest hash. ``infinigram_context``: the ∞-gram's longest context in tokens
    (``None``: unbounded); the ∞-gram is indexed on the training split here and saved (its tokens, well
    under a megabyte) in ``out_dir/infinigram-model``. ``ngram_order``: the KN n-gram order to sample
    with (default: the order chosen on the valid split); an n-gram saved next to the checkpoint
    (``CHECKPOINT/ngram`` or ``ngram-DATASET`` beside it, as ``remixmusic ngram`` writes) is reused when
    it has the checkpoint's tokenizer and dataset, else one is fitted in memory and not saved (its counts
    take up to hundreds of megabytes; the settings that refit it are in ``experiment.json``). All models
    sample with the same ``bars``, ``temperature``, ``top_k``, ``top_p`` and ``seed``. ``log`` receives
    one line per stage.
    """
    from remixmusic.analyze import analyze
    from remixmusic.checkpoint import package_versions, read_info
    from remixmusic.index import Index
    from remixmusic.infinigram import fit_infinigram
    from remixmusic.sample import generate, load_model, write_generated

    say = log or (lambda message: None)
    if n < 1 or bars < 1:
        raise RemixError("n and bars must be at least 1")
    if infinigram_context is not None and infinigram_context < 1:
        raise RemixError("infinigram_context must be at least 1 token (or None for unbounded)")
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

    say("2/5 the baselines on the same training split and tokens: ∞-gram (pure recombination), KN n-gram")
    infinigram = fit_infinigram(data.root, info.tokenizer_config, infinigram_context, jobs=jobs)
    infinigram, _, i_identity = load_model(infinigram.save(out / "infinigram-model"))
    ngram, n_identity = _ngram_model(info, data, ngram_order, jobs, say)
    if ngram_order is not None:
        if not 1 <= ngram_order <= ngram.max_order:
            raise RemixError(f"ngram_order must be in 1..{ngram.max_order}")
        ngram.order_ = ngram_order
    n_identity = {**n_identity, "order": ngram.order_}
    lap("baselines")

    sampling = {"bars": bars, "temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed}
    identities = {"transformer": t_identity, "infinigram": i_identity, "ngram": n_identity}
    models = {"transformer": model, "infinigram": infinigram, "ngram": ngram}
    paths: dict[str, list[Path]] = {}
    pieces: dict[str, list[Any]] = {}
    for group in MODELS:
        say(f"3/5 generating {n} pieces from the {LABELS[group]}")
        results = generate(models[group], tokenizer, n, show_progress=show_progress, **sampling)
        paths[group] = write_generated(results, out / group, identities[group])
        pieces[group] = [r.piece for r in results]
    lap("generate")

    say(
        f"4/5 analysing the models' pieces against one index of {len(train)} training pieces, with "
        f"{len(human)} human ones"
    )
    index = Index.build(train, show_progress=show_progress)
    common = {"jobs": jobs, "seed": seed, "show_progress": show_progress}
    analyses = {
        group: analyze(paths[group], index, control=human if group == "transformer" else None, **common)
        for group in MODELS
    }
    reports = {group: f"analysis/{group}" for group in MODELS}
    for group, report in analyses.items():
        report.save(out / reports[group])
    lap("analyze")

    say("5/5 comparing the groups and deciding")
    t_report = analyses["transformer"]
    removed = set(t_report.leakage["removed"])
    records = {g: analyses[g].query_records() for g in MODELS}
    records["human"] = [r for r in t_report.piece_records if r["group"] == "control" and not r["leaked"]]
    values = {
        g: {key: [_float(r[key]) for r in recs] for key, _, _ in MEASURES} for g, recs in records.items()
    }
    comparisons = [
        comparison_row(key, a, b, compare(key, values[a][key], values[b][key], alpha=alpha, seed=seed))
        for key, _, _ in MEASURES
        for a, b in PAIRS
    ]
    positions = [_position(key, name, values, seed) for key, name, _ in MEASURES]
    clean_human = [p for p in human if Path(p.source or "").name not in removed]
    quality = _quality(info, infinigram, ngram, tokenizer, test, pieces, clean_human)
    by_key = {(r["measure"], r["group_a"], r["group_b"]): r for r in comparisons}
    verdict = decide(by_key, positions, quality, min_pieces, alpha)
    lap("compare")

    settings = {
        "checkpoint": t_identity["path"],
        "n": n,
        **sampling,
        "infinigram_context": infinigram_context,
        "ngram_order": ngram_order,
        "jobs": jobs,
        "min_pieces": min_pieces,
        "alpha": alpha,
        "primary_measure": PRIMARY,
        "recombination_control": CONTROL,
        "analysis": {k: v for k, v in t_report.params.items() if k not in ("n_query", "n_control")},
    }
    provenance = {
        **identities,
        "transformer_metrics": info.metrics,
        "infinigram_metrics": infinigram.metadata.get("metrics", {}),
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
    coverage = {g: analyses[g].coverage["query"] for g in MODELS}
    result = ExperimentResult(
        settings=settings,
        provenance=provenance,
        values=values,
        comparisons=comparisons,
        positions=positions,
        quality=quality,
        leakage=t_report.leakage,
        coverage_lengths=t_report.coverage_lengths,
        coverage={**coverage, "human": t_report.coverage["control"]},
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
        for name in (*MODELS, "infinigram-model", "ngram-model", "analysis"):
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


def _ngram_model(info: Any, data: Any, order: int | None, jobs: int, say: Log) -> tuple[Any, dict[str, Any]]:
    """A saved KN n-gram next to the checkpoint with its tokenizer and dataset, else one fitted in memory;
    with its identity for the sidecars."""
    from remixmusic.errors import CheckpointError
    from remixmusic.ngram import NGramModel, fit_ngram
    from remixmusic.sample import load_model

    for candidate in (info.path / "ngram", info.path.parent / f"ngram-{data.name}"):
        if not (candidate / "ngram.json").exists():
            continue
        try:
            model, _, identity = load_model(candidate)
        except CheckpointError as exc:
            say(f"   ignoring {candidate}: {exc}")
            continue
        same = (
            isinstance(model, NGramModel)
            and model.metadata.get("tokenizer") == info.tokenizer_config
            and model.metadata.get("dataset", {}).get("manifest_hash") == data.manifest_hash
        )
        if same and (order is None or order <= model.max_order):
            say(f"   using the saved n-gram {candidate} (order {model.order_})")
            return model, {**identity, "source": str(candidate)}
        say(f"   ignoring {candidate}: not a KN n-gram of this tokenizer and dataset, or too low an order")
    # The transformer's training data includes its random transpositions; the n-gram counts them all.
    transpose = int(info.train_config.get("transpose", 0))
    max_order = max(16, order or 0)
    model = fit_ngram(data.root, info.tokenizer_config, max_order, transpositions=transpose, jobs=jobs)
    say(
        f"   fitted an n-gram up to order {model.max_order} (transpositions +-{transpose}); order "
        f"{model.order_} is best on valid"
    )
    identity = {
        **model.describe(),
        "id": f"ngram-{data.name}-fitted",
        "name": "fitted",
        "source": "fitted",
        "fit": {"max_order": max_order, "transpositions": transpose, "manifest_hash": data.manifest_hash},
    }
    return model, identity


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def comparison_row(measure: str, a: str, b: str, c: Comparison) -> dict[str, Any]:
    """One row of ``comparison.csv``: group ``a`` against group ``b`` on ``measure``."""
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
    transformer: np.ndarray, recombiner: np.ndarray, human: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """``(T - H) / (R - H)`` of the group means, with a percentile bootstrap interval (groups resampled
    independently). NaN when the recombiner's and human means (nearly) coincide, so no scale exists."""
    groups = [np.asarray(v, np.float64) for v in (transformer, recombiner, human)]
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
    point, (lo, hi) = normalized_position(arrays["transformer"], arrays[CONTROL], arrays["human"], seed=seed)
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
    info: Any,
    infinigram: Any,
    ngram: Any,
    tokenizer: Any,
    test: list[Any],
    pieces: dict[str, list[Any]],
    human: list[Any],
) -> dict[str, Any]:
    """Held-out bits per note (the ∞-gram: its zero-probability rate) and descriptor overlap with human
    pieces of every model."""
    from remixmusic.stats import DESCRIPTORS, describe_pieces
    from remixmusic.stats import compare as compare_descriptors
    from remixmusic.train import count_notes, encode_pieces

    seqs = encode_pieces(tokenizer, test)
    ngram_bits = ngram.evaluate(seqs, count_notes(tokenizer, seqs)).bits_per_note
    infini = infinigram.metadata.get("metrics", {})
    bits = {
        "transformer": _float(info.metrics.get("test_bits_per_note")),
        "infinigram": _float(infini.get("test_bits_per_note")),
        "ngram": float(ngram_bits),
    }
    zeros = {"infinigram": _float(infini.get("test_zero_probability_rate"))}
    human_stats = describe_pieces(human)
    overlap = {g: compare_descriptors(describe_pieces(pieces[g]), human_stats) for g in MODELS}
    mean_overlap = {g: _nanmean(list(o.values())) for g, o in overlap.items()}
    return {
        "bits_per_note_split": "test",
        "models": [
            {
                "group": g,
                "test_bits_per_note": bits[g],
                "test_zero_probability_rate": zeros.get(g, 0.0),
                "descriptor_overlap": mean_overlap[g],
            }
            for g in MODELS
        ],
        "note": (
            "The ∞-gram has no bits per note: it gives probability zero to every held-out token it never "
            f"saw after the longest matching context ({_num(zeros['infinigram'], '{:.1%}')} of the test "
            "tokens); the transformer and the smoothed n-gram give every token some probability."
        ),
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
