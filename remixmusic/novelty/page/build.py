"""report.html, section by section: the first screen in plain language, the sortable per-piece summary,
the reference pieces drawn on, each query piece's remix map with its player and its passages beside
their sources, then the statistics, the long tables and the settings.

One self-contained file: styles, script and data inline, plots as embedded PNG, no address outside the
page. Bounded whatever the analysis size: at most ``max_maps`` pieces in detail, each with at most
:data:`~remixmusic.novelty.page.music.PLAYER_NOTE_LIMIT` notes of player data and
:data:`~remixmusic.novelty.page.tables.HTML_MAX_SOURCE_ROWS` passages; every table capped at
:data:`~remixmusic.novelty.page.tables.HTML_MAX_ROWS` rows with a line saying where the whole table is.
"""

from __future__ import annotations

import heapq
import html
import math
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic._util.render import _fmt, img_tag
from remixmusic.novelty.page.details import piece_details, summary_rows
from remixmusic.novelty.page.music import script_json
from remixmusic.novelty.page.tables import HTML_MAX_ROWS, Cell, Column, records_table, table
from remixmusic.novelty.page.words import (
    LABEL_WORDS,
    LEFT_OUT_ROWS,
    NOT_COPIES,
    bar_shares,
    interval,
    label_name,
    left_out_reason,
    overview,
    percent,
)
from remixmusic.novelty.passages import NOTE_LABELS
from remixmusic.novelty.plots import LABEL_COLORS, LABEL_HATCHES, chance_notes, min_copy_notes
from remixmusic.novelty.records import MOTIF_COLUMNS, PassageRecord

if TYPE_CHECKING:
    from remixmusic.novelty.report import AnalysisReport


@cache
def asset(name: str) -> str:
    """The text of ``page.css`` or ``page.js``, shipped beside this module."""
    return files("remixmusic.novelty.page").joinpath(name).read_text(encoding="utf-8")


def report_page(report: AnalysisReport, max_maps: int = 50) -> str:
    """report.html of ``report``: see the module docstring. ``max_maps``: query pieces shown in detail
    (remix map, player, passages); the summary table lists them all (up to
    :data:`~remixmusic.novelty.page.tables.HTML_MAX_ROWS`)."""
    query = report.query_records()
    shown = min(max_maps, len(query), len(report.note_maps))
    by_piece: dict[str, list[PassageRecord]] = {}
    for p in report.passage_records:
        if p.group == "query":
            by_piece.setdefault(p.piece, []).append(p)
    details = [piece_details(report, k, by_piece.get(query[k].piece, [])) for k in range(shown)]
    anchors = {id(p): d.anchors[id(p)] for d in details for p in d.passages}
    detailed = {query[k].piece: k for k in range(shown)}

    def anchor(p: PassageRecord) -> str:
        if id(p) in anchors:
            return anchors[id(p)]
        return f"piece-{detailed[p.piece]}" if p.piece in detailed else "pieces"

    title = _title(report)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{asset('page.css')}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _nav(bool(report.control_note_maps)),
        overview(report, anchor, legend(report.params)),
        _summary(report, by_piece, detailed, max_maps),
        _sources(report, by_piece, anchor),
        "<section id='details'><h2>Each piece: remix map, listening, passages beside their sources</h2>",
        _toolbar(),
    ]
    parts += [d.markup for d in details]
    if len(query) > shown:
        parts.append(
            f"<p class='truncated'>(details of the first {shown} of {len(query):,} query pieces; the passages "
            "of all of them are in passages.csv)</p>"
        )
    parts.append("</section>")
    parts.append(_control_details(report, max_maps))
    parts.append(_statistics(report))
    parts.append(_tables(report))
    parts.append(_settings(report.params))
    parts.append(f"<script type='application/json' id='remix-globals'>{script_json(_globals())}</script>")
    parts.append(f"<script>{asset('page.js')}</script></body></html>")
    return "\n".join(parts)


def _control_keys(report: AnalysisReport, max_maps: int) -> dict[str, str]:
    """The page key (``cI``) of each control piece shown in detail: the first ``max_maps`` of
    ``control_note_maps`` (most copied and varied notes first)."""
    return {name: f"c{i}" for i, name in enumerate(list(report.control_note_maps)[:max_maps])}


def _control_counts(report: AnalysisReport) -> str:
    """What the control pieces with a copied or varied passage count, against the first screen's count
    of compared pieces with a copied passage (``" (…)"``, empty with no left-out or varied-only piece)."""
    records = {r.piece: r for r in report.piece_records if r.group == "control"}
    shown = [records[n] for n in report.control_note_maps if n in records]
    copied = [r for r in shown if r.copied_fraction > 0]
    out = [r for r in shown if r.excluded]
    compared = sum(1 for r in report.compared_records("control") if r.copied_fraction > 0)
    if not out and len(copied) == len(shown):
        return ""
    n_compared = len(report.compared_records("control"))
    return (
        f" ({len(copied)} with a copied passage, {len(shown) - len(copied)} with varied passages only; "
        f"{len(out)} of them left out of the comparison: the first screen's {compared} of {n_compared} counts "
        "the compared pieces with a copied passage)"
    )


def _control_details(report: AnalysisReport, max_maps: int) -> str:
    """The human control pieces that copy or vary a passage, with the same tools as the query pieces (the
    only real copies of an analysis whose query copies nothing): all of them, or the ``max_maps`` that
    copy most, saying how many are left out."""
    keys = _control_keys(report, max_maps)
    if not keys:
        return ""
    records = {r.piece: r for r in report.piece_records if r.group == "control"}
    passages: dict[str, list[PassageRecord]] = {}
    for p in report.passage_records:
        if p.group == "control" and p.piece in keys:
            passages.setdefault(p.piece, []).append(p)
    n_all = len(report.control_note_maps)
    which = (
        f"Each of the {n_all} human control piece{'s' if n_all != 1 else ''} with a copied or varied passage"
        if n_all == len(keys)
        else f"The {len(keys)} of the {n_all:,} human control pieces with a copied or varied passage that copy "
        "most"
    ) + _control_counts(report)
    parts = [
        "<section id='control-details'><h2>Human control pieces that copy: remix maps, listening, passages</h2>",
        f"<p>{which}, shown like the query pieces: what a copy found in human music in this style looks and "
        "sounds like.</p>",
    ]
    for name, key in keys.items():
        record = records[name]
        details = piece_details(report, key, passages.get(name, []), record, report.control_note_maps[name])
        markup = details.markup
        if record.excluded:
            note = f"<p class='truncated'>Left out of the comparison: it {html.escape(left_out_reason(record))}.</p>"
            markup = markup.replace("<p class='gist'>", note + "<p class='gist'>", 1)
        parts.append(markup)
    if n_all > len(keys):
        parts.append(
            f"<p class='truncated'>{n_all - len(keys):,} more human control pieces copy or vary a passage; "
            f"the page shows {len(keys)} pieces of each group in detail, to stay small enough to open. Their "
            "passages are in passages.csv and the per-piece table above.</p>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _title(report: AnalysisReport) -> str:
    p = report.params
    n_query = len(report.query_records())
    n_ref = p.get("n_reference", len(report.reference_names))
    return f"Copying analysis: {n_query:,} query piece{'s' if n_query != 1 else ''} against {n_ref:,} reference pieces"


def _nav(control_details: bool = False) -> str:
    links = [
        ("overview", "Summary"),
        ("rule", "How a copy is recognised"),
        ("pieces", "Per piece"),
        ("sources", "Reference pieces drawn on"),
        ("details", "Remix maps and listening"),
        ("control-details", "Human pieces that copy"),
        ("statistics", "Statistics"),
        ("tables", "Tables"),
        ("settings", "Settings"),
    ]
    links = [(a, t) for a, t in links if control_details or a != "control-details"]
    return "<nav>" + " · ".join(f"<a href='#{a}'>{html.escape(t)}</a>" for a, t in links) + "</nav>"


def _globals() -> dict[str, Any]:
    return {
        "labels": list(NOTE_LABELS),
        "colors": [LABEL_COLORS[lab] for lab in NOTE_LABELS],
        "hatch": [lab in LABEL_HATCHES for lab in NOTE_LABELS],
    }


def legend(params: dict[str, Any] | None = None) -> str:
    """The note labels with their colours (swatches as in the remix maps), their names as the page shows
    them (:func:`~remixmusic.novelty.page.words.label_name`, from the report's ``params``) and their
    meaning."""
    items = "".join(
        f"<li><span class='sw{' hatched' if lab in LABEL_HATCHES else ''}' style='background-color:"
        f"{LABEL_COLORS[lab]}'></span><b>{html.escape(label_name(lab, params or {}))}</b>: {html.escape(LABEL_WORDS[lab])}</li>"
        for lab in NOTE_LABELS
    )
    return f"<ul class='legend' id='legend'>{items}</ul>"


_SUMMARY_COLUMNS: tuple[Column, ...] = (
    ("piece", "piece"),
    ("bar", "labels of its notes", "shares of its analysed notes by label, in the remix maps' colours"),
    ("recombined", "copied + varied", "share of its analysed notes"),
    ("sources", "drawn from (notes)", "the reference pieces most drawn on, with the notes from each"),
    ("longest", "longest copy"),
    ("copied", "copied", "share of its analysed notes"),
    ("varied", "varied", "share of its analysed notes"),
    ("stock", "stock", "share of its analysed notes"),
    ("self_repeat", "self-repeat", "share of its analysed notes"),
    (
        "novel",
        "no copy",
        "share of its analysed notes in no copied, varied, stock or self-repeated passage (shorter shared "
        "stretches are not counted as copies)",
    ),
    ("passages", "copied / varied passages"),
    ("analysed", "analysed notes", "notes on an analysed line, of all its notes"),
)


def _summary(
    report: AnalysisReport, by_piece: dict[str, list[PassageRecord]], detailed: dict[str, int], max_maps: int
) -> str:
    query = report.query_records()
    rows = summary_rows(query[:HTML_MAX_ROWS], by_piece, detailed, report.reference_names)
    parts = [
        "<section id='pieces'><h2>Per piece</h2>",
        "<p>One row per query piece; shares are of the piece's analysed notes. <i>No copy</i>: notes in no "
        f"copied, varied, stock or self-repeated passage ({label_name('novel', report.params)}); "
        f"{NOT_COPIES}, so such notes may still lie in one. Click a column head to sort, "
        "a piece to see its remix map, hear it and compare each passage with its source.</p>",
        table(
            rows,
            _SUMMARY_COLUMNS,
            total=len(query),
            full="pieces.csv",
            table_id="piece-summary",
            row_ids=[f"row-{k}" for k in range(len(rows))],
        ),
    ]
    control = [r for r in report.piece_records if r.group == "control"]
    if control:
        control_passages: dict[str, list[PassageRecord]] = {}
        for p in report.passage_records:
            if p.group == "control":
                control_passages.setdefault(p.piece, []).append(p)
        # The sources of control passages are named without links: only the query's have a row among
        # the reference pieces drawn on.
        keys = _control_keys(report, max_maps)
        rows = summary_rows(control[:HTML_MAX_ROWS], control_passages, keys, [])
        for r, record in zip(rows, control, strict=False):
            if record.excluded:
                name = html.escape(record.piece)
                linked = f"<a href='#piece-{keys[record.piece]}'>{name}</a>" if record.piece in keys else name
                r["piece"] = Cell(
                    f"{linked} <i>(left out: {html.escape(left_out_reason(record))})</i>",
                    record.piece,
                )
        parts += [
            f"<details><summary>The {len(control):,} human control pieces</summary>",
            table(
                rows,
                _SUMMARY_COLUMNS,
                total=len(control),
                full="pieces.csv",
            ),
            "</details>",
        ]
    parts.append("</section>")
    return "\n".join(parts)


def _sources(report: AnalysisReport, by_piece: dict[str, list[PassageRecord]], anchor: Any) -> str:
    """The reference pieces that copied and varied passages of the query come from, each with the
    passages drawn from it (linked to them)."""
    drawn: dict[str, list[PassageRecord]] = {}
    for passages in by_piece.values():
        for p in passages:
            if p.label in ("copied", "varied") and p.sources and p.labelled_notes:  # not alternatives
                drawn.setdefault(p.sources.split(";", 1)[0], []).append(p)
    index = {name: i for i, name in enumerate(report.reference_names)}
    notes = {s: sum(p.n_notes for p in ps) for s, ps in drawn.items()}
    order = sorted(drawn, key=lambda s: (-notes[s], s))
    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    for name in order[:HTML_MAX_ROWS]:
        ps = heapq.nsmallest(21, drawn[name], key=lambda p: (p.piece, p.start_beat))
        n = len(drawn[name])
        links = ", ".join(
            f"<a href='#{anchor(p)}'>{html.escape(p.piece)} bars {html.escape(p.bars)}</a> ← bars "
            f"{html.escape(p.source_bars.split(';')[0])}"
            for p in ps[:20]
        ) + (f" and {n - 20} more" if n > 20 else "")
        rows.append(
            {
                "source": name,
                "pieces": len({p.piece for p in drawn[name]}),
                "passages": n,
                "notes": notes[name],
                "where": Cell(links, ps[0].piece),
            }
        )
        ids.append(f"ref-{index.get(name, len(ids))}")
    columns = [
        ("source", "reference piece"),
        ("pieces", "query pieces"),
        ("passages", "passages"),
        ("notes", "notes"),
        ("where", "where (query bars ← source bars)"),
    ]
    return (
        "<section id='sources'><h2>Reference pieces drawn on</h2><p>Every reference piece that a copied or "
        "varied passage of a query piece comes from (stock formulas left out).</p>"
        + table(rows, columns, total=len(order), full="passages.csv", row_ids=ids)
        + "</section>"
    )


def _toolbar() -> str:
    swatches = " ".join(
        f"<span class='key'><span class='sw{' hatched' if lab in LABEL_HATCHES else ''}' "
        f"style='background-color:{LABEL_COLORS[lab]}'></span>{html.escape(lab)}</span>"
        for lab in NOTE_LABELS
    )
    return (
        "<p class='hint'>The players sound a plain synthesised tone per note, from this page alone (no "
        "network). Above each map: its passages found in the reference, numbered by source; the cursor shows "
        "where the music is. Escape stops.</p><div class='toolbar'><label>Tempo <input type='number' "
        "id='tempo' min='20' max='300' step='1' value='100'> quarter notes per minute</label> "
        f"<span class='keys'>{swatches}</span><span id='audio-status'></span></div>"
    )


def _statistics(report: AnalysisReport) -> str:
    parts = ["<section id='statistics'><h2>Statistics</h2>"]
    meaning = {name: text for name, text in ((r["measure"], r["meaning"]) for r in report.measure_table())}
    if report.comparisons:
        rows = []
        for c in report.comparisons:
            share = c.measure.endswith(("_fraction", "_coverage"))
            rows.append(
                {
                    "measure": Cell(
                        f"{html.escape(meaning.get(c.measure, c.measure))} <code>{html.escape(c.measure)}</code>",
                        c.measure,
                    ),
                    "role": c.role,
                    "query": _mean_cell(c.query_mean, c.query_ci, share),
                    "control": _mean_cell(c.control_mean, c.control_ci, share),
                    "delta": _number_cell(c.cliffs_delta, "{:+.2f}"),
                    "p": _number_cell(c.p_value, "{:.2g}"),
                    "p_holm": _number_cell(c.p_adjusted, "{:.2g}"),
                }
            )
        columns = [
            ("measure", "measure"),
            ("role", "role"),
            ("query", "query mean (95% interval)"),
            ("control", "control mean (95% interval)"),
            ("delta", "Cliff's delta"),
            ("p", "p"),
            ("p_holm", "p (Holm)"),
        ]
        parts.append(f"<p>{html.escape(report._compared_text())}</p>")
        parts.append(table(rows, columns))
        parts.append(
            "<ul>" + "".join(f"<li>{html.escape(c.verdict)}</li>" for c in report.comparisons) + "</ul>"
        )
        parts.append(f"<p>{html.escape(report.leakage.get('summary', ''))}</p>")
        tune = report.leakage.get("tune_check", {}).get("summary", "")
        parts.append(f"<p>{html.escape(tune)}</p>" if tune else "")
    chance = chance_notes(report.params)
    counted = report.params.get("min_match_notes")
    fewest = min_copy_notes(report.params)
    parts.append(
        "<h3>Coverage curves</h3><p>For each length L (notes), the share of a piece's analysed notes that lie "
        "inside an exact match of at least L notes with some reference piece, whether rare or common, "
        "averaged per group with a 95% band."
        + (
            f" The dotted line is the chance length ({chance} notes): shuffled reference melodies reach it "
            "by chance."
            if chance
            else ""
        )
        + (
            f" The dashed line is the shortest match the search counts, spanning {counted} notes: the "
            f"shortest copy is {fewest} notes (see <a href='#rule'>how a copy is recognised</a>)."
            if counted and fewest != counted
            else f" The dashed line is the shortest copy ({counted} notes)."
            if counted
            else ""
        )
        + "</p>"
    )
    parts.append(img_tag(report.plot_coverage()))
    if report.granularity is not None:
        parts.append(_granularity(report))
    parts.append("</section>")
    return "\n".join(parts)


def _granularity(report: AnalysisReport) -> str:
    """The granularity section: each group's share of notes in a stretch of a bar or more, exactly the
    chart's solid line at 1 bar (and the first screen's sentence), then its shuffled line there, then the
    patchwork estimate in technical terms."""
    g = report.granularity
    assert g is not None
    shares = bar_shares(report)
    one = int(np.argmin(np.abs(np.asarray(g.calibration.grid, np.float64) - 1.0)))
    items = []
    for name, v in g.groups.items():
        who = {"query": "query pieces", "control": "human control"}.get(name, name)
        mean, ci = shares.get(name, (float(v.mean_curve[one]), (math.nan, math.nan)))
        scale = (
            f" Their curve is closest to that of pieces glued together from reference passages of "
            f"{v.bars:.2g} bars ({v.bars_ci[0]:.2g}–{v.bars_ci[1]:.2g})."
            if math.isfinite(v.bars_ci[0])
            else ""
        )
        items.append(
            f"<li><b>{html.escape(who)}</b> ({v.n_pieces} pieces): <b>{percent(mean, 0)}</b> of their "
            f"notes lie in a stretch of at least one bar found note for note in some reference piece "
            f"(the solid line at 1 bar){interval(*ci)}, counting any such stretch, common formulas and "
            f"chance-length matches too; the same pieces with their notes shuffled reach "
            f"{percent(float(v.mean_chance[one]), 0)} (the dotted line at 1 bar), which is not subtracted."
            f"{scale} <small>Technical: <code>span_coverage_1</code> in pieces.csv, averaged; fitting the "
            f"curve as a mix of its shuffled curve and the patchwork curves gives the patchwork curves a "
            f"weight of {percent(v.share, 0)} ({percent(v.share_ci[0], 0)}–{percent(v.share_ci[1], 0)}, "
            f"<code>granularity_share</code>); level {html.escape(v.level)} on the patchwork scale"
            f"{f', {v.bars:.2g} bars' if math.isfinite(v.bars_ci[0]) else ''}.</small></li>"
        )
    return (
        "<h3 id='granularity'>How long the shared stretches are (granularity)</h3><p>How long the stretches "
        "are that a piece shares note for note with the reference, set against pieces made by gluing "
        "reference passages of 1, 2, 4... bars. The percentages here are <i>not</i> the headline share and "
        "cannot be compared with it: they count every note inside an exact match that spans a bar or "
        "more, whether the match is a rare copy or a common formula (stock, cadences) and whatever its "
        "information. The headline counts only the notes of copied or varied passages (rare, "
        "informative, longer than chance), so a group can be high here and at 0% there.</p><ul>"
        + "".join(items)
        + "</ul>"
        + img_tag(g.plot())
    )


def _number_cell(value: float, spec: str) -> Cell:
    return Cell("n/a", "") if math.isnan(value) else Cell(spec.format(value), value)


def _mean_cell(mean: float, ci: tuple[float, float], share: bool) -> Cell:
    """A group mean with its 95% interval: shares in percent, other measures to 3 significant digits."""
    if math.isnan(mean):
        return Cell("n/a", "")
    if share:
        return Cell(f"{percent(mean, 1)}{interval(*ci)}", mean)
    bounds = "" if math.isnan(ci[0]) else f" ({ci[0]:.3g}–{ci[1]:.3g})"
    return Cell(f"{mean:.3g}{bounds}", mean)


def _tables(report: AnalysisReport) -> str:
    parts = [
        "<section id='tables'><h2>Tables</h2><p>The files beside this page hold every row: pieces.csv, "
        f"passages.csv, motifs.csv and report.json. {LEFT_OUT_ROWS}</p>",
        "<details><summary>Motifs (the phrases each line was cut into, with the label most of their notes "
        "carry; columns as in motifs.csv, so beats count from 0 and an end is exclusive)</summary>",
        records_table(report.motif_records, MOTIF_COLUMNS, "motifs.csv"),
        "</details>",
    ]
    if report.skipped:
        rows = [{"path": p, "reason": r} for p, r in report.skipped[:HTML_MAX_ROWS]]
        parts += [
            "<h3>Skipped files</h3>",
            table(
                rows,
                [("path", "file"), ("reason", "reason")],
                total=len(report.skipped),
                full="report.json (skipped)",
            ),
        ]
    if report.repaired:
        rows = [{"piece": p, "repairs": r} for p, r in report.repaired[:HTML_MAX_ROWS]]
        parts += [
            "<h3>Files read with repairs</h3><p>Damaged or unusual files are read where the music is whole, "
            "each repair named (a note never released closed at the end of its track, a wrong length field, "
            "a bad meta event dropped): their numbers rest on what could be read.</p>",
            table(rows, [("piece", "piece"), ("repairs", "repairs")], total=len(report.repaired), full="report.json (repaired)"),
        ]
    parts.append("</section>")
    return "\n".join(parts)


SETTING_WORDS = {
    "invariance": "what a copy may change (see the first section)",
    "lines": "which melodic lines were compared",
    "chance_length": "longest match of shuffled reference lines reached by chance (symbols)",
    "min_match_symbols": "symbols of the shortest counted match",
    "min_match_notes": "notes that the shortest counted match spans (see min_copy_notes)",
    "min_copy_notes": "shortest copy: the fewest notes of a copied, varied or stock passage (why it can be "
    "one less than min_match_notes: see How a copy is recognised)",
    "seed_length": "length of the exact seeds a varied copy grows from (symbols)",
    "chance_bits": "information that shuffled lines reach by chance (bits)",
    "min_match_bits": "floor of the information bound (bits): a piece's copies need the larger of this and "
    "its E-value bound log2(n_reference_symbols × its symbols / config.match.false_copies) (min_bits in "
    "pieces.csv)",
    "n_reference_symbols": "symbols in the reference (R of the E-value bound)",
    "df_threshold": "a match found in this many reference tune groups or more is stock",
    "n_reference": "reference pieces",
    "n_reference_groups": "reference tune groups",
    "n_query": "query pieces",
    "n_control": "control pieces read",
    "n_control_compared": "control pieces compared (after the leakage and same-tune checks)",
    "n_control_groups": "control tune groups compared",
    "primary_measure": "the measure the comparison answers with",
    "reference_manifest_hash": "fingerprint of the reference corpus",
}
"""One line per resolved setting of the report's ``params`` (the rest are said by their names)."""


RESOLVED = {
    "config.match.min_length": (
        "min_match_symbols",
        "derived from the index (its chance length + 2): {} symbols",
    ),
    "config.match.min_bits": ("min_match_bits", "derived from the index (its chance bits): {:.1f} bits"),
    "config.match.stock_df": ("df_threshold", "derived from the index: {} tune groups"),
    "config.match.seed_length": ("seed_length", "derived from min_length: {} symbols"),
    "config.match.varied_false_copies": ("config.match.false_copies", "the same as false_copies: {}"),
    "config.invariance": ("invariance", "the index's: {}"),
    "config.lines": ("lines", "the index's: {}"),
}
"""Settings given as ``None`` (derived) and where the value used is: the resolved parameter and how to
say it."""


def _setting_value(key: str, value: Any, flat: dict[str, Any]) -> str:
    """A setting's value as shown: a ``None`` (derived) as the value actually used, where it came from."""
    if value is not None:
        return _fmt(value)
    if key in RESOLVED and flat.get(RESOLVED[key][0]) is not None:
        name, words = RESOLVED[key]
        spans = flat.get("min_match_notes")
        extra = f" ({spans} notes spanned)" if key == "config.match.min_length" and spans else ""
        return words.format(flat[name]) + extra
    return "not set"


def _settings(params: dict[str, Any]) -> str:
    flat = _flat(params)
    rows = [
        {"setting": k, "value": _setting_value(k, v, flat), "meaning": SETTING_WORDS.get(k, "")}
        for k, v in flat.items()
    ]
    rows.sort(key=lambda r: (r["setting"].startswith("config."), r["setting"].startswith("originality.")))
    return (
        "<section id='settings'><h2>Settings</h2><p>Every parameter of the analysis, as resolved against this "
        "reference, then the configuration as given (<code>config.*</code>).</p>"
        + table(rows, [("setting", "setting"), ("value", "value"), ("meaning", "meaning")])
        + "</section>"
    )


def _flat(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as one level, ``config.match.min_length`` style, for the settings table."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
