"""What matching finds: sources, exact matches, varied copies, and per-line and per-piece results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from remixmusic.music.notes import Piece
from remixmusic.novelty.symbols import Stream

_TEMPO_FREE = ("transposed+tempo", "rhythm", "contour")


@dataclass
class Source:
    """One reference occurrence: piece, its notes (piece note indices, ``note_last`` inclusive), bars
    (zero-based, ``bar_last`` inclusive), onsets (steps, a score's half steps included:
    :meth:`~remixmusic.novelty.index.Index.exact_onset`), and the transposition query minus source;
    ``slot``: where the passage starts in the index's slot arrays (-1 unknown); ``n_notes``: its length
    in notes (slots)."""

    piece: int
    name: str
    note_first: int
    note_last: int
    bar_first: int
    bar_last: int
    onset_first: float
    onset_last: float
    transposition: int
    slot: int = -1
    n_notes: int = 0


@dataclass
class Match:
    """A maximal exact match of one query line: ``length`` symbols from symbol ``start`` of line ``line``
    (an index into ``PieceMatches.lines``), i.e. line notes ``start .. start + length + order - 1``.
    ``bits``: its information content; ``stock``: common (``doc_freq >= stock_df``) or below the
    information threshold (``low_information``)."""

    line: int
    start: int
    length: int
    notes: np.ndarray
    count: int
    doc_freq: int
    bits: float
    low_information: bool
    stock: bool
    sources: list[Source]

    @property
    def n_notes(self) -> int:
        return len(self.notes)


@dataclass
class VariedMatch:
    """A varied copy: query line notes ``[start, end)`` of line ``line`` align with one reference passage
    up to ``edits`` edits (a change, deletion, insertion, passing note or ornament; ``script`` lists them,
    ``matched`` counts the aligned notes that agree); ``bits`` is the information content of the
    reference passage. ``sources``: that passage first, then passages of other pieces the same query
    notes align with within the edit budget (folk variants of one tune), best first."""

    line: int
    start: int
    end: int
    notes: np.ndarray
    edits: int
    matched: int
    bits: float
    sources: list[Source]
    script: str = ""

    @property
    def source(self) -> Source:
        """The best-aligned reference passage."""
        return self.sources[0]


@dataclass
class LineMatches:
    """Per-symbol match results of one query line (arrays of ``len(stream.symbols)``).

    ``match_length``: longest reference match from this symbol (symbols); ``count``: its occurrences;
    ``doc_freq``: distinct reference pieces containing it (exact when ``count <= df_cap``, else a lower
    bound from the first ``df_cap`` occurrences); ``source_*``: one representative occurrence (``-1``
    where nothing matches); ``transposition``: query pitch minus source pitch of the first note;
    ``sa_lo, sa_hi``: the match's suffix-array range (all its occurrences).
    """

    stream: Stream
    match_length: np.ndarray
    count: np.ndarray
    doc_freq: np.ndarray
    source_piece: np.ndarray
    source_slot: np.ndarray
    transposition: np.ndarray
    sa_lo: np.ndarray
    sa_hi: np.ndarray


@dataclass
class PieceMatches:
    """Everything found for one query piece.

    Per-note arrays (``len(piece.notes)``; notes on no analyzed line have ``in_line`` false):
    ``longest`` (notes of the longest exact match covering the note, any length), ``longest_source``
    (its representative reference piece, -1 none), ``longest_doc_freq``, ``transposition``; ``copied``
    (covered by an exact match longer than chance that is not stock), ``stock`` (covered by a
    longer-than-chance match found in ``>= stock_df`` pieces or below ``min_bits``), ``varied`` (covered by a varied copy),
    ``varied_edits`` (fewest edits of such a copy, -1 none).
    """

    piece: Piece
    invariance: str
    chance_length: int
    min_length: int
    min_bits: float
    stock_df: int
    lines: list[LineMatches]
    matches: list[Match]
    varied_matches: list[VariedMatch]
    in_line: np.ndarray
    longest: np.ndarray
    longest_source: np.ndarray
    longest_doc_freq: np.ndarray
    transposition: np.ndarray
    copied: np.ndarray
    stock: np.ndarray
    varied: np.ndarray
    varied_edits: np.ndarray
    parameters: dict = field(default_factory=dict)

    def coverage(self, lengths: np.ndarray) -> np.ndarray:
        """Fraction of analyzed notes covered by an exact match of at least ``L`` notes, per ``L``."""
        n = max(1, int(self.in_line.sum()))
        longest = self.longest[self.in_line]
        return np.array([np.count_nonzero(longest >= length) / n for length in np.asarray(lengths)])

    def source_ranking(self) -> list[tuple[int, int]]:
        """Reference pieces by how many query notes they account for (exact matches longer than chance,
        stock ones included, and varied copies): ``[(piece, n_notes), ...]``, most first."""
        covered: dict[int, set[int]] = {}
        for m in self.matches:
            for s in m.sources:
                covered.setdefault(s.piece, set()).update(m.notes.tolist())
        for v in self.varied_matches:
            covered.setdefault(v.source.piece, set()).update(v.notes.tolist())
        return sorted(((p, len(n)) for p, n in covered.items()), key=lambda x: (-x[1], x[0]))
