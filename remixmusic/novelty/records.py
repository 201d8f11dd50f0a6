"""Typed per-piece and per-motif records of an analysis: their fields are the columns of ``pieces.csv`` and
``motifs.csv`` (in that order) and the keys of ``report.json``'s ``pieces`` and ``motifs``.

:meth:`to_dict` gives the row as written (a missing motif value is an empty string, NaN stays NaN and
becomes ``null`` in JSON); :meth:`from_dict` reads such a row back, from a saved ``report.json`` too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from remixmusic.errors import RemixError


def _check_keys(cls: type, row: Mapping[str, Any], optional: tuple[str, ...] = ()) -> None:
    names = {f.name for f in fields(cls)}
    unknown, missing = set(row) - names, names - set(row) - set(optional)
    if unknown or missing:
        parts = [f"unknown column(s) {', '.join(sorted(unknown))}"] if unknown else []
        parts += [f"missing column(s) {', '.join(sorted(missing))}"] if missing else []
        raise RemixError(f"not a {cls.__name__} row: {'; '.join(parts)}")


def _number(value: Any) -> float:
    """A float column as written to JSON: ``None`` (a NaN) back to NaN."""
    return math.nan if value is None or value == "" else float(value)


@dataclass
class PieceRecord:
    """One analysed piece (a row of ``pieces.csv``); every measure comes from note labels
    (:mod:`remixmusic.novelty.measures`).

    Counts: ``n_notes`` (all notes), ``n_line_notes`` (analysed notes: on an analysed line, not from a
    prompt), ``n_motifs``, ``n_passages`` (its copied and varied passages only: not its stock passages,
    which ``passages.csv`` lists too; they are counted in ``n_stock_passages``). Fractions (0-1, shares of analysed
    notes by label, summing to 1; NaN with none): ``copied``, ``varied``, ``stock``, ``self_repeat``,
    ``novel``; ``recombined_fraction`` = copied + varied, the primary measure; ``prompt_fraction`` is the
    share of line notes that came from a prompt (excluded from the others). Coverages (0-1, shares of
    analysed notes inside any passage of that kind, overlaps allowed): ``copied_coverage``,
    ``varied_coverage``, ``stock_coverage``. ``longest_copied_notes``/``_bars``: the longest copied
    passage in notes and in the query's bars, with its first source's name and bars (1-based
    ``first-last``; empty when none). ``fan_in``: distinct first sources of recombined passages. These
    counts (``n_passages``, ``n_stock_passages``, ``fan_in``) take the passages that give at least one
    analysed note its label (``labelled_notes`` > 0 in passages.csv), not alternative readings.
    ``novel_glue_notes``: mean novel stretch between two recombined passages of a line (NaN: none).
    ``top_source_share``: largest share of line notes matched to one reference piece (the leakage
    measure). ``originality``/``originality_min``: mean
    and least originality over the piece's windows (NaN when not computed; a piece of more than 1,000 beats
    is scored on 128 evenly spaced windows: :data:`~remixmusic.novelty.originality.MAX_WINDOWS`; a dense
    one on windows holding about :data:`~remixmusic.novelty.originality.MAX_POINTS` points). ``segmentation``: the motif
    method used (``lbdm`` for a piece with no surprisal when ``surprisal`` was asked).
    ``granularity_bars``/``granularity_share``: the piece on the recombination granularity scale
    (:mod:`remixmusic.novelty.granularity`): the granularity in bars of its recombined part, read
    against pure-recombination patchworks of the reference, and the share of its analysed notes inside
    exact shared stretches of one bar or more, any match (stock and idiom included), beyond what its
    shuffled lines share: not the headline ``recombined_fraction``, which counts copied and varied
    notes only (set by :func:`~remixmusic.novelty.analyze.analyze`; NaN when not
    computed). ``span_coverage_1``/``_2``/``_4``: the share of analysed notes covered by an exact match
    (of any length, above-chance or not) spanning at least 1, 2 or 4 of the query's bars, the piece's
    coverage-by-span curve at those points (RAVEN's n-gram novelty curve with lengths in bars, McCoy et
    al. 2023; NaN when not computed). ``leaked``: a
    control piece that duplicates a reference piece (the leakage check). ``left_out``: why a control
    piece was left out of the comparisons (``""`` kept; report.html's numbers leave out every row with
    a non-empty ``left_out``, so a mean over all rows of ``pieces.csv`` differs from the page's):
    ``duplicates REF (N% of its notes)`` for a
    leaked piece, ``carries the tune of REF`` for a piece whose melody is the tune of reference piece
    ``REF`` (the same-tune check, :func:`~remixmusic.data.tune_match.melody_duplicates`).
    ``longest_match_notes``/``_bars``: the longest exact match the piece shares with any reference
    piece, of any kind (stock and chance-length ones included), in notes and in the piece's bars it
    touches (from its first note's bar to its last's; each the most over the piece's matches) (0 in reports written before them). ``tune_group``:
    the piece's near-duplicate tune group from its dataset manifest, else ``~`` and the first piece of the
    group the near-duplicate rule finds among the pieces of its side (``""``: a group of its own; see
    :mod:`remixmusic.novelty.groups`), the unit the comparisons resample and test. ``n_symbols``: the
    symbols of its lines as matched (the query size of the information bound); ``min_bits``: the
    information (bits) its copies needed, the larger of the settings' floor (``min_match_bits``) and the
    E-value bound ``log2(reference symbols * n_symbols / false_copies)``
    (:meth:`~remixmusic.novelty.match.Matcher.piece_min_bits`); a match below it is stock (0 and NaN in
    reports written before them). ``n_stock_passages``: its stock passages (0 in reports written
    before it).
    """

    piece: str
    group: str
    path: str
    n_notes: int
    n_line_notes: int
    n_motifs: int
    copied_coverage: float
    varied_coverage: float
    stock_coverage: float
    recombined_fraction: float
    copied_fraction: float
    varied_fraction: float
    stock_fraction: float
    self_repeat_fraction: float
    prompt_fraction: float
    novel_fraction: float
    longest_copied_notes: int
    longest_copied_bars: int
    longest_copied_source: str
    longest_copied_source_bars: str
    fan_in: int
    novel_glue_notes: float
    n_passages: int
    top_source_share: float
    originality: float
    originality_min: float
    segmentation: str
    granularity_bars: float = math.nan
    granularity_share: float = math.nan
    span_coverage_1: float = math.nan
    span_coverage_2: float = math.nan
    span_coverage_4: float = math.nan
    leaked: bool = False
    tune_group: str = ""
    n_symbols: int = 0
    min_bits: float = math.nan
    left_out: str = ""
    longest_match_notes: int = 0
    longest_match_bars: int = 0
    n_stock_passages: int = 0

    @property
    def excluded(self) -> bool:
        """Left out of the comparisons: leaked, or for another reason (``left_out``)."""
        return self.leaked or bool(self.left_out)

    def to_dict(self) -> dict[str, Any]:
        """The row as written to ``pieces.csv`` and ``report.json`` (keys in column order)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> PieceRecord:
        """A record from a row of :meth:`to_dict` or of a saved ``report.json`` (JSON ``null`` is NaN).

        Raises:
            RemixError: an unknown or a missing column (``leaked``, ``tune_group``, the granularity
                columns, ``n_symbols``, ``min_bits``, ``left_out`` and the longest match may be missing).
        """
        _check_keys(cls, row, optional=("leaked", "tune_group", "n_symbols", "min_bits", *_GRANULARITY, *_LATER))
        values: dict[str, Any] = {
            name: _number(row[name]) if name in _FLOATS else row[name] for name in row if name != "leaked"
        }
        return cls(**values, leaked=bool(row.get("leaked", False)))

    def measure(self, name: str) -> float:
        """The numeric column ``name`` (a measure such as ``copied_coverage``) as a float.

        Raises:
            RemixError: ``name`` is not a numeric column.
        """
        if name not in NUMERIC_COLUMNS:
            raise RemixError(f"{name!r} is not a numeric piece measure; one of {', '.join(NUMERIC_COLUMNS)}")
        if not self.n_line_notes and name not in _COUNTS:
            return math.nan  # no line was analysed: nothing was measured (a 0 would pull means down)
        return float(getattr(self, name))


@dataclass
class MotifRecord:
    """One motif of one line of a piece (a row of ``motifs.csv``).

    ``motif`` numbers the piece's motifs from 0; ``track``/``voice`` name its line; ``start_beat``/
    ``end_beat`` (beats from the piece's start; the end is the next motif's start or the line's last
    note off) and ``start_note``/``end_note`` (positions along its line, end exclusive, as in
    ``passages.csv``; piece note indices in reports written before 2026-12) its span; ``label`` one
    of :data:`~remixmusic.novelty.report.LABELS`, or ``not-analysed`` on a line too short to analyse
    (every share 0); ``bars``: the query bars of its first and last note
    (1-based ``first-last``, as ``source_bars``; empty in reports written before it). Provenance of its
    main match (empty for ``novel``,
    ``self-repeat`` and ``prompt`` motifs), the passage that labels most of its notes, whole (a motif
    holds a part of it): ``sources`` (reference piece names, ``;``-separated), ``source_bars`` (1-based
    ``first-last`` bars of the whole passage in each source), ``transposition`` (semitones from the first
    source to the query, ``None`` when none), ``match_length`` (notes), ``doc_freq`` (reference pieces
    containing it; 0 for varied copies), ``bits`` (its information, ``None`` when none), ``edits`` (0 for
    an exact copy, ``None`` when none), ``covered_share`` (share of the motif's notes the passage covers).
    ``*_share``: share of the motif's notes per note label; the motif's ``label`` follows from them by
    :func:`remixmusic.novelty.measures.motif_label`. In :meth:`to_dict` rows the ``None`` values are empty strings.
    """

    piece: str
    group: str
    motif: int
    track: int
    voice: int
    start_beat: float
    end_beat: float
    start_note: int
    end_note: int
    n_notes: int
    label: str
    bars: str = ""
    sources: str = ""
    source_bars: str = ""
    transposition: int | None = None
    match_length: int = 0
    doc_freq: int = 0
    bits: float | None = None
    edits: int | None = None
    covered_share: float = 0.0
    copied_share: float = 0.0
    varied_share: float = 0.0
    stock_share: float = 0.0
    self_repeat_share: float = 0.0
    prompt_share: float = 0.0
    novel_share: float = 0.0

    @property
    def source_names(self) -> list[str]:
        """The reference pieces of ``sources``, most representative first (empty when none)."""
        return self.sources.split(";") if self.sources else []

    def to_dict(self) -> dict[str, Any]:
        """The row as written to ``motifs.csv`` and ``report.json`` (keys in column order, ``None`` as
        an empty string)."""
        return {f.name: "" if getattr(self, f.name) is None else getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> MotifRecord:
        """A record from a row of :meth:`to_dict` or of a saved ``report.json`` (empty string is ``None``).

        Raises:
            RemixError: an unknown or a missing column (``bars`` may be missing: reports written before it).
        """
        _check_keys(cls, row, optional=("bars",))
        values = dict(row)
        for name in _OPTIONAL:
            values[name] = None if values[name] in ("", None) else values[name]
        return cls(**values)


@dataclass
class PassageRecord:
    """One passage of a query line (a row of ``passages.csv``; see :mod:`remixmusic.novelty.passages`).

    ``passage`` numbers the piece's passages from 1 in bar order (:func:`passage_order`: start beat, then
    line from the top), the numbers report.html shows (from 0, in another order, in reports written
    before); ``line`` (index among the piece's analysed lines),
    ``track``/``voice`` name its line; ``start_note``/``end_note``: positions along the line (end
    exclusive); ``note_indices``: the notes as indices into the piece's notes (``;``-separated);
    ``start_beat``/``end_beat``: the query span in its own beats, quarter notes counted from 0 at the
    start of the file (report.html counts them from 1: start_beat 8 is its beat 9; end exclusive: the
    next line note's onset, or the last note's end when that comes first, so a rest after the passage
    is not in it); ``bars``: the query bars of its first and last note
    (1-based ``first-last``, as ``source_bars``, counted from the file's first bar: a file that opens
    with an upbeat bar counts it as bar 1). ``label``: copied, varied or stock; ``prompt`` for a
    match lying wholly in a prompt (the piece's own prompt quoted: no copy, counted in no measure). ``sources``: reference pieces,
    best first (``;``-separated) with their 1-based bars in ``source_bars``; ``source_start_beat``/
    ``source_end_beat``: the first source's span in its own beats (end exclusive: its next line note's
    onset; after a line's last note, the query's last note scaled by ``time_scale``, or under an
    invariance that ignores rhythm, ``intervals``, the source's last inter-onset interval).
    ``transposition`` (semitones, query minus source), ``time_scale`` (query span over source span;
    under ``intervals`` only the ratio of the two spans, not a tempo: the rhythms may differ), ``edits`` (the edit script of a
    varied copy, ``kind@position``), ``n_edits``, ``match_length`` (notes aligned with the source),
    ``doc_freq`` (reference tune groups holding an exact pattern), ``bits`` (its information),
    ``n_notes``, ``prompt_notes`` (of them from a prompt). ``source_notes``: the first source's notes as
    the index holds them, ``onset:pitch`` (onset in the source's beats, MIDI pitch; ``;``-separated; the
    index keeps no durations), so the source passage can be shown and played beside the query's.
    ``line_name``/``source_line_name``: the names of the query line and of the first source's line
    (Soprano ... Bass, a track name or ``line N``; :mod:`remixmusic.novelty.context`);
    ``source_texture``: the notes of the source piece's other indexed lines sounding in the first
    source's span, ``onset:duration:pitch`` (source beats, cut to the span; empty when the index holds
    no other line there); ``source_bar_starts``: where the first source's bars begin, ``bar:beat``
    (1-based bar, source beats), each at its earliest indexed note; ``source_pickup``: the first source
    opens with an upbeat bar (its bar N is a printed score's measure N - 1;
    :meth:`~remixmusic.novelty.context.SourceContext.pickup`). ``invariance``: what the match compared
    (the analysis's invariance, :data:`~remixmusic.novelty.symbols.INVARIANCES`), so ``transposition``
    and ``time_scale`` can be read from the CSV alone (empty in reports written before it).
    ``labelled_notes``: how many of its analysed notes take their label and source from it; 0 for an
    alternative reading (a varied reading of notes an exact copy labels), which ``n_passages``,
    ``n_stock_passages`` and ``fan_in`` do not count (-1 in reports written before it).
    """

    piece: str
    group: str
    passage: int
    line: int
    track: int
    voice: int
    start_note: int
    end_note: int
    start_beat: float
    end_beat: float
    bars: str
    label: str
    sources: str
    source_bars: str
    source_start_beat: float
    source_end_beat: float
    transposition: int
    time_scale: float
    edits: str
    n_edits: int
    match_length: int
    doc_freq: int
    bits: float
    n_notes: int
    prompt_notes: int
    note_indices: str
    source_notes: str = ""
    line_name: str = ""
    source_line_name: str = ""
    source_texture: str = ""
    source_bar_starts: str = ""
    source_pickup: bool = False
    invariance: str = ""
    labelled_notes: int = -1

    @property
    def source_names(self) -> list[str]:
        """The reference pieces of ``sources``, best first."""
        return self.sources.split(";") if self.sources else []

    @property
    def notes(self) -> np.ndarray:
        """``note_indices`` as an int64 array."""
        return np.asarray([int(x) for x in self.note_indices.split(";")] if self.note_indices else [], np.int64)

    def to_dict(self) -> dict[str, Any]:
        """The row as written to ``passages.csv`` and ``report.json`` (keys in column order)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> PassageRecord:
        """A record from a row of :meth:`to_dict` or of a saved ``report.json``.

        Raises:
            RemixError: an unknown or a missing column (``bars``, ``source_notes`` and the line names,
                texture and bar starts may be missing: reports written before them).
        """
        _check_keys(cls, row, optional=_PASSAGE_LATER)
        values = {name: "" for name in _PASSAGE_LATER} | {"source_pickup": False} | dict(row)
        values["source_pickup"] = values["source_pickup"] in (True, 1, "True", "true", "1")
        values["labelled_notes"] = int(values["labelled_notes"]) if values["labelled_notes"] != "" else -1
        for name in ("source_start_beat", "source_end_beat"):
            values[name] = _number(values[name])
        return cls(**values)


PASSAGE_COLUMNS = tuple(f.name for f in fields(PassageRecord))
"""The columns of ``passages.csv``, in order."""


PIECE_COLUMNS = tuple(f.name for f in fields(PieceRecord))
"""The columns of ``pieces.csv``, in order."""


MOTIF_COLUMNS = tuple(f.name for f in fields(MotifRecord))
"""The columns of ``motifs.csv``, in order."""


NUMERIC_COLUMNS = tuple(f.name for f in fields(PieceRecord) if f.type in ("int", "float"))
"""The numeric piece columns: the measures :meth:`PieceRecord.measure` reads by name."""

_COUNTS = ("n_notes", "n_line_notes", "n_motifs")
"""Numeric columns that describe a piece whose lines were too short to analyse; its other measures are
NaN by :meth:`PieceRecord.measure` (its longest copy, fan-in and originality were 0 and counted)."""


_GRANULARITY = (
    "granularity_bars",
    "granularity_share",
    "span_coverage_1",
    "span_coverage_2",
    "span_coverage_4",
)  # missing in reports written before them


_LATER = (  # missing in reports written before them
    "left_out",
    "longest_match_notes",
    "longest_match_bars",
    "n_stock_passages",
)


_FLOATS = frozenset(f.name for f in fields(PieceRecord) if f.type == "float")
_OPTIONAL = ("transposition", "bits", "edits")
_PASSAGE_LATER = (  # passage columns missing in reports written before them
    "bars",
    "source_notes",
    "line_name",
    "source_line_name",
    "source_texture",
    "source_bar_starts",
    "source_pickup",
    "invariance",
    "labelled_notes",
)


def passage_order(p: PassageRecord) -> tuple[float, int, int, float]:
    """The order passages are numbered in: start beat, then line from the top (track, voice), then end."""
    return (p.start_beat, p.track, p.voice, p.end_beat)
