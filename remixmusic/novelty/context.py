"""What a passage sits in, for the reader of report.html: the names of its line and of its source's line,
the other voices of the source's bars, and where those bars begin.

**Line names.** A four-voice chorale is read as Soprano, Alto, Tenor and Bass. A piece's line is named
from its track's name when that names a voice (``Soprano``, ``Alto``, ``Tenor``, ``Bass`` and their
Latin, Italian and German forms); a piece of exactly four lines whose tracks do not tell them apart
(one track split into voices, unnamed tracks) and whose mean pitches fall from the first line to the
last is named Soprano to Bass by pitch; any other line by its track's name (with its voice from the
top when the track holds several lines), else ``line N`` (N counted over the piece's lines: by track,
then from the top). A reference piece's lines in the index carry no track names, so a source line is
named by pitch alone: Soprano to Bass when its piece has exactly four lines so ordered, else
``line N``.

**Source texture.** The index holds every line of every reference piece that its line mode reads
(:mod:`remixmusic.music.lines`): with ``voices`` or ``merged-voices`` that is every note, so the other
voices sounding in a source passage can be played with it; with ``melody`` or ``skyline`` it is only
those lines. The index keeps no durations: a note lasts until the next one of its line starts (its
line's last note until the passage's end).

**Source bars.** The index keeps each note's bar but not where the bar begins: a bar is placed at its
earliest note among all the piece's indexed lines (exact wherever some voice starts a note on the
downbeat, as in nearly every bar of a chorale).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from remixmusic.music.lines import BASS_VOICE, Line
from remixmusic.music.notes import STEPS_PER_BEAT, Piece
from remixmusic.novelty.index import Index

SATB = ("Soprano", "Alto", "Tenor", "Bass")
"""The four voices of a chorale, from the top."""

_VOICE_WORDS = {
    **dict.fromkeys(("soprano", "sopran", "cantus", "discantus", "canto"), 0),
    **dict.fromkeys(("alto", "alt", "altus", "contralto"), 1),
    **dict.fromkeys(("tenor", "tenore", "tenorus"), 2),
    **dict.fromkeys(("bass", "basso", "bassus", "baß"), 3),
}

TEXTURE_NOTE_LIMIT = 256
"""Notes of the other voices a passage record keeps at most (``PassageRecord.source_texture``)."""


def voice_of(name: str) -> str | None:
    """The chorale voice a track name names (``"Soprano"``, ``"Basso continuo"`` -> ``"Bass"``), else
    ``None``."""
    words = re.findall(r"[a-zß]+", name.lower())
    return SATB[_VOICE_WORDS[words[0]]] if words and words[0] in _VOICE_WORDS else None


def _by_pitch(means: Sequence[float]) -> list[str] | None:
    """Soprano to Bass for exactly four lines whose mean pitches fall from first to last, else ``None``."""
    if len(means) != 4 or not all(a > b for a, b in pairwise(means)):
        return None
    return list(SATB)


def line_names(piece: Piece, lines: Sequence[Line]) -> list[str]:
    """The name of each of ``lines`` of ``piece`` (see the module docstring)."""
    track_name = [
        piece.tracks[ln.track].name.strip() if 0 <= ln.track < len(piece.tracks) else "" for ln in lines
    ]
    per_track = Counter(ln.track for ln in lines)
    distinct = len(set(track_name)) == len(lines) and all(track_name)
    means = [float(piece.notes["pitch"][ln.notes].mean()) if len(ln.notes) else 0.0 for ln in lines]
    satb = None if distinct and all(voice_of(t) is None for t in track_name) else _by_pitch(means)
    names = []
    for k, (ln, name) in enumerate(zip(lines, track_name, strict=True)):
        where = "the bass" if ln.voice == BASS_VOICE else f"voice {ln.voice + 1} from the top"
        several = f", {where}" if per_track[ln.track] > 1 else ""
        if ln.track < 0:
            names.append("the melody" if ln.voice == 0 else where)
        elif voice_of(name) is not None:
            names.append(f"{voice_of(name)}{several}")
        elif satb is not None:
            names.append(satb[k])
        elif name:
            names.append(f"{name}{several}")
        else:
            names.append(f"line {k + 1}")
    return names


def _piece_lines(index: Index, piece: int) -> np.ndarray:
    """The index's line numbers of reference piece ``piece`` (its lines are contiguous)."""
    lines = np.asarray(index.line_piece)
    return np.arange(int(np.searchsorted(lines, piece)), int(np.searchsorted(lines, piece, side="right")))


def _line_slots(index: Index, line: int) -> np.ndarray:
    """The slots of one index line that hold a note."""
    slots = np.arange(int(index.line_offsets[line]), int(index.line_offsets[line + 1]))
    return slots[np.asarray(index.note[slots]) >= 0]


class SourceContext:
    """Names, texture and bars of the sources of one analysis's passages, from ``index`` (each
    reference piece's lines read once and kept)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._names: dict[int, dict[int, str]] = {}
        self._bars: dict[int, dict[int, int]] = {}

    def line_name(self, slot: int) -> str:
        """The name of the reference line holding ``slot``."""
        index = self.index
        line = int(index.line_of(np.array([slot]))[0])
        piece = int(index.line_piece[line])
        if piece not in self._names:
            lines = _piece_lines(index, piece)
            means = [float(np.asarray(index.pitch[_line_slots(index, int(ln))]).mean()) for ln in lines]
            satb = _by_pitch(means)
            melody = index.lines == "melody"
            self._names[piece] = {
                int(ln): satb[k] if satb else ("the melody" if melody else f"line {k + 1}")
                for k, ln in enumerate(lines)
            }
        return self._names[piece].get(line, "")

    def texture(self, slot: int, start: float, end: float) -> str:
        """The notes of the other lines of ``slot``'s piece sounding in ``[start, end)`` (source beats),
        ``onset:duration:pitch`` (beats, beats, MIDI; ``;``-separated, by onset, at most
        :data:`TEXTURE_NOTE_LIMIT`), cut to the span; a note held into the span starts at ``start``."""
        index = self.index
        own = int(index.line_of(np.array([slot]))[0])
        lo, hi = round(start * STEPS_PER_BEAT), round(end * STEPS_PER_BEAT)
        found: list[tuple[int, int, int]] = []
        for line in _piece_lines(index, int(index.piece[slot])):
            if int(line) == own:
                continue
            slots = _line_slots(index, int(line))
            onset = np.asarray(index.onset[slots]).astype(np.int64)
            off = np.append(onset[1:], max(hi, int(onset[-1]) + 1) if len(onset) else hi)
            keep = (onset < hi) & (off > lo)
            pitch = np.asarray(index.pitch[slots]).astype(np.int64)
            for o, f, q in zip(onset[keep].tolist(), off[keep].tolist(), pitch[keep].tolist(), strict=True):
                found.append((max(o, lo), min(f, hi), q))
        found.sort()
        return ";".join(
            f"{o / STEPS_PER_BEAT:g}:{(f - o) / STEPS_PER_BEAT:g}:{q}"
            for o, f, q in found[:TEXTURE_NOTE_LIMIT]
        )

    def bar_starts(self, slot: int, first_bar: int, last_bar: int) -> str:
        """Where bars ``first_bar .. last_bar`` (zero-based) of ``slot``'s piece begin, ``bar:beat``
        (1-based bar, source beats; ``;``-separated): each at its earliest indexed note."""
        earliest = self._earliest(int(self.index.piece[slot]))
        return ";".join(
            f"{b + 1}:{earliest[b] / STEPS_PER_BEAT:g}"
            for b in range(first_bar, last_bar + 1)
            if b in earliest
        )

    def pickup(self, slot: int) -> bool:
        """Whether ``slot``'s piece opens with an upbeat bar: its first bar, from its earliest note to
        the next bar's, is shorter than its second bar (a short first bar, or a full one whose notes
        start after its downbeat). The index numbers such a bar 1, so its bar N is a printed score's
        measure N - 1."""
        earliest = self._earliest(int(self.index.piece[slot]))
        if not all(b in earliest for b in (0, 1, 2)):
            return False
        return earliest[1] - earliest[0] < earliest[2] - earliest[1]

    def _earliest(self, piece: int) -> dict[int, int]:
        """The earliest indexed onset (steps) of each bar (zero-based) of reference piece ``piece``."""
        index = self.index
        if piece not in self._bars:
            slots = np.concatenate([_line_slots(index, int(ln)) for ln in _piece_lines(index, piece)])
            bar = np.asarray(index.bar[slots]).astype(np.int64)
            onset = np.asarray(index.onset[slots]).astype(np.int64)
            first = np.full(int(bar.max()) + 1 if len(bar) else 0, np.iinfo(np.int64).max)
            np.minimum.at(first, bar, onset)
            held = first < np.iinfo(np.int64).max
            self._bars[piece] = dict(zip(np.flatnonzero(held).tolist(), first[held].tolist(), strict=True))
        return self._bars[piece]
