"""Per-piece, per-motif and per-passage records, all computed from note labels.

The note labels (:mod:`remixmusic.novelty.passages`) are the single source of every measure: coverages
and fractions are shares of the *analysed* notes (on an analysed line, not from a prompt), so a
prompted continuation never "copies" its own prompt and a piece analysed on all its voices is measured
on all of them.

Piece measures (:class:`~remixmusic.novelty.records.PieceRecord`):

* ``*_fraction`` of a label: share of analysed notes carrying it (copied, varied, stock, self-repeat,
  novel; they sum to 1); ``recombined_fraction`` = copied + varied, the primary measure;
* ``*_coverage``: share of analysed notes inside any passage of that kind, overlaps allowed (a note in a
  copied passage that is also inside a stock match counts for both);
* ``longest_copied_notes``/``_bars``: the longest copied passage (notes; bars of the query it spans);
* ``fan_in``: distinct first sources of the recombined passages (how many reference pieces the piece
  draws on), and ``n_passages`` / ``n_stock_passages``: how many recombined / stock passages, counting
  the passages that give at least one analysed note its label (a varied reading of notes an exact copy
  labels is listed in passages.csv as an alternative, and counted in neither: a reference piece analysed
  as itself draws on one piece, itself);
* ``novel_glue_notes``: mean length (notes) of the novel stretches *between* two recombined passages on
  a line, the glue of a remix (NaN when a line has fewer than two recombined passages).

Motifs (the musicological segmentation, LBDM by default) only summarise: each motif row gives the share
of its notes under every label and the source of its dominant passage, and its label follows from the
shares by the rule of :func:`motif_label`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from remixmusic.music.lines import Line
from remixmusic.music.notes import STEPS_PER_BEAT, Piece, half_onsets
from remixmusic.novelty.context import SourceContext, line_names
from remixmusic.novelty.index import Index
from remixmusic.novelty.passages import NOTE_LABELS, RECOMBINED, NoteLabels, Passage
from remixmusic.novelty.records import MotifRecord, PassageRecord, PieceRecord, passage_order
from remixmusic.novelty.segment import Segmentation
from remixmusic.novelty.symbols import TIMELESS

_CODE = {name: i for i, name in enumerate(NOTE_LABELS)}


def motif_label(shares: dict[str, float], label_share: float) -> str:
    """A motif's label from the shares of its notes per label; the first rule that holds:

    1. ``prompt`` share >= ``label_share``;
    2. ``varied`` share >= ``label_share`` and above the copied share;
    3. ``copied`` share >= ``label_share``;
    4. ``stock``: copied + varied + stock >= ``label_share`` (recombined or idiomatic, mostly);
    5. ``self-repeat`` share >= ``label_share``;
    6. ``novel``.

    (A motif none of whose notes is analysed, on a line too short to show a copy, is ``not-analysed``:
    :func:`motif_records` gives it that label without this rule.)
    """
    t = label_share
    if shares["prompt"] >= t:
        return "prompt"
    if shares["varied"] >= t and shares["varied"] > shares["copied"]:
        return "varied"
    if shares["copied"] >= t:
        return "copied"
    if shares["copied"] + shares["varied"] + shares["stock"] >= t:
        return "stock"
    if shares["self-repeat"] >= t:
        return "self-repeat"
    return "novel"


def motif_records(
    name: str,
    group: str,
    piece: Piece,
    segmented: Sequence[tuple[Line, Segmentation]],
    labels: NoteLabels,
    label_share: float,
) -> list[MotifRecord]:
    """One record per motif of every analysed line (see the module docstring)."""
    notes = piece.notes
    out: list[MotifRecord] = []
    for line, seg in segmented:
        ln = notes[line.notes]
        line_end = int((ln["onset"] + ln["duration"]).max())
        exact = half_onsets(ln) / 2  # a score's half steps included
        next_start = np.append(exact[seg.starts[1:]], line_end)
        first_bar = piece.bar_of(ln["onset"][seg.starts]) + 1  # 1-based, as source bars
        last_bar = piece.bar_of(ln["onset"][np.asarray(seg.ends) - 1]) + 1
        for k in range(len(seg)):
            idx = line.notes[seg.starts[k] : seg.ends[k]]
            code = labels.label[idx]
            shares = {lab: float(np.mean(code == _CODE[lab])) for lab in NOTE_LABELS[:6]}
            # a motif of a line too short to analyse: none of its notes has a label to share
            label = "not-analysed" if (code == _CODE["not-analysed"]).all() else motif_label(shares, label_share)
            rec = MotifRecord(
                piece=name,
                group=group,
                motif=len(out),
                track=line.track,
                voice=line.voice,
                start_beat=float(exact[seg.starts[k]]) / STEPS_PER_BEAT,
                end_beat=float(next_start[k]) / STEPS_PER_BEAT,
                start_note=int(seg.starts[k]),  # positions along the line, as passages.csv's
                end_note=int(seg.ends[k]),
                n_notes=len(idx),
                label=label,
                bars=f"{first_bar[k]}-{last_bar[k]}",
                copied_share=shares["copied"],
                varied_share=shares["varied"],
                stock_share=shares["stock"],
                self_repeat_share=shares["self-repeat"],
                prompt_share=shares["prompt"],
                novel_share=shares["novel"],
            )
            ids = labels.passage[idx]
            if label in ("copied", "varied"):  # its provenance is a passage of its own label
                ids = ids[code == _CODE[label]]
            ids = ids[ids >= 0]
            if len(ids) and label not in ("novel", "self-repeat", "prompt"):
                values, counts = np.unique(ids, return_counts=True)
                p = labels.passages[int(values[np.argmax(counts)])]
                rec.sources = ";".join(s.name for s in p.sources)
                rec.source_bars = ";".join(f"{s.bar_first + 1}-{s.bar_last + 1}" for s in p.sources)
                rec.transposition = p.transposition
                rec.match_length = p.match_length
                rec.doc_freq = p.doc_freq
                rec.bits = round(p.bits, 1)
                rec.edits = p.n_edits
                rec.covered_share = float(np.isin(idx, p.notes).mean())
            out.append(rec)
    return out


def _last_source_length(p: Passage, notes: np.ndarray, index: Index, slots: np.ndarray) -> float:
    """How long (steps) the last source note of passage ``p`` is taken to sound when no next note of its
    line follows it (the index keeps onsets, not durations). Where the invariance compares rhythm, the
    query's last note scaled back by the passage's time scale; under one that does not (``intervals``:
    the two rhythms may differ), the source's own last inter-onset interval in the passage (one beat for
    a one-note source)."""
    if index.invariance not in TIMELESS:
        return float(notes["duration"][p.notes[-1]]) / max(p.time_scale, 1e-9)
    onsets = index.exact_onset(slots)
    if len(onsets) >= 2 and onsets[-1] > onsets[-2]:
        return float(onsets[-1] - onsets[-2])
    return float(STEPS_PER_BEAT)


def passage_records(
    name: str, group: str, piece: Piece, lines: Sequence[Line], labels: NoteLabels, index: Index
) -> list[PassageRecord]:
    """One record per passage of ``labels`` (``passages.csv``), with the query span in the query's beats
    and bars, the first source's span in the source's beats (end exclusive: the next note's onset, or
    the last note's end), the first source's notes as the index holds them (onset beat and pitch) and
    how many notes take their label from it."""
    passages = labels.passages
    owner = labels.passage[labels.analysed & (labels.passage >= 0)]
    labelled = np.bincount(owner, minlength=len(passages)) if len(passages) else np.zeros(0, np.int64)
    notes = piece.notes
    exact = half_onsets(notes) / 2  # onsets (steps), a score's half steps included
    out = []
    bars = piece.bar_of(notes["onset"]) + 1 if passages else np.zeros(0, np.int64)
    names = line_names(piece, lines)
    context = SourceContext(index)
    for p, n_labelled in zip(passages, labelled.tolist(), strict=True):
        line = lines[p.line]
        # The next line note's onset, but not through a rest: a passage ends with its last note at the latest.
        q_end = float(notes["onset"][p.notes[-1]] + notes["duration"][p.notes[-1]])
        if p.end < len(line.notes):
            q_end = min(q_end, float(exact[line.notes[p.end]]))
        src = p.source
        s_start = s_end = math.nan
        source_notes = source_line = texture = bar_starts = ""
        pickup = False
        if src is not None and src.slot >= 0:
            n_src = max(src.n_notes, 1) if src.n_notes else p.match_length
            last = src.slot + n_src - 1
            slots = np.arange(src.slot, last + 1)
            slots = slots[index.note[slots] >= 0]
            source_notes = ";".join(
                f"{o / STEPS_PER_BEAT:g}:{int(q)}"
                for o, q in zip(index.exact_onset(slots).tolist(), index.pitch[slots].tolist(), strict=True)
            )
            s_start = float(index.exact_onset(src.slot)) / STEPS_PER_BEAT
            nxt = last + 1
            same_line = nxt < index.n_slots and int(index.line_of(np.array([nxt]))[0]) == int(
                index.line_of(np.array([last]))[0]
            )
            if same_line and int(index.note[nxt]) >= 0:
                s_end = float(index.exact_onset(nxt)) / STEPS_PER_BEAT
            else:
                s_end = (
                    float(index.exact_onset(last)) + _last_source_length(p, notes, index, slots)
                ) / STEPS_PER_BEAT
            source_line = context.line_name(src.slot)
            texture = context.texture(src.slot, s_start, s_end)
            bar_starts = context.bar_starts(src.slot, src.bar_first, src.bar_last)
            pickup = context.pickup(src.slot)
        out.append(
            PassageRecord(
                piece=name,
                group=group,
                passage=0,
                line=p.line,
                track=line.track,
                voice=line.voice,
                start_note=p.start,
                end_note=p.end,
                start_beat=float(exact[p.notes[0]]) / STEPS_PER_BEAT,
                end_beat=q_end / STEPS_PER_BEAT,
                bars=f"{bars[p.notes[0]]}-{bars[p.notes[-1]]}",
                label=p.label,
                sources=";".join(s.name for s in p.sources),
                source_bars=";".join(f"{s.bar_first + 1}-{s.bar_last + 1}" for s in p.sources),
                source_start_beat=s_start,
                source_end_beat=s_end,
                transposition=p.transposition,
                time_scale=p.time_scale,
                edits=p.edits,
                n_edits=p.n_edits,
                match_length=p.match_length,
                doc_freq=p.doc_freq,
                bits=round(p.bits, 2),
                n_notes=p.n_notes,
                prompt_notes=p.prompt_notes,
                note_indices=";".join(str(int(i)) for i in p.notes),
                source_notes=source_notes,
                line_name=names[p.line],
                source_line_name=source_line,
                source_texture=texture,
                source_bar_starts=bar_starts,
                source_pickup=pickup,
                invariance=index.invariance,
                labelled_notes=int(n_labelled),
            )
        )
    # Numbered from 1 in bar order (start beat, then line from the top), as report.html numbers them.
    out.sort(key=passage_order)
    for k, rec in enumerate(out):
        rec.passage = k + 1
    return out


def novel_glue(lines: Sequence[Line], labels: NoteLabels) -> float:
    """Mean length (notes) of the novel stretches between two recombined passages on a line (NaN: none)."""
    rec = np.isin(labels.label, [_CODE[x] for x in RECOMBINED])
    lengths: list[int] = []
    for line in lines:
        r = rec[line.notes]
        hits = np.flatnonzero(r)
        if len(hits) < 2:
            continue
        gaps = np.diff(hits) - 1
        novel = labels.label[line.notes] == _CODE["novel"]
        for a, g in zip(hits[:-1], gaps, strict=True):
            if g > 0 and novel[a + 1 : a + 1 + g].all():
                lengths.append(int(g))
    return float(np.mean(lengths)) if lengths else math.nan


def piece_record(
    name: str,
    group: str,
    piece: Piece,
    lines: Sequence[Line],
    labels: NoteLabels,
    n_motifs: int,
    top_source_share: float,
    originality: tuple[float, float],
    segmentation: str,
) -> PieceRecord:
    """The piece's measures from its note labels (see the module docstring)."""
    analysed = labels.analysed
    n = int(analysed.sum())

    def share(mask: np.ndarray) -> float:
        return float(mask[analysed].mean()) if n else math.nan

    def frac(*names: str) -> float:
        return share(np.isin(labels.label, [_CODE[x] for x in names]))

    def covered(kind: str) -> np.ndarray:
        mask = np.zeros(len(piece.notes), bool)
        for p in labels.passages:
            if p.label == kind:
                mask[p.notes] = True
        return mask

    copied = [p for p in labels.passages if p.label == "copied"]
    longest = max(copied, key=lambda p: p.n_notes - p.prompt_notes, default=None)
    longest_bars = 0
    if longest is not None:
        bars = piece.bar_of(piece.notes["onset"][longest.notes])
        longest_bars = int(bars.max() - bars.min() + 1)
    src = longest.source if longest is not None else None
    # Passages that give an analysed note its label; others (a varied reading under an exact copy) are
    # alternatives: listed in passages.csv, not counted.
    owning = [
        labels.passages[i] for i in np.unique(labels.passage[analysed & (labels.passage >= 0)]).tolist()
    ]
    rec_sources = {p.sources[0].name for p in owning if p.label in RECOMBINED and p.sources}
    return PieceRecord(
        piece=name,
        group=group,
        path=piece.source or "",
        n_notes=len(piece.notes),
        n_line_notes=n,
        n_motifs=n_motifs,
        copied_coverage=share(covered("copied")),
        varied_coverage=share(covered("varied")),
        stock_coverage=share(covered("stock")),
        recombined_fraction=frac(*RECOMBINED),
        copied_fraction=frac("copied"),
        varied_fraction=frac("varied"),
        stock_fraction=frac("stock"),
        self_repeat_fraction=frac("self-repeat"),
        prompt_fraction=float(np.mean(labels.label[labels.label != _CODE["not-analysed"]] == _CODE["prompt"]))
        if np.any(labels.label != _CODE["not-analysed"])
        else math.nan,
        novel_fraction=frac("novel"),
        longest_copied_notes=(longest.n_notes - longest.prompt_notes) if longest is not None else 0,
        longest_copied_bars=longest_bars,
        longest_copied_source=src.name if src is not None else "",
        longest_copied_source_bars=f"{src.bar_first + 1}-{src.bar_last + 1}" if src is not None else "",
        fan_in=len(rec_sources),
        novel_glue_notes=novel_glue(lines, labels),
        n_passages=sum(p.label in RECOMBINED for p in owning),
        n_stock_passages=sum(p.label == "stock" for p in owning),
        top_source_share=top_source_share,
        originality=originality[0],
        originality_min=originality[1],
        segmentation=segmentation,
    )
