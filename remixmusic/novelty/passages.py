"""Passages: the unit of attribution. Every note's label and source comes from the passages covering it.

A *passage* is a maximal stretch of one query line aligned to one reference passage: an exact match
under the invariance (a maximal exact match of the matching statistics, RAVEN's measure; McCoy et al.
2023), or a varied copy (an edit alignment on notes, :mod:`remixmusic.novelty.match`). Its boundaries
come from the alignment itself, never from a segmentation, so a copy that straddles a phrase boundary is
one passage, and the notes around it that match nothing stay unlabelled.

Exact matches of order-2 symbols (``transposed+tempo``) leave the pitch of their last note free (the last
symbol only fixes its onset); that note is kept only when its interval from the note before equals the
source's, so a passage never claims a note that differs from its source.

Note labels (:data:`NOTE_LABELS`), in priority order where passages overlap:

1. ``prompt``: given to the model as a prompt (generation sidecar); excluded from every measure, as is
   a passage that quotes the prompt and goes on past it by fewer notes than a copy needs;
2. ``copied``: in an exact passage that is longer than chance, informative (``bits >= min_bits``) and
   rare (found in fewer than ``stock_df`` reference tune groups);
3. ``varied``: in a varied copy (a near match within the edit budget), not copied;
4. ``stock``: in a longer-than-chance exact match that is common or low in information (cadences,
   scale runs, repeated notes), and in nothing above;
5. ``self-repeat``: in a run of ``min_length`` symbols that occurred earlier in the same piece;
6. ``novel``: on an analysed line and none of the above;
7. ``not-analysed``: on no analysed line (drums; notes under the melody when only the melody is read;
   lines shorter than the shortest match that counts, which could not show a copy).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from remixmusic.music.notes import Piece, half_onsets
from remixmusic.novelty.index import Index
from remixmusic.novelty.matches import Match, PieceMatches, Source, VariedMatch

NOTE_LABELS = ("copied", "varied", "stock", "self-repeat", "prompt", "novel", "not-analysed")
"""Per-note labels (codes are indices into this tuple)."""

RECOMBINED = ("copied", "varied")
"""Labels that count as recombined from the reference."""

_PRIORITY = ("prompt", "copied", "varied", "stock", "self-repeat")  # first wins where passages overlap


@dataclass
class Passage:
    """One passage of a query piece.

    ``line``: index into ``PieceMatches.lines``; ``start``/``end``: positions along that line (end
    exclusive); ``notes``: their indices into ``piece.notes``. ``label``: ``copied``, ``varied`` or
    ``stock``. ``sources``: reference passages, best first (the first is *the* source). ``transposition``:
    query minus source pitch (semitones); ``time_scale``: query duration over source duration.
    ``edits``: the edit script of a varied copy (``kind@line position``, ``;``-separated; empty for an
    exact one) and ``n_edits`` its length. ``match_length``: notes aligned with the source;
    ``doc_freq``: reference tune groups holding the exact pattern (0 for a varied copy); ``bits``: the
    information content of the (source) passage.
    """

    line: int
    start: int
    end: int
    notes: np.ndarray
    label: str
    sources: list[Source]
    transposition: int
    time_scale: float
    match_length: int
    doc_freq: int
    bits: float
    n_edits: int = 0
    edits: str = ""
    prompt_notes: int = 0

    @property
    def n_notes(self) -> int:
        return len(self.notes)

    @property
    def source(self) -> Source | None:
        return self.sources[0] if self.sources else None


@dataclass
class NoteLabels:
    """Per note of a piece (arrays of ``len(piece.notes)``): ``label`` (code into :data:`NOTE_LABELS`) and
    ``passage`` (index into the passage list of the note's label, -1 none); ``source``: reference piece of
    that passage's first source (-1 none)."""

    label: np.ndarray
    passage: np.ndarray
    source: np.ndarray
    passages: list[Passage] = field(default_factory=list)

    def count(self, *labels: str) -> int:
        codes = [NOTE_LABELS.index(x) for x in labels]
        return int(np.isin(self.label, codes).sum())

    @property
    def analysed(self) -> np.ndarray:
        """Notes that count in measures: on an analysed line and not from a prompt."""
        return ~np.isin(self.label, [NOTE_LABELS.index("not-analysed"), NOTE_LABELS.index("prompt")])


def exact_passage(pm: PieceMatches, index: Index, m: Match) -> Passage:
    """The passage of one exact match, its last note dropped when its pitch differs from the source."""
    line = pm.lines[m.line].stream.line
    end = m.start + m.n_notes
    sources = m.sources
    if (
        index.invariance == "transposed+tempo"
        and m.sources
        and not _last_pitch_agrees(pm.piece, line.notes, index, m, end)
    ):
        end -= 1
        sources = [_trimmed(index, s, end - m.start) for s in m.sources]
    notes = line.notes[m.start : end]
    src = sources[0] if sources else None
    return Passage(
        line=m.line,
        start=m.start,
        end=end,
        notes=notes,
        label="stock" if m.stock else "copied",
        sources=sources,
        transposition=src.transposition if src else 0,
        time_scale=_time_scale(pm.piece, notes, src),
        match_length=len(notes),
        doc_freq=m.doc_freq,
        bits=m.bits,
    )


def varied_passage(pm: PieceMatches, v: VariedMatch) -> Passage:
    """The passage of one varied copy."""
    return Passage(
        line=v.line,
        start=v.start,
        end=v.end,
        notes=v.notes,
        label="varied",
        sources=v.sources,
        transposition=v.source.transposition,
        time_scale=_time_scale(pm.piece, v.notes, v.source),
        match_length=v.matched,
        doc_freq=0,
        bits=v.bits,
        n_edits=v.edits,
        edits=v.script,
    )


def build_passages(pm: PieceMatches, index: Index) -> list[Passage]:
    """Every passage of a matched piece, in line order: its varied copies, and its exact matches above
    the length threshold except stock ones inside a varied copy of the same source passage (the short or
    common exact runs between the edits of a varied copy are parts of it). An exact run of a varied copy
    that is a copy on its own (longer than chance, informative, rare) stays a passage too, so its notes
    are copied: a tune reproduced with one slip is copied on both sides of the slip, and varied only
    where no such run reaches (it came out 140 notes varied and 13 copied). A varied copy whose notes a
    copied exact passage of the same source pieces holds whole is left out. Sources are ordered by how
    much of the piece each explains (:func:`_order_sources`)."""
    varied = [varied_passage(pm, v) for v in pm.varied_matches]
    exact = _merged([exact_passage(pm, index, m) for m in pm.matches])
    exact = [p for p in exact if p.label == "copied" or not any(_inside(p, v) for v in varied)]
    # a varied copy whose notes an exact copy of the same tunes holds whole is a worse reading of them (a
    # near-repeat of the copied stretch elsewhere in its source): the exact copy stands alone
    copies = [p for p in exact if p.label == "copied"]
    varied = _distinct(v for v in varied if not any(_covers(p, v) for p in copies))
    out = [p for p in exact + varied if p.n_notes > 0]
    out.sort(key=lambda p: (p.line, p.start, -p.n_notes))
    _order_sources(out)
    return out


def _order_sources(passages: list[Passage]) -> None:
    """Each exact passage's sources, in place, those that are sources of more of the piece's notes first
    (the original order among equals): of the pieces that hold one passage note for note, the one the
    rest of the piece also comes from is *the* source (a source ordering by parsimony: the fewest pieces
    that explain the piece). A chorale analysed as itself has its soprano in another harmonisation of the
    same hymn too; its own piece, the source of all four voices, comes first. A varied copy's sources
    keep their order: its edits are those of the first."""
    notes: dict[int, set[int]] = {}
    for p in passages:
        for s in p.sources:
            notes.setdefault(s.piece, set()).update(p.notes.tolist())
    for p in passages:
        if p.label == "varied" or len(p.sources) < 2:
            continue
        before = p.sources[0]
        p.sources = sorted(p.sources, key=lambda s: -len(notes[s.piece]))
        first = p.sources[0]
        if first is before:
            continue
        p.transposition = first.transposition
        # the same notes matched at another source: scaled by the two sources' spans (a merged passage
        # spans more query notes than its source holds, so its own span would not do)
        old_span, new_span = before.onset_last - before.onset_first, first.onset_last - first.onset_first
        if old_span > 0 and new_span > 0:
            p.time_scale = round(p.time_scale * old_span / new_span, 4)


def _merged(exact: list[Passage]) -> list[Passage]:
    """Exact passages of one line and label that overlap and stand on the same source notes, one passage
    (two that only touch are two copies): a periodic query (one note repeated 600 times, a scale run up and down) matches one
    reference passage at every shift, and each shift is a maximal match of its own; together they are
    one stretch aligned to that passage (its sources, doc frequency and bits the best of them)."""

    def key(p: Passage) -> tuple:
        s = p.sources[0] if p.sources else None
        return (p.line, p.label, None if s is None else (s.piece, s.slot, s.n_notes))

    out: list[Passage] = []
    for p in sorted(exact, key=lambda p: (key(p)[:2], str(key(p)[2]), p.start)):
        last = out[-1] if out else None
        if last is None or key(last) != key(p) or key(p)[2] is None or p.start >= last.end:
            out.append(p)
            continue
        if p.end > last.end:
            last.notes = np.concatenate([last.notes, p.notes[last.end - p.start :]])
            last.end = p.end
            last.match_length = len(last.notes)
        last.bits, last.doc_freq = max(last.bits, p.bits), max(last.doc_freq, p.doc_freq)
    return out


def _inside(p: Passage, v: Passage) -> bool:
    """Exact passage ``p`` lies within varied passage ``v`` on its line, and one of its sources within one
    of ``v``'s (the same piece, the same notes of it: an exact run between the edits of the varied copy,
    not the same stretch found at another place of the source)."""
    if p.line != v.line or p.start < v.start or p.end > v.end:
        return False
    return any(
        a.piece == b.piece and b.slot <= a.slot and a.slot + a.n_notes <= b.slot + b.n_notes
        for a in p.sources
        for b in v.sources
    )


def _distinct(varied: Iterable[Passage]) -> list[Passage]:
    """Varied passages, one per query span and edit script: copies of one span found at several places
    (a phrase its sources repeat, reached from several seed chains) are one passage, the best-scoring one,
    with the sources of all (one per reference piece, in order)."""
    out: dict[tuple[int, int, int, str], Passage] = {}
    for v in sorted(varied, key=lambda v: -v.bits):
        key = (v.line, v.start, v.end, v.edits)
        if key not in out:
            out[key] = v
            continue
        kept = out[key]
        pieces = {s.piece for s in kept.sources}
        kept.sources = [*kept.sources, *(s for s in v.sources if s.piece not in pieces)]
    return list(out.values())


def _covers(p: Passage, v: Passage) -> bool:
    """Exact passage ``p`` holds every note of varied passage ``v``, and ``v``'s sources are pieces of
    ``p``'s (the same tunes at other places: a varied copy of another tune is another reading, kept)."""
    if p.line != v.line or p.start > v.start or v.end > p.end:
        return False
    return {s.piece for s in v.sources} <= {s.piece for s in p.sources}


def label_notes(
    piece: Piece,
    passages: list[Passage],
    in_line: np.ndarray,
    prompt: np.ndarray,
    self_repeat: np.ndarray,
    min_notes: int = 0,
) -> NoteLabels:
    """Label every note from the passages covering it (rules in the module docstring).

    ``in_line``, ``prompt``, ``self_repeat``: boolean per note of ``piece``. Where passages of one label
    overlap, the longer one gives the note its source. Passage notes from the prompt are counted in
    ``Passage.prompt_notes``; a passage wholly in the prompt, or with fewer than ``min_notes`` notes
    after it (the notes of the shortest copy that counts: a quote of the prompt that the model carries
    on for a note or two, whose evidence is the prompt's), is relabelled ``prompt`` and labels no note.
    """
    n = len(piece.notes)
    label = np.full(n, NOTE_LABELS.index("not-analysed"), np.int64)
    label[in_line] = NOTE_LABELS.index("novel")
    passage = np.full(n, -1, np.int64)
    label[in_line & self_repeat] = NOTE_LABELS.index("self-repeat")
    for p in passages:
        p.prompt_notes = int(prompt[p.notes].sum())
        if p.prompt_notes and len(p.notes) - p.prompt_notes < max(min_notes, 1):
            p.label = "prompt"  # the prompt quoted: no copy of the model's, in no measure
    for name in ("stock", "varied", "copied"):  # later ones win
        ids = [i for i, p in enumerate(passages) if p.label == name]
        for i in sorted(ids, key=lambda i: passages[i].match_length):  # longer painted last
            label[passages[i].notes] = NOTE_LABELS.index(name)
            passage[passages[i].notes] = i
    label[prompt & in_line] = NOTE_LABELS.index("prompt")
    passage[prompt] = -1
    first = np.asarray([p.sources[0].piece if p.sources else -1 for p in passages] + [-1], np.int64)
    return NoteLabels(label, passage, first[passage], passages)


def _last_pitch_agrees(piece: Piece, line_notes: np.ndarray, index: Index, m: Match, end: int) -> bool:
    """Whether the last note of an order-2 exact match (line position ``end - 1``) sits at the source's
    pitch relative to the passage's first note, for at least one listed source; agreeing sources are
    moved first."""
    pitch = piece.notes["pitch"][line_notes].astype(np.int64)
    want = int(pitch[end - 1]) - int(pitch[m.start])
    k = end - 1 - m.start
    agree = [
        s.slot >= 0 and int(index.pitch[s.slot + k]) - int(index.pitch[s.slot]) == want for s in m.sources
    ]
    if any(agree):
        m.sources[:] = [s for s, a in zip(m.sources, agree, strict=True) if a] + [
            s for s, a in zip(m.sources, agree, strict=True) if not a
        ]
    return any(agree)


def _trimmed(index: Index, s: Source, n: int) -> Source:
    """``s`` shortened to its first ``n`` notes."""
    if s.slot < 0 or n < 1:
        return s
    last = s.slot + n - 1
    return replace(
        s,
        note_last=int(index.note[last]),
        bar_last=int(index.bar[last]),
        onset_last=float(index.exact_onset(last)),
        n_notes=n,
    )


def _time_scale(piece: Piece, notes: np.ndarray, src: Source | None) -> float:
    """Query over source time span of a passage (1.0 when either span is zero or there is no source)."""
    if src is None or len(notes) < 2:
        return 1.0
    q = float(half_onsets(piece.notes[notes[[0, -1]]]) @ [-0.5, 0.5])  # a score's half steps included
    s = src.onset_last - src.onset_first
    return round(q / s, 4) if q > 0 and s > 0 else 1.0
