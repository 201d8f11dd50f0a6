"""How report.html says a copy is recognised: the rule as the matcher applies it, in words and numbers.

Everything here restates what the code decides (:class:`~remixmusic.novelty.match.Matcher` and
:mod:`remixmusic.novelty.passages`), from the report's own parameters and records:

* an exact passage is *copied* when it is at least :func:`min_copy_notes` notes long, found in fewer
  than ``df_threshold`` reference tune groups, and carries at least its piece's *information bound*;
* that bound is per piece (``PieceRecord.min_bits``): the larger of the settings' floor
  ``min_match_bits`` (the index's chance bits unless set) and the E-value bound
  ``log2(n_reference_symbols * n_symbols / false_copies)``
  (:meth:`~remixmusic.novelty.match.Matcher.piece_min_bits`), so it is higher in longer pieces;
* a longer-than-chance match in ``df_threshold`` tune groups or more, or below its piece's bound, is
  *stock*; a *varied* copy has at least ``min_match_notes`` notes agreeing with its source and a bit
  score at or above the same bound.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from remixmusic.novelty.plots import chance_notes, min_copy_notes
from remixmusic.novelty.records import PassageRecord, PieceRecord
from remixmusic.novelty.symbols import COMPARED_WORDS, DEFAULT_INVARIANCE

INVARIANCE_WORDS = {
    "exact": "the same pitches and the same note lengths",
    "transposed": "the same intervals and note lengths, in any key",
    "transposed+tempo": "the same intervals and the same rhythm, in any key and at any tempo",
    "rhythm": "the same rhythm (the proportions between successive note onsets), whatever the pitches",
    "contour": "the same melodic contour (up, down, same) and roughly the same rhythm",
    "intervals": "the same pitch intervals, in any key, whatever the rhythm, meter or tempo",
}
"""What two passages must share to match, per invariance (:mod:`remixmusic.novelty.symbols`)."""


def compared(p: dict[str, Any]) -> str:
    """What the analysis with parameters ``p`` compares (:data:`COMPARED_WORDS`), defaulting to the
    default invariance's words when ``p`` names none."""
    return COMPARED_WORDS.get(str(p.get("invariance", DEFAULT_INVARIANCE)), COMPARED_WORDS[DEFAULT_INVARIANCE])


LABEL_PRECEDENCE = ("prompt", "copied", "varied", "stock", "self-repeat")
"""The labels in the order a note takes them where passages overlap
(:data:`remixmusic.novelty.passages.NOTE_LABELS`)."""

METRE_NOTE = (
    "Where the notes fall in the bar and the meter are not compared: a copy may start on a downbeat here "
    "and on another beat in its source (each passage says where it starts on each side)."
)
"""Said once in the rule: matching ignores the position in the bar."""

LINES_WORDS = {
    "voices": "every voice of every part (chords split into voices from the top down, and a bass line)",
    "melody": "the melody only (the highest sounding note, all parts together)",
    "merged-voices": "all parts together, split into voices from the top down, and a bass line",
    "skyline": "the top line of each part",
}
"""Which melodic lines of a piece are compared, per line mode (:mod:`remixmusic.music.lines`)."""


LINE_NAMES = (
    "A line is named Soprano, Alto, Tenor or Bass when its track's name says so, or when its piece has "
    "exactly four lines ordered by pitch (a reference piece's lines are named by pitch alone: the index "
    "keeps no track names); any other line by its track's name, else as line N, counted from the first "
    "track's top voice."
)
"""How lines are named (:mod:`remixmusic.novelty.context`)."""


def symbols_text(params: dict[str, Any]) -> str:
    """Once, for the reader: how the lengths of matches (symbols) relate to notes."""
    try:
        order = int(params["min_match_notes"]) - int(params["min_match_symbols"])
    except (KeyError, TypeError, ValueError):
        return ""
    if order <= 0:
        return "Match lengths are in notes: one symbol per note."
    text = (
        f"The search reads each note together with the {'next one' if order == 1 else f'next {order}'}, so a "
        f"match of N such symbols spans N+{order} notes"
    )
    if params.get("invariance") == "transposed+tempo":
        text += (
            "; the last of them matches its source in onset only, and is labelled copied only when its pitch "
            "agrees too"
        )
    return text + "."


def _false_copies(params: dict[str, Any], varied: bool = False) -> float | None:
    """``false_copies`` of the analysis, or with ``varied`` the allowance of varied copies
    (``varied_false_copies`` when set, else the same)."""
    match = params.get("config", {}).get("match", {})
    value = match.get("varied_false_copies") if varied else None
    value = match.get("false_copies") if value is None else value
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _varied_apart(params: dict[str, Any]) -> float | None:
    """``varied_false_copies`` when it differs from ``false_copies``, else ``None``."""
    varied, exact = _false_copies(params, varied=True), _false_copies(params)
    return varied if varied is not None and varied != exact else None


def varied_bound(params: dict[str, Any], record: PieceRecord) -> float:
    """The information bound of ``record``'s varied copies: its ``min_bits``, unless the analysis gave
    varied copies their own allowance (``varied_false_copies``), when the E-value bound is taken with
    that (:meth:`~remixmusic.novelty.match.Matcher.piece_min_bits` with ``varied``)."""
    apart, n_ref, floor = (
        _varied_apart(params),
        params.get("n_reference_symbols"),
        params.get("min_match_bits"),
    )
    if apart is None or not n_ref or record.n_symbols <= 0 or not isinstance(floor, (int, float)):
        return record.min_bits
    return max(float(floor), math.log2(int(n_ref) * record.n_symbols / apart))


def e_value_bound(params: dict[str, Any], n_symbols: int) -> float | None:
    """The E-value bound (bits) of a piece of ``n_symbols`` symbols, ``None`` when the report lacks the
    reference's size or ``false_copies`` (reports written before them)."""
    n_ref, false = params.get("n_reference_symbols"), _false_copies(params)
    if not n_ref or false is None or n_symbols <= 0:
        return None
    return math.log2(int(n_ref) * n_symbols / false)


def bound_text(params: dict[str, Any], pieces: Sequence[PieceRecord]) -> str:
    """The information bound in words (HTML): the floor, the E-value bound's formula with this
    analysis's numbers, and the range of the bounds its pieces got."""
    floor = params.get("min_match_bits")
    if not isinstance(floor, (int, float)):
        return "carries enough information (not a scale or repeated notes)"
    text = (
        "carries enough information to be unlikely by chance (not a scale or repeated notes): at least its "
        f"piece's <b>information bound</b>, the larger of a floor of <b>{floor:.1f} bits</b> "
        "(<code>min_match_bits</code> in the settings: the information that lines sampled from the "
        "reference's own note-to-note statistics reach by chance)"
    )
    n_ref, false = params.get("n_reference_symbols"), _false_copies(params)
    if n_ref and false is not None:
        text += (
            " and a bound that grows with the size of the piece and of the reference, so that a whole piece "
            f"holds fewer than {false:g} copies found by chance alone: longer pieces need more (technically "
            f"the E-value bound log<sub>2</sub>(R&nbsp;×&nbsp;m&nbsp;/&nbsp;f), where R&nbsp;=&nbsp;"
            f"{int(n_ref):,} symbols in the reference, m the piece's own symbols and f&nbsp;=&nbsp;{false:g} "
            "chance copies allowed per piece)"
        )
    else:
        text += " and an E-value bound that grows with the piece's length"
    bounds = [r.min_bits for r in pieces if not math.isnan(r.min_bits)]
    if bounds:
        lo, hi = min(bounds), max(bounds)
        span = f"{lo:.1f} bits" if round(lo, 1) == round(hi, 1) else f"from {lo:.1f} to {hi:.1f} bits"
        text += (
            f". In this analysis the bounds run {span} (each piece's is given with its details and in "
            "pieces.csv, <code>min_bits</code>)"
        )
    return text


def piece_bound_text(params: dict[str, Any], record: PieceRecord) -> str:
    """One piece's information bound and where it comes from (plain text; empty when not recorded)."""
    if math.isnan(record.min_bits):
        return ""
    floor = params.get("min_match_bits")
    e_bound = e_value_bound(params, record.n_symbols)
    text = f"Information bound for its copies: {record.min_bits:.1f} bits"
    if e_bound is not None and isinstance(floor, (int, float)):
        n_ref, false = int(params["n_reference_symbols"]), _false_copies(params)
        formula = f"log2({n_ref:,} × {record.n_symbols:,} / {false:g}) = {e_bound:.1f} bits"
        if e_bound >= floor:
            text += (
                f", set by its length so that chance copies stay below {false:g} per piece (the E-value bound "
                f"for its {record.n_symbols:,} symbols, {formula}), above the floor of {floor:.1f}"
            )
        else:
            text += f", the floor (the bound set by its length, the E-value bound {formula}, is lower)"
    return text + "."


def stock_reason(p: PassageRecord, df_threshold: Any, bound: float = math.nan, floor: Any = None) -> str:
    """Why a stock passage is stock, as the matcher decides (stock when ``doc_freq >= stock_df`` or
    ``bits < min_bits``): found in ``df_threshold`` reference tune groups or more (many sources), else too
    little information, its bits against ``bound``, the information bound of its piece (``floor``: the
    settings' floor, said when the bound is not recorded)."""
    groups = f"{p.doc_freq} tune group{'s' if p.doc_freq != 1 else ''}"
    if df_threshold and p.doc_freq >= int(df_threshold):
        return f"many sources: in {groups}, {df_threshold} or more is stock"
    if not math.isnan(bound):
        return f"low information: {p.bits:.1f} bits, below this piece's bound of {bound:.1f}; in {groups}"
    if isinstance(floor, (int, float)) and p.bits < floor:
        return f"low information: {p.bits:.1f} bits, below the floor of {floor:.1f}; in {groups}"
    return f"low information: {p.bits:.1f} bits, below this piece's bound; in {groups}"


def rule(p: dict[str, Any], pieces: Sequence[PieceRecord]) -> str:
    """How a copy is recognised (HTML): lines, invariance, the shortest copy, rarity, the information
    bound, varied copies, and how symbols relate to notes. ``pieces``: the records whose bounds are
    summed up (those of the compared pieces)."""
    invariance = INVARIANCE_WORDS.get(str(p.get("invariance")), str(p.get("invariance", "")))
    lines = LINES_WORDS.get(str(p.get("lines")), str(p.get("lines", "")))
    n = p.get("min_match_notes", "?")
    fewest = min_copy_notes(p)
    chance = chance_notes(p)
    df = p.get("df_threshold")
    edits = p.get("config", {}).get("match", {}).get("max_edits")
    rare = f"found in fewer than {df} tune groups of the reference" if df else "rare in the reference"
    chance_text = (
        f" (longer than chance: matches of shuffled reference melodies span up to {chance} notes)"
        if chance
        else ""
    )
    span = (
        f"at least <b>{fewest} consecutive notes</b> of a line (a match spanning at least {n} notes, "
        f"{p.get('min_match_symbols')} symbols)"
        if fewest is not None and fewest != n
        else f"at least <b>{n} consecutive notes</b> of a line"
    )
    varied = f"up to {edits} notes changed, added or left out" if edits else "a few notes changed"
    items = [
        f"<b>Lines.</b> Each piece is read as melodic lines: {html.escape(lines)}. "
        f"{html.escape(symbols_text(p))} {LINE_NAMES}",
        f"<b>Copied</b>: {span} have {html.escape(invariance)} as a passage of a reference piece"
        f"{chance_text}; the passage is {html.escape(rare)}; and it {bound_text(p, pieces)}. {METRE_NOTE}",
        "<b>Stock</b>: a match as long, but found in more tune groups (a shared formula) or below its "
        "piece's information bound (too predictable to tell a quotation from chance).",
        f"<b>Varied</b>: a match with {html.escape(varied)}, at least {n} of its notes agreeing with the "
        "source, whose bit score (the information of the source notes it reproduces, less what the freedom "
        "of its edits could produce by chance) reaches "
        + (
            f"the same kind of bound, with f&nbsp;=&nbsp;{_varied_apart(p):g} chance varied copies allowed per "
            "piece (<code>varied_false_copies</code>)."
            if _varied_apart(p) is not None
            else "the same bound."
        ),
        f"<b>Self-repeat</b>: a stretch of at least {n} notes ({p.get('min_match_symbols')} symbols, the "
        "shortest match the search counts) that matches an earlier stretch of the same piece, in any of "
        f"its lines, the same way ({html.escape(compared(p))}).",
        f"<b>Where passages overlap</b>, a note takes the first label of: {', '.join(LABEL_PRECEDENCE)}; a "
        "note on an analysed line in none of them is in no copy.",
    ]
    return (
        "<ul class='rule'>"
        + "".join(f"<li>{item}</li>" for item in items)
        + "</ul><p>Each note then gets one label:</p>"
    )
