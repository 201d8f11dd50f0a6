"""The plain-language parts of report.html: what was compared with what, what each note label means, the
headline numbers with their intervals, and what they can and cannot say.

Written for a reader who knows music, not the code: settings are said in words (the invariance as
"the same intervals and rhythm, in any key and at any tempo"), shares as percentages of the analysed
notes, intervals as "95% interval". Every function returns HTML (escaped) from the report's own
records and parameters; none computes anything the report does not hold, except the bootstrap
intervals of a query with no control (:func:`~remixmusic.evaluation.significance.bootstrap_ci`).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic.evaluation.significance import Comparison, bootstrap_ci
from remixmusic.music.lines import BASS_VOICE
from remixmusic.novelty.page.rule import compared, min_copy_notes, rule
from remixmusic.novelty.plots import chance_notes
from remixmusic.novelty.records import PassageRecord, PieceRecord
from remixmusic.novelty.symbols import DEFAULT_INVARIANCE, PITCHLESS, TIMELESS

if TYPE_CHECKING:
    from remixmusic.novelty.report import AnalysisReport

ALPHA = 0.05
"""The level the comparisons' verdicts are decided at (:func:`~remixmusic.evaluation.significance.compare_measures`)."""

LABEL_WORDS = {
    "copied": "found note for note in a reference piece, and rare there: a quotation",
    "varied": "found in a reference piece with a few notes changed, added or left out",
    "stock": "a match too common or too predictable to count as a copy: found in many tune groups of the "
    "reference (a cadence formula), or carrying too little information (e.g. repeated notes or a scale "
    "run); shared vocabulary, not counted as copying",
    "self-repeat": "repeats earlier material of the same piece",
    "prompt": "given to the model as its opening (a prompt); left out of every share",
    "novel": "in no copied, varied, stock or self-repeated passage; it may still lie in a shorter stretch "
    "shared note for note with the reference (most notes do), and shorter shared stretches are not "
    "counted as copies",
    "not-analysed": "on no analysed line (e.g. drums, or a line too short to hold a copy): neither "
    "copied nor novel, left out of every share",
}
"""One line per note label (:data:`~remixmusic.novelty.passages.NOTE_LABELS`) for the legend."""

NOT_COPIES = "shorter shared stretches are not counted as copies"
"""Said wherever a share of novel notes is shown: novel notes are often inside short exact matches."""


def label_name(label: str, params: dict[str, Any]) -> str:
    """A note label as the page shows it: ``novel`` as what it is, no copy, with the shortest copy
    (``min_copy_notes``) in notes; every other label as its id."""
    if label != "novel":
        return label
    n = min_copy_notes(params) or params.get("min_match_notes")
    return f"no copy (no shared stretch of {n}+ notes)" if n else "no copy"


EDIT_WORDS = {
    "change": "a note changed",
    "deletion": "a source note left out",
    "insertion": "a note added",
    "passing": "a passing note added",
    "ornament": "an ornament added",
}
"""The kinds of edit of a varied copy (:class:`~remixmusic.novelty.varied.EditScript`) in words."""


def percent(value: float, digits: int = 0) -> str:
    """A share (0-1) as a percentage, ``"–"`` for NaN."""
    return "–" if value is None or math.isnan(value) else f"{100 * value:.{digits}f}%"


def interval(lo: float, hi: float) -> str:
    """A 95% interval of shares, in percent."""
    if math.isnan(lo) or math.isnan(hi):
        return ""
    return f" (95% interval {100 * lo:.1f}–{100 * hi:.1f}%)"


def edits_text(edits: str) -> str:
    """An edit script (``kind@position;...``) in words: "1 note changed, 1 note added"."""
    kinds = [e.split("@")[0] for e in edits.split(";") if e]
    counts: dict[str, int] = {}
    for k in kinds:
        counts[k] = counts.get(k, 0) + 1
    return ", ".join(
        f"{n} × {EDIT_WORDS.get(k, k)}" if n > 1 else EDIT_WORDS.get(k, k) for k, n in counts.items()
    )


def line_text(track: int, voice: int) -> str:
    """A line of a piece in words: "part 2, voice 1 from the top", "part 1, the bass" (track -1: all
    parts together)."""
    where = "the bass" if voice == BASS_VOICE else f"voice {voice + 1} from the top"
    if track < 0:
        return "the melody" if voice == 0 else where
    return f"part {track + 1}" + (f", {where}" if voice else "")


_INTERVALS = (
    "unison",
    "minor second",
    "major second",
    "minor third",
    "major third",
    "perfect fourth",
    "tritone",
    "perfect fifth",
    "minor sixth",
    "major sixth",
    "minor seventh",
    "major seventh",
)
_COMPOUND = {
    0: "octave",
    1: "minor ninth",
    2: "major ninth",
    3: "minor tenth",
    4: "major tenth",
    5: "eleventh",
}


def interval_name(semitones: int) -> str:
    """An interval by its musical name: 16 -> "a major tenth", 24 -> "two octaves"."""
    n = abs(semitones)
    octaves, rest = divmod(n, 12)
    if octaves == 1 and rest in _COMPOUND:
        return f"{'an' if _COMPOUND[rest][0] in 'aeiou' else 'a'} {_COMPOUND[rest]}"
    if rest == 0:
        return "an octave" if octaves == 1 else f"{octaves} octaves"
    name = _INTERVALS[rest]
    article = "an" if name[0] in "aeiou" else "a"
    return f"{article} {name}" + (
        f" plus {'an octave' if octaves == 1 else f'{octaves} octaves'}" if octaves else ""
    )


def transposition_text(semitones: int, time_scale: float, invariance: str = DEFAULT_INVARIANCE) -> str:
    """How the query passage differs from its source in key and speed, in words. ``invariance``: the
    analysis's (:data:`~remixmusic.novelty.symbols.INVARIANCES`); what it does not compare is said as
    such (under ``intervals`` the rhythm, under ``rhythm`` the pitches) rather than claimed the same."""
    if invariance in PITCHLESS:
        key = "pitches not compared" if invariance == "rhythm" else "same up/down contour, pitches may differ"
    elif semitones == 0:
        key = "same key"
    else:
        n = abs(semitones)
        key = (
            f"transposed {'up' if semitones > 0 else 'down'} {interval_name(n)} "
            f"({n} semitone{'s' if n != 1 else ''})"
        )
    scale = 1.0 if not time_scale or math.isnan(time_scale) else time_scale
    if invariance in TIMELESS:
        # Under intervals the time scale is only the ratio of the two spans: note values may differ.
        span = "" if abs(scale - 1) < 0.01 else f", its span × {scale:.3g} the source's"
        return f"{key}, rhythm not compared{span}"
    same = "roughly the same rhythm" if invariance == "contour" else "same rhythm"
    # The time scale compares where the notes start (the matched rhythm), not how long each is held:
    # a note may be held half as long before a rest and the passage still match.
    if abs(scale - 1) < 0.01:
        return f"{key}, {same} at the same speed"
    if abs(scale - 2) < 0.01:
        return f"{key}, {same} twice as slow"
    if abs(scale - 0.5) < 0.01:
        return f"{key}, {same} twice as fast"
    return f"{key}, {same}, its time spans × {scale:.3g}"


def _folder(records: Sequence[PieceRecord]) -> str:
    paths = [PurePath(r.path).parent for r in records if r.path]
    if not paths:
        return ""
    common = paths[0]
    while any(common not in (p, *p.parents) for p in paths) and common != common.parent:
        common = common.parent
    return str(common)


def overview(report: AnalysisReport, anchor: Callable[[PassageRecord], str], legend: str = "") -> str:
    """The first screen, then what it rests on. First (it fits a 1300 x 900 window): what was compared
    with what, the headline numbers with their intervals and the verdict in words. Then how a copy is
    recognised with the note labels' key (``legend``, HTML), the longest copy and the pieces that copy
    most (linked through ``anchor``, the page id that shows a query passage), where the files are, and
    what the numbers cannot say."""
    p = report.params
    query = report.compared_records("query")
    control = report.compared_records("control")
    n_ref, n_groups = p.get("n_reference", len(report.reference_names)), p.get("n_reference_groups")
    folder = _folder(query)
    groups = f" in {n_groups:,} tune groups" if n_groups else ""
    text = (
        f"<p class='lead'>The <b>{len(query):,} query piece{'s' if len(query) != 1 else ''}</b> were searched "
        f"for passages that also occur in <b>{n_ref:,} reference pieces</b>{groups} (for generated music: the "
        "pieces the model learnt from; the versions of one tune form a tune group and count once)."
    )
    if control:
        text += (
            f" As a baseline, <b>{len(control):,} human pieces</b> from outside the reference (the "
            "<i>control</i>) went through the same search: music in one style shares material, so the "
            "question is whether the query pieces share more than human pieces do."
        )
    made = generation_text(query)
    parts = ["<section id='overview'>", text + (f" {html.escape(made)}" if made else "") + "</p>"]
    parts.append(headline(report))
    parts.append(left_out_text(report))
    parts.append("<h3 id='rule'>How a copy is recognised</h3>")
    parts.append(rule(p, [*query, *control]))
    parts.append(legend)
    parts.append(where_copies_are(report, anchor))
    if folder and folder != ".":
        full = os.path.abspath(folder)
        parts.append(f"<p class='hint'>Query folder: <code>{html.escape(full)}</code>. {FILES_NOTE}</p>")
    else:
        parts.append(f"<p class='hint'>{FILES_NOTE}</p>")
    parts.append(_limits(p, bool(control), report.off_grid_warning()))
    parts.append("</section>")
    return "\n".join(parts)


def left_out_reason(record: PieceRecord) -> str:
    """Why a control piece is left out of the comparisons, in words (reports written before
    ``left_out`` give the leakage check's reason)."""
    return record.left_out or "duplicates a reference piece (the leakage check)"


def left_out_text(report: AnalysisReport) -> str:
    """The control pieces left out of the comparisons, each by name with its reason, and a line when the
    same-tune check could not run (HTML; empty with no control)."""
    control = [r for r in report.piece_records if r.group == "control"]
    if not control:
        return ""
    out = [r for r in control if r.excluded]
    items = "".join(
        f"<li>{html.escape(r.piece)} {html.escape(left_out_reason(r))}: left out of the comparison.</li>"
        for r in out[:20]
    ) + (f"<li>and {len(out) - 20} more (pieces.csv, <code>left_out</code>)</li>" if len(out) > 20 else "")
    text = (
        "<p class='left-out'>Human pieces left out of the baseline (they would count as copying what is "
        "really the same music):</p><ul class='left-out'>" + items + "</ul>"
        if out
        else ""
    )
    tune = report.leakage.get("tune_check", {})
    if tune and not tune.get("ran", True):
        text += f"<p class='hint left-out'>{html.escape(tune.get('summary', ''))}</p>"
    return text


LEFT_OUT_ROWS = (
    "pieces.csv keeps the control pieces left out of the comparison too (their <code>left_out</code> says "
    "why); this page's numbers leave out every row with a non-empty <code>left_out</code>, so a mean over "
    "all its rows differs from them. Its <code>n_passages</code> counts copied and varied passages only "
    "(<code>n_stock_passages</code> the stock ones; passages.csv lists all three)."
)


FILES_NOTE = (
    "Every row of every table is in the files beside this page: <a href='pieces.csv'>pieces.csv</a>, "
    "<a href='passages.csv'>passages.csv</a>, <a href='motifs.csv'>motifs.csv</a> and "
    "<a href='report.json'>report.json</a>. " + LEFT_OUT_ROWS
)


def generation_text(records: Sequence[PieceRecord], limit: int = 200) -> str:
    """What the generation sidecars beside the query files say: the model that made them and whether
    they continue a prompt (empty when there are no sidecars)."""
    models: dict[str, int] = {}
    prompted = plain = 0
    for r in records[:limit]:
        if not r.path:
            continue
        try:
            with open(os.path.splitext(r.path)[0] + ".json", encoding="utf-8") as f:
                sidecar = json.load(f)
        except (OSError, ValueError):
            continue
        if not isinstance(sidecar, dict) or sidecar.get("format") != "remixmusic-generated":
            continue
        model = sidecar.get("model") or {}
        name = str(model.get("name") or model.get("id") or "") if isinstance(model, dict) else ""
        if name:
            models[name] = models.get(name, 0) + 1
        if sidecar.get("prompt"):
            prompted += 1
        else:
            plain += 1
    if not models and not (prompted or plain):
        return ""
    by = f"generated by {', '.join(sorted(models, key=lambda m: -models[m]))}" if models else "generated"
    if prompted and plain:
        how = f"{prompted} continue a prompt, {plain} were generated from scratch (no prompt)"
    elif prompted:
        how = "each continues a prompt (its notes are labelled prompt and left out of every share)"
    else:
        how = "from scratch, with no prompt"
    return f"The query pieces were {by}, {how} (as their generation files say)."


def headline(report: AnalysisReport) -> str:
    """The headline numbers: recombined, copied and stock shares per group with 95% intervals, how many
    pieces copy at all, and the verdict in words."""
    by_measure = {c.measure: c for c in report.comparisons}
    query = report.compared_records("query")
    control = report.compared_records("control")
    seed = int(report.params.get("config", {}).get("seed", 0))
    rows = []
    for measure, words in (
        ("recombined_fraction", "notes copied or varied"),
        ("copied_fraction", "notes copied note for note"),
        ("stock_fraction", "notes in stock passages (common formulas, or too little information to count)"),
    ):
        cells = [f"<th>{words}</th>"]
        c = by_measure.get(measure)
        for group, records in (("query", query), ("control", control)):
            if group == "control" and not control:
                continue
            if c is not None:
                mean, ci = (c.query_mean, c.query_ci) if group == "query" else (c.control_mean, c.control_ci)
            else:
                mean, ci = _mean_ci(records, measure, seed)
            values = [r.measure(measure) for r in records]
            if values and all(v == 0 for v in values):
                cells.append("<td><b>0%</b> in every piece</td>")
            else:
                cells.append(f"<td><b>{percent(mean, 1)}</b>{interval(*ci)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cells = ["<th>pieces with at least one copied passage (of the compared pieces)</th>"]
    for group, records in (("query", query), ("control", control)):
        if group == "control" and not control:
            continue
        n = sum(1 for r in records if r.copied_fraction > 0)
        cells.append(f"<td><b>{n}</b> of {len(records)}</td>")
    rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "<tr><th></th><th>query pieces</th>" + ("<th>human control</th>" if control else "") + "</tr>"
    primary = by_measure.get(str(report.params.get("primary_measure", "recombined_fraction")))
    return "\n".join(
        [
            f"<table class='headline'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>",
            stretch_text(report),
            bar_stretch_text(report),
            "<p class='hint'>The mean share of each piece's analysed notes, over the pieces of each group; "
            "the 95% intervals resample whole tune groups (versions of one tune count once: from a dataset's "
            "manifest, or found among the pieces by the near-duplicate rule). The labels "
            f"are explained <a href='#rule'>below</a>. {detection_limit(report)}</p>",
            f"<p class='verdict'>{html.escape(verdict_words(primary, bool(control)))}</p>",
        ]
    )


def detection_limit(report: AnalysisReport) -> str:
    """What a share of 0% can and cannot exclude: the shortest copy the analysis counts and the range of
    the pieces' information bounds (bits); sharing below either is not assessed as copying."""
    bounds = [r.min_bits for r in report.compared_records("query") if math.isfinite(r.min_bits)]
    bits = ""
    if bounds:
        low, high = min(bounds), max(bounds)
        bits = f" carrying at least {low:.0f} bits" if round(low) == round(high) else f" carrying {low:.0f}-{high:.0f} bits"
    return (
        f"What the shares can see: a copy is a shared stretch of at least {min_copy_notes(report.params)} notes"
        f"{bits} (each piece's bound); shorter or more predictable sharing is not counted as copying, so 0% "
        "means no copy of that size, not no borrowing at all."
    )


def _stretch(records: Sequence[PieceRecord]) -> tuple[int, int]:
    """The most notes and the most bars (each over all matches) any of ``records`` shares exactly."""
    return max(r.longest_match_notes for r in records), max(r.longest_match_bars for r in records)


def stretch_text(report: AnalysisReport) -> str:
    """One plain sentence on how long the stretches are that each group shares note for note with the
    reference (any exact match, common formulas included; from ``longest_match_notes``/``_bars``),
    empty for reports written before them."""
    query, control = report.compared_records("query"), report.compared_records("control")
    if not query or not any(r.longest_match_notes for r in [*query, *control]):
        return ""

    def said(notes: int, bars: int) -> str:
        # Notes, not bars: a few long notes touch as many bars as a phrase (bars touched, first to
        # last note, stay in pieces.csv, longest_match_bars).
        return f"{notes} notes"

    q = _stretch(query)
    text = f"The query pieces share no stretch longer than {said(*q)} note for note with any reference piece"
    if control:
        c = _stretch(control)
        text += f"; the human control pieces share stretches of up to {said(*c)}"
    chance = chance_notes(report.params)
    text += (
        " (any exact match, common formulas included"
        + (f"; shuffled reference melodies match by chance for up to {chance} notes" if chance else "")
        + "; how often, in <a href='#statistics'>Statistics</a>)."
    )
    return f"<p class='stretch'>{text}</p>"


def bar_shares(report: AnalysisReport) -> dict[str, tuple[float, tuple[float, float]]]:
    """Each group's mean ``span_coverage_1`` (the share of a piece's analysed notes inside an exact match
    of at least one bar, any match) over its compared pieces with one, and its 95% interval (resampling
    tune groups): the number the granularity chart plots at 1 bar. Empty for reports without it."""
    seed = int(report.params.get("config", {}).get("seed", 0))
    out = {}
    for group in ("query", "control"):
        records = [r for r in report.compared_records(group) if not math.isnan(r.span_coverage_1)]
        if records:
            out[group] = _mean_ci(records, "span_coverage_1", seed)
    return out


def bar_stretch_text(report: AnalysisReport) -> str:
    """One sentence on how many notes lie in a stretch of a bar or more shared note for note with a
    reference piece, per group: the granularity chart's values at 1 bar (:func:`bar_shares`)."""
    shares = bar_shares(report)
    if "query" not in shares:
        return ""
    q = shares["query"]
    text = f"<b>{percent(q[0], 0)}</b> of the query notes{interval(*q[1])}"
    limit = ""
    if "control" in shares:
        c = shares["control"]
        text += f" and <b>{percent(c[0], 0)}</b> of the human control notes{interval(*c[1])}"
        if c[0] >= HUMAN_BAR_SHARE:
            limit = (
                " Most human notes lie in such stretches too: recombination of pieces a bar long or shorter "
                "cannot be told from human music against this control, whatever the verdict says of longer "
                "copies."
            )
    return (
        f"<p class='bar-stretch'>{text} lie in a stretch of at least one bar shared note for note with a "
        "reference piece: any exact match, copies, common formulas and matches as short as chance ones "
        "alike, so this is not the copied share (<a href='#granularity'>how long the shared stretches "
        f"are</a>).{limit}</p>"
    )


HUMAN_BAR_SHARE = 0.5
"""When at least this share of the human control's notes lie in one-bar shared stretches, the page says
that one-bar recombination cannot be judged against it (the experiment's 1-bar question gives no verdict
for the same reason)."""


def where_copies_are(report: AnalysisReport, anchor: Callable[[PassageRecord], str]) -> str:
    """The longest copied passage of the query and the query pieces that copy most, linked."""
    parts = []
    longest = _longest(report.passage_records)
    if longest is not None:
        parts.append(
            f"<p>The longest copied passage: <b>{longest.n_notes} notes</b>, "
            f"<a href='#{anchor(longest)}'>{html.escape(longest.piece)} bars "
            f"{html.escape(longest.bars)}</a>, from <b>{html.escape(longest.source_names[0])}</b> bars "
            f"{html.escape(longest.source_bars.split(';')[0])}.</p>"
        )
    parts.append(_most_copied(report))
    return "\n".join(parts)


def _most_copied(report: AnalysisReport, n: int = 5) -> str:
    """The query pieces with the largest copied-or-varied share, each with the reference pieces (and
    bars) most of it comes from, linked to their rows of the per-piece table."""
    query = report.query_records()
    ranked = sorted(
        (k for k, r in enumerate(query[:500]) if r.recombined_fraction > 0),
        key=lambda k: -query[k].recombined_fraction,
    )[:n]
    if not ranked:
        return "<p>No query piece copies or varies a passage of the reference.</p>"
    wanted = {query[k].piece for k in ranked}
    drawn: dict[str, dict[str, list[PassageRecord]]] = {}
    for p in report.passage_records:
        if p.group == "query" and p.piece in wanted and p.label in ("copied", "varied") and p.sources and p.labelled_notes:
            drawn.setdefault(p.piece, {}).setdefault(p.sources.split(";", 1)[0], []).append(p)
    items = []
    for k in ranked:
        r = query[k]
        sources = drawn.get(r.piece, {})
        top = sorted(sources, key=lambda s: -sum(p.n_notes for p in sources[s]))[:3]
        text = ", ".join(
            f"{html.escape(s)} (bars {html.escape(_bar_span([p.source_bars.split(';')[0] for p in sources[s]]))})"
            for s in top
        )
        more = f" and {len(sources) - 3} more" if len(sources) > 3 else ""
        items.append(
            f"<li><a href='#row-{k}'>{html.escape(r.piece)}</a>: {percent(r.recombined_fraction)} of its "
            f"analysed notes" + (f", from {text}{more}" if text else "") + "</li>"
        )
    title = "The query pieces that copy most" if len(query) > 1 else "What the query piece copies"
    return f"<p>{title}:</p><ul class='most'>{''.join(items)}</ul>"


def _bar_span(spans: Sequence[str]) -> str:
    """The bars ``first-last`` covering all of ``spans`` (each ``first-last``)."""
    bounds = [tuple(int(x) for x in s.split("-")) for s in spans if re.fullmatch(r"\d+-\d+", s)]
    if not bounds:
        return "?"
    return f"{min(b[0] for b in bounds)}–{max(b[1] for b in bounds)}"


def verdict_words(c: Comparison | None, has_control: bool) -> str:
    """The primary comparison in one plain sentence."""
    if not has_control:
        return (
            "There is no human control in this analysis, so these shares have no baseline: human music in "
            "the same style shares passages with the reference too. Run with a control to compare."
        )
    if c is None or math.isnan(c.p_adjusted):
        return "Too few pieces to compare the query with the control."
    shares = f"{percent(c.query_mean, 1)} of their analysed notes against {percent(c.control_mean, 1)}"
    chance = (
        f"the difference is unlikely to be chance (p = {c.p_adjusted:.2g})"
        if c.p_adjusted < ALPHA
        else f"a difference this size could well be chance (p = {c.p_adjusted:.2g})"
    )
    size = str(c.magnitude)
    p = (
        f"{chance}; the effect is {size} (Cliff's delta {c.cliffs_delta:+.2f}, where 0 is no difference and "
        "±1 is every piece of one group above every piece of the other); Mann-Whitney test over tune-group "
        "means"
    )
    if c.p_adjusted < ALPHA and c.magnitude not in ("negligible", "undefined"):  # as the verdict decides
        more = "more" if c.query_mean > c.control_mean else "less"
        return (
            f"The query pieces copy or vary clearly {more} of the reference than the human pieces do: "
            f"{shares}. {p[0].upper()}{p[1:]}."
        )
    if c.p_adjusted < ALPHA:  # unlikely to be chance, but too small to count
        return f"The query pieces copy or vary {shares} for the human pieces: a negligible difference. {p[0].upper()}{p[1:]}."
    return (
        f"The query pieces copy or vary {shares} for the human pieces: no clear difference with this many "
        f"pieces. {p[0].upper()}{p[1:]}."
    )


def _limits(p: dict[str, Any], has_control: bool, off_grid: str = "") -> str:
    n = min_copy_notes(p) or p.get("min_match_notes", "?")
    items = [
        "A copy is found only where the reference holds it: material from music outside the reference "
        "counts as no copy.",
        f"Only melodic lines are compared ({compared(p)}), not harmony, texture, instrumentation or "
        f"form; passages shorter than {n} notes are never counted as copies.",
        "The source named for a passage is one reference piece holding it; the same passage may occur in "
        "others (all are listed in passages.csv).",
        "Whether a copy matters (quotation, allusion, a shared idiom) is for the listener to judge: every "
        "passage below can be played next to its source.",
    ]
    if p.get("invariance", DEFAULT_INVARIANCE) not in TIMELESS:
        items.insert(2, (
            "A copy is compared with its rhythm: one played with free timing (a recording made without a "
            "click, or at a tempo that is not the file's), or swung, comes out with other note values and "
            "may be missed; --invariance intervals compares pitch only, at the cost of more chance matches."
        ))
    if off_grid:
        items.insert(0, off_grid[0].upper() + off_grid[1:] + ".")
    if not has_control:
        items.insert(0, "Without a human control there is no baseline for these shares.")
    return (
        "<h3>What these numbers cannot say</h3><ul>"
        + "".join(f"<li>{html.escape(item)}</li>" for item in items)
        + "</ul>"
    )


def _longest(passages: Sequence[PassageRecord]) -> PassageRecord | None:
    copied = [p for p in passages if p.group == "query" and p.label == "copied" and p.sources]
    return max(copied, key=lambda p: p.n_notes) if copied else None


def _mean_ci(records: Sequence[PieceRecord], measure: str, seed: int) -> tuple[float, tuple[float, float]]:
    values = np.asarray([r.measure(measure) for r in records], np.float64)
    keep = ~np.isnan(values)
    if not keep.any():
        return math.nan, (math.nan, math.nan)
    groups = [r.tune_group for r, k in zip(records, keep, strict=True) if k]
    return float(values[keep].mean()), bootstrap_ci(values[keep], n_boot=1000, seed=seed, groups=groups)
