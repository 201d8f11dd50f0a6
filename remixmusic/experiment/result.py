"""The experiment's result: verdicts, tables, plots, the HTML page and the terminal summary.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic._util.display import dict_frame, short, small_table, summary_html
from remixmusic._util.files import write_bytes, write_json, write_text
from remixmusic._util.render import CSS, csv_text, html_table, img_tag, json_ready, png_bytes
from remixmusic.experiment.config import ExperimentConfig
from remixmusic.experiment.design import (
    COMPARISON_COLUMNS,
    CONTROL,
    GROUP_COLORS,
    GROUPS,
    LABELS,
    MEASURES,
    MODELS,
    PRIMARY,
    RULES,
    SCHEMA_VERSION,
)
from remixmusic.novelty.report import plot_coverage_curves

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Verdict:
    """The outcome, a sentence that states it with its numbers, and each decision rule's check."""

    outcome: str  # supported, partly supported, not supported, inconclusive (...)
    text: str
    checks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ExperimentResult:
    """Everything one experiment produced; :meth:`save` writes it, :meth:`summary` says it in one line.

    ``config`` is what was asked (its checkpoint resolved to a path; ``ExperimentConfig.from_dict`` reads
    it back from ``experiment.json``); ``settings`` adds what was derived from it for the reader (the
    sampling config every model used, the analysis parameters, the primary measure).
    """

    config: ExperimentConfig
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

    # -- notebook -------------------------------------------------------------------------------
    @property
    def comparison_table(self) -> pd.DataFrame:
        """The comparisons as a DataFrame: the columns of ``comparison.csv`` (:data:`COMPARISON_COLUMNS`),
        one row per measure and pair of groups."""
        text = ("measure", "group_a", "group_b", "magnitude", "role")
        dtypes = {
            c: str if c in text else "int64" if c.startswith("n_") else "float64" for c in COMPARISON_COLUMNS
        }
        return dict_frame(self.comparisons, COMPARISON_COLUMNS, dtypes)

    @property
    def position_table(self) -> pd.DataFrame:
        """Group means and the transformer's position per measure: the columns of ``positions.csv``."""
        columns = _position_columns()
        return dict_frame(
            self.positions, columns, {c: str if c in ("measure", "name") else "float64" for c in columns}
        )

    def __repr__(self) -> str:
        return f"ExperimentResult({self.verdict.outcome}: {short(self.verdict.text, 200)})"

    def _repr_html_(self) -> str:
        """A short summary for notebooks: the verdict, the group sizes and where the transformer sits on
        each measure (a few kB; the tables and plots hold the rest)."""
        sizes = {g: max((len(v) for v in self.values.get(g, {}).values()), default=0) for g in GROUPS}
        facts = [
            ("verdict", self.verdict.outcome),
            ("pieces", ", ".join(f"{LABELS[g]} {n}" for g, n in sizes.items())),
        ]
        table = small_table(self.positions, ("name", *GROUPS, "position"))
        table = f"<p>{html.escape(self.verdict.text)}</p>{table}"
        hint = (
            "Tables: .comparison_table, .position_table; plots: .plot_coverage(), .plot_measures(); "
            "files: .save(folder)."
        )
        return summary_html("remixmusic experiment", facts, table, hint)

    # -- plots ----------------------------------------------------------------------------------
    def plot_coverage(self, ax: Any = None) -> Any:
        """Mean coverage curves of the three groups with bootstrap 95% intervals."""
        return plot_coverage_curves(
            self.coverage_lengths,
            self.coverage,
            self.min_match_notes,
            "Coverage by training-set matches: transformer, ∞-gram, KN n-gram, human",
            seed=self.config.seed,
            ax=ax,
            colors=GROUP_COLORS,
        )

    def plot_measures(self) -> Any:
        """One panel per measure: each group's mean with its bootstrap 95% interval."""
        from remixmusic._util.figures import new_figure

        fig = new_figure((12, 5.2))
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
            "config": self.config.to_dict(),
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
        columns = ("position", "p T-H", "p Holm T-H", "delta T-H")
        for column in ("measure", *(LABELS[g] for g in GROUPS), *columns):
            table.add_column(column, justify="left" if column == "measure" else "right")
        for row in self.positions:
            c = self.comparison(row["measure"], "transformer", "human")
            table.add_row(
                row["name"],
                *(f"{row[g]:.3f}" for g in GROUPS),
                _num(row["position"], "{:+.2f}"),
                _num(c["p_value"], "{:.2g}"),
                _num(c.get("p_adjusted", c["p_value"]), "{:.2g}"),
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
