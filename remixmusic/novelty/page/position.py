"""Where a passage and its edits sit in their bars, for the passage views of report.html.

Matching compares intervals and the rhythm of onsets, not where the notes fall in the bar or the meter,
so a passage that starts on a downbeat here may start on beat 3 in its source: :func:`metric_text` says
where the first note falls in its bar on each side (the query's bars from the piece, the source's from
``source_bar_starts``, each in its own beats). :func:`edit_list` names each edit of a varied copy by bar,
beat and pitch: the query and source notes are aligned along the edit script (an added note has no
source note, a left-out source note no query note, a changed note one of each).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.novelty.page.music import parse_bar_starts, parse_source_notes
from remixmusic.novelty.records import PassageRecord

if TYPE_CHECKING:
    from remixmusic.novelty.report import NoteMap

PITCH_NAMES = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
"""Pitch classes by name, as a musician spells them without a key."""

_FRACTIONS = {0.25: "¼", 0.5: "½", 0.75: "¾"}


def pitch_name(pitch: int) -> str:
    """A MIDI pitch by name and octave: 60 -> "C4"."""
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


def beat_words(offset: float) -> str:
    """An offset in beats from the bar line as the beat it falls on: 0 -> "1", 2.5 -> "3½"."""
    whole = math.floor(offset + 1e-6)
    rest = round(offset - whole, 3)
    fraction = _FRACTIONS.get(rest, f"{rest:g}"[1:] if rest else "")
    return f"{whole + 1}{fraction}"


def place(beat: float, starts: Sequence[tuple[int, float]]) -> tuple[int, float] | None:
    """The bar (number as given) that ``beat`` falls in and its offset from that bar's start, from
    ``starts`` ``(bar, start beat)``; ``None`` before the first bar known."""
    best = None
    for bar, start in starts:
        if start <= beat + 1e-6 and (best is None or start >= best[1]):
            best = (bar, start)
    return None if best is None else (best[0], beat - best[1])


def query_bars(notes: NoteMap | None) -> list[tuple[int, float]]:
    """The query piece's bars, ``(1-based bar, start beat)``."""
    if notes is None:
        return []
    return [(number, step / STEPS_PER_BEAT) for number, step in notes.bar_list()]


def source_bars(p: PassageRecord) -> list[tuple[int, float]]:
    """The first source's bars, ``(1-based bar, start beat)``, from ``source_bar_starts`` (each bar at its
    earliest note). An upbeat bar 1 (``source_pickup``) is placed one full bar before bar 2, as its meter
    has it (its earliest note is the upbeat, not its bar line), or left out when bar 3 is not known."""
    bars = parse_bar_starts(p.source_bar_starts) if p.source_bar_starts else []
    if not p.source_pickup:
        return bars
    starts = dict(bars)
    bars = [(b, s) for b, s in bars if b != 1]
    if 1 in starts and 2 in starts and 3 in starts:
        bars.insert(0, (1, starts[2] - (starts[3] - starts[2])))
    return bars


def metric_positions(p: PassageRecord, notes: NoteMap | None) -> tuple[float, float] | None:
    """The offsets from their bar lines (beats) of the passage's first note here and in its first
    source, ``None`` where either bar is unknown."""
    here = place(p.start_beat, query_bars(notes))
    there = place(p.source_start_beat, source_bars(p))
    if here is None or there is None or math.isnan(p.source_start_beat):
        return None
    return here[1], there[1]


def metric_text(p: PassageRecord, notes: NoteMap | None) -> str:
    """Where the passage starts in its bar, here and in the source: "starts on beat 1 here, beat 3 in
    the source" (empty where a bar is unknown)."""
    at = metric_positions(p, notes)
    if at is None:
        return ""
    here, there = beat_words(at[0]), beat_words(at[1])
    if here == there:
        return f"starts on beat {here} here and in the source"
    return f"starts on beat {here} here, beat {there} in the source (shifted in the bar)"


def edit_list(p: PassageRecord, notes: NoteMap | None) -> list[str]:
    """Each edit of a varied passage in words, by bar and beat and pitch: "bar 6, beat 3½: G4 in the
    source, C5 here" (with the source pitch moved into this passage's key when it is transposed),
    "bar 7, beat 1: E4 added", "source bar 9, beat 2: D4 left out here". Empty without edits or notes."""
    if not p.edits or notes is None or not p.source_notes:
        return []
    kinds: dict[int, str] = {}
    deleted: set[int] = set()
    for item in p.edits.split(";"):
        kind, _, where = item.partition("@")
        try:
            if where.startswith("r"):
                deleted.add(int(where[1:]))
            else:
                kinds[int(where) - p.start_note] = kind
        except ValueError:
            continue
    idx = p.notes
    idx = idx[idx < len(notes.onset)]
    q_on = (np.asarray(notes.onset, np.float64)[idx] / STEPS_PER_BEAT).tolist()
    q_pitch = np.asarray(notes.pitch, np.int64)[idx].tolist()
    s_on, s_pitch = parse_source_notes(p.source_notes)
    bars_here, bars_there = query_bars(notes), source_bars(p)
    shift = p.transposition or 0

    def at(beat: float, bars: Sequence[tuple[int, float]], prefix: str = "") -> str:
        where = place(beat, bars)
        return (
            f"{prefix}bar {where[0]}, beat {beat_words(where[1])}" if where else f"{prefix}beat {beat + 1:g}"
        )

    scale = p.time_scale if p.time_scale and math.isfinite(p.time_scale) and p.time_scale > 0 else 1.0

    def when(si: int) -> float:
        """Where source note ``si`` falls in the query's beats (infinity past the source's last note)."""
        if si >= len(s_on) or not len(q_on):
            return math.inf
        return q_on[0] + (float(s_on[si]) - float(s_on[0])) * scale

    out: list[str] = []
    qi = si = 0
    while qi < len(q_on) or si < len(s_on):
        if si < len(s_on) and si in deleted:
            out.append(
                f"{at(float(s_on[si]), bars_there, 'source ')}: {pitch_name(int(s_pitch[si]))} left out here"
            )
            si += 1
            continue
        if qi >= len(q_on):
            break
        edit = kinds.get(qi)
        if edit is not None and edit != "change":
            # An ornament is one edit of several notes: those before the query note nearest the next
            # source note's time (which is that source note's).
            end = qi + 1
            if edit == "ornament":
                target = when(si)
                while (
                    end + 1 < len(q_on)
                    and end not in kinds
                    and abs(q_on[end + 1] - target) < abs(q_on[end] - target)
                ):
                    end += 1
            added = ", ".join(pitch_name(q_pitch[k]) for k in range(qi, end))
            out.append(f"{at(q_on[qi], bars_here)}: {added} added")
            qi = end
            continue
        if edit == "change" and si < len(s_on):
            before = int(s_pitch[si])
            moved = f" ({pitch_name(before + shift)} in this passage's key)" if shift else ""
            if before + shift == q_pitch[qi]:
                out.append(
                    f"{at(q_on[qi], bars_here)}: {pitch_name(q_pitch[qi])} as in the source, moved in time"
                )
            else:
                out.append(
                    f"{at(q_on[qi], bars_here)}: {pitch_name(before)} in the source{moved}, "
                    f"{pitch_name(q_pitch[qi])} here"
                )
        qi += 1
        si += 1
    return [html.escape(x) for x in out]
