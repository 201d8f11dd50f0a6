"""The note model: a piece of music as numpy structured arrays on a fixed beat grid.

Time is measured in integer *steps* of a grid with ``STEPS_PER_BEAT`` steps per beat (a beat being a
quarter note, as in MIDI). Twelve steps per beat represent sixteenths (3 steps), eighth-note triplets
(4 steps) and sixteenth triplets (2 steps) exactly; a score's 32nd notes (1.5 steps), and 16ths played
at half or one and a half times their speed, lie half a step off it: their onset is rounded to a step
and ``half`` says which way (:func:`half_onsets`), so inter-onset ratios stay exact where they matter
(time-scaled copies, :mod:`remixmusic.novelty.symbols`). Anything finer (performance timing) is rounded
to the nearest step when a file is read. Every hot path works on whole arrays, never on per-note Python
objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

STEPS_PER_BEAT = 12
"""Grid resolution in steps per quarter note (see the module docstring for why 12)."""


NOTE_DTYPE = np.dtype(
    [
        ("onset", "<i4"),  # steps from the start of the piece
        ("duration", "<i4"),  # steps, always >= 1
        ("pitch", "<i2"),  # MIDI pitch 0..127
        ("velocity", "<i2"),  # MIDI velocity 1..127
        ("track", "<i2"),  # index into Piece.tracks
        ("program", "<i2"),  # General MIDI program 0..127 (of the note's track)
        ("is_drum", "?"),  # channel-10 percussion: pitch is a drum sound, not a pitch
        ("half", "i1"),  # -1/+1: the onset lies half a step before/after ``onset`` (a score's 32nds); 0
    ]
)


TIME_SIGNATURE_DTYPE = np.dtype([("onset", "<i4"), ("numerator", "<i2"), ("denominator", "<i2")])


TEMPO_DTYPE = np.dtype([("onset", "<i4"), ("qpm", "<f8")])


# key: 0-11 major keys on C..B, 12-23 minor keys on C..B (the pretty_midi/miditoolkit key numbering).
KEY_SIGNATURE_DTYPE = np.dtype([("onset", "<i4"), ("key", "<i2")])


DEFAULT_QPM = 120.0


def empty_notes(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=NOTE_DTYPE)


def half_onsets(notes: np.ndarray) -> np.ndarray:
    """Onsets of ``notes`` in half steps (``2 * onset + half``), int64: exact for a score's 32nd notes
    and for 16ths at half or one and a half times their speed, which whole steps round."""
    return 2 * notes["onset"].astype(np.int64) + notes["half"]


def sort_notes(notes: np.ndarray) -> np.ndarray:
    """Canonical note order: onset, then track, then pitch, then duration (longest first)."""
    order = np.lexsort((-notes["duration"], notes["pitch"], notes["track"], notes["onset"]))
    return notes[order]


@dataclass(frozen=True)
class Track:
    """What a note's ``track`` index points to."""

    name: str = ""
    program: int = 0
    is_drum: bool = False


@dataclass
class Piece:
    """A piece of music: notes plus the meter, tempo and key maps, all on the step grid.

    ``notes`` is a ``NOTE_DTYPE`` array kept in canonical order (see :func:`sort_notes`). Meter, tempo
    and key maps are sorted by onset; an empty meter map means 4/4 and an empty tempo map 120 qpm.
    """

    notes: np.ndarray = field(default_factory=empty_notes)
    tracks: list[Track] = field(default_factory=lambda: [Track()])
    time_signatures: np.ndarray = field(default_factory=lambda: np.zeros(0, TIME_SIGNATURE_DTYPE))
    tempos: np.ndarray = field(default_factory=lambda: np.zeros(0, TEMPO_DTYPE))
    key_signatures: np.ndarray = field(default_factory=lambda: np.zeros(0, KEY_SIGNATURE_DTYPE))
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.notes = sort_notes(np.asarray(self.notes, dtype=NOTE_DTYPE))
        self.time_signatures = _by_onset(np.asarray(self.time_signatures, TIME_SIGNATURE_DTYPE))
        self.tempos = _by_onset(np.asarray(self.tempos, TEMPO_DTYPE))
        self.key_signatures = _by_onset(np.asarray(self.key_signatures, KEY_SIGNATURE_DTYPE))

    def __len__(self) -> int:
        return len(self.notes)

    def __repr__(self) -> str:
        name = self.source or self.metadata.get("title") or "untitled"
        return f"Piece({name!r}, {len(self.notes)} notes, {len(self.tracks)} tracks, {self.n_bars} bars)"

    # -- time -----------------------------------------------------------------------------------
    @property
    def end(self) -> int:
        """End of the last sounding note, in steps."""
        return int((self.notes["onset"] + self.notes["duration"]).max()) if len(self.notes) else 0

    def meter_map(self) -> np.ndarray:
        """Time-signature changes with a 4/4 at step 0 when the piece does not say otherwise."""
        ts = self.time_signatures
        if len(ts) == 0 or ts["onset"][0] > 0:
            ts = np.concatenate([np.array([(0, 4, 4)], TIME_SIGNATURE_DTYPE), ts])
        # A later change at the same onset wins.
        _, last = np.unique(ts["onset"][::-1], return_index=True)
        return ts[len(ts) - 1 - last]

    def tempo_map(self) -> np.ndarray:
        """Tempo changes, 120 qpm at step 0 unless stated, a tempo restated unchanged left out."""
        tempos = self.tempos
        if len(tempos) == 0 or tempos["onset"][0] > 0:
            tempos = np.concatenate([np.array([(0, DEFAULT_QPM)], TEMPO_DTYPE), tempos])
        changed = np.concatenate([[True], ~np.isclose(tempos["qpm"][1:], tempos["qpm"][:-1], rtol=1e-4)])
        return tempos[changed]

    def bar_starts(self, until: int | None = None) -> np.ndarray:
        """Step at which each bar starts, covering the piece up to ``until`` (default: its end)."""
        until = self.end if until is None else until
        ts = self.meter_map()
        starts: list[np.ndarray] = []
        for i, (onset, num, den) in enumerate(ts):
            bar_len = bar_length(int(num), int(den))
            stop = int(ts["onset"][i + 1]) if i + 1 < len(ts) else max(until, int(onset) + 1)
            starts.append(np.arange(int(onset), stop, bar_len, dtype=np.int64))
        out = np.concatenate(starts)
        return out if len(out) else np.zeros(1, np.int64)

    @property
    def n_bars(self) -> int:
        """``len(self.bar_starts())``, counted per meter segment (no array of bar starts)."""
        onsets, first_bar, lengths = self._meter_segments()
        last = max(self.end, int(onsets[-1]) + 1)
        return int(first_bar[-1] + -(-(last - int(onsets[-1])) // int(lengths[-1])))

    def _meter_segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per meter segment: its onset, its first bar's index and its bar length (int64 arrays)."""
        ts = self.meter_map()
        onsets = ts["onset"].astype(np.int64)
        lengths = np.array(
            [bar_length(int(n), int(d)) for n, d in ts[["numerator", "denominator"]]], np.int64
        )
        # Bars that start inside each segment but the last (a meter change may cut its last bar short).
        bars_in = -(-np.diff(onsets) // lengths[:-1])
        return onsets, np.concatenate([[0], np.cumsum(bars_in)]), lengths

    def bar_step_of(self, bars: np.ndarray) -> np.ndarray:
        """The step where each zero-based bar starts (the inverse of :meth:`bar_of` on bar starts), int64;
        bars past the piece's end continue its last meter."""
        bars = np.asarray(bars, dtype=np.int64)
        onsets, first_bar, lengths = self._meter_segments()
        segment = np.maximum(np.searchsorted(first_bar, bars, side="right") - 1, 0)
        return onsets[segment] + (bars - first_bar[segment]) * lengths[segment]

    def longest_bar(self) -> int:
        """The longest bar in steps, over the bars of :meth:`bar_starts` (a meter change may cut a bar
        short; the last bar runs to the piece's end, at least one step)."""
        onsets, first_bar, lengths = self._meter_segments()
        n_bars = self.n_bars
        count = np.append(np.diff(first_bar), n_bars - first_bar[-1])
        ends = np.append(onsets[1:], max(self.end, int(self.bar_step_of(np.array([n_bars - 1]))[0]) + 1))
        last_start = onsets + (count - 1) * lengths
        longest = np.maximum(np.where(count >= 2, lengths, 0), ends - last_start)
        return int(longest[count >= 1].max())

    def bar_of(self, steps: np.ndarray | int) -> np.ndarray:
        """Zero-based bar index of each step position.

        Computed per meter segment (bars before it, plus whole bars into it), so the cost follows the
        number of meter changes, not the position: a stray note far out costs nothing.
        """
        steps = np.asarray(steps, dtype=np.int64)
        onsets, first_bar, lengths = self._meter_segments()
        segment = np.maximum(np.searchsorted(onsets, steps, side="right") - 1, 0)
        return first_bar[segment] + (steps - onsets[segment]) // lengths[segment]

    def seconds(self, steps: np.ndarray | int) -> np.ndarray:
        """Wall-clock seconds of step positions under the tempo map."""
        steps = np.asarray(steps, dtype=np.float64)
        tempos = self.tempo_map()
        onsets = tempos["onset"].astype(np.float64)
        sec_per_step = 60.0 / (tempos["qpm"] * STEPS_PER_BEAT)
        seg_start = np.concatenate([[0.0], np.cumsum(np.diff(onsets) * sec_per_step[:-1])])
        i = np.searchsorted(onsets, steps, side="right") - 1
        return seg_start[i] + (steps - onsets[i]) * sec_per_step[i]

    @property
    def duration_seconds(self) -> float:
        return float(self.seconds(self.end))

    # -- transformations --------------------------------------------------------------------------
    def with_notes(self, notes: np.ndarray) -> Piece:
        """The same piece (maps, tracks, metadata) with other notes."""
        return replace(self, notes=notes, metadata=dict(self.metadata))

    def drop_empty_tracks(self) -> Piece:
        """Tracks that hold no notes removed and note track indices renumbered (MIDI files keep none)."""
        used = np.unique(self.notes["track"])
        notes = self.notes.copy()
        notes["track"] = np.searchsorted(used, notes["track"])
        return replace(
            self,
            notes=notes,
            tracks=[self.tracks[i] for i in used] or [Track()],
            metadata=dict(self.metadata),
        )

    def transpose(self, semitones: int) -> Piece:
        """Pitched notes moved by ``semitones``; drums are left alone. Raises if a pitch leaves 0..127."""
        notes = self.notes.copy()
        pitched = ~notes["is_drum"]
        moved = notes["pitch"][pitched] + semitones
        if len(moved) and (moved.min() < 0 or moved.max() > 127):
            raise ValueError(f"transposing by {semitones} leaves the MIDI pitch range")
        notes["pitch"][pitched] = moved
        return self.with_notes(notes)

    def crop(self, start: int, stop: int) -> Piece:
        """Notes with onsets in ``[start, stop)`` (exact: a note half a step before ``start`` is out),
        shifted so ``start`` becomes step 0; maps follow."""
        at = half_onsets(self.notes)
        notes = self.notes[(at >= 2 * start) & (at < 2 * stop)].copy()
        notes["onset"] -= start

        def shift(events: np.ndarray) -> np.ndarray:
            # Keep the event in force at `start` (moved to 0) plus the ones inside the window.
            keep = events["onset"] < stop
            before = np.nonzero(events["onset"] <= start)[0]
            keep &= events["onset"] >= start
            if len(before):
                keep[before[-1]] = True
            out = events[keep].copy()
            out["onset"] = np.maximum(out["onset"] - start, 0)
            return out

        return replace(
            self,
            notes=notes,
            time_signatures=shift(self.meter_map()),
            tempos=shift(self.tempos),
            key_signatures=shift(self.key_signatures),
            metadata=dict(self.metadata),
        )

    def bar_step(self, bar: int) -> int:
        """The step where zero-based ``bar`` starts (bars after the piece's end continue its last meter)."""
        starts = self.bar_starts(self.end + 1)
        extra = bar - len(starts) + 1
        if extra <= 0:
            return int(starts[bar])
        _, numerator, denominator = self.meter_map()[-1]
        return int(starts[-1]) + extra * bar_length(int(numerator), int(denominator))

    def crop_bars(self, first: int, count: int) -> Piece:
        """Bars ``first .. first+count-1`` (zero-based) as a piece of their own."""
        return self.crop(self.bar_step(first), self.bar_step(first + count))


def _by_onset(events: np.ndarray) -> np.ndarray:
    """Events sorted by onset, keeping the given order at equal onsets (so a later restatement wins)."""
    return events[np.argsort(events["onset"], kind="stable")]


def bar_length(numerator: int, denominator: int) -> int:
    """Bar length in steps of a ``numerator/denominator`` meter."""
    return numerator * STEPS_PER_BEAT * 4 // denominator


class MeterDraw:
    """Pieces grouped by their single meter, for drawing chunks of one meter (patchworks): only pieces
    without meter changes count, and only meters shared by at least ``min_pieces`` of them.
    :meth:`draw` picks a meter with probability proportional to its number of pieces.

    ``pieces``: the pieces; ``candidates``: the indices allowed (default all).

    Raises:
        ValueError: no meter is shared by ``min_pieces`` such pieces.
    """

    def __init__(self, pieces: Sequence[Piece], candidates: Iterable[int] | None = None, min_pieces: int = 3):
        groups: dict[tuple[int, int], list[int]] = {}
        for i in range(len(pieces)) if candidates is None else candidates:
            ts = pieces[i].meter_map()
            if len(ts) == 1:
                groups.setdefault((int(ts["numerator"][0]), int(ts["denominator"][0])), []).append(int(i))
        self.groups = {m: ids for m, ids in groups.items() if len(ids) >= min_pieces}
        if not self.groups:
            raise ValueError(f"no meter shared by {min_pieces} pieces without meter changes")
        self.meters = list(self.groups)
        weights = np.array([len(ids) for ids in self.groups.values()], np.float64)
        self.weights = weights / weights.sum()

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        """A meter ``(numerator, denominator)``, weighted by its number of pieces."""
        return self.meters[int(rng.choice(len(self.meters), p=self.weights))]

    def piece(self, meter: tuple[int, int], rng: np.random.Generator) -> int:
        """The index of a piece of ``meter``, uniformly."""
        ids = self.groups[meter]
        return ids[int(rng.integers(len(ids)))]
