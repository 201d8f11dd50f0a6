"""MIDI input and output: miditoolkit files <-> :class:`~remixmusic.notes.Piece`, folders, and a parse cache.

Reading quantizes explicitly onto the 12-steps-per-beat grid of :mod:`remixmusic.notes`:

* kept: every note's pitch, velocity (clamped to 1..127), track, program and drum flag; onsets rounded to
  the nearest step (a score's half steps to the even step, the way in the notes' ``half``:
  :func:`~remixmusic.io.grid.to_steps`), so are meter, tempo and key changes; lost: finer timing,
  controllers, pitch bends, lyrics, markers, the tempo's effect on *tick* positions (we keep beats, not
  seconds); meters whose bar is not a whole number of steps (1/64, 5/32) or malformed are dropped;
* normalized: a note shorter than one step (zero-length notes included) lasts one step; two notes of one
  track with the same onset and pitch become one (the longer; a repair says how many); a note overlapping the next note of the
  same pitch in its track is cut at that next onset, since MIDI cannot tell such overlaps apart anyway.
  So ``read_midi(write_midi(piece))`` gives back the notes of every piece read by :func:`read_midi`.

How a file is read (all of it agreeing note for note, after the quantization above):

* the file: a RIFF MIDI (``.rmi``) wrapper or a MacBinary header before ``MThd`` is removed; a file cut
  off inside its last track (an interrupted download) is read up to the cut; a track whose length field
  is wrong is read to its real end (its end-of-track event before the next track), never swallowing the
  next track or losing its own last events (:func:`remixmusic.io.smf.split_chunks`);
* the tracks: every ``MTrk`` chunk, whatever the header's track count says; unknown (vendor) chunks are
  skipped (:mod:`remixmusic.io.smf`). A piece's tracks follow the file: one per (file track, channel,
  program), in that order; a note has the program in force at its note-on (its channel's, from any
  track, until its own track sets one) and its track's name (its last name event). Channel 10 is percussion (and a GS or XG drum part: :mod:`~remixmusic.io.smf_kits`). Tracks of one (non-empty) name, or
  unnamed ones of one file track and channel, that hardly sound together are the program runs of one
  part (a melody changing patch) and are one track, each note keeping its program
  (:mod:`remixmusic.io.parts`); :func:`piece_to_midi` writes such a track as one instrument per program
  (under one name: ``part N`` when it had none);
* notes: a note-off ends the earliest sounding note of its channel and pitch; All Notes Off, All Sound
  Off and the mode changes that imply them end the notes of their channel begun before them, in any
  track but of a format-2 file (the key is released; a sustain pedal is not read); a note its track never releases is ended by
  a note-off of its channel and pitch in another track, else closed at the end of its track (repairs);
* tempo, meter and key: the events of every track merged by time, as players do; at one position the
  later event wins. A tempo restating the tempo in force (120 qpm at first) is left out;
* a format-2 file (independent sequences) is read as its sequences played one after another; a file
  timed in SMPTE frames (seconds, not beats) as beats of half a second, tempo events ignored (repairs);
* times are counted in 64 bits; a note past step 2^31 - 1 makes the file unreadable (one-line reason).

Bad input raises :class:`~remixmusic.errors.MidiError` with the path and a one-line reason; a file is
never rejected for a bad event that can be repaired unambiguously: data bytes above 127 (velocity 255 in
real files) are clipped to 127; impossible tempo, meter and key events (tempo 0, a numerator of 0, a
denominator exponent past 7, too few data bytes, a key beyond 7 sharps or flats) are dropped (all:
:mod:`remixmusic.io.smf_repair`). Each repair issues a :class:`MidiRepairWarning` and is recorded, one
line each, in ``piece.metadata["repairs"]``.

Readers: symusic (C++) reads the file as it is when a vectorized screen of its bytes shows it can
(:func:`remixmusic.io.smf_screen.screen`: the common case; ~50x faster than miditoolkit on multi-track
files, ``benchmarks/read.py``); otherwise the exact event pass of :mod:`remixmusic.io.smf_repair` rewrites
the file cleanly and symusic reads that, or miditoolkit when symusic fails or ticks pass 2^31 (symusic
counts in 32 bits). Names not in UTF-8 are decoded by the exact pass (:func:`~remixmusic.io.smf.decode_name`).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import miditoolkit
import numpy as np
from symusic.core import ScoreTick

from remixmusic._util.files import atomic_write
from remixmusic._util.text import first_line
from remixmusic.errors import MidiError
from remixmusic.io.grid import half_of, off_grid_share, score_halves, to_steps
from remixmusic.io.parts import merge_program_runs
from remixmusic.io.smf import DEFAULT_SECONDS_PER_BEAT, SmfLayout, clean_name, header_chunk, split_chunks
from remixmusic.io.smf_repair import ALL_NOTES_OFF, sanitize
from remixmusic.io.smf_screen import SENTINEL_TICKS, screen, with_sentinels
from remixmusic.music.notes import (
    DEFAULT_QPM,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    STEPS_PER_BEAT,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Piece,
    Track,
)

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar", ".rmi")
"""File name endings read as MIDI, in any letter case (``.rmi``: RIFF MIDI, see :func:`remixmusic.io.smf.split_chunks`)."""


class MidiRepairWarning(UserWarning):
    """A MIDI file was read after an unambiguous repair (e.g. clipping a velocity of 255 to 127)."""


Reader = Literal["auto", "symusic", "symusic-sanitized", "miditoolkit"]
"""Which reader :func:`midi_bytes_to_piece` uses (see the module docstring): ``auto`` (symusic, with
miditoolkit when symusic fails), ``symusic`` only, ``symusic-sanitized`` (always the exact pass first:
for tests and debugging) or ``miditoolkit`` (the exact pass, then miditoolkit)."""

MAX_STEP = 2**31 - 1
"""The last step a note may end at (note arrays hold 32-bit onsets)."""


def read_midi(path: str | Path, reader: Reader = "auto") -> Piece:
    """Read one MIDI file into a :class:`Piece` (see the module docstring for what is kept and repaired).
    Raises:
        MidiError: the file cannot be read (missing, a folder, not MIDI, ...): a one-line reason.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise MidiError(path, "is a directory, not a MIDI file") from None
    except OSError as exc:
        raise MidiError(path, exc.strerror or str(exc)) from None
    return midi_bytes_to_piece(data, source=str(path), reader=reader)


def midi_bytes_to_piece(data: bytes, source: str | None = None, reader: Reader = "auto") -> Piece:
    """Parse MIDI file contents; ``source`` names the file in errors and in the piece.

    Raises:
        MidiError: ``data`` is not a readable MIDI file (one-line reason naming ``source``).
        ValueError: an unknown ``reader``.
    """
    if reader not in ("auto", "symusic", "symusic-sanitized", "miditoolkit"):
        raise ValueError(f"unknown MIDI reader {reader!r}")
    layout = split_chunks(data, source)
    fast = _read_fast(layout) if reader in ("auto", "symusic") else None
    raw, repairs = fast if fast is not None else _read_exact(layout, reader, source)
    if layout.ticks_per_second is not None:  # timed in seconds: beats of half a second, no tempo map
        raw.ticks_per_beat = layout.ticks_per_second * DEFAULT_SECONDS_PER_BEAT
        raw.tempos = (np.zeros(0, np.int64), np.zeros(0, np.float64))
    piece, dropped = _quantize(raw, source)
    drums = np.array([t.is_drum for t in raw.tracks], bool)[raw.notes[4]] if raw.tracks else np.zeros(0, bool)
    grid = raw.ticks_per_beat / (2 if np.any(piece.notes["half"]) else 1)  # a score's half steps are kept
    if (share := off_grid_share(raw.notes[0][~drums], grid)) >= 0.01:  # io.grid: free timing
        piece.metadata["off_grid"] = round(share, 3)
    repairs = [*repairs, *dropped]
    if repairs:
        piece.metadata["repairs"] = repairs
        for repair in repairs:
            warnings.warn(f"{source}: {repair}", MidiRepairWarning, stacklevel=2)
    return piece


def _read_exact(layout: SmfLayout, reader: Reader, source: str | None) -> tuple[_Raw, list[str]]:
    """The exact pass (:func:`~remixmusic.io.smf_repair.sanitize`), then symusic or miditoolkit.

    Raises:
        MidiError: too many parts to rewrite, or the reader(s) allowed cannot read the rewrite."""
    try:
        clean = sanitize(layout)
    except ValueError as exc:
        raise MidiError(source, f"corrupt MIDI: {exc}") from None
    problem = f"ticks past 2^31 (the last at tick {clean.last_tick})"
    if reader != "miditoolkit" and clean.last_tick < 2**31:
        try:
            raw = _from_symusic(ScoreTick.from_midi(clean.data), layout.division)
        except Exception as exc:  # symusic raises several types for input it rejects
            problem = _reason(exc)
        else:
            if raw is not None:
                return _with_origins(raw, clean.origins), clean.repairs
            problem = "tempo, meter or key events at one tick disagree"
    if reader in ("symusic", "symusic-sanitized"):
        raise MidiError(source, f"corrupt MIDI: symusic cannot read it ({problem})")
    try:
        return _with_origins(_from_miditoolkit(clean.chunks, layout.division), clean.origins), clean.repairs
    except Exception as exc:  # mido raises many types for malformed files; all mean "unreadable"
        raise MidiError(source, f"corrupt MIDI: {_reason(exc)}") from None


def _with_origins(raw: _Raw, origins: list[tuple[int, int]]) -> _Raw:
    """``raw`` with the file track and channel of each of its tracks: the clean rewrite's track chunks
    after the first, one (file track, channel, program) each, come back one track each, in order."""
    if len(raw.tracks) == len(origins):
        raw.origins = origins
    return raw


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "truncated (unexpected end of file)"
    return first_line(str(exc), type(exc).__name__)


_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass
class _Raw:
    """What a reader found, in ticks, before quantization: the tracks; the notes of all of them as
    columns (``start``, ``end``, ``pitch``, ``velocity``, ``track``: int64 arrays of one length, ``track``
    indexing ``tracks``); and the tempo (qpm), meter (numerator, denominator) and key (0-23) maps, each
    ``(ticks, values...)`` sorted by tick."""

    ticks_per_beat: float
    tracks: list[Track]
    notes: _Columns
    tempos: tuple[np.ndarray, np.ndarray]
    meters: tuple[np.ndarray, np.ndarray, np.ndarray]
    keys: tuple[np.ndarray, np.ndarray]
    origins: list[tuple[int, int]] | None = None  # per track: (file track, channel), where known


def _read_fast(layout: SmfLayout) -> tuple[_Raw, list[str]] | None:
    """symusic on the file as it is (plus sentinels), or ``None`` when the exact pass is needed."""
    found = screen(layout)
    if found.problem is not None:
        return None
    try:
        score = ScoreTick.from_midi(with_sentinels(layout, found))
    except Exception:  # symusic raises several types for input it rejects (data bytes above 127, ...)
        return None
    beacons = sum(bool(c) for c, track in zip(found.channels, layout.tracks, strict=True) if track)
    raw = _from_symusic(score, layout.division, beacons)
    return None if raw is None else (raw, list(layout.repairs))


def _from_symusic(score: ScoreTick, division: int, beacons: int | None = None) -> _Raw | None:
    """With ``beacons`` (the file has sentinels: :func:`~remixmusic.io.smf_screen.with_sentinels`), ``None``
    when a sentinel closed a note (a note never released) or not every beacon came back; and ``None``
    when tempo, meter or key events at one tick disagree (symusic's order among them is arbitrary)."""
    tracks, parts = [], []
    found = 0
    for track in score.tracks:
        notes = track.notes.numpy()
        time = notes["time"]
        if beacons is not None and len(time) and time[-1] >= SENTINEL_TICKS:
            # symusic sorts a track's notes by time: its beacons are its last notes.
            keep = int(np.searchsorted(time, SENTINEL_TICKS))
            found += len(time) - keep
            notes = {name: column[:keep] for name, column in notes.items()}
        if len(notes["time"]):
            tracks.append(Track(clean_name(track.name), int(track.program), bool(track.is_drum)))
            parts.append(notes)
    start, duration, pitch, velocity, index = _columns(
        [p["time"] for p in parts],
        [p["duration"] for p in parts],
        [p["pitch"] for p in parts],
        [p["velocity"] for p in parts],
    )
    columns: _Columns = (start, start + duration, pitch, velocity, index)
    if beacons is not None and (found != beacons or (len(start) and columns[1].max() >= SENTINEL_TICKS)):
        return None  # a beacon missing (symusic out of step), or a note a sentinel had to end
    if _notes_off_inside(score, columns):
        return None  # an All Notes Off message that ends a sounding note: the exact pass plays it
    tempos = score.tempos.numpy()
    meters = score.time_signatures.numpy()
    keys = score.key_signatures.numpy()
    sharps = keys["key"].astype(np.int64)
    key = np.where(keys["tonality"] == 0, sharps * 7 % 12, 12 + (sharps * 7 + 9) % 12)
    if (
        _ties_disagree(tempos["time"], tempos["mspq"])
        or _ties_disagree(meters["time"], meters["numerator"].astype(np.int64) * 256 + meters["denominator"])
        or _ties_disagree(keys["time"], key)
    ):
        return None
    return _Raw(
        division,
        tracks,
        columns,
        (tempos["time"], 6e7 / tempos["mspq"].astype(np.float64)),
        (meters["time"], meters["numerator"], meters["denominator"]),
        (keys["time"], key),
    )


def _columns(a: list[np.ndarray], b: list[np.ndarray], c: list[np.ndarray], d: list[np.ndarray]) -> _Columns:
    """Per-track arrays of four fields, each concatenated (int64), plus the track index of every note."""

    def join(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    counts = [len(x) for x in a]
    return join(a), join(b), join(c), join(d), np.repeat(np.arange(len(counts), dtype=np.int64), counts)


_NOTES_OFF = np.isin(np.arange(256), list(ALL_NOTES_OFF))


def _notes_off_inside(score: ScoreTick, columns: _Columns) -> bool:
    """Whether an All Notes Off message (:data:`~remixmusic.io.smf_repair.ALL_NOTES_OFF`) falls inside a
    note of the file (fast readers ignore it; a player ends the note there)."""
    times = []
    for track in score.tracks:
        if len(track.controls):
            controls = track.controls.numpy()
            times.append(controls["time"][_NOTES_OFF[controls["number"]]])
    found = np.concatenate(times) if times else np.zeros(0)
    if not len(found) or not len(columns[0]):
        return False
    order = np.argsort(columns[0], kind="stable")
    start, latest_end = columns[0][order], np.maximum.accumulate(columns[1][order])
    before = np.searchsorted(start, found.astype(np.int64), side="left")  # notes starting before each
    return bool((latest_end[np.maximum(before - 1, 0)] > found)[before > 0].any())


def _ties_disagree(ticks: np.ndarray, values: np.ndarray) -> bool:
    if len(ticks) < 2:
        return False
    order = np.argsort(ticks, kind="stable")
    ticks, values = ticks[order], values[order]
    return bool(((ticks[1:] == ticks[:-1]) & (values[1:] != values[:-1])).any())


def _from_miditoolkit(chunks: list[bytes], division: int) -> _Raw:
    """miditoolkit on a clean rewrite (:func:`~remixmusic.io.smf_repair.sanitize`), one track at a time
    so that its tracks keep the rewrite's order."""

    def read(chunk: bytes) -> miditoolkit.MidiFile:
        return miditoolkit.MidiFile(file=io.BytesIO(header_chunk(0, 1, division) + chunk))

    instruments = []
    for chunk in chunks[1:]:
        instruments += sorted(read(chunk).instruments, key=lambda i: int(i.program))
    return _raw_from(read(chunks[0]), division, instruments, utf8_names=True)


def _raw_from(midi: miditoolkit.MidiFile, division: int, instruments: list, utf8_names: bool) -> _Raw:
    """A :class:`_Raw` from miditoolkit instruments and ``midi``'s maps."""
    tracks, parts = [], []
    for instrument in instruments:
        if not instrument.notes:
            continue
        name = instrument.name or ""
        if utf8_names:  # mido decodes names as Latin-1; symusic as UTF-8 (invalid bytes as U+FFFD)
            name = name.encode("latin-1").decode("utf-8", "replace")
        tracks.append(Track(clean_name(name), int(instrument.program), bool(instrument.is_drum)))
        parts.append(_int64([(n.start, n.end, n.pitch, n.velocity) for n in instrument.notes]).reshape(-1, 4))

    def ticks(events: list) -> np.ndarray:
        return _int64([e.time for e in events])

    tempos, meters, keys = midi.tempo_changes, midi.time_signature_changes, midi.key_signature_changes
    return _Raw(
        division,
        tracks,
        _columns(*([p[:, k] for p in parts] for k in range(4))),
        (ticks(tempos), np.array([t.tempo for t in tempos], np.float64)),
        (
            ticks(meters),
            np.array([m.numerator for m in meters], np.int64),
            np.array([m.denominator for m in meters], np.int64),
        ),
        (ticks(keys), np.array([k.key_number for k in keys], np.int64)),
    )


def _int64(values: list) -> np.ndarray:
    """``values`` (ints, or tuples of them) as int64, with ticks past 2^62 (a delta time of 2^63 adds up
    past any int64) clipped there: a note so far out lies past the time line, and :func:`_quantize`
    rejects it with its one-line reason."""
    try:
        return np.array(values, np.int64)
    except OverflowError:
        clip = 2**62
        rows = [
            tuple(min(v, clip) for v in row) if isinstance(row, tuple) else min(row, clip) for row in values
        ]
        return np.array(rows, np.int64)


def midi_to_piece(midi: miditoolkit.MidiFile, source: str | None = None) -> Piece:
    """Quantize a parsed :class:`miditoolkit.MidiFile` onto the step grid.

    Its instruments and maps are taken as miditoolkit made them (a tempo restated at tick 0 in a later
    track hides the changes before it, a note takes the program of its note-off): for files, use
    :func:`read_midi`, which reads every track's events as the module docstring says.

    Raises:
        MidiError: a note past step 2^31 - 1.
    """
    piece, repairs = _quantize(
        _raw_from(midi, midi.ticks_per_beat, midi.instruments, utf8_names=False), source
    )
    if repairs:
        piece.metadata["repairs"] = repairs
    return piece


def _quantize(raw: _Raw, source: str | None) -> tuple[Piece, list[str]]:
    """Notes and maps onto the step grid (module docstring), as a :class:`Piece`, and the repairs that
    made (notes merged at one step, meters finer than the grid dropped).

    Raises:
        MidiError: a note past step :data:`MAX_STEP`.
    """
    scale = STEPS_PER_BEAT / raw.ticks_per_beat
    halves = score_halves(raw.notes[0] * scale)

    def steps(ticks: np.ndarray) -> np.ndarray:
        return to_steps(np.asarray(ticks, np.float64) * scale, halves)

    start, end, pitch, velocity, track = raw.notes
    notes, tracks, merges = np.zeros(0, NOTE_DTYPE), list(raw.tracks), []
    if len(start):
        onset = steps(start)
        half = half_of(np.asarray(start, np.float64) * scale, onset) if halves else np.zeros(len(onset), np.int8)
        duration = np.maximum(steps(end) - onset, 1)
        last = int(np.argmax(onset + duration))
        if onset[last] + duration[last] > MAX_STEP:
            raise MidiError(
                source, f"a note at step {onset[last]} lies past step 2^31 - 1, the end of the time line"
            )
        pitch = np.minimum(np.maximum(pitch, 0), 127)
        velocity = np.minimum(np.maximum(velocity, 1), 127)
        tracks, track, program = merge_program_runs(raw.tracks, onset, onset + duration, track, raw.origins, pitch)
        keep, duration = _canonical(onset, duration, pitch, track, velocity)
        merged = len(onset) - len(keep)  # a flam, a fast roll, a doubled note: not lost in silence
        merges = [f"{merged} note{'s' * (merged > 1)} merged into another of its pitch at the same step of its part"] * (merged > 0)
        track = track[keep]
        notes = np.zeros(len(keep), NOTE_DTYPE)
        notes["onset"] = onset[keep]
        notes["duration"] = duration
        notes["pitch"] = pitch[keep]
        notes["velocity"] = velocity[keep]
        notes["track"] = track
        notes["program"] = program[keep]
        notes["is_drum"] = np.array([t.is_drum for t in tracks], bool)[track]
        notes["half"] = half[keep]  # which way a half step was rounded

    def events(dtype: np.dtype, ticks: np.ndarray, *values: np.ndarray) -> np.ndarray:
        if not len(ticks):
            return np.zeros(0, dtype)
        onset = steps(ticks)
        keep = onset <= MAX_STEP  # events past any possible note mean nothing
        out = np.zeros(int(keep.sum()), dtype)
        out["onset"] = onset[keep]
        for name, value in zip(dtype.names[1:], values, strict=True):  # type: ignore[index]
            out[name] = np.asarray(value)[keep]
        return _last_per_onset(out)

    meters = events(TIME_SIGNATURE_DTYPE, *raw.meters)
    bar_steps = meters["numerator"].astype(np.int64) * 4 * STEPS_PER_BEAT
    fits = (
        (meters["numerator"] > 0)
        & _is_power_of_two(meters["denominator"])
        & (bar_steps % np.maximum(meters["denominator"], 1) == 0)
    )
    grid_repairs = merges + [
        f"time signature {int(n)}/{int(d)} dropped: its bar is not a whole number of steps "
        f"({STEPS_PER_BEAT} a beat)"
        for n, d in sorted({(int(m["numerator"]), int(m["denominator"])) for m in meters[~fits]})
    ]
    meters = meters[fits]
    tempos = events(TEMPO_DTYPE, *raw.tempos)
    tempos = tempos[(tempos["qpm"] > 0) & np.isfinite(tempos["qpm"])]
    in_force = np.concatenate([[DEFAULT_QPM], tempos["qpm"][:-1]])
    tempos = tempos[tempos["qpm"] != in_force]
    piece = Piece(
        tracks=tracks or [Track()],
        time_signatures=meters,
        tempos=tempos,
        key_signatures=events(KEY_SIGNATURE_DTYPE, *raw.keys),
        source=source,
        metadata={"ticks_per_beat": int(raw.ticks_per_beat)},
    )
    piece.notes = notes  # already in canonical order (what Piece would sort them into): no second sort
    return piece, grid_repairs


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

    This is what a MIDI file can represent unambiguously on one track (see the module docstring): of
    notes of one track, pitch and onset, the longest is kept (of equally long ones, the loudest).
    ``notes`` is a ``NOTE_DTYPE`` array; the result is a new one.
    """
    keep, duration = _canonical(
        notes["onset"], notes["duration"], notes["pitch"], notes["track"], notes["velocity"]
    )
    out = notes[keep]
    out["duration"] = duration
    return out


def _canonical(
    onset: np.ndarray, duration: np.ndarray, pitch: np.ndarray, track: np.ndarray, velocity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normalize_notes` on columns: indices of the notes kept, in canonical order (onset, track,
    pitch: unique once duplicates are merged), and their durations.

    One sort of a packed int64 key per note when the values fit (they do for any file read: several
    times faster than a multi-key sort, thousands of times faster than sorting the note records), then a
    radix sort of the voices to find overlaps. The result never depends on the input order.
    """
    onset, duration, pitch, track, velocity = (
        np.asarray(a, np.int64) for a in (onset, duration, pitch, track, velocity)
    )
    n = len(onset)
    if not n:
        return np.zeros(0, np.int64), duration
    d_max = int(duration.max())
    o_bits, t_bits = int(onset.max()).bit_length(), int(track.max()).bit_length()
    d_bits = (d_max - int(duration.min())).bit_length()
    if (
        min(int(onset.min()), int(track.min()), int(pitch.min()), int(velocity.min())) >= 0
        and max(int(pitch.max()), int(velocity.max())) < 128
        and o_bits + t_bits + d_bits + 14 <= 62
    ):
        # (onset, track, pitch, longest first, loudest first), most significant first
        key = ((onset << t_bits | track) << 7 | pitch) << d_bits | (d_max - duration)
        key = key << 7 | (127 - velocity)
        order = np.argsort(key, kind="stable")  # each track's notes come sorted by time: a few long runs
        head = key[order] >> (d_bits + 7)  # (onset, track, pitch)
        first = np.empty(n, bool)
        first[0] = True
        np.not_equal(head[1:], head[:-1], out=first[1:])
    else:
        order = np.lexsort((-velocity, -duration, pitch, track, onset))
        o, t, p = onset[order], track[order], pitch[order]
        first = np.concatenate([[True], (o[1:] != o[:-1]) | (t[1:] != t[:-1]) | (p[1:] != p[:-1])])
    order = order[first]
    o, d = onset[order], duration[order]
    # Overlaps: each note against the next of its voice (track, pitch), found by a stable sort of voices.
    low, span = int(pitch.min()), int(pitch.max()) - int(pitch.min()) + 1
    voice = track[order] * span + (pitch[order] - low)
    small = int(voice.min()) >= 0 and int(voice.max()) < 2**16
    by_voice = np.argsort(voice.astype(np.uint16) if small else voice, kind="stable")
    v, ov, dv = voice[by_voice], o[by_voice], d[by_voice]
    cut = np.flatnonzero((v[1:] == v[:-1]) & (ov[:-1] + dv[:-1] > ov[1:]))
    d[by_voice[cut]] = ov[cut + 1] - ov[cut]
    return order, d


def piece_to_midi(piece: Piece, ticks_per_beat: int = 480) -> miditoolkit.MidiFile:
    """Build a :class:`miditoolkit.MidiFile`; ``ticks_per_beat`` must be a multiple of the grid (of
    twice the grid for a piece with half steps, which it keeps: ``ValueError`` otherwise)."""
    if ticks_per_beat % (STEPS_PER_BEAT * (2 if np.any(piece.notes["half"]) else 1)):
        raise ValueError(f"ticks_per_beat must be a multiple of {STEPS_PER_BEAT} ({2 * STEPS_PER_BEAT} with half steps)")
    factor = ticks_per_beat // STEPS_PER_BEAT
    midi = miditoolkit.MidiFile(ticks_per_beat=ticks_per_beat)
    notes = piece.notes
    for index, track in enumerate(piece.tracks):
        mine = notes[notes["track"] == index]
        # a part whose notes change program (io.parts): one instrument per program, in the order they first
        # play, under one name (``part 3`` if none) the reader merges them by; in UTF-8, as names are read
        programs = list(dict.fromkeys(mine["program"].tolist()))
        name = (track.name or (f"part {index + 1}" if len(programs) > 1 else "")).encode().decode("latin-1")
        for program in programs if len(programs) > 1 else [track.program]:
            run = mine[mine["program"] == program] if len(programs) > 1 else mine
            if not len(run):
                continue
            instrument = miditoolkit.Instrument(program=int(program), is_drum=bool(track.is_drum), name=name)
            starts = (run["onset"].astype(np.int64) * factor + run["half"] * (factor // 2)).tolist()
            ends = ((run["onset"].astype(np.int64) + run["duration"]) * factor).tolist()
            instrument.notes = [
                miditoolkit.Note(velocity=v, pitch=p, start=s, end=e)
                for v, p, s, e in zip(
                    run["velocity"].tolist(), run["pitch"].tolist(), starts, ends, strict=True
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
