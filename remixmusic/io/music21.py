"""music21 scores -> :class:`~remixmusic.music.notes.Piece`: parts become tracks, meters and tempos carried over.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from remixmusic.io.midi import normalize_notes
from remixmusic.music.notes import (
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    STEPS_PER_BEAT,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Piece,
    Track,
)

DEFAULT_VELOCITY = 80


TICKS_PER_BEAT = 480


def score_to_piece(score: Any, source: str | None = None, title: str | None = None) -> Piece:
    """Convert a music21 ``Score`` (or a single ``Part``) to a :class:`Piece` (see the module docstring).

    Ties are merged *in place* (copying a score costs more than converting it): pass a copy if you
    still need the tied notation.
    """
    from music21 import chord, harmony, key, meter, note, stream, tempo

    stripped = score.stripTies(inPlace=True) or score
    parts = list(stripped.parts) if isinstance(stripped, stream.Score) else [stripped]
    parts = [p for p in parts if p.flatten().notes] or parts[:1]
    if not parts:
        raise ValueError("score has no parts")
    pad, meters = _meter_events(parts[0], meter, stream)

    def step(offset: float | Fraction) -> int:
        return round((float(offset) + (pad if offset > 0 else 0.0)) * STEPS_PER_BEAT)

    tracks: list[Track] = []
    rows: list[tuple[int, int, int, int, int, int, bool, int]] = []
    grace = 0
    for index, part in enumerate(parts):
        instrument = part.getInstrument(returnDefault=True)  # typed Optional; never None with the default
        program = (instrument.midiProgram if instrument is not None else None) or 0
        name = part.partName or (instrument.instrumentName if instrument is not None else None) or ""
        tracks.append(Track(name=name, program=int(program)))
        for element in part.flatten().notes:
            if isinstance(element, harmony.Harmony) or not isinstance(element, (note.Note, chord.Chord)):
                continue  # chord symbols are annotations; unpitched percussion has no pitch
            if element.duration.isGrace:
                grace += len(element.pitches)
                continue
            start = float(element.offset) + pad
            onset = round(start * STEPS_PER_BEAT)
            half = round(start * 2 * STEPS_PER_BEAT)  # a 32nd's half step, as the MIDI reader keeps it
            half = half - 2 * onset if abs(start * 2 * STEPS_PER_BEAT - half) < 1e-6 else 0
            end = round((start + float(element.quarterLength)) * STEPS_PER_BEAT)
            velocity = element.volume.velocity or DEFAULT_VELOCITY
            for pitch in element.pitches:
                if not 0 <= pitch.midi <= 127:
                    raise ValueError(f"pitch {pitch.nameWithOctave} is outside the MIDI range")
                rows.append(
                    (onset, max(end - onset, 1), pitch.midi, int(velocity), index, int(program), False, half)
                )
    if not rows:
        raise ValueError("no notes")
    notes = normalize_notes(np.array(rows, dtype=NOTE_DTYPE))

    flat = parts[0].flatten()
    keys: dict[int, int] = {}
    for signature in flat.getElementsByClass(key.KeySignature):
        mode = getattr(signature, "mode", None)
        if isinstance(signature, key.Key) and mode in ("major", "minor"):
            keys[step(signature.offset)] = signature.tonic.pitchClass + (12 if mode == "minor" else 0)
        else:
            keys[step(signature.offset)] = (7 * signature.sharps) % 12
    tempos: dict[int, float] = {}
    for mark in flat.getElementsByClass(tempo.MetronomeMark):
        qpm = mark.getQuarterBPM()
        if qpm:
            tempos[step(mark.offset)] = float(qpm)
    return Piece(
        notes=notes,
        tracks=tracks,
        time_signatures=np.array([(at, *sig) for at, sig in meters.items()], TIME_SIGNATURE_DTYPE),
        tempos=np.array(list(tempos.items()), dtype=TEMPO_DTYPE),
        key_signatures=np.array(list(keys.items()), dtype=KEY_SIGNATURE_DTYPE),
        source=source,
        metadata={"title": title, "grace_notes_dropped": grace},
    )


def _meter_events(part: Any, meter: Any, stream: Any) -> tuple[float, dict[int, tuple[int, int]]]:
    """Pickup padding (quarter lengths) and the meter map {step: (numerator, denominator)} of a part.

    Follows the measures. Consecutive short measures that add up to at most one bar of the notated meter
    are one bar (a bar split by a repeat sign, 2 + 1 beats in 3/4); a bar of the notated meter's length
    keeps that meter; any other bar (except a first-bar pickup, which is padded instead) gets a meter
    of its actual length.
    """
    measures = [m for m in part.getElementsByClass(stream.Measure) if m.duration.quarterLength > 0]
    if not measures:
        signatures = part.flatten().getElementsByClass(meter.TimeSignature)
        return 0.0, {
            round(float(ts.offset) * STEPS_PER_BEAT): (ts.numerator, ts.denominator) for ts in signatures
        }
    bars: list[list[Any]] = []  # [offset, length, time signature in force or None]
    current = None
    for measure in measures:
        if measure.timeSignature is not None:
            current = measure.timeSignature
        length = float(measure.duration.quarterLength)
        nominal = float(current.barDuration.quarterLength) if current is not None else None
        if bars and nominal and bars[-1][2] is current:
            short, fits = bars[-1][1] < nominal - 1e-9, bars[-1][1] + length <= nominal + 1e-9
        else:
            short = fits = False
        if short and fits:
            bars[-1][1] += length
        else:
            bars.append([float(measure.offset), length, current])
    first_nominal = float(bars[0][2].barDuration.quarterLength) if bars[0][2] is not None else None
    pad = first_nominal - bars[0][1] if first_nominal and bars[0][1] < first_nominal else 0.0
    events: dict[int, tuple[int, int]] = {}
    previous: tuple[int, int] | None = None
    for index, (offset, length, signature_in_force) in enumerate(bars):
        nominal = (
            float(signature_in_force.barDuration.quarterLength) if signature_in_force is not None else None
        )
        if nominal is not None and (abs(length - nominal) < 1e-9 or (index == 0 and pad)):
            signature: tuple[int, int] | None = (
                int(signature_in_force.numerator),
                int(signature_in_force.denominator),
            )
        else:
            denominator = int(signature_in_force.denominator) if signature_in_force is not None else 4
            signature = _meter_of_length(length, denominator)
        if signature is None or signature == previous:
            continue
        events[round((offset + (pad if index else 0.0)) * STEPS_PER_BEAT)] = signature
        previous = signature
    return pad, events


def _meter_of_length(quarter_length: float, preferred_denominator: int) -> tuple[int, int] | None:
    """The time signature whose bar lasts ``quarter_length`` beats, preferring the current denominator."""
    for denominator in (preferred_denominator, 4, 8, 16, 32):
        numerator = quarter_length * denominator / 4
        if abs(numerator - round(numerator)) < 1e-9 and 1 <= round(numerator) <= 255:
            return round(numerator), denominator
    return None
