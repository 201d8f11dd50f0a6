"""The notes report.html draws and plays: each query piece's remix map, and each passage beside its source.

Everything is compact JSON embedded in the page, read by its script (``page.js``): times in beats
(quarter notes; the player turns them into seconds at the tempo the reader sets), pitches as MIDI
numbers, labels as codes into :data:`~remixmusic.novelty.passages.NOTE_LABELS`. The sizes are bounded:
at most :data:`PLAYER_NOTE_LIMIT` notes per piece (the first ones in time) and :data:`PAIR_NOTE_LIMIT`
per side of a passage pair, so a 200,000-note piece adds a few hundred kB at most.

Source passages come from the reference index, which keeps each note's onset and pitch but not its
duration (``source_notes`` of :class:`~remixmusic.novelty.records.PassageRecord`): a source note lasts
until the next one starts, the last one as long as the query's last note at the passage's time scale.
The other voices of the source's bars come from the same index (``source_texture``: every line it
holds; none beyond the melody when it reads the melody only), those of the query's from its note map.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.novelty.passages import NOTE_LABELS
from remixmusic.novelty.records import PassageRecord

if TYPE_CHECKING:
    from remixmusic.novelty.report import NoteMap

PLAYER_NOTE_LIMIT = 5_000
"""Notes of a piece the page holds for its player and drawn remix map at most (the first in time)."""

PAIR_NOTE_LIMIT = 64
"""Notes of each side of a passage pair (query passage, source passage) the page holds at most."""

PAIR_TEXTURE_LIMIT = 192
"""Notes of the other voices of each side of a passage pair the page holds at most: three voices as
long as :data:`PAIR_NOTE_LIMIT` notes of the matched line (a chorale's passage of that length whole)."""

_RECOMBINED = (NOTE_LABELS.index("copied"), NOTE_LABELS.index("varied"))


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element (no ``</`` to close it early)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def source_numbers(passages: Sequence[PassageRecord]) -> dict[str, int]:
    """A number (1, 2, ...) per first source of ``passages``: the sources of copied and varied notes
    first, by notes drawn from each (S1 the most), then the sources of stock passages likewise; ties in
    order of first appearance in ``passages`` (given in time order)."""
    score: dict[str, tuple[int, int]] = {}
    for p in passages:
        if not p.sources:
            continue
        name = p.source_names[0]
        rec, stock = score.get(name, (0, 0))
        score[name] = (
            (rec + p.n_notes, stock) if p.label in ("copied", "varied") else (rec, stock + p.n_notes)
        )
    order = sorted(score, key=lambda s: (-score[s][0], -score[s][1]))  # stable: first appearance
    return {name: k + 1 for k, name in enumerate(order)}


def band_rows(spans: Sequence[tuple[float, float]]) -> list[int]:
    """A row for each passage band ``(start, end)`` above a remix map, so that bands that overlap in
    time never share a row, however many overlap (each band goes to the lowest row free at its start,
    the bands taken by start: as few rows as the most bands over one beat)."""
    ends: list[float] = []
    rows = [0] * len(spans)
    for i in sorted(range(len(spans)), key=lambda i: (spans[i][0], spans[i][1])):
        start, end = spans[i]
        row = next((r for r, e in enumerate(ends) if e <= start + 1e-9), len(ends))
        if row == len(ends):
            ends.append(end)
        else:
            ends[row] = end
        rows[i] = row
    return rows


def piece_data(
    k: int | str,
    name: str,
    notes: NoteMap,
    passages: Sequence[tuple[str, PassageRecord]],
    numbers: dict[str, int],
    limit: int = PLAYER_NOTE_LIMIT,
) -> dict[str, Any]:
    """The player data of query piece ``k``: its first ``limit`` notes in time (``o`` onset and ``d``
    duration in steps of ``spb`` per beat, ``p`` pitch, ``l`` label code), ``n`` its notes in all, ``b``
    the steps at which its bars start (when known; ``bn`` their 1-based numbers when they are not all
    the bars from the first: :func:`~remixmusic.novelty.report.note_map_bars`), ``pas`` its passages
    shown, each ``[anchor, start
    beat, end beat, label code, source number, caption, row]`` (``row``: its band's row above the map,
    :func:`band_rows`), and ``src`` the source names by number."""
    order = np.argsort(np.asarray(notes.onset), kind="stable")[:limit]
    onset = np.asarray(notes.onset, np.int64)[order]
    end = int((onset + np.asarray(notes.duration, np.int64)[order]).max()) if len(order) else 0
    kept = [(number, step) for number, step in notes.bar_list() if step <= end]
    bar_steps = [step for _, step in kept]
    numbered = notes.bar_numbers is not None
    label_code = {name: i for i, name in enumerate(NOTE_LABELS)}
    shown: list[list[Any]] = []
    spans: list[tuple[float, float]] = []
    for anchor, p in passages:
        if not p.sources or p.start_beat * STEPS_PER_BEAT > end:
            continue
        source, number = p.sources.split(";")[0], numbers.get(p.sources.split(";")[0], 0)
        where = f"S{number} {source}" if number else source
        caption = f"{p.label} from {where} bars {p.source_bars.split(';')[0]}"
        shown.append(
            [anchor, round(p.start_beat, 3), round(p.end_beat, 3), label_code[p.label], number, caption]
        )
        spans.append((p.start_beat, p.end_beat))
    for entry, row in zip(shown, band_rows(spans), strict=True):
        entry.append(row)
    return {
        "k": k,
        "name": name,
        "spb": STEPS_PER_BEAT,
        "n": len(notes.onset),
        "o": onset.tolist(),
        "d": np.asarray(notes.duration, np.int64)[order].tolist(),
        "p": np.asarray(notes.pitch, np.int64)[order].tolist(),
        "l": np.asarray(notes.label, np.int64)[order].tolist(),
        "b": bar_steps,
        **({"bn": [number for number, _ in kept]} if numbered else {}),
        "pas": shown,
        "src": [s for s, _ in sorted(numbers.items(), key=lambda item: item[1])],
    }


def edit_marks(p: PassageRecord) -> tuple[list[list[Any]], list[list[Any]]]:
    """Where a varied passage's edits (``kind@position``) fall: ``[note, kind]`` per edit, ``note`` the
    position among the query passage's notes (``change``, ``insertion``, ``passing``, ``ornament``: the
    script gives the query line position, from ``start_note``) or among the source passage's notes
    (``deletion``: ``r`` and the source position)."""
    query: list[list[Any]] = []
    source: list[list[Any]] = []
    for item in p.edits.split(";") if p.edits else []:
        kind, _, where = item.partition("@")
        try:
            if where.startswith("r"):
                source.append([int(where[1:]), kind])
            else:
                query.append([int(where) - p.start_note, kind])
        except ValueError:
            continue
    return [m for m in query if m[0] >= 0], [m for m in source if m[0] >= 0]


def parse_source_notes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``onset:pitch;...`` (``source_notes``) as onsets in beats and MIDI pitches."""
    pairs = [item.split(":") for item in text.split(";") if item]
    onset = np.asarray([float(o) for o, _ in pairs], np.float64)
    pitch = np.asarray([int(q) for _, q in pairs], np.int64)
    return onset, pitch


def parse_texture(text: str) -> list[tuple[float, float, int]]:
    """``onset:duration:pitch;...`` (``source_texture``) as ``(onset, duration, pitch)``, beats."""
    out = []
    for item in text.split(";"):
        if item:
            o, d, q = item.split(":")
            out.append((float(o), float(d), int(q)))
    return out


def parse_bar_starts(text: str) -> list[tuple[int, float]]:
    """``bar:beat;...`` (``source_bar_starts``) as ``(bar, beat)``."""
    out = []
    for item in text.split(";"):
        if item:
            b, o = item.split(":")
            out.append((int(b), float(o)))
    return out


class Timeline:
    """A piece's notes in onset order (beats), to find the notes sounding in a passage's span without a
    pass over the whole piece for each passage."""

    def __init__(self, notes: NoteMap) -> None:
        on = np.asarray(notes.onset, np.float64) / STEPS_PER_BEAT
        dur = np.asarray(notes.duration, np.float64) / STEPS_PER_BEAT
        self.index = np.argsort(on, kind="stable")
        self.on, self.off = on[self.index], (on + dur)[self.index]
        self.pitch = np.asarray(notes.pitch, np.int64)[self.index]
        self.longest = float(dur.max()) if len(dur) else 0.0
        kept = notes.bar_list()
        self.bars = np.array([step for _, step in kept], np.float64) / STEPS_PER_BEAT
        self.bar_numbers = [number for number, _ in kept]

    def context(
        self, p: PassageRecord, start: float, limit: int
    ) -> tuple[list[list[float]], list[list[float]]]:
        """The piece's other notes sounding in ``p``'s span (``[onset, duration, pitch]``, beats from
        ``start``, cut to the span; at most ``limit``, by onset then pitch) and its bars there (``[bar,
        beat from start]``, the bar the passage begins in first)."""
        end = max(p.end_beat, start)
        lo = int(np.searchsorted(self.on, start - self.longest, side="left"))
        hi = int(np.searchsorted(self.on, end, side="left"))
        at = np.arange(lo, hi)
        at = at[(self.off[at] > start) & ~np.isin(self.index[at], p.notes)]
        at = at[np.lexsort((self.pitch[at], self.on[at]))][:limit]
        texture = [
            [round(max(o, start) - start, 3), round(min(f, end) - max(o, start), 3), q]
            for o, f, q in zip(
                self.on[at].tolist(), self.off[at].tolist(), self.pitch[at].tolist(), strict=True
            )
        ]
        first = max(int(np.searchsorted(self.bars, start + 1e-9, side="right")) - 1, 0)
        last = int(np.searchsorted(self.bars, end, side="left"))
        bars = [[self.bar_numbers[k], round(float(self.bars[k]) - start, 3)] for k in range(first, last)]
        return texture, bars


def pair_data(
    p: PassageRecord,
    notes: NoteMap | None,
    limit: int = PAIR_NOTE_LIMIT,
    texture_limit: int = PAIR_TEXTURE_LIMIT,
    timeline: Timeline | None = None,
) -> dict[str, Any]:
    """A passage beside its source for the page: ``q`` the query passage's notes and ``s`` the first
    source's, each ``[onset, duration, pitch]`` in beats from the passage's start (query notes carry
    their label code too), at most ``limit`` per side; ``qt`` and ``st`` the other voices sounding in each
    span (``[onset, duration, pitch]``, at most ``texture_limit`` per side: the query piece's other notes,
    the source piece's other indexed lines); ``qb`` and ``sb`` their bars, ``[bar, beat]`` (the bar each
    begins in first, so its beat may be negative); ``t`` the transposition (semitones, query minus
    source) and ``ts`` the time scale (query duration over source duration); ``lab`` the passage's own
    label code (the drawing's colour, whatever the labels its notes carry); ``eq``/``es`` its edits
    (:func:`edit_marks`) as ``[note, kind]`` on each side. ``timeline``: the query
    piece's :class:`Timeline`, made once for all its passages (made here when not given)."""
    q: list[list[float]] = []
    qt: list[list[float]] = []
    qb: list[list[float]] = []
    if notes is not None:
        idx = p.notes[:limit]
        idx = idx[idx < len(notes.onset)]
        on = np.asarray(notes.onset, np.float64)[idx] / STEPS_PER_BEAT
        dur = np.asarray(notes.duration, np.float64)[idx] / STEPS_PER_BEAT
        start = float(on.min()) if len(on) else 0.0
        pitch, label = np.asarray(notes.pitch)[idx].tolist(), np.asarray(notes.label)[idx].tolist()
        q = [
            [round(o - start, 3), round(d, 3), int(x), int(c)]
            for o, d, x, c in zip(on.tolist(), dur.tolist(), pitch, label, strict=True)
        ]
        qt, qb = (timeline or Timeline(notes)).context(p, start, texture_limit)
    s: list[list[float]] = []
    st: list[list[float]] = []
    sb: list[list[float]] = []
    if p.source_notes:
        on, pitch = parse_source_notes(p.source_notes)
        scale = p.time_scale if p.time_scale and not math.isnan(p.time_scale) else 1.0
        end = p.source_end_beat
        if math.isnan(end):
            end = float(on[-1]) + (q[-1][1] / scale if q else 1.0)
        dur = np.diff(np.append(on, max(end, float(on[-1]) + 0.25)))
        dur = np.where(dur > 0, dur, 0.25)  # notes of a line never overlap; a rest is held over
        first = float(on[0])
        s = [
            [round(o - first, 3), round(d, 3), int(x)]
            for o, d, x in zip(on[:limit].tolist(), dur[:limit].tolist(), pitch[:limit].tolist(), strict=True)
        ]
        st = [[round(o - first, 3), d, x] for o, d, x in parse_texture(p.source_texture)[:texture_limit]]
        sb = [[b, round(o - first, 3)] for b, o in parse_bar_starts(p.source_bar_starts)]
    marks_q, marks_s = edit_marks(p)
    return {
        "lab": NOTE_LABELS.index(p.label) if p.label in NOTE_LABELS else -1,
        "eq": [m for m in marks_q if m[0] < len(q)],
        "es": [m for m in marks_s if m[0] < len(s)],
        "q": q,
        "s": s,
        "qt": qt,
        "st": st,
        "qb": qb,
        "sb": sb,
        "t": int(p.transposition),
        "ts": p.time_scale if not math.isnan(p.time_scale) else 1.0,
    }
