"""The analysis report: what was found, in memory and as files a person can read or a script can load.

:class:`AnalysisReport` holds per-piece, per-passage and per-motif records, coverage curves, the query-vs-control
statistics and every parameter that produced them (invariance, chance and commonness thresholds,
segmentation, originality windows), so each output file stands on its own. :meth:`AnalysisReport.save`
writes ``report.json`` (everything, versioned by ``schema_version``), ``pieces.csv``, ``passages.csv``,
``motifs.csv`` and
one self-contained ``report.html`` (plots embedded as base64 PNG), each atomically; ``note_maps.npz`` too when
a query piece is too large for per-note lists in report.json. report.html (built by
:mod:`remixmusic.novelty.page`) stays bounded in time and memory whatever the piece size.
"""

from __future__ import annotations

import html
import io
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic._util.display import dict_frame, record_frame, small_table, summary_html
from remixmusic._util.files import json_text, utf8, write_bytes, write_text
from remixmusic._util.render import csv_text, json_ready
from remixmusic.errors import output_folder
from remixmusic.evaluation.significance import Comparison
from remixmusic.music.notes import STEPS_PER_BEAT, Piece
from remixmusic.novelty.granularity_summary import GranularitySummary
from remixmusic.novelty.page import HTML_MAX_ROWS as HTML_MAX_ROWS
from remixmusic.novelty.page import HTML_MAX_SOURCE_ROWS as HTML_MAX_SOURCE_ROWS
from remixmusic.novelty.page import report_page
from remixmusic.novelty.passages import NOTE_LABELS
from remixmusic.novelty.plots import GROUP_COLORS as GROUP_COLORS
from remixmusic.novelty.plots import MAP_RASTER_COLUMNS as MAP_RASTER_COLUMNS
from remixmusic.novelty.plots import (
    _edges,
    _hatches,
    _note_colors,
    _raster,
    chance_notes,
    min_copy_notes,
    plot_coverage_curves,
    query_map,
)
from remixmusic.novelty.records import MOTIF_COLUMNS as MOTIF_COLUMNS
from remixmusic.novelty.records import (
    PASSAGE_COLUMNS,
    PIECE_COLUMNS,
    MotifRecord,
    PassageRecord,
    PieceRecord,
)
from remixmusic.novelty.symbols import DEFAULT_INVARIANCE, TIMELESS

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 3  # 3: repaired and off_grid entries keyed by "piece" (was "path")


LABELS = ("copied", "varied", "stock", "self-repeat", "prompt", "novel")
"""Motif labels, in the precedence the labelling rule applies them (see
:func:`remixmusic.novelty.measures.motif_label`)."""


MEASURES = (
    ("recombined_fraction", "share of notes copied or varied (in a rare exact or a varied passage)"),
    ("copied_fraction", "share of notes labelled copied"),
    ("varied_fraction", "share of notes labelled varied"),
    ("stock_fraction", "share of notes labelled stock (common or low-information matches)"),
    ("novel_fraction", "share of notes labelled novel"),
    ("self_repeat_fraction", "share of notes repeating the piece itself"),
    ("longest_copied_notes", "longest copied passage (notes)"),
    ("fan_in", "distinct reference pieces among recombined passages"),
    ("originality", "mean originality score (Yin et al.)"),
)
"""Per-piece measures compared between query and control, with a one-line meaning each. ``copied_coverage``
(in pieces.csv) is not among them: a note in a copied passage is always labelled copied (no label but the
prompt's comes before it, and prompt notes count in neither), so it equals ``copied_fraction``, and testing
both would count one test twice in the Holm family."""


PRIMARY_MEASURE = "recombined_fraction"
"""The declared primary measure of :data:`MEASURES`, the one the analysis answers with: tested at alpha as
is. The others are secondary: their p-values are Holm-adjusted among themselves (Holm 1979; see
:func:`~remixmusic.evaluation.significance.compare_measures`)."""


MAP_NOTE_LIMIT = 2_000
"""Remix maps of pieces with more notes than this are drawn as a pitch x time raster (one image, see
:meth:`AnalysisReport.plot_remix_map`) instead of one bar per note, so drawing is bounded (a bar is a
matplotlib patch: a few milliseconds each to add and render)."""

NOTE_MAP_JSON_LIMIT = 20_000
"""Query pieces with more notes than this keep their per-note remix map out of report.json, in
``note_maps.npz`` beside it (:meth:`AnalysisReport.note_map_records`)."""


@dataclass
class NoteMap:
    """What each note of a piece was found to be, for the remix map.

    ``source`` is the reference piece (index into ``AnalysisReport.reference_names``) of the passage that
    gives the note its label, -1 if none; ``label`` indexes
    :data:`~remixmusic.novelty.passages.NOTE_LABELS` (``not-analysed`` for notes on no analysed line).
    ``onset`` (exact: half steps kept) and ``duration`` are in steps (``STEPS_PER_BEAT`` a beat);
    ``bar_starts``: the step at which each bar of the piece starts (``None`` unknown), for bar lines and
    bar numbers in report.html; ``bar_numbers``: the 1-based number of each of those bars, when they are
    not all the bars from the first (``None``: bars 1, 2, ...). A piece of more than
    :data:`DENSE_BAR_LIMIT` bars (a stray note far out) keeps only the bars its notes start in and the
    bar after each, so the map and the page stay bounded by its notes (:func:`note_map_bars`).
    """

    onset: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray
    source: np.ndarray
    label: np.ndarray
    bar_starts: np.ndarray | None = None
    bar_numbers: np.ndarray | None = None

    def bar_list(self) -> list[tuple[int, int]]:
        """``(1-based bar number, start step)`` of each bar kept (empty when unknown)."""
        if self.bar_starts is None:
            return []
        starts = np.asarray(self.bar_starts, np.int64).tolist()
        numbers = range(1, len(starts) + 1) if self.bar_numbers is None else np.asarray(self.bar_numbers).tolist()
        return list(zip(numbers, starts, strict=True))


DENSE_BAR_LIMIT = 20_000
"""Most bars a :class:`NoteMap` keeps all of (a 200,000-note piano piece has about 10,000)."""


def note_map_bars(piece: Piece) -> tuple[np.ndarray, np.ndarray | None]:
    """The bars a piece's :class:`NoteMap` keeps: ``(bar_starts, bar_numbers)``, every bar (numbers
    ``None``) up to :data:`DENSE_BAR_LIMIT` bars, else the bars its notes start in and the bar after each
    (int64 steps, and their 1-based numbers)."""
    if piece.n_bars <= DENSE_BAR_LIMIT:
        return piece.bar_starts(), None
    bars = np.unique(piece.bar_of(piece.notes["onset"]))
    bars = np.union1d(bars, bars + 1)
    return piece.bar_step_of(bars), bars + 1


@dataclass
class AnalysisReport:
    """Everything one analysis found. ``pieces``, ``passages``, ``motifs`` and ``comparison_table`` are
    typed pandas DataFrames (columns as in the CSV files); in a notebook the report displays as a short
    summary (``_repr_html_``) and its plots as pictures.

    ``params``: ``config``, the :class:`~remixmusic.novelty.config.AnalysisConfig` as given (its
    ``to_dict()``; ``AnalysisConfig.from_dict`` rebuilds it), and what it resolved to against this
    reference: ``invariance``, ``lines``, ``chance_length`` and ``min_match_symbols`` (symbols),
    ``min_match_notes``, ``seed_length`` (symbols), ``chance_bits`` and ``min_match_bits`` (bits),
    ``df_threshold`` (reference tune groups), ``originality`` (window settings, ``None`` when not
    computed), ``reference_manifest_hash`` and the counts ``n_reference``, ``n_reference_groups``,
    ``n_query``, ``n_control`` (before the leakage check), ``n_control_compared`` and
    ``n_control_groups`` (after it).

    ``comparisons``: one :class:`~remixmusic.evaluation.significance.Comparison` per measure of
    :data:`MEASURES`, query against the control pieces the leakage check kept
    (:meth:`compared_records`), :data:`PRIMARY_MEASURE` primary and the rest Holm-adjusted, resampled
    and tested by tune group (``tune_group`` of the piece records).

    ``granularity``: query and control on the recombination granularity scale, with the calibration
    family of the reference (:mod:`remixmusic.novelty.granularity`; ``None`` when not computed).
    """

    params: dict[str, Any]
    piece_records: list[PieceRecord]
    motif_records: list[MotifRecord]
    coverage_lengths: np.ndarray
    coverage: dict[str, np.ndarray]  # group -> pieces x len(coverage_lengths)
    originality_curves: list[dict[str, Any]]
    comparisons: list[Comparison]
    leakage: dict[str, Any]
    skipped: list[tuple[str, str]]
    reference_names: list[str]
    note_maps: list[NoteMap] = field(default_factory=list)  # query pieces, in piece_records order
    # The control pieces that copy or vary a passage, most first (report.html shows them in detail, up to
    # its limit of pieces; not saved in report.json).
    control_note_maps: dict[str, NoteMap] = field(default_factory=dict)
    passage_records: list[PassageRecord] = field(default_factory=list)
    granularity: GranularitySummary | None = None
    # Query and control files read with repairs (a bad event dropped, a note closed at its track's end):
    # (the piece's name, as in pieces.csv, not a path as skipped files have; the repairs, "; "-separated).
    repaired: list[tuple[str, str]] = field(default_factory=list)
    off_grid: list[tuple[str, float]] = field(default_factory=list)  # played with free timing (io.grid)

    # -- tables ---------------------------------------------------------------------------------
    @property
    def pieces(self) -> pd.DataFrame:
        """The piece records as a DataFrame: the columns of ``pieces.csv`` (:data:`PIECE_COLUMNS`), typed
        (int64 counts, float64 measures, bool ``leaked``), one row per piece, query and control."""
        return record_frame(self.piece_records, PieceRecord)

    @property
    def motifs(self) -> pd.DataFrame:
        """The motif records as a DataFrame: the columns of ``motifs.csv`` (:data:`MOTIF_COLUMNS`), typed
        (a missing ``transposition`` or ``edits`` is <NA>, a missing ``bits`` NaN)."""
        return record_frame(self.motif_records, MotifRecord)

    @property
    def passages(self) -> pd.DataFrame:
        """The passage records as a DataFrame: the columns of ``passages.csv`` (:data:`PASSAGE_COLUMNS`),
        typed, one row per passage of a query line."""
        return record_frame(self.passage_records, PassageRecord)

    @property
    def comparison_table(self) -> pd.DataFrame:
        """The query-vs-control comparisons as a DataFrame (:data:`COMPARISON_COLUMNS`), one row per
        measure of :data:`MEASURES`; no rows without a control."""
        rows = [
            {
                **c.to_dict(),
                **dict(zip(("query_ci_low", "query_ci_high"), c.query_ci, strict=True)),
                **dict(zip(("control_ci_low", "control_ci_high"), c.control_ci, strict=True)),
            }
            for c in self.comparisons
        ]
        return dict_frame(rows, COMPARISON_COLUMNS, _COMPARISON_DTYPES)

    # -- notebook display -----------------------------------------------------------------------
    def __repr__(self) -> str:
        p = self.params
        return (
            f"AnalysisReport({p.get('n_query', 0)} query, {len(self.compared_records('control'))} control and "
            f"{p.get('n_reference', 0)} reference piece(s); invariance {p.get('invariance')!r}; "
            f"{len(self.passage_records)} passage(s), {len(self.motif_records)} motif(s))"
        )

    def _repr_html_(self) -> str:
        """A short summary for notebooks: the sizes and main settings, the measure table and the
        primary verdict (a few kB whatever the analysis size; the tables hold the rest)."""
        p = self.params
        facts = [
            ("query pieces", p.get("n_query", 0)),
            ("control pieces compared", len(self.compared_records("control"))),
            ("reference pieces", p.get("n_reference", 0)),
            ("invariance, lines", f"{p.get('invariance')}, {p.get('lines')}"),
            (
                "copies at least",
                f"{min_copy_notes(p)} notes, {p.get('min_match_bits', 0.0):.1f} bits{self._bounds_text()}",
            ),
            ("passages, motifs", f"{len(self.passage_records)}, {len(self.motif_records)}"),
        ]
        facts += [("skipped files", len(self.skipped))] if self.skipped else []
        facts += [("files read with repairs", len(self.repaired))] if self.repaired else []
        columns = [c for c in _TABLE_COLUMNS if c != "meaning" and (c != "control" or self.comparisons)]
        verdicts = [
            f"<p>{html.escape(c.verdict)}</p>" for c in self.comparisons if c.measure == PRIMARY_MEASURE
        ]
        return summary_html(
            "remixmusic analysis",
            facts,
            small_table(self.measure_table(), columns) + "".join(verdicts),
            "Tables: .pieces, .passages, .motifs, .comparison_table (DataFrames); plots: .plot_remix_map(i), "
            ".plot_coverage(); files: .save(folder).",
        )

    def query_records(self) -> list[PieceRecord]:
        """The records of the query pieces, in order (the order of ``note_maps``)."""
        return [r for r in self.piece_records if r.group == "query"]

    def compared_records(self, group: str) -> list[PieceRecord]:
        """The records of ``group`` (``query`` or ``control``) that the comparisons use, in order: the
        control less the pieces the leakage and same-tune checks left out (``left_out``). The one control set of the comparisons, the
        coverage curves, the terminal and HTML tables and the experiment's human group."""
        return [r for r in self.piece_records if r.group == group and not r.excluded]

    def measure_table(self) -> list[dict[str, Any]]:
        """One row per measure of :data:`MEASURES`: ``measure``, ``role`` (``primary`` or
        ``secondary``), ``meaning``, the mean over :meth:`compared_records` of each group present
        (``query``, ``control``), and from its comparison (NaN without one) ``cliffs_delta``, ``p_value``
        (unadjusted) and ``p_holm`` (Holm-adjusted for a secondary measure, the same for the primary)."""
        by_name = {c.measure: c for c in self.comparisons}
        groups = [g for g in ("query", "control") if self.compared_records(g)]
        rows = []
        for name, meaning in MEASURES:
            if name == "originality" and self.params.get("originality", True) is None:
                continue  # not computed (--no-originality)
            c = by_name.get(name)
            row: dict[str, Any] = {
                "measure": name,
                "role": "primary" if name == PRIMARY_MEASURE else "secondary",
                "meaning": meaning,
            }
            row.update({g: _mean([r.measure(name) for r in self.compared_records(g)]) for g in groups})
            row["cliffs_delta"] = c.cliffs_delta if c else math.nan
            row["p_value"] = c.p_value if c else math.nan
            row["p_holm"] = c.p_adjusted if c else math.nan
            rows.append(row)
        return rows

    # -- plots ----------------------------------------------------------------------------------
    def plot_remix_map(self, i: int | str, ax: Any = None, max_notes: int = MAP_NOTE_LIMIT) -> Any:
        """Piano roll of query piece ``i`` (position or name; ``RemixError`` for none), notes coloured by label.

        Pieces of at most ``max_notes`` notes are drawn one bar per note. Larger ones are downsampled so
        the cost stays bounded: the whole piece as one pitch x time raster image (``imshow``) of at most
        :data:`MAP_RASTER_COLUMNS` time bins by one row per pitch, each cell coloured as the most notes
        sounding in it (ties broken by a fixed colour order); the title says so and gives the bin
        width. Returns a matplotlib ``Figure`` (``ax``'s when given, else an ``InlineFigure``, which a
        notebook shows as a picture); no global pyplot state is touched.
        """
        from matplotlib.patches import Patch

        from remixmusic._util.figures import new_figure

        record, notes = query_map(self.query_records(), self.note_maps, i)
        fig = ax.figure if ax is not None else new_figure((11, 3.6))
        ax = ax if ax is not None else fig.add_subplot(111)
        colors, legend = _note_colors(notes, self.reference_names)
        title = f"{record.piece}: notes coloured by label (sources: report.html, passages.csv)"
        if len(notes.pitch) > max_notes:
            image, extent, bin_beats = _raster(notes, colors)
            ax.imshow(image, extent=extent, origin="lower", aspect="auto", interpolation="nearest")
            title += (
                f" ({len(notes.pitch):,} notes drawn as a raster: each cell {bin_beats:.3g} beat(s) x 1 "
                "pitch, coloured as most of its notes)"
            )
        else:
            ax.barh(
                notes.pitch,
                notes.duration / STEPS_PER_BEAT,
                left=notes.onset / STEPS_PER_BEAT,
                height=0.8,
                color=colors,
                edgecolor=_edges(notes.label),
                linewidth=0.6,
                hatch=_hatches(notes.label),
            )
        ax.set_xlabel("beat")
        ax.set_ylabel("MIDI pitch")
        ax.set_title(title, fontsize=10 if len(notes.pitch) <= max_notes else 8)
        handles = [Patch(color=c, label=name) for name, c in legend]
        if handles:
            ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        fig.tight_layout()
        return fig

    def plot_coverage(self, ax: Any = None) -> Any:
        """Mean coverage curve per group with pointwise bootstrap 95% intervals (a matplotlib ``Figure``
        that a notebook shows as a picture)."""
        groups = {g: [r.tune_group for r in self.compared_records(g)] for g in self.coverage}
        return plot_coverage_curves(
            self.coverage_lengths,
            self.coverage,
            self.params["min_match_notes"],
            f"Coverage by reference matches ({self.params['invariance']})",
            seed=int(self.params.get("config", {}).get("seed", 0)),
            ax=ax,
            groups={g: labels for g, labels in groups.items() if len(labels) == len(self.coverage[g])},
            chance=chance_notes(self.params),
            shortest_copy=min_copy_notes(self.params),
        )

    # -- output ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "params": self.params,
            "leakage": self.leakage,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "coverage": {
                "lengths": self.coverage_lengths,
                **{
                    group: {"mean": curves.mean(axis=0) if len(curves) else [], "per_piece": curves}
                    for group, curves in self.coverage.items()
                },
            },
            "pieces": [r.to_dict() for r in self.piece_records],
            "motifs": [m.to_dict() for m in self.motif_records],
            "passages": [p.to_dict() for p in self.passage_records],
            "originality": self.originality_curves,
            "reference_pieces": self.reference_names,
            "note_maps": self.note_map_records(),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "repaired": [{"piece": p, "repairs": r} for p, r in self.repaired],
            "off_grid": [{"piece": p, "share": share} for p, share in self.off_grid],
            "granularity": self.granularity.to_dict() if self.granularity is not None else None,
        }

    def note_map_records(self) -> list[dict[str, Any]]:
        """The remix maps as data: per query piece and note (in the piece's note order), onset and
        duration in beats, pitch, ``source`` (index into ``reference_pieces``, -1 none) and ``label``
        (the note's label, one of :data:`~remixmusic.novelty.passages.NOTE_LABELS`).

        A piece of more than :data:`NOTE_MAP_JSON_LIMIT` notes has no per-note lists here, so report.json
        stays bounded: instead ``n_notes``, ``label_counts`` (notes per label) and ``arrays``, the file
        that :meth:`save` writes them to (``note_maps.npz``, the same five arrays under
        ``"{k}/onset_beat"``, ``"{k}/duration_beat"``, ``"{k}/pitch"``, ``"{k}/source"`` and
        ``"{k}/label"`` with ``k`` the piece's position in this list; labels there are codes into
        ``NOTE_LABELS``; read with ``numpy.load``)."""
        out: list[dict[str, Any]] = []
        for k, (record, m) in enumerate(zip(self.query_records(), self.note_maps, strict=True)):
            if len(m.pitch) > NOTE_MAP_JSON_LIMIT:
                codes, counts = np.unique(np.asarray(m.label), return_counts=True)
                out.append(
                    {
                        "piece": record.piece,
                        "n_notes": len(m.pitch),
                        "label_counts": dict(
                            zip([NOTE_LABELS[c] for c in codes.tolist()], counts.tolist(), strict=True)
                        ),
                        "arrays": "note_maps.npz",
                        "arrays_prefix": f"{k}/",
                    }
                )
                continue
            out.append(
                {
                    "piece": record.piece,
                    "onset_beat": m.onset / STEPS_PER_BEAT,
                    "duration_beat": m.duration / STEPS_PER_BEAT,
                    "pitch": m.pitch,
                    "source": m.source,
                    "label": [NOTE_LABELS[c] for c in m.label.tolist()],
                }
            )
        return out

    def save(self, out_dir: str | Path, max_maps: int = 50) -> Path:
        """Write report.json, pieces.csv, motifs.csv, passages.csv, report.html and, for a piece of more
        than :data:`NOTE_MAP_JSON_LIMIT` notes, note_maps.npz (:meth:`note_map_records`) into ``out_dir``;
        ``RemixError`` when it is a file or cannot be made or written."""
        out = output_folder(out_dir, "the analysis report")
        # All is rendered first, written last (each file atomically): an interrupted save leaves the folder
        # as it was; a note_maps.npz from an earlier run that this one does not need is removed.
        large: dict[str, Any] = {
            f"{k}/{name}": values
            for k, m in enumerate(self.note_maps)
            if len(m.pitch) > NOTE_MAP_JSON_LIMIT
            for name, values in (
                ("onset_beat", m.onset / STEPS_PER_BEAT),
                ("duration_beat", m.duration / STEPS_PER_BEAT),
                ("pitch", m.pitch),
                ("source", m.source),
                ("label", m.label),
            )
        }
        maps = b""
        if large:
            buf = io.BytesIO()
            np.savez_compressed(buf, **large)
            maps = buf.getvalue()
        report = json_text(json_ready(self.to_dict()))
        tables = {
            "pieces.csv": csv_text([r.to_dict() for r in self.piece_records], PIECE_COLUMNS),
            "motifs.csv": csv_text([m.to_dict() for m in self.motif_records], MOTIF_COLUMNS),
            "passages.csv": csv_text([p.to_dict() for p in self.passage_records], PASSAGE_COLUMNS),
        }
        page = utf8(self.html(max_maps))
        if maps:
            write_bytes(out / "note_maps.npz", maps)
        else:
            (out / "note_maps.npz").unlink(missing_ok=True)
        write_text(out / "report.json", report)
        for name, text in tables.items():
            write_text(out / name, text)
        write_bytes(out / "report.html", page)
        return out

    def html(self, max_maps: int = 50) -> str:
        """report.html as a string: :func:`remixmusic.novelty.page.report_page` (a first screen in plain
        language, a sortable summary per piece, remix maps with in-page players, each passage beside its
        source, statistics, tables, settings). Bounded whatever the analysis size: at most ``max_maps``
        pieces in detail and each table at most :data:`HTML_MAX_ROWS` rows (:data:`HTML_MAX_SOURCE_ROWS`
        passages per piece), with a line giving the total and the file that holds it all."""
        return report_page(self, max_maps)

    def _bounds_text(self) -> str:
        """The range of the pieces' information bounds (``min_bits``) when some piece's E-value bound
        lifted it above the floor ``min_match_bits``, else nothing."""
        bounds = [r.min_bits for r in self.piece_records if not math.isnan(r.min_bits)]
        floor = self.params.get("min_match_bits", 0.0)
        if not bounds or max(bounds) <= floor + 0.05:
            return ""
        return f" or the piece's E-value bound if higher ({min(bounds):.1f}-{max(bounds):.1f} bits)"

    def print_summary(self, console: Any = None) -> None:
        """A short terminal summary (rich): per-group means of the main measures and the verdicts."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        p = self.params
        console.print(
            f"[bold]remixmusic analysis[/bold]: {p['n_query']} query piece(s) against {p['n_reference']} "
            f"reference piece(s); invariance [cyan]{p['invariance']}[/cyan], copies >= "
            f"{min_copy_notes(p)} notes (chance matches up to {self._chance_span()}) and "
            f"{p['min_match_bits']:.1f} bits{self._bounds_text()}, stock from doc freq {p['df_threshold']} "
            "or below the piece's bits"
        )
        rows = self.measure_table()
        groups = [g for g in ("query", "control") if rows and g in rows[0]]
        table = Table(show_edge=False)
        table.add_column("measure")
        for column in (*groups, "delta", "p", "p (Holm)"):
            table.add_column(column, justify="right")
        for row in rows:
            role = " [bold]primary[/bold]" if row["role"] == "primary" else ""
            table.add_row(
                f"{row['measure']}{role} [dim]({row['meaning']})[/dim]",
                *[f"{row[g]:.3f}" for g in groups],
                _number(row["cliffs_delta"], "{:+.2f}"),
                _number(row["p_value"], "{:.2g}"),
                _number(row["p_holm"], "{:.2g}"),
            )
        console.print(table)
        if self.comparisons:
            console.print(self._compared_text(), highlight=False)
        if self.leakage.get("summary"):
            console.print(self.leakage["summary"])
        if self.leakage.get("tune_check", {}).get("summary"):
            console.print(self.leakage["tune_check"]["summary"], highlight=False)
        for c in self.comparisons:
            console.print(f"- {c.verdict}", highlight=False)
        for line in self.granularity.lines() if self.granularity is not None else []:
            console.print(f"Granularity (how long the stretches shared with the reference are), {line}", highlight=False)
        if self.skipped:
            console.print(f"[yellow]{len(self.skipped)} file(s) skipped[/yellow] (listed in report.json)")
        if warning := self.off_grid_warning():  # (a file name may hold "[bold]": no markup)
            console.print(warning, style="yellow", highlight=False, markup=False)
        if self.repaired:
            first, reasons = self.repaired[0]
            console.print(
                f"{len(self.repaired)} file(s) read with repairs (listed in report.json), e.g. {first}: {reasons}",
                highlight=False,
                markup=False,
            )

    def off_grid_warning(self) -> str:
        """A sentence on the pieces played with free timing (:mod:`remixmusic.io.grid`) when the matching
        compares rhythm; empty otherwise."""
        if not self.off_grid or self.params.get("invariance", DEFAULT_INVARIANCE) in TIMELESS:
            return ""
        first, share = self.off_grid[0]
        head = f"{len(self.off_grid)} piece(s) look played with free timing ({first}: {share:.0%} of its onsets off the beat grid)"
        if self.params.get("config", {}).get("timing") == "tracked":
            return f"{head}: re-quantized on a tracked beat (--timing tracked); their positions are in tracked beats"
        return (
            f"{head}: this analysis compares rhythm, so copies in them may be missed; --timing tracked "
            "re-quantizes them on a tracked beat; --invariance intervals compares pitch only (against a "
            "saved index, one built with it: remixmusic index REFERENCE --invariance intervals)"
        )

    def _chance_span(self) -> str:
        """How long a chance-length match is: in notes (its symbols plus the symbols' order) when the
        parameters say, else in symbols."""
        p = self.params
        if "min_match_notes" in p and "min_match_symbols" in p:
            return f"{int(p['chance_length']) + int(p['min_match_notes']) - int(p['min_match_symbols'])} notes"
        return f"{p['chance_length']} symbols"

    def _compared_text(self) -> str:
        """Which pieces the table and the comparisons use, and how they are tested."""
        n = {g: len(self.compared_records(g)) for g in ("query", "control")}
        groups = {
            g: len({r.tune_group or f"#{i}" for i, r in enumerate(self.compared_records(g))}) for g in n
        }
        removed = self.leakage.get("n_removed", 0)
        tunes = self.leakage.get("tune_check", {}).get("n_removed", 0)
        also = f" and the same-tune check {tunes}" if tunes else ""
        return (
            f"Compared: {n['query']} query piece(s) in {groups['query']} tune group(s) against "
            f"{n['control']} control piece(s) in {groups['control']} tune group(s) (after the leakage "
            f"check removed {removed}{also}). Tune groups come from a dataset's manifest, or for other files from "
            "the near-duplicate rule of dataset splits among the pieces of each side; intervals resample whole "
            "tune groups; Mann-Whitney tests and Cliff's "
            f"delta compare tune-group means. {PRIMARY_MEASURE} is the primary measure, tested at alpha; "
            "the p-values of the other measures are Holm-adjusted (p (Holm)), and the verdicts follow the "
            "adjusted values."
        )


_TABLE_COLUMNS = ("measure", "role", "query", "control", "cliffs_delta", "p_value", "p_holm", "meaning")

_COMPARISON_DTYPES = {
    name: {"int": "int64", "float": "float64", "str": str}.get(str(f.type), "float64")
    for f in fields(Comparison)
    for name in ((f"{f.name}_low", f"{f.name}_high") if f.name.endswith("_ci") else (f.name,))
}
COMPARISON_COLUMNS = tuple(_COMPARISON_DTYPES)
"""The columns of :attr:`AnalysisReport.comparison_table`, in order: the fields of
:class:`~remixmusic.evaluation.significance.Comparison`, each interval ``*_ci`` as ``*_ci_low`` and
``*_ci_high``."""


def _number(value: float, spec: str) -> str:
    return "n/a" if math.isnan(value) else spec.format(value)


def _mean(values: list[Any]) -> float:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else math.nan
