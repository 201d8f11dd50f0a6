"""The experiment's result: the three answers, the condition table, plots, ``results.json``,
``experiment.html`` (self-contained, offline) and ``results.md`` (the same in Markdown, for ``docs/``).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic._util.files import write_bytes, write_json, write_text
from remixmusic._util.render import CSS, html_table, img_tag, json_ready, png_bytes
from remixmusic.experiment import design as D
from remixmusic.experiment.config import ExperimentConfig

if TYPE_CHECKING:
    import pandas as pd

    from remixmusic.experiment.measure import Measured
    from remixmusic.experiment.questions import Answer

TABLE_MEASURES = (
    "recombined_fraction",
    "copied_coverage",
    "granularity_share",
    "span_coverage_1",
    "span_coverage_2",
    "span_coverage_4",
    "longest_copied_notes",
)
"""The per-condition means shown in the condition table (all of :data:`~remixmusic.experiment.design.
MEASURES` are in ``results.json``)."""

FIGURES = ("granularity.png", "frontier.png", "memorisation.png")


@dataclass
class ExperimentResult:
    """Everything one experiment produced. ``answers``: the three questions' verdicts; ``measured``:
    every condition's per-piece values and quality; ``snapshots``: per training run, its snapshots'
    steps, paths and bits per note; ``conditions``: how each condition was made (duplicates removed,
    settings). :meth:`save` writes it; :meth:`summary` says it in three lines."""

    config: ExperimentConfig
    dataset: dict[str, Any]
    main_checkpoint: str
    measured: dict[str, Measured]
    answers: list[Answer]
    snapshots: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    # -- tables ---------------------------------------------------------------------------------------
    def condition_rows(self) -> list[dict[str, Any]]:
        """One row per condition: family, pieces (``n``, leaked ones out), duplicates removed, the means of
        :data:`TABLE_MEASURES` and the quality measures."""
        rows = []
        for name, m in self.measured.items():
            info = self.conditions.get(name, {})
            rows.append(
                {
                    "condition": name,
                    "family": D.family(name),
                    "n": m.n,
                    "duplicates_removed": info.get("n_duplicates", 0),
                    **{k: m.mean(k) for k in TABLE_MEASURES},
                    **{k: _quality(name, m, k) for k, _, _ in D.QUALITY},
                }
            )
        return rows

    @property
    def table(self) -> pd.DataFrame:
        """:meth:`condition_rows` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.condition_rows())

    def summary(self) -> str:
        """The three verdicts, one line each."""
        return "\n".join(f"{a.question} {a.outcome}" for a in self.answers)

    def __repr__(self) -> str:
        outcomes = "; ".join(a.outcome for a in self.answers) or "no answers yet"
        return f"ExperimentResult({self.dataset.get('name')!r}, {len(self.measured)} conditions: {outcomes})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(a.question)}</th>"
            f"<td style='text-align:left'>{html.escape(a.outcome)}</td></tr>"
            for a in self.answers
        )
        return (
            f"<div><p><strong>remixmusic experiment on {html.escape(str(self.dataset.get('name')))}</strong> "
            f"({len(self.measured)} conditions)</p><table>{rows}</table>"
            "<p style='font-size:smaller'>.table: the condition table; .answers: the verdicts with their "
            "rows; experiment.html: everything.</p></div>"
        )

    # -- plots ----------------------------------------------------------------------------------------
    def plot_granularity(self, ax: Any = None) -> Any:
        """Share of notes inside exact matches spanning at least 1, 2 and 4 bars, per condition (mean with
        a 95% bootstrap interval): the pure-recombination controls fall off at their own granularity."""
        fig, ax = _axes(ax, (10, 4.8))
        bars = np.array([1, 2, 4])
        seen: dict[str, int] = {}
        styles = ("-", "--", ":", "-.")
        markers = ("o", "s", "^", "D", "v", "P", "X")
        for name, m in self.measured.items():
            fam = D.family(name)
            if fam == "snapshot":
                continue
            k = seen[fam] = seen.get(fam, -1) + 1
            means = [m.mean(f"span_coverage_{b}") for b in bars]
            main = name in (D.transformer(*D.MAIN_SETTING), D.HUMAN)
            ax.plot(
                bars,
                means,
                marker=markers[k % len(markers)],
                ls=styles[k % len(styles)],
                color=D.GROUP_COLORS[fam],
                lw=2.5 if main else 1.2,
                label=name,
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(bars, [f">= {b} bar{'s' if b > 1 else ''}" for b in bars])
        ax.set_ylabel("share of notes covered")
        ax.set_ylim(0, 1.02)
        ax.set_title("Notes inside exact training matches spanning at least 1, 2, 4 bars")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        return fig

    def plot_frontier(self, ax: Any = None) -> Any:
        """Quality against recombination per setting (question 2), the Pareto frontier joined."""
        fig, ax = _axes(ax, (6.5, 4.5))
        rows = self.answers[1].rows if len(self.answers) > 1 else []
        for r in rows:
            fam = D.family(r["condition"])
            ax.scatter(r["recombination"], r["quality"], color=D.GROUP_COLORS[fam], s=30)
            ax.annotate(
                r["condition"].replace("transformer-", ""), (r["recombination"], r["quality"]), fontsize=6
            )
        front = sorted((r["recombination"], r["quality"]) for r in rows if r.get("frontier"))
        if front:
            ax.plot(*zip(*front, strict=True), color="#000000", lw=1, ls="--", label="frontier")
            ax.legend(fontsize=7)
        ax.set_xlabel("share of notes recombined at >= 1 bar")
        ax.set_ylabel("quality: 1 - 2 |C2ST accuracy - 0.5|")
        ax.set_title("Quality against recombination (settings and snapshots)")
        return fig

    def plot_memorisation(self) -> Any:
        """Per memorisation curve (a training run's snapshots sampled at one temperature): copied coverage
        of its samples against step (the human control's mean as a line), one colour per run and one line
        style per temperature; and per run its train-valid gap in bits per note."""
        from remixmusic._util.figures import new_figure

        fig = new_figure((11, 4.2))
        ax1, ax2 = fig.subplots(1, 2)
        rows = self.answers[2].rows if len(self.answers) > 2 else []
        curves = list(dict.fromkeys(r["run"] for r in rows))
        runs = list(dict.fromkeys(D.curve_parts(c)[0] for c in curves))
        temps = list(dict.fromkeys(D.curve_parts(c)[1] for c in curves))
        palette = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
        styles = ("-", "--", ":", "-.")
        for curve in curves:
            run, temp = D.curve_parts(curve)
            mine = [r for r in rows if r["run"] == curve]
            steps = [r["step"] for r in mine]
            colour = palette[runs.index(run) % len(palette)]
            ax1.errorbar(
                steps,
                [r["mean"] for r in mine],
                yerr=np.abs(np.array([[r["mean"] - r["ci_low"], r["ci_high"] - r["mean"]] for r in mine]).T),
                marker="o",
                capsize=2,
                color=colour,
                ls=styles[temps.index(temp) % len(styles)],
                label=f"{run}, T={temp}",
            )
            if run not in [line.get_label() for line in ax2.lines]:  # the gap is the run's, whatever T
                ax2.plot(steps, [r["gap"] for r in mine], marker="o", color=colour, label=run)
        if rows:
            ax1.axhline(rows[0]["human_mean"], color="#000000", ls=":", label="human control")
        finite = any(math.isfinite(r["mean"]) for r in rows) and any(math.isfinite(r["gap"]) for r in rows)
        steps = sorted({r["step"] for r in rows})
        for ax, label in ((ax1, "copied coverage of samples"), (ax2, "valid - train bits per note")):
            if finite:
                ax.set_xscale("log")
                ax.set_xticks(steps, [str(s) for s in steps])
                ax.minorticks_off()
            ax.set_xlabel("training step")
            ax.set_ylabel(label)
            ax.legend(fontsize=7)
        ax1.set_title("Copying over training")
        ax2.set_title("Train-validation gap")
        fig.tight_layout()
        return fig

    # -- output ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": D.SCHEMA_VERSION,
            "config": self.config.to_dict(),
            "dataset": self.dataset,
            "main_checkpoint": self.main_checkpoint,
            "rules": {"q1": D.RULES_Q1, "q2": D.RULES_Q2, "q3": D.RULES_Q3},
            "answers": [a.to_dict() for a in self.answers],
            "conditions": self.condition_rows(),
            "condition_info": self.conditions,
            "snapshots": self.snapshots,
            "measured": {k: m.to_dict() for k, m in self.measured.items()},
            "timings_s": self.timings,
            "versions": self.versions,
        }

    def save(self, folder: str | Path) -> Path:
        """Write results.json, the figures, experiment.html and results.md into ``folder``."""
        out = Path(folder)
        write_json(out / "results.json", json_ready(self.to_dict()))
        figures = {
            "granularity.png": self.plot_granularity(),
            "frontier.png": self.plot_frontier(),
            "memorisation.png": self.plot_memorisation(),
        }
        for name, fig in figures.items():
            write_bytes(out / name, png_bytes(fig))
        write_text(out / "experiment.html", self.html())
        write_text(out / "results.md", self.markdown())
        return out

    def html(self) -> str:
        """One self-contained page: the verdicts first, then the condition table, plots and details."""
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'><title>remixmusic experiment</title>",
            f"<style>{CSS}</style></head><body>",
            f"<h1>Does the transformer remix {html.escape(str(self.dataset.get('name')))}?</h1>",
            f"<p>{html.escape(_intro(self))}</p>",
        ]
        for a in self.answers:
            parts.append(
                f"<h2>{html.escape(a.question)} <em>{html.escape(a.outcome)}</em></h2><p>{html.escape(a.text)}</p>"
            )
        parts += [
            "<h2>Conditions</h2>",
            html_table(self.condition_rows(), tuple(self.condition_rows()[0]) if self.measured else ()),
            "<h2>Recombination by granularity</h2>",
            img_tag(self.plot_granularity()),
            "<h2>Quality against recombination</h2>",
            img_tag(self.plot_frontier()),
            "<h2>Memorisation over training</h2>",
            img_tag(self.plot_memorisation()),
        ]
        for a in self.answers:
            if a.rows:
                parts += [
                    f"<h3>Table behind: {html.escape(a.question)}</h3>",
                    html_table(a.rows, tuple(a.rows[0])),
                ]
        parts.append("<h2>Decision rules (fixed before the results)</h2>")
        for title, rules in (
            ("Question 1", D.RULES_Q1),
            ("Question 2", D.RULES_Q2),
            ("Question 3", D.RULES_Q3),
        ):
            items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in rules)
            parts.append(f"<h3>{title}</h3><ol>{items}</ol>")
        links = "".join(
            f"<li><a href='analysis/{html.escape(n)}/report.html'>{html.escape(n)}</a></li>"
            for n in self.measured
        )
        parts += [
            f"<h2>Per-condition analysis reports</h2><ul>{links}</ul>",
            "<h2>Settings</h2>",
            html_table([{"setting": k, "value": v} for k, v in self.config.to_dict().items()]),
        ]
        parts.append("</body></html>")
        return "\n".join(parts)

    def markdown(self, command: str = "") -> str:
        """The result in Markdown: verdicts, condition table, figures (``FIGURES``, beside the file) and
        the command that reproduces it."""
        name = self.dataset.get("name")
        lines = [f"## {name}", "", _intro(self), ""]
        if command:
            lines += ["Reproduce with:", "", "```bash", command, "```", ""]
        for a in self.answers:
            lines += [f"**{a.question}** *{a.outcome}*. {a.text}", ""]
        rows = self.condition_rows()
        if rows:
            cols = list(rows[0])
            lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            lines += ["| " + " | ".join(_md(r[c]) for c in cols) + " |" for r in rows]
            lines.append("")
        lines += [f"![{f}]({f})" for f in FIGURES] + [""]
        q3 = self.answers[2].rows if len(self.answers) > 2 else []
        if q3:
            cols = [
                "run",
                "step",
                "mean",
                "ci_low",
                "ci_high",
                "human_mean",
                "p_holm",
                "train_bits_per_note",
                "valid_bits_per_note",
                "gap",
                "best_valid_step",
                "copies",
            ]
            lines += [
                "Memorisation curve (copied coverage of each snapshot's samples):",
                "",
                "| " + " | ".join(cols) + " |",
                "|" + "---|" * len(cols),
            ]
            lines += ["| " + " | ".join(_md(r.get(c)) for c in cols) + " |" for r in q3]
            lines.append("")
        timing = ", ".join(f"{k} {v:.0f} s" for k, v in self.timings.items())
        lines += [f"Time of the run that wrote this (a stage found in the cache takes seconds): {timing}. Versions: {', '.join(f'{k} {v}' for k, v in self.versions.items())}.", ""]
        return "\n".join(lines)


def _quality(condition: str, m: Measured, key: str) -> float:
    """A quality measure of a condition; the classifier test of the human control against itself is
    undefined (each piece finds its own copy), so NaN there."""
    if condition == D.HUMAN and key == "c2st_accuracy":
        return math.nan
    return float(m.quality.get(key, math.nan))


def _axes(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    """``(figure, axes)``: a new inline figure of ``size`` inches with one axes, or ``ax`` and its figure."""
    from remixmusic._util.figures import new_figure

    if ax is not None:
        return ax.figure, ax
    fig = new_figure(size)
    return fig, fig.subplots()


def _intro(result: ExperimentResult) -> str:
    d, c = result.dataset, result.config
    return (
        f"Dataset {d.get('name')} ({d.get('n_train')} training, {d.get('n_test')} held-out test pieces; "
        f"{d.get('n_human')} human control pieces of {c.bars} bars). Main transformer: "
        f"{Path(result.main_checkpoint).name or 'none'}, sampled at {len(c.settings())} settings with "
        f"{c.n} distinct pieces each; pure-recombination controls: ∞-grams of "
        f"{', '.join(str(x or 'unbounded') for x in c.infinigram_contexts)} tokens of context and "
        f"{', '.join(map(str, c.patchwork_bars))}-bar patchworks of training pieces; training runs "
        f"{', '.join(c.runs) or 'none'} with snapshots at steps {', '.join(map(str, c.snapshot_steps))}."
    )


def _md(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}"
    return "" if value is None else str(value)
