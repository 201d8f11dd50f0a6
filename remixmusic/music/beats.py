"""Re-quantization of performed MIDI: a tracked beat instead of the file's.

Reading puts onsets on the step grid of the file's tempo (:data:`~remixmusic.music.notes.STEPS_PER_BEAT`
steps a beat). A performance recorded without a click, or at a tempo that is not the file's, has no beat
there: its inter-onset intervals come out uneven (eighths at 110 qpm in a 120 qpm file are 6 and 7 steps)
and a tempo drift or a +-20 ms jitter changes most of the inter-onset ratios that copy detection compares
(:mod:`remixmusic.novelty.symbols`). :func:`requantize` puts such a piece on a beat grid of its own:

1. **Beat period.** Of the lags where the autocorrelation of the onset-strength signal (note onsets
   counted in 10 ms frames, smoothed) peaks, those whose grid holds the inter-onset intervals best
   (each near a multiple of a quarter or a third of the beat: :func:`grid_error`), the one nearest
   half a second: the pulse levels of the music fit, a level between them fits none, and a beat too
   long merges its fast notes (the inter-onset clustering idea of Dixon 2001, "Automatic extraction of
   tempo and beat from expressive performances", *J. New Music Research* 30(1)).
2. **Beats.** The dynamic-programming beat tracker of Ellis 2007 ("Beat tracking by dynamic
   programming", *J. New Music Research* 36(1)): the beat times maximising the onset strength at the
   beats less :data:`TIGHTNESS` times the squared log ratio of each beat interval to the period, so a
   tempo drift is followed beat by beat.
3. **Grid.** Each onset is placed at its fraction of the beat it falls in and snapped to the nearest
   quarter (16ths) or third (triplets) of that beat: the grid that fits the whole piece better, or in one
   beat the other where it fits that beat's onsets four times better (a triplet in a duple tune). Note
   ends are mapped the same way, unsnapped (at least one step long).

The tracked beat is a pulse, not a meter: a jig's beat may come out as its eighth or its dotted quarter,
and the first beat need not be a downbeat. The onsets' *ratios* are what matching compares, and those a
consistent pulse keeps. It works on the onsets as read (rounded to steps of the file's beat: 42 ms at
120 qpm), so notes closer than that are not told apart. Measured by ``benchmarks/free_timing.py``.
"""
from __future__ import annotations

import numpy as np

from remixmusic.music.notes import STEPS_PER_BEAT, TEMPO_DTYPE, Piece, sort_notes

TIMINGS = ("file", "tracked")
"""How onsets are read for matching: ``file``, on the file's beat as read; ``tracked``, pieces played with
free timing (at least :data:`~remixmusic.io.grid.OFF_GRID` of their onsets off the file's beat grid)
re-quantized on a beat tracked in their own notes (:func:`requantize`;
:func:`remixmusic.novelty.inputs.with_timing`)."""

FRAME = 0.01
"""Seconds per frame of the onset-strength signal."""

SMOOTHING = 2.0
"""Standard deviation (frames) of the Gaussian the onset-strength signal is smoothed with."""


MIN_PERIOD, MAX_PERIOD = 0.12, 1.6
"""Shortest and longest beat periods tried (seconds: 500 to 37.5 qpm; longer, up to twice the median
inter-onset interval, in a piece of long notes)."""

PREFERRED_PERIOD = 0.5
"""Of the periods that fit, the one nearest this (seconds, 120 qpm) is the beat."""

FIT_SLACK = 0.02
"""Periods whose :func:`grid_error` is within this of the best fit."""

TIGHTNESS = 30.0
"""Weight of the tempo-consistency penalty of the beat tracker (Ellis 2007's alpha)."""

MIN_ONSETS = 8
"""Pieces with fewer distinct onsets than this are returned as they are (no beat to track)."""

DUPLE = np.array([0, 3, 6, 9, 12])
TRIPLE = np.array([0, 4, 8, 12])
SWITCH = 0.25  # a beat takes the other grid where that grid's error is below this share of the piece grid's
MIN_ERROR = 3.0  # ... and the piece grid's error in that beat is above this (steps squared)


ALLOWED = np.array(sorted({k / 4 for k in range(1, 33)} | {k / 3 for k in range(1, 25)}))
"""Inter-onset intervals a beat grid holds, in beats: multiples of a quarter (16ths) or a third (triplets)."""


def grid_error(ioi: np.ndarray, period: float) -> float:
    """How badly inter-onset intervals ``ioi`` (seconds) fit a beat of ``period`` seconds: the mean
    relative distance of each to the nearest interval the grid holds (:data:`ALLOWED`), an interval under
    a fifth of the beat (notes the grid would merge) counting 1."""
    x = ioi / period
    nearest = ALLOWED[np.clip(np.searchsorted(ALLOWED, x), 1, len(ALLOWED) - 1) - np.array([1, 0])[:, None]]
    error = np.min(np.abs(x[None, :] - nearest) / nearest, axis=0)
    return float(np.mean(np.where(x < 0.2, 1.0, np.minimum(error, 1.0))))


def fitted_period(onsets: np.ndarray, strength: np.ndarray) -> int | None:
    """The beat period (frames): of the lags where the onset-strength autocorrelation peaks between
    :data:`MIN_PERIOD` and :data:`MAX_PERIOD` seconds, those whose grid fits the inter-onset intervals
    within :data:`FIT_SLACK` of the best fit, the one nearest :data:`PREFERRED_PERIOD` on a log scale
    (the tatum and its multiples fit; the grid of a beat too long merges fast notes, one between pulse
    levels fits none). ``None`` for fewer than four intervals over 60 ms."""
    ioi = np.diff(np.unique(np.rint(np.asarray(onsets) / 0.03)) * 0.03)  # onsets within 30 ms are one
    ioi = ioi[ioi > 0.06]
    if len(ioi) < 4:
        return None
    longest = max(MAX_PERIOD, 2.0 * float(np.median(ioi)))  # a tune of whole notes: its beat is longer
    lags = np.arange(int(MIN_PERIOD / FRAME), min(int(longest / FRAME), len(strength) - 1) + 1)
    if len(lags) < 3:
        return None
    centred = strength - strength.mean()
    size = 1 << int(np.ceil(np.log2(2 * len(centred))))
    spectrum = np.fft.rfft(centred, size)
    auto = np.fft.irfft(spectrum * np.conj(spectrum), size)[lags]
    peaks = lags[1:-1][(auto[1:-1] >= auto[:-2]) & (auto[1:-1] >= auto[2:]) & (auto[1:-1] > 0)]
    if not len(peaks):
        return None
    errors = np.array([grid_error(ioi, lag * FRAME) for lag in peaks])
    good = peaks[errors <= errors.min() + FIT_SLACK]
    return int(good[np.argmin(np.abs(np.log2(good * FRAME / PREFERRED_PERIOD)))])


def onset_strength(onsets: np.ndarray, n_frames: int) -> np.ndarray:
    """Onsets (seconds) counted in :data:`FRAME` frames and smoothed, float64 ``(n_frames,)``."""
    strength = np.bincount(
        np.clip(np.rint(np.asarray(onsets) / FRAME).astype(np.int64), 0, n_frames - 1), minlength=n_frames
    ).astype(np.float64)
    k = np.arange(-int(4 * SMOOTHING), int(4 * SMOOTHING) + 1)
    return np.convolve(strength, np.exp(-0.5 * (k / SMOOTHING) ** 2), mode="same")


def track_beats(strength: np.ndarray, period: int, tightness: float = TIGHTNESS) -> np.ndarray:
    """Beat times (seconds, increasing) through an onset-strength signal for a beat ``period`` (frames):
    Ellis 2007's dynamic program (module docstring, step 2), float64 ``(beats,)``."""
    n = len(strength)
    score = strength / max(float(strength.std()), 1e-9)
    local = score.copy()
    back = np.full(n, -1, np.int64)
    offsets = np.arange(-2 * period, -(period // 2) + 1)
    penalty = -tightness * np.log(-offsets / period) ** 2
    for t in range(max(period // 2, 1), n):
        before = t + offsets
        ok = before >= 0
        values = score[before[ok]] + penalty[ok]
        j = int(np.argmax(values))
        score[t] = local[t] + values[j]
        back[t] = before[ok][j]
    t = int(n - period + np.argmax(score[n - period :])) if n > period else int(np.argmax(score))
    beats = [t]
    while back[t] >= 0:
        t = int(back[t])
        beats.append(t)
    return np.array(beats[::-1], np.float64) * FRAME


def requantize(piece: Piece) -> Piece:
    """``piece`` on a tracked beat grid (module docstring): the same notes in the same order of onsets,
    their onsets and durations in steps of the tracked beat (:data:`STEPS_PER_BEAT` a beat), one tempo
    (the tracked beat's median, so durations in seconds stay about the same), the first meter and key;
    ``metadata["tracked_qpm"]`` holds that tempo. A piece with fewer than :data:`MIN_ONSETS` distinct
    onsets comes back unchanged."""
    notes = piece.notes
    if len(np.unique(notes["onset"])) < MIN_ONSETS:
        return piece
    start = piece.seconds(notes["onset"].astype(np.int64))
    end = piece.seconds((notes["onset"] + notes["duration"]).astype(np.int64))
    start, end = start - start.min(), end - start.min()
    strength = onset_strength(start, int(end.max() / FRAME) + 50)
    lag = fitted_period(start, strength)
    if lag is None:
        return piece
    beats = track_beats(strength, lag)
    if len(beats) < 2:
        return piece
    period = float(np.median(np.diff(beats)))
    before = np.arange(beats[0] - period, -period, -period)[::-1]
    after = np.arange(beats[-1] + period, end.max() + 2 * period, period)
    grid = np.concatenate([before, beats, after])

    def position(times: np.ndarray) -> np.ndarray:  # beats from the grid's start, fractional
        k = np.clip(np.searchsorted(grid, times, side="right") - 1, 0, len(grid) - 2)
        return k + (times - grid[k]) / (grid[k + 1] - grid[k])

    at = position(start) * STEPS_PER_BEAT
    beat = np.floor(at / STEPS_PER_BEAT).astype(np.int64)
    beat -= beat.min()
    within = at - (at // STEPS_PER_BEAT) * STEPS_PER_BEAT
    duple = DUPLE[np.abs(within[:, None] - DUPLE[None, :]).argmin(axis=1)]
    triple = TRIPLE[np.abs(within[:, None] - TRIPLE[None, :]).argmin(axis=1)]
    error_d = np.bincount(beat, (within - duple) ** 2)
    error_t = np.bincount(beat, (within - triple) ** 2)
    if error_t.sum() < error_d.sum():
        use_triple = ~((error_d < SWITCH * error_t) & (error_t > MIN_ERROR))
    else:
        use_triple = (error_t < SWITCH * error_d) & (error_d > MIN_ERROR)
    onset = beat * STEPS_PER_BEAT + np.where(use_triple[beat], triple, duple)
    out = notes.copy()
    out["onset"], out["half"] = onset - onset.min(), 0
    out["duration"] = np.maximum(np.rint(position(end) * STEPS_PER_BEAT - at), 1)
    tempos = np.zeros(1, TEMPO_DTYPE)
    tempos["qpm"] = 60.0 / period
    meter, key = piece.time_signatures[:1].copy(), piece.key_signatures[:1].copy()
    meter["onset"], key["onset"] = 0, 0
    metadata = {**piece.metadata, "tracked_qpm": round(60.0 / period, 1)}
    return Piece(sort_notes(out), list(piece.tracks), meter, tempos, key, piece.source, metadata)
