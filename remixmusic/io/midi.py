"""MIDI input and output: miditoolkit files <-> :class:`~remixmusic.notes.Piece`, folders, and a parse cache.

Reading quantizes explicitly onto the 12-steps-per-beat grid of :mod:`remixmusic.notes`:

* kept: every note's pitch, velocity (clamped to 1..127), track, program and drum flag; onsets rounded to
  the nearest step; time-signature, tempo and key-signature changes (onsets rounded the same way);
* lost: timing finer than a step (performance micro-timing, 32nd notes and shorter), controllers, pitch
  bends, lyrics, markers, and the tempo's effect on *tick* positions (we keep beats, not seconds); meters
  whose bar is not a whole number of steps (e.g. 1/64) or that are malformed are dropped;
* normalized: a note shorter than one step (zero-length notes included) lasts one step; two notes of one
  track with the same onset and pitch become one (the longer); a note overlapping the next note of the
  same pitch in its track is cut at that next onset, since MIDI cannot tell such overlaps apart anyway.

Because of that normalization, ``read_midi(write_midi(piece))`` gives back the same notes for every piece
that was itself read by :func:`read_midi`.

Bad input raises :class:`~remixmusic.errors.MidiError` with the path and a one-line reason. Data bytes out
of range (e.g. velocity 255, seen in real files) are an unambiguous repair: the file is read with such
bytes clipped to 127, a :class:`MidiRepairWarning` is issued and the repair is recorded in
``piece.metadata["repairs"]``.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from pathlib import Path

import miditoolkit
import numpy as np

from remixmusic._util.files import atomic_write
from remixmusic._util.text import first_line
from remixmusic.errors import MidiError
from remixmusic.music.notes import (
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    STEPS_PER_BEAT,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Piece,
    Track,
    sort_notes,
)

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")


class MidiRepairWarning(UserWarning):
    """A MIDI file was read after an unambiguous repair (e.g. clipping a velocity of 255 to 127)."""


def read_midi(path: str | Path) -> Piece:
    """Read one MIDI file into a :class:`Piece` (see the module docstring for what is kept)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise MidiError(path, "is a directory, not a MIDI file") from None
    except OSError as exc:
        raise MidiError(path, exc.strerror or str(exc)) from None
    return midi_bytes_to_piece(data, source=str(path))


def midi_bytes_to_piece(data: bytes, source: str | None = None) -> Piece:
    """Parse MIDI file contents; ``source`` names the file in errors and in the piece."""
    if not data:
        raise MidiError(source, "empty file")
    if not data.startswith(b"MThd"):
        raise MidiError(source, "not a MIDI file (no MThd header)")
    repairs: list[str] = []
    try:
        midi = miditoolkit.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido raises many types for malformed files; all mean "unreadable"
        if "data byte must be in range" not in str(exc):
            raise MidiError(source, f"corrupt MIDI: {_reason(exc)}") from None
        try:
            midi = miditoolkit.MidiFile(file=io.BytesIO(data), clip=True)
        except Exception as exc2:
            raise MidiError(source, f"corrupt MIDI: {_reason(exc2)}") from None
        repairs.append("data bytes above 127 (e.g. velocity 255) clipped to 127")
        warnings.warn(f"{source}: {repairs[-1]}", MidiRepairWarning, stacklevel=2)
    if midi.ticks_per_beat <= 0:
        raise MidiError(source, "SMPTE time division is not supported")
    piece = midi_to_piece(midi, source=source)
    if repairs:
        piece.metadata["repairs"] = repairs
    return piece


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "truncated (unexpected end of file)"
    return first_line(str(exc), type(exc).__name__)


def midi_to_piece(midi: miditoolkit.MidiFile, source: str | None = None) -> Piece:
    """Quantize a parsed :class:`miditoolkit.MidiFile` onto the step grid."""
    scale = STEPS_PER_BEAT / midi.ticks_per_beat

    def steps(ticks: Iterable[int]) -> np.ndarray:
        return np.rint(np.fromiter(ticks, dtype=np.float64) * scale).astype(np.int64)

    tracks: list[Track] = []
    chunks: list[np.ndarray] = []
    for instrument in midi.instruments:
        if not instrument.notes:
            continue
        raw = np.array(
            [(n.start, n.end, n.pitch, n.velocity) for n in instrument.notes], dtype=np.int64
        ).reshape(-1, 4)
        chunk = np.zeros(len(raw), NOTE_DTYPE)
        onset = steps(raw[:, 0])
        chunk["onset"] = onset
        chunk["duration"] = np.maximum(steps(raw[:, 1]) - onset, 1)
        chunk["pitch"] = np.clip(raw[:, 2], 0, 127)
        chunk["velocity"] = np.clip(raw[:, 3], 1, 127)
        chunk["track"] = len(tracks)
        chunk["program"] = instrument.program
        chunk["is_drum"] = instrument.is_drum
        tracks.append(
            Track(
                name=instrument.name or "", program=int(instrument.program), is_drum=bool(instrument.is_drum)
            )
        )
        chunks.append(chunk)
    notes = normalize_notes(np.concatenate(chunks) if chunks else np.zeros(0, NOTE_DTYPE))

    time_signatures = np.zeros(len(midi.time_signature_changes), TIME_SIGNATURE_DTYPE)
    time_signatures["onset"] = steps(ts.time for ts in midi.time_signature_changes)
    time_signatures["numerator"] = [ts.numerator for ts in midi.time_signature_changes]
    time_signatures["denominator"] = [ts.denominator for ts in midi.time_signature_changes]
    bar_steps = time_signatures["numerator"].astype(np.int64) * 4 * STEPS_PER_BEAT
    valid = (
        (time_signatures["numerator"] > 0)
        & _is_power_of_two(time_signatures["denominator"])
        & (bar_steps % np.maximum(time_signatures["denominator"], 1) == 0)
    )

    tempos = np.zeros(len(midi.tempo_changes), TEMPO_DTYPE)
    tempos["onset"] = steps(t.time for t in midi.tempo_changes)
    tempos["qpm"] = [t.tempo for t in midi.tempo_changes]

    keys = np.zeros(len(midi.key_signature_changes), KEY_SIGNATURE_DTYPE)
    keys["onset"] = steps(k.time for k in midi.key_signature_changes)
    keys["key"] = [k.key_number for k in midi.key_signature_changes]

    return Piece(
        notes=notes,
        tracks=tracks or [Track()],
        time_signatures=_last_per_onset(time_signatures[valid]),
        tempos=_last_per_onset(tempos[tempos["qpm"] > 0]),
        key_signatures=_last_per_onset(keys),
        source=source,
        metadata={"ticks_per_beat": int(midi.ticks_per_beat)},
    )


def _is_power_of_two(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.int64)
    return (values > 0) & ((values & (values - 1)) == 0)


def _last_per_onset(events: np.ndarray) -> np.ndarray:
    """Keep the last event of each onset (a MIDI file may state a meter twice at one tick)."""
    if len(events) < 2:
        return events
    events = events[np.argsort(events["onset"], kind="stable")]
    last = np.append(events["onset"][1:] != events["onset"][:-1], True)
    return events[last]


def normalize_notes(notes: np.ndarray) -> np.ndarray:
    """Canonical notes: sorted, same-onset same-pitch duplicates merged, same-pitch overlaps cut.

    This is what a MIDI file can represent unambiguously on one track (see the module docstring).
    """
    notes = sort_notes(notes)
    if len(notes) < 2:
        return notes
    # Group by (track, pitch, onset) so duplicates and overlaps are neighbours; longest first on ties.
    order = np.lexsort((-notes["duration"], notes["onset"], notes["pitch"], notes["track"]))
    by_voice = notes[order]
    same_voice = (by_voice["track"][1:] == by_voice["track"][:-1]) & (
        by_voice["pitch"][1:] == by_voice["pitch"][:-1]
    )
    duplicate = same_voice & (by_voice["onset"][1:] == by_voice["onset"][:-1])
    by_voice = by_voice[np.concatenate([[True], ~duplicate])]
    same_voice = (by_voice["track"][1:] == by_voice["track"][:-1]) & (
        by_voice["pitch"][1:] == by_voice["pitch"][:-1]
    )
    next_onset = by_voice["onset"][1:]
    ends = by_voice["onset"][:-1] + by_voice["duration"][:-1]
    overlap = np.nonzero(same_voice & (ends > next_onset))[0]
    by_voice["duration"][overlap] = next_onset[overlap] - by_voice["onset"][overlap]
    return sort_notes(by_voice)


def piece_to_midi(piece: Piece, ticks_per_beat: int = 480) -> miditoolkit.MidiFile:
    """Build a :class:`miditoolkit.MidiFile`; ``ticks_per_beat`` must be a multiple of the grid."""
    if ticks_per_beat % STEPS_PER_BEAT:
        raise ValueError(f"ticks_per_beat must be a multiple of {STEPS_PER_BEAT}")
    factor = ticks_per_beat // STEPS_PER_BEAT
    midi = miditoolkit.MidiFile(ticks_per_beat=ticks_per_beat)
    notes = piece.notes
    for index, track in enumerate(piece.tracks):
        mine = notes[notes["track"] == index]
        if not len(mine):
            continue
        instrument = miditoolkit.Instrument(
            program=int(track.program), is_drum=bool(track.is_drum), name=track.name
        )
        starts = (mine["onset"].astype(np.int64) * factor).tolist()
        ends = ((mine["onset"].astype(np.int64) + mine["duration"]) * factor).tolist()
        instrument.notes = [
            miditoolkit.Note(velocity=v, pitch=p, start=s, end=e)
            for v, p, s, e in zip(
                mine["velocity"].tolist(), mine["pitch"].tolist(), starts, ends, strict=True
            )
        ]
        midi.instruments.append(instrument)
    midi.time_signature_changes = [
        miditoolkit.TimeSignature(int(num), int(den), int(onset) * factor)
        for onset, num, den in piece.time_signatures
    ]
    midi.tempo_changes = [
        miditoolkit.TempoChange(float(qpm), int(onset) * factor) for onset, qpm in piece.tempos
    ]
    midi.key_signature_changes = [
        miditoolkit.KeySignature(_KEY_NAMES[int(key)], int(onset) * factor)
        for onset, key in piece.key_signatures
    ]
    midi.max_tick = int(piece.end) * factor
    return midi


_KEY_NAMES = [
    *("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"),
    *("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm"),
]


def piece_to_bytes(piece: Piece, ticks_per_beat: int = 480) -> bytes:
    buffer = io.BytesIO()
    piece_to_midi(piece, ticks_per_beat).dump(file=buffer)
    return buffer.getvalue()


def write_midi(piece: Piece, path: str | Path, ticks_per_beat: int = 480) -> Path:
    """Write ``piece`` as a standard MIDI file, atomically (temporary name, then rename)."""
    path = Path(path)
    data = piece_to_bytes(piece, ticks_per_beat)
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return path
