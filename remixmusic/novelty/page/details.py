"""The per-piece parts of report.html: a summary row per piece, and each query piece's details (its remix
map with a player, its passages, and each passage beside its source passage).

Anchors (link targets) of the page: ``piece-K`` (details of query piece ``K``, in
:meth:`~remixmusic.novelty.report.AnalysisReport.query_records` order), ``pass-K-J`` (passage ``J`` of
that piece beside its source; ``J`` is the ``passage`` number of its record), ``ref-I`` (reference piece
``I`` of ``reference_names`` among the pieces drawn on).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remixmusic._util.render import img_tag
from remixmusic.novelty.page.music import (
    PLAYER_NOTE_LIMIT,
    Timeline,
    pair_data,
    piece_data,
    script_json,
    source_numbers,
)
from remixmusic.novelty.page.position import edit_list, metric_text
from remixmusic.novelty.page.rule import piece_bound_text, stock_reason, varied_bound
from remixmusic.novelty.page.tables import HTML_MAX_SOURCE_ROWS, Cell, Column, table
from remixmusic.novelty.page.words import edits_text, line_text, percent, transposition_text
from remixmusic.novelty.passages import NOTE_LABELS
from remixmusic.novelty.plots import LABEL_COLORS, LABEL_HATCHES
from remixmusic.novelty.records import PassageRecord, PieceRecord, passage_order
from remixmusic.novelty.symbols import DEFAULT_INVARIANCE

if TYPE_CHECKING:
    from remixmusic.novelty.report import AnalysisReport, NoteMap

_BAR_LABELS = (
    ("copied", "copied_fraction"),
    ("varied", "varied_fraction"),
    ("stock", "stock_fraction"),
    ("self-repeat", "self_repeat_fraction"),
    ("novel", "novel_fraction"),
)
_PRIORITY = {"copied": 0, "varied": 1, "stock": 2}
_COPIED_VARIED = (NOTE_LABELS.index("copied"), NOTE_LABELS.index("varied"))


@dataclass
class PieceDetails:
    """One query piece's details: the HTML, the passages shown (at most
    :data:`~remixmusic.novelty.page.tables.HTML_MAX_SOURCE_ROWS`) and the anchor of each (by ``id``)."""

    markup: str
    passages: list[PassageRecord] = field(default_factory=list)
    anchors: dict[int, str] = field(default_factory=dict)


@dataclass
class _View:
    """What a piece's passage rows and views share: its key ``k`` in the page's anchors, ``name``, notes
    (and their :class:`~remixmusic.novelty.page.music.Timeline`), source numbers, the reference pieces
    with a row to link to (``index``), why a stock passage is stock, its information bound, the line
    mode of the analysis, the bound of its varied copies, whether its file opens with an upbeat bar and
    the analysis's invariance (what "how" may claim)."""

    k: int | str
    name: str
    notes: NoteMap
    timeline: Timeline
    numbers: dict[str, int]
    index: dict[str, int]
    why: Callable[[PassageRecord], str]
    bound: float
    lines: str
    varied_bound: float
    pickup: bool = False
    invariance: str = DEFAULT_INVARIANCE


def notes_by_source(passages: Sequence[PassageRecord]) -> dict[str, int]:
    """The notes each first source supplies to ``passages``, each note counted once: a note inside
    overlapping passages goes to the copied one before the varied, then to the longer, then the earlier
    (so the counts add up to the notes of the passages together)."""
    seen: set[int] = set()
    out: dict[str, int] = {}
    for p in sorted(passages, key=lambda p: (p.label != "copied", -p.n_notes, p.start_beat)):
        fresh = {int(i) for i in p.notes} - seen
        if not p.note_indices:  # a record without note indices: its count as it stands
            fresh, n = set(), p.n_notes
        else:
            n = len(fresh)
        seen |= fresh
        first = p.sources.split(";", 1)[0]
        if n:
            out[first] = out.get(first, 0) + n
    return out


def label_bar(record: PieceRecord) -> str:
    """A bar of the shares of the piece's analysed notes per label, in the remix maps' colours."""
    spans = []
    for label, column in _BAR_LABELS:
        share = getattr(record, column)
        if share is None or math.isnan(share) or share <= 0:
            continue
        hatched = " hatched" if label in LABEL_HATCHES else ""
        spans.append(
            f"<span class='seg{hatched}' style='width:{100 * share:.2f}%;background-color:"
            f"{LABEL_COLORS[label]}' title='{'no copy' if label == 'novel' else label} {percent(share, 1)}'></span>"
        )
    return f"<span class='sharebar'>{''.join(spans)}</span>"


ALTERNATIVE = (
    " An alternative reading: a copy found under other settings explains these notes, so this passage "
    "labels none of them and counts in no measure (<code>labelled_notes</code> 0 in passages.csv)."
)


def summary_rows(
    records: Sequence[PieceRecord],
    by_piece: dict[str, list[PassageRecord]],
    detailed: dict[str, int] | dict[str, str],
    reference_names: Sequence[str],
) -> list[dict[str, Any]]:
    """One row of the per-piece summary table per record: label shares, passages, the reference pieces
    drawn from (``by_piece``: the piece's passages) and the longest copy. ``detailed``: piece name to
    its details' number, for the links."""
    index = {name: i for i, name in enumerate(reference_names)}
    rows = []
    for r in records:
        k = detailed.get(r.piece)
        # counted as pieces.csv counts (n_passages, fan_in): alternative readings (labelled_notes 0) left out
        passages = [p for p in by_piece.get(r.piece, []) if p.labelled_notes]
        recombined = [p for p in passages if p.label in ("copied", "varied") and p.sources]
        notes = notes_by_source(recombined)
        top = sorted(notes, key=lambda s: (-notes[s], s))
        sources = ", ".join(
            f"<a href='#ref-{index[s]}'>{html.escape(s)}</a> ({notes[s]})" if s in index else html.escape(s)
            for s in top[:3]
        ) + (f" and {len(top) - 3} more" if len(top) > 3 else "")
        name = html.escape(r.piece)
        row: dict[str, Any] = {
            "piece": Cell(f"<a href='#piece-{k}'>{name}</a>" if k is not None else name, r.piece),
            "analysed": Cell(f"{r.n_line_notes:,} of {r.n_notes:,}", r.n_line_notes),
            "bar": Cell(label_bar(r), r.recombined_fraction),
            "passages": Cell(
                f"{sum(p.label == 'copied' for p in passages)} / {sum(p.label == 'varied' for p in passages)}",
                len(recombined),
            ),
            "sources": Cell(sources, len(top)),
            "longest": _longest_cell(r, passages, k),
        }
        for key, column in (
            ("copied", "copied_fraction"),
            ("varied", "varied_fraction"),
            ("stock", "stock_fraction"),
            ("self_repeat", "self_repeat_fraction"),
            ("novel", "novel_fraction"),
            ("recombined", "recombined_fraction"),
        ):
            value = getattr(r, column)
            row[key] = Cell(percent(value, 1), value if not math.isnan(value) else "")
        rows.append(row)
    return rows


def _longest_cell(r: PieceRecord, passages: Sequence[PassageRecord], k: int | str | None) -> Cell:
    copied = [p for p in passages if p.label == "copied" and p.sources]
    if copied:
        p = max(copied, key=lambda p: (p.n_notes, -p.start_beat))
        text = (
            f"{p.n_notes} notes, bars {html.escape(p.bars)} ← {html.escape(p.source_names[0])} bars "
            f"{html.escape(p.source_bars.split(';')[0])}"
        )
        return Cell(f"<a href='#pass-{k}-{p.passage}'>{text}</a>" if k is not None else text, p.n_notes)
    if r.longest_copied_notes:
        text = (
            f"{r.longest_copied_notes} notes ({r.longest_copied_bars} bars) ← "
            f"{html.escape(r.longest_copied_source)} bars {html.escape(r.longest_copied_source_bars)}"
        )
        return Cell(text, r.longest_copied_notes)
    return Cell("–", 0)


def shown_passages(
    passages: Sequence[PassageRecord], limit: int = HTML_MAX_SOURCE_ROWS
) -> list[PassageRecord]:
    """The passages a piece's details show: all, or when there are more than ``limit``, copied ones
    first, then varied, then stock (each from the start of the piece); in order of time."""
    ranked = sorted(passages, key=lambda p: (_PRIORITY.get(p.label, 3), p.start_beat, p.line))[:limit]
    return sorted(ranked, key=lambda p: (p.start_beat, p.line))


def passage_numbers(passages: Sequence[PassageRecord]) -> dict[int, int]:
    """The number a reader sees for each of a piece's passages (by ``id``): 1, 2, ... in bar order (start
    beat, then line from the top; :func:`~remixmusic.novelty.records.passage_order`), the ``passage``
    column of passages.csv (reports written before it numbered otherwise are renumbered here)."""
    ranked = sorted(passages, key=passage_order)
    return {id(p): j + 1 for j, p in enumerate(ranked)}


def piece_details(
    report: AnalysisReport,
    k: int | str,
    passages: Sequence[PassageRecord],
    record: PieceRecord | None = None,
    notes: NoteMap | None = None,
) -> PieceDetails:
    """Query piece ``k``'s details (or, given its ``record`` and ``notes``, another piece's, ``k`` its
    key in the page's anchors): a sentence saying what it is made of, its remix map with a player, the
    table of its passages and each passage beside its source passage."""
    if record is None or notes is None:
        assert isinstance(k, int)
        record, notes = report.query_records()[k], report.note_maps[k]
    shown = shown_passages(passages)
    numbers = source_numbers(shown)
    order = passage_numbers(passages)
    params = report.params
    bound = record.min_bits

    def why(p: PassageRecord) -> str:
        return stock_reason(p, params.get("df_threshold"), bound, params.get("min_match_bits"))

    anchors = {id(p): f"pass-{k}-{p.passage}" for p in shown}
    data = piece_data(k, record.piece, notes, [(anchors[id(p)], p) for p in shown], numbers)
    # Only the sources of query passages have a row among the reference pieces drawn on to link to.
    index = {name: i for i, name in enumerate(report.reference_names)} if record.group == "query" else {}
    n = len(notes.pitch)
    parts = [
        f"<section class='piece' id='piece-{k}' data-piece='{k}'><h3>{html.escape(record.piece)}</h3>",
        f"<p class='gist'>{_gist(record, passages, numbers, params)}</p>",
        f"<p class='hint pickup'>{PICKUP_NOTE}</p>" if opens_with_pickup(notes) else "",
        f"<p class='hint bound'>{html.escape(piece_bound_text(params, record))}</p>"
        if not math.isnan(record.min_bits)
        else "",
        f"<div class='player' data-piece='{k}'><button type='button' class='play'>▶ Play</button> "
        "<button type='button' class='stop'>■ Stop</button> <label><input type='checkbox' class='solo'> "
        "only copied and varied notes</label> <span class='now' aria-live='polite'></span>"
        + (
            ""
            if (notes.label == _COPIED_VARIED[0]).any() or (notes.label == _COPIED_VARIED[1]).any()
            else "<span class='solo-none' hidden>This piece has no copied or varied note: with this box "
            "ticked nothing sounds.</span>"
        )
        + "</div>",
        f"<div class='rollwrap'><canvas class='remix-map' id='map-{k}' data-piece='{k}' role='img' "
        f"aria-label='remix map of {html.escape(record.piece)}'></canvas></div>",
        f"<script type='application/json' id='data-{k}'>{script_json(data)}</script>",
    ]
    parts.append(
        "<p class='hint'>Above the notes: the passages found in the reference, numbered by source (S1 = the "
        "source most drawn on). Click the map to play from there.</p>"
    )
    if n > PLAYER_NOTE_LIMIT:
        whole = isinstance(k, int)  # the raster of a query piece (control pieces keep no raster)
        parts.append(
            f"<p class='truncated'>The map and player above hold the first {PLAYER_NOTE_LIMIT:,} of its "
            f"{n:,} notes"
            + (
                "; the whole piece, as a raster (each cell coloured as most of its notes):</p>"
                if whole
                else ".</p>"
            )
        )
        if isinstance(k, int):
            parts.append(img_tag(report.plot_remix_map(k)))
    lines = str(params.get("lines", ""))
    view = _View(
        k,
        record.piece,
        notes,
        Timeline(notes),
        numbers,
        index,
        why,
        bound,
        lines,
        varied_bound(params, record),
        opens_with_pickup(notes),
        str(params.get("invariance", DEFAULT_INVARIANCE)),
    )
    if shown:
        rows = [_passage_row(p, view, order[id(p)]) for p in shown]
        columns: list[Column] = [
            ("passage", "passage", "its view beside the source"),
            ("bars", "bars", "the piece's bars; beats counted from 1 at the piece's start"),
            ("line", "line"),
            ("label", "label"),
            ("notes", "notes"),
            ("source", "source", "the reference piece (S1 = the source most drawn on)"),
            ("source_bars", "source bars"),
            (
                "how",
                "key and rhythm",
                "how the passage differs from its source in key and speed (rhythm: where "
                "the notes start; how long each is held is not compared)",
            ),
            ("edits", "edits"),
            ("groups", "groups", "reference tune groups holding the exact passage"),
            ("listen", "▶", "play these bars of the piece"),
        ]
        parts.append(f"<h4>Passages found in the reference ({len(passages):,})</h4>")
        parts.append(
            "<p class='hint counting'>Passages are numbered 1, 2 ... in bar order, as in passages.csv "
            "(<code>passage</code>). Bars and beats are counted from 1 at the start of the file (a beat is a "
            "quarter note) and a range of beats includes its last beat (beats 9–16: from the start of beat 9 "
            "to the end of beat 16); passages.csv counts beats from 0 with the end excluded (its "
            "<code>start_beat</code> 8 and <code>end_beat</code> 16 are beats 9–16 here) and bars from 1, as here. A file (this piece's or a source's) that "
            "opens with an upbeat bar counts it as bar 1: its printed measures are given beside its bars. The rhythm compared is where the notes start; "
            "how long each is held is not compared (the index keeps no note lengths: a source note is "
            "drawn held until the next one).</p>"
        )
        parts.append(table(rows, columns, total=len(passages), full="passages.csv"))
        parts.append("<div class='pairs'>")
        parts += [_pair(p, view, order[id(p)]) for p in shown]
        parts.append("</div>")
    else:
        parts.append("<p>No passage of this piece was found in the reference.</p>")
    parts.append("</section>")
    return PieceDetails("\n".join(parts), list(shown), anchors)


def _gist(
    record: PieceRecord, passages: Sequence[PassageRecord], numbers: dict[str, int], params: dict[str, Any]
) -> str:
    if record.n_line_notes == 0 and record.prompt_fraction != 1.0:
        spans = params.get("min_match_notes")
        size = f" ({spans} notes)" if isinstance(spans, int) else ""
        return (
            f"None of its {record.n_notes:,} notes was analysed: no line of it is as long as the shortest "
            f"match the analysis counts spans{size}, so its shares are empty (blank in pieces.csv)."
        )
    recombined = [p for p in passages if p.label in ("copied", "varied") and p.sources]
    drawn = notes_by_source(recombined)
    top = sorted(drawn, key=lambda s: (-drawn[s], numbers.get(s, len(numbers) + 1), s))
    sources = "; ".join(
        f"S{numbers[s]} {html.escape(s)}: {drawn[s]} notes"
        if s in numbers
        else f"{html.escape(s)}: {drawn[s]} notes"
        for s in top[:5]
    )
    more = f"; and {len(top) - 5} more" if len(top) > 5 else ""
    text = (
        f"Of its {record.n_line_notes:,} analysed notes (of {record.n_notes:,}), "
        f"<b>{percent(record.copied_fraction, 1)} are copied</b> and <b>{percent(record.varied_fraction, 1)} "
        "varied</b>"
    )
    if top:
        text += f", drawn from {len(top)} reference piece{'s' if len(top) != 1 else ''} ({sources}{more})"
    text += (
        f"; {percent(record.stock_fraction, 1)} are stock formulas, {percent(record.self_repeat_fraction, 1)} "
        f"repeat the piece itself and {percent(record.novel_fraction, 1)} are in no copy (in no such "
        "passage; shorter shared stretches are not counted as copies)."
    )
    return text


def _source_cell(p: PassageRecord, numbers: dict[str, int], index: dict[str, int]) -> Cell:
    name = p.source_names[0] if p.sources else ""
    tag = f"S{numbers[name]} " if name in numbers else ""
    linked = p.label in ("copied", "varied") and name in index and p.labelled_notes != 0  # (alternatives: no row)
    text = f"<a href='#ref-{index[name]}'>{html.escape(name)}</a>" if linked else html.escape(name)
    return Cell(tag + text, name)


def _label_markup(p: PassageRecord, why: Callable[[PassageRecord], str]) -> str:
    """A passage's label as a coloured tag; a stock passage says why it is stock."""
    tag = f"<span class='tag {html.escape(p.label)}'>{html.escape(p.label)}</span>"
    if p.label == "stock":
        tag += f" <small>({html.escape(why(p))})</small>"
    return tag


def beat_range(start: float, end: float) -> str:
    """A passage's span, given 0-based with an exclusive end (``start_beat``, ``end_beat``), as the page
    says it: counted from 1 with the last beat included (8, 16 -> "9–16"; a start within a beat as its
    position, 8.5 -> "9.5"; the last beat is the one the span ends in)."""
    last = max(math.ceil(end - 1e-9), math.floor(start) + 1)
    return f"{start + 1:g}–{last:g}"


def _passage_row(p: PassageRecord, view: _View, number: int) -> dict[str, Any]:
    k, numbers, index, why = view.k, view.numbers, view.index, view.why
    anchor = f"pass-{k}-{p.passage}"
    return {
        "passage": Cell(f"<a href='#{anchor}' class='to-source'>{number} → source</a>", number),
        "bars": Cell(
            f"{_with_printed(p.bars, view.pickup)} <small>(beats {beat_range(p.start_beat, p.end_beat)})</small>",
            p.start_beat,
        ),
        "line": Cell(html.escape(line_label(p)), p.track * 1000 + p.voice),
        "label": Cell(_label_markup(p, why), p.label),
        "notes": p.n_notes,
        "source": _source_cell(p, numbers, index),
        "source_bars": Cell(_source_bars(p), _first_bar(p.source_bars)),
        "how": transposition_text(p.transposition, p.time_scale, view.invariance),
        "edits": edits_text(p.edits) if p.n_edits else "none",
        "groups": p.doc_freq if p.label != "varied" else Cell("–", ""),
        "listen": Cell(
            f"<button type='button' class='seek' data-piece='{k}' data-from='{p.start_beat:g}' "
            f"data-to='{p.end_beat:g}' title='play bars {html.escape(p.bars)} of the piece'>▶</button>",
            p.start_beat,
        ),
    }


def printed_bars(bars: str) -> str:
    """Bars ``first-last`` of a file that opens with an upbeat bar (counted as bar 1) as a printed
    score's measures, which start at the first full bar: "4-9" -> "measures 3–8" (bar 1: the upbeat),
    "1-13" -> "the upbeat and measures 1–12", "1-2" -> "the upbeat and measure 1"."""
    try:
        first, last = (int(x) for x in bars.split("-"))
    except ValueError:
        return ""
    if last <= 1:
        return "the upbeat"
    if first > 1:
        return f"measures {first - 1}–{last - 1}" if last > first else f"measure {first - 1}"
    return "the upbeat and measure 1" if last == 2 else f"the upbeat and measures 1–{last - 1}"


def opens_with_pickup(notes: NoteMap) -> bool:
    """Whether a piece's file opens with an upbeat bar: its first bar is shorter than its second, or its
    notes start after its downbeat (within that bar)."""
    bars = notes.bar_starts
    if bars is None or len(bars) < 2 or not len(notes.onset):
        return False
    if notes.bar_numbers is not None and list(notes.bar_numbers[:3]) != list(range(1, len(bars[:3]) + 1)):
        return False
    b = [int(x) for x in bars[:3]]
    first = int(min(notes.onset))
    short = len(b) >= 3 and b[1] - b[0] < b[2] - b[1]
    return short or b[0] < first < b[1]


PICKUP_NOTE = (
    "Bars are counted from the first bar of the file; its file opens with a short bar or one whose notes "
    "start after its downbeat, as a score's upbeat is written, counted as bar 1: if it is an upbeat (not a "
    "rest the music begins with), its bar N is measure N − 1 of a printed score that numbers the first "
    "full measure 1."
)


def _first_bar(bars: str) -> float:
    try:
        return float(bars.split(";")[0].split("-")[0])
    except ValueError:
        return math.nan


def _source_bars(p: PassageRecord) -> str:
    """The first source's bars (HTML), with its printed measures when its file opens with an upbeat."""
    return _with_printed(p.source_bars.split(";")[0], p.source_pickup)


def _with_printed(bars: str, pickup: bool) -> str:
    """Bars ``first-last`` (HTML), with their printed measures when the file opens with an upbeat bar
    (``pickup``): a source's bars, or the query or control piece's own."""
    printed = printed_bars(bars) if pickup else ""
    extra = (
        f" <small class='printed'>(upbeat bar counted as 1: {html.escape(printed)})</small>"
        if printed
        else ""
    )
    return html.escape(bars) + extra


def _pair(p: PassageRecord, view: _View, number: int) -> str:
    """A passage beside its source passage: a two-row piano roll (query above, source below) with a
    player for each, the source named with its bars, how the two differ, and the other sources."""
    k, numbers, index, why, bound = view.k, view.numbers, view.index, view.why, view.bound
    source = _source_cell(p, numbers, index).markup
    others = list(zip(p.source_names[1:], p.source_bars.split(";")[1:], strict=False))
    also = (
        "<br>Also in: "
        + ", ".join(f"{html.escape(s)} bars {html.escape(b)}" for s, b in others[:4])
        + (f" and {len(others) - 4} more" if len(others) > 4 else "")
        if others
        else ""
    )
    named = edit_list(p, view.notes)
    edits = (
        f"; edits: {html.escape(edits_text(p.edits))}"
        + (f" ({'; '.join(named)})" if named else "")
        + " (marked in the drawing: + a note added, ≠ a note changed, − a source note left out)"
        if p.n_edits
        else ""
    )
    metre = metric_text(p, view.notes)
    held = (
        f"found in {p.doc_freq} reference tune group{'s' if p.doc_freq != 1 else ''}"
        if p.label != "varied"
        else "a near match"
    )
    info = "bit score" if p.label == "varied" else "information"
    if p.label == "varied":
        bound = view.varied_bound
    whose = "this piece's bound for varied copies" if p.label == "varied" else "this piece's bound"
    versus = "" if math.isnan(bound) else (" ≥ " if p.bits >= bound else " < ") + f"{whose} {bound:.1f}"
    bits = f"; {info} {p.bits:.1f} bits{versus}"
    data = pair_data(p, view.notes, timeline=view.timeline)
    source_line = f" ({html.escape(p.source_line_name)})" if p.source_line_name else ""
    return (
        f"<div class='pair' id='pass-{k}-{p.passage}' data-piece='{k}'>"
        f"<h5>{number}. {_label_markup(p, why)} {html.escape(view.name)} bars "
        f"{_with_printed(p.bars, view.pickup)} ({html.escape(line_label(p))}) ← {source} bars "
        f"{_source_bars(p)}{source_line}</h5>"
        f"<p>{p.n_notes} notes; {html.escape(transposition_text(p.transposition, p.time_scale, view.invariance))}"
        f"{'; ' + html.escape(metre) if metre else ''}; {held}{bits}"
        f"{edits}{also}{ALTERNATIVE if p.labelled_notes == 0 else ''}</p>"
        f"<canvas class='pair-roll' data-query='{html.escape(line_label(p))}' "
        f"data-source='{html.escape(p.source_line_name)}'></canvas><div class='pair-buttons'>"
        "<button type='button' class='play-q'>▶ this piece</button> "
        "<button type='button' class='play-s'>▶ the source</button> "
        "<button type='button' class='play-both'>▶ both, one after the other</button>"
        f"{_texture_choice(data, view.lines)}</div>"
        f"<script type='application/json' class='pair-data'>{script_json(data)}</script></div>"
    )


def line_label(p: PassageRecord) -> str:
    """The name of a passage's line: Soprano ... Bass, its track's name or line N (the record's
    ``line_name``), else its part and voice (reports written before the names)."""
    return p.line_name or line_text(p.track, p.voice)


_ONLY_LINES = {"melody": "the melody", "skyline": "the top line of each part"}


def _texture_choice(data: dict[str, Any], lines_mode: str) -> str:
    """The switch between the matched lines alone and all the voices of their bars, with a plain line
    where the index holds no other voice of the source's bars."""
    box = (
        "<label class='texture'><input type='checkbox' class='all-voices'> with all voices of these bars"
        "</label>"
        if data["qt"] or data["st"]
        else ""
    )
    if data["st"] or not data["s"]:
        return box
    if lines_mode in _ONLY_LINES:
        why = (
            f"The reference index keeps only {_ONLY_LINES[lines_mode]} of each piece, so the source plays its "
            "matched line alone."
        )
    else:
        why = "The index holds no other voice of the source piece in these bars: the source plays its line alone."
    return f"{box}<p class='hint texture-note'>{why}</p>"
