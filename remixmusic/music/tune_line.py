"""The tune of a piece as a pitch sequence that survives performance: unquantized timing, rolled chords,
ornaments, tempo drift and an accompaniment under the melody (:func:`tune`, :func:`tune_line`).

:func:`remixmusic.music.lines.melody_line` is the exact skyline of a score: a bass note that starts 20 ms
before the melody note it belongs with, a grace note, a trill, or an accompaniment note sounding in the
gap of a detached melody note all become "melody" there. :func:`tune` reads the same notes as a listener
follows the top voice of a performance:

0. **Pads.** Held chords sounding over another voice that moves under them are a pad, not the tune: a
   tune played in the tenor under sustained chords, or a string pad above a melody in another track.
   The held chords are onset clusters of the notes held past the typical inter-onset interval (within
   ``pad_seconds``, wider than a chord's: a pad's notes enter one by one, a rolled pad over a tenth of
   a second, and a window anchored at a note just before it would cut it in two) of ``pad_notes`` or
   more notes released together and held longer than the other notes' typical inter-onset interval; a
   chord's pad is its notes above every other note that sounds while it is held (the chord's bass
   stays). Only where the pads that another voice moves under (``pad_moving`` notes begun while one is
   held) span ``pad_share`` of the piece, are held over several of its notes (``pad_hold`` of the other
   notes' typical intervals, median) and change in a regular harmonic rhythm (``pad_regular`` of the
   intervals between pads within 25% of their median) are they set aside before the top voice is read:
   a chorale's voices moving together, a passing note under a held chord now and then, or a melody
   harmonized in block chords over a walking bass or an Alberti figure (its chords change with the
   tune's rhythm, or every note or two of the voice under them) change nothing. Polyphony and long
   notes are what tell an accompaniment from a melody in melody track identification (Rizo et al. 2006,
   "Melody track identification in music symbolic files", FLAIRS); here they tell a pad from the voice
   under it within one texture. What it cannot tell: a melody harmonized in chords of three or more
   notes held over several notes of an accompaniment, in a regular rhythm (a hymn in half notes over a
   walking bass in eighths), reads as a pad; pads held for less than ``pad_hold`` of the tune's notes
   (half-bar chords over a tune in quarter notes), pads of two notes (a slow melody in octaves or thirds
   over a running figure would read as one), pads tied over several bars or under a changing meter (the
   intervals between pads are then not regular) are not found; and a tune note as long as the chord it
   starts with is read as the pad's.
1. **Onset clusters.** Times are wall-clock seconds (the piece's tempo map); notes whose onsets are at
   most ``chord_seconds`` after the first onset of a cluster join it, a chord played with the few tens
   of milliseconds of asynchrony performers show (the melody leads by about 30 ms: Goebl 2001, "Melody
   lead in piano performance", *J. Acoust. Soc. Am.* 110). The window is anchored at the cluster's
   first note (``anchored``), not chained from note to note: a run of fast notes read onto a grid of
   42 ms steps (12 a beat at 120 qpm) would chain into one "chord" and keep only its highest note. A cluster's pitch is its highest note, except a grace or
   trill note merged into the cluster of its main note (shorter than ``grace_seconds`` and at most two
   semitones from a longer note of the cluster; or at most ``grace_leap`` semitones from it, at most
   ``cut_seconds`` long, begun before it and released by its onset, within ``cut_release``: a cut of
   Irish fiddle and flute playing, or a grace note a third or fourth above, which a player sounds just
   before the beat. A short tune note over a chord begins with the chord or sounds into it. A cut that
   the reader's grid puts at its note's very onset is not told from such a note, and stays the line's).
2. **A continuous top voice.** A monophonic piece (at most ``monophonic`` of its clusters are chords or
   start under a sounding note) keeps every cluster. Otherwise clusters are walked in time order as in
   the skyline of Uitdenbogerd & Zobel (1999), made tolerant of articulation: a cluster under a line note
   that still sounds (its release more than ``overlap`` typical intervals away: a legato overlap is not a
   held note) joins only if it is higher, or if it is at most ``legato_register`` semitones lower and
   the line note has at most ``legato`` of its length left to sound (a melody played legato, each note
   held into the next step down, as pianists do; an inner voice starts under the middle of a held
   note); once the line note is released, a lower cluster joins only if
   it continues the line's register (at most ``register`` semitones below), or the line has rested for
   ``rest`` typical intervals, or no note ``register`` semitones above it follows within ``lookahead``
   intervals (a leap down that the tune stays at). An accompaniment note heard in the gap of a detached
   melody note fails all three. The typical interval is the duration-weighted median inter-onset interval
   of the plain skyline, so every rule is tempo invariant; but where an accompaniment fills the gaps of a
   detached melody (a broken chord under long melody notes), the plain skyline is mostly accompaniment and
   its intervals are the accompaniment's, too short for the rest and look-ahead windows. So the interval
   is the larger of that and the same median over the upper stream only: clusters at most
   ``upper_depth`` semitones under the highest of their ``upper_window`` neighbours on either side. This
   is the pitch-proximity principle of voice separation (notes far below the local top belong to another
   stream: Cambouropoulos 2008, "Voice and stream: perceptual and computational modeling of voice
   separation", *Music Perception* 26(1); the melody as the upper stream is the skyline hypothesis of
   Uitdenbogerd & Zobel 1999, "Melodic matching techniques for large music databases", ACM Multimedia),
   used here only to time the top voice, not to choose its notes.
3. **Ornaments.** Runs of line notes closer together than ``ornament`` times the line's median
   inter-onset interval (among intervals of at least ``ornament_floor`` seconds) are ornaments: a short
   run (grace notes, a slide, a mordent's first notes) is dropped; a run lasting ``trill`` intervals or
   more (a trill, a tremolo standing for one note) becomes its most frequent pitch (the lower on a tie).
   This reduction of an ornamented melody to its main notes is what note-level melodic similarity
   presupposes (Mongeau & Sankoff 1990, "Comparison of musical sequences", *Computers and the Humanities*
   24, whose fragmentation and consolidation account for what remains).

Repeated pitches are then merged (a note split or tied differently is the same tune). The sequence
depends on the order of onsets and on pitches, not on tempo: a quantized score and a performance of it
give (nearly) the same sequence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from remixmusic.music.lines import melody_track
from remixmusic.music.notes import STEPS_PER_BEAT, Piece

_LOOKBACK = 64  # notes begun before a held chord that are looked at for one sounding under it


@dataclass(frozen=True)
class TuneLineConfig:
    """Parameters of :func:`tune` (seconds, semitones, shares, or multiples of the typical inter-onset
    interval; see the module docstring)."""

    chord_seconds: float = 0.05
    anchored: bool = True
    grace_seconds: float = 0.1
    grace_leap: int = 7
    cut_seconds: float = 0.05
    cut_release: float = 0.02
    hold_tolerance: float = (
        0.05  # seconds: a note released this little after a cluster starts does not cover it
    )
    overlap: float = 0.25
    monophonic: float = 0.1
    register: int = 4
    legato: float = 0.6
    legato_register: int = 2
    rest: float = 0.75
    lookahead: float = 1.0
    upper_window: int = 4
    upper_depth: int = 12
    ornament: float = 0.3
    ornament_floor: float = 0.12
    trill: float = 1.0
    on_grid: float = 0.9
    pads: bool = True
    pad_notes: int = 3
    pad_seconds: float = 0.15
    pad_release: float = 0.25
    pad_moving: int = 1
    pad_share: float = 0.5
    pad_hold: float = 2.5
    pad_regular: float = 0.65

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Tune:
    """A piece's tune line: ``pitches`` (int16 MIDI pitches, ``(notes,)``, repeated pitches merged), and
    whether it was read from a ``clean`` score line: monophonic, with at least ``on_grid`` of its onsets on
    the sixteenth or eighth-triplet grid (a quantized score), as opposed to a chordal texture or an
    unquantized performance, whose line is an estimate."""

    pitches: np.ndarray
    clean: bool


def tune(piece: Piece, config: TuneLineConfig | None = None) -> Tune:
    """The piece's tune (module docstring). The melody is the track the source names as its melody if
    there is one (:func:`remixmusic.music.lines.melody_track`), else all pitched tracks together. Raises
    nothing; a piece without pitched notes has an empty, clean tune."""
    config = config or TuneLineConfig()
    notes = piece.notes[~piece.notes["is_drum"]]
    named = melody_track(piece)
    if named is not None:
        notes = notes[notes["track"] == named]
    if not len(notes):
        return Tune(np.zeros(0, np.int16), True)
    start = piece.seconds(notes["onset"])
    end = piece.seconds(notes["onset"].astype(np.int64) + notes["duration"])
    pitch = notes["pitch"].astype(np.int64)
    order = np.lexsort((-pitch, start))
    start, end, pitch = start[order], end[order], pitch[order]
    if config.pads:
        keep_notes = ~_pads(start, end, pitch, config)
        start, end, pitch = start[keep_notes], end[keep_notes], pitch[keep_notes]
    onset, top, release = _clusters(start, end, pitch, config)
    monophonic = float(np.mean(_overlapping(start, end, onset, config))) <= config.monophonic
    keep = _top_voice(onset, top, release, monophonic, config)
    onset, top = onset[keep], top[keep]
    top = top[_main_notes(onset, top, config)]
    steps = notes["onset"].astype(np.int64)
    on_grid = float(np.mean((steps % (STEPS_PER_BEAT // 4) == 0) | (steps % (STEPS_PER_BEAT // 3) == 0)))
    return Tune(_merge_repeats(top).astype(np.int16), monophonic and on_grid >= config.on_grid)


def tune_line(piece: Piece, config: TuneLineConfig | None = None) -> np.ndarray:
    """The pitches of :func:`tune` (int16 ``(notes,)``). Raises nothing."""
    return tune(piece, config).pitches


def _clusters(
    start: np.ndarray, end: np.ndarray, pitch: np.ndarray, config: TuneLineConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onset clusters of notes sorted by (start, -pitch): their first onset, their highest pitch and the
    release of that highest note, shape ``(clusters,)`` each. A grace or trill note merged into the
    cluster of its main note (shorter than ``grace_seconds``, at most two semitones from a longer note of
    the cluster, or ``grace_leap`` for a cut: see the module docstring) is not its top."""
    new = np.ones(len(start), bool)
    new[1:] = np.diff(start) > config.chord_seconds
    if config.anchored:
        new = _anchor(start, new, config.chord_seconds)
    cluster = np.cumsum(new) - 1
    length = end - start
    grace = np.zeros(len(start), bool)
    for offset in range(1, int(np.bincount(cluster).max())):
        for a, b in (
            (slice(offset, None), slice(None, -offset)),
            (slice(None, -offset), slice(offset, None)),
        ):
            leap = np.abs(pitch[a] - pitch[b])
            grace[a] |= (
                (cluster[a] == cluster[b])
                & (length[a] < config.grace_seconds)
                & (length[b] > length[a])
                & (
                    (leap <= 2)
                    # a cut or a grace note a leap away: played before its note and released as it starts
                    | (
                        (leap <= config.grace_leap)
                        & (length[a] <= config.cut_seconds)
                        & (start[a] < start[b])
                        & (end[a] <= start[b] + config.cut_release)
                    )
                )
            )
    top = np.full(int(cluster[-1]) + 1, -1, np.int64)
    np.maximum.at(top, cluster[~grace], pitch[~grace])
    is_top = (pitch == top[cluster]) & ~grace
    release = np.zeros(len(top))
    np.maximum.at(release, cluster[is_top], end[is_top])
    return start[new], top, release


def _pads(start: np.ndarray, end: np.ndarray, pitch: np.ndarray, config: TuneLineConfig) -> np.ndarray:
    """Which notes (sorted by start) are a pad: held chords over another voice (step 0 of the module
    docstring), boolean ``(notes,)``; all False unless the piece is a pad texture.

    A held chord is the notes of one onset cluster (``pad_seconds``, among the notes held longer than
    the median inter-onset interval of all notes) released together (each within ``pad_release`` of
    the cluster's longest note's length of the last release), held longer than the median inter-onset
    interval of the other notes (the unit); its pad is those of its notes above every
    other note sounding while it is held (the notes begun while it sounds, and those of the
    ``_LOOKBACK`` begun just before it that still sound), if there are ``pad_notes`` of them. A pad
    texture: the pads under which ``pad_moving`` or more other notes begin span ``pad_share`` of the
    piece, are held ``pad_hold`` units (median), and ``pad_regular`` of the intervals between pads are
    within 25% of their median (a harmonic rhythm, not a tune's)."""
    pad = np.zeros(len(start), bool)
    if len(start) <= config.pad_notes or start[-1] == start[0]:
        return pad
    # held chords are clustered among the notes held past the typical onset interval only: a short note
    # just before a rolled chord would otherwise open the window and cut the chord in two
    held_notes = np.flatnonzero(end - start > float(np.median(np.diff(np.unique(start)))))
    if len(held_notes) < config.pad_notes:
        return pad
    h_start, h_end, h_pitch = start[held_notes], end[held_notes], pitch[held_notes]
    new = _anchor(h_start, np.append(True, np.diff(h_start) > config.pad_seconds), config.pad_seconds)
    cluster = np.cumsum(new) - 1
    n_clusters = int(cluster[-1]) + 1
    length = h_end - h_start
    longest = np.zeros(n_clusters)
    np.maximum.at(longest, cluster, length)
    last = np.zeros(n_clusters)
    np.maximum.at(last, cluster, h_end)
    together = h_end >= last[cluster] - config.pad_release * longest[cluster]
    chord = np.bincount(cluster[together], minlength=n_clusters) >= config.pad_notes
    held = np.full(n_clusters, np.inf)
    np.minimum.at(held, cluster[together], h_end[together])
    others = np.ones(len(start), bool)
    others[held_notes[together & chord[cluster]]] = False
    if not chord.any() or len(np.unique(start[others])) < 3:
        return pad
    other_start, other_end, other_pitch = start[others], end[others], pitch[others]
    onsets = h_start[new]
    span = held - onsets
    unit = float(np.median(np.diff(np.unique(other_start))))
    chord &= span > unit
    # per held chord: the other notes begun while it sounds, and the highest note sounding under it
    lo = onsets + config.pad_seconds
    first = np.searchsorted(other_start, lo, side="right")
    stop = np.maximum(np.searchsorted(other_start, held - config.hold_tolerance, side="left"), first)
    moving = stop - first
    floor = np.full(n_clusters, 1000, np.int64)  # held chords only (a note is never above 1000)
    at = np.flatnonzero(chord)
    before = first[at, None] - np.arange(1, _LOOKBACK + 1)[None, :]
    sounding = before >= 0
    before = np.maximum(before, 0)
    sounding &= other_end[before] > lo[at, None]
    floor[at] = np.maximum(
        _range_max(other_pitch.astype(np.int64), first[at], stop[at]),
        np.where(sounding, other_pitch[before], -1).max(axis=1),
    )
    above = together & chord[cluster] & (h_pitch > floor[cluster])
    is_pad = np.bincount(cluster[above], minlength=n_clusters) >= config.pad_notes
    active = is_pad & (moving >= config.pad_moving)
    if np.sum(span[active]) < config.pad_share * float(end.max() - start.min()):
        return pad
    if float(np.median(span[active])) < config.pad_hold * unit:
        return pad
    gaps = np.diff(onsets[is_pad])
    if len(gaps) > 2 and np.mean(np.abs(gaps / np.median(gaps) - 1) <= 0.25) < config.pad_regular:
        return pad
    pad[held_notes[above & is_pad[cluster]]] = True
    return pad


def _anchor(start: np.ndarray, chained: np.ndarray, window: float) -> np.ndarray:
    """Cluster starts with the window anchored at each cluster's first onset: a chain of onsets each
    within ``window`` of the one before (``chained`` marks where chains start) is cut where an onset lies
    more than ``window`` after the start of its cluster. Boolean like ``chained``."""
    first = start[np.maximum.accumulate(np.where(chained, np.arange(len(start)), 0))]
    if not (start - first > window).any():  # every chain within one window (most pieces)
        return chained
    new = chained.copy()
    anchor = -np.inf
    for k, (begins, t) in enumerate(zip(chained.tolist(), start.tolist(), strict=True)):
        if begins or t - anchor > window:
            new[k] = True
            anchor = t
    return new


def _overlapping(start: np.ndarray, end: np.ndarray, onset: np.ndarray, config: TuneLineConfig) -> np.ndarray:
    """Whether each cluster has more than one note or starts while an earlier note still sounds (released
    more than ``hold_tolerance`` later), boolean ``(clusters,)``."""
    first = np.searchsorted(start, onset, side="left")
    size = np.diff(np.append(first, len(start)))
    earlier = first - np.searchsorted(np.sort(end), onset + config.hold_tolerance, side="right")
    return (size > 1) | (earlier > 0)


def _weighted_median(intervals: np.ndarray) -> float:
    """The duration-weighted median of positive intervals (1.0 when there are none)."""
    values = np.sort(intervals[intervals > 0])
    if not len(values):
        return 1.0
    cumulative = np.cumsum(values)
    return float(values[np.searchsorted(cumulative, cumulative[-1] / 2)])


def _range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``max(values[lo:hi])`` for every pair (a sparse table); -1 for an empty range."""
    table = [values]
    span = 1
    while span * 2 <= len(values):
        table.append(np.maximum(table[-1][:-span], table[-1][span:]))
        span *= 2
    length = hi - lo
    out = np.full(len(lo), -1, np.int64)
    level = np.zeros(len(lo), np.int64)
    nonempty = length > 0
    level[nonempty] = np.floor(np.log2(length[nonempty])).astype(np.int64)
    for k in np.unique(level[nonempty]).tolist():
        sel = nonempty & (level == k)
        out[sel] = np.maximum(table[k][lo[sel]], table[k][hi[sel] - (1 << k)])
    return out


def _upper_unit(onset: np.ndarray, top: np.ndarray, candidates: np.ndarray, config: TuneLineConfig) -> float:
    """The duration-weighted median inter-onset interval of the upper stream: the ``candidates`` whose top
    is at most ``upper_depth`` semitones under the highest top among the ``upper_window`` clusters on each
    side (0.0 when ``upper_window`` is 0 or fewer than three clusters qualify)."""
    w = config.upper_window
    if not w:
        return 0.0
    padded = np.concatenate([np.full(w, -1), top, np.full(w, -1)])
    peak = np.lib.stride_tricks.sliding_window_view(padded, 2 * w + 1).max(axis=1)
    upper = candidates & (top >= peak - config.upper_depth)
    return _weighted_median(np.diff(onset[upper])) if upper.sum() > 2 else 0.0


def _top_voice(
    onset: np.ndarray, top: np.ndarray, release: np.ndarray, monophonic: bool, config: TuneLineConfig
) -> np.ndarray:
    """Which clusters carry the top voice (step 2 of the module docstring), boolean ``(clusters,)``."""
    n = len(onset)
    if monophonic:
        return np.ones(n, bool)
    # The typical inter-onset interval of the plain skyline (a cluster under a sounding higher one is out).
    covered = np.zeros(n, bool)
    covered[1:] = (release[:-1] > onset[1:] + config.hold_tolerance) & (top[1:] < top[:-1])
    unit = _weighted_median(np.diff(onset[~covered])) if n - covered.sum() > 2 else 0.5
    unit = max(unit, _upper_unit(onset, top, ~covered, config))
    index = np.arange(n)
    ahead = _range_max(top, index + 1, np.searchsorted(onset, onset + config.lookahead * unit, side="right"))
    keep = np.zeros(n, bool)
    line_pitch, line_onset, line_release = -1000, -np.inf, -np.inf
    rest = config.rest * unit
    hold = max(config.hold_tolerance, config.overlap * unit)
    rows = zip(onset.tolist(), top.tolist(), release.tolist(), ahead.tolist(), strict=True)
    for c, (t, x, r, later) in enumerate(rows):
        if t < line_release - hold:  # the line's note still sounds: a higher note, or a legato step down
            joins = x >= line_pitch or (
                x >= line_pitch - config.legato_register
                and line_release - t <= config.legato * (line_release - line_onset)
            )
        else:
            joins = (
                x >= line_pitch - config.register or t >= line_release + rest or later < x + config.register
            )
        if joins:
            keep[c] = True
            line_pitch, line_onset, line_release = x, t, r
    return keep


def _main_notes(onset: np.ndarray, pitch: np.ndarray, config: TuneLineConfig) -> np.ndarray:
    """Which line notes are main notes, not ornaments (step 3 of the module docstring), boolean."""
    keep = np.ones(len(onset), bool)
    if len(onset) < 3 or not config.ornament:
        return keep
    gaps = np.diff(onset)
    slow = gaps[gaps >= config.ornament_floor]
    unit = float(np.median(slow if len(slow) else gaps))
    short = np.append(gaps < config.ornament * unit, False)
    if not short.any():
        return keep
    keep = ~short
    run = np.cumsum(short & ~np.append(False, short[:-1])) - 1
    members = np.flatnonzero(short)
    lasting = np.bincount(run[members], weights=gaps[members]) >= config.trill * unit
    for r in np.flatnonzero(lasting).tolist():
        notes = members[run[members] == r]
        values, counts = np.unique(pitch[notes], return_counts=True)
        keep[notes[np.argmax(pitch[notes] == values[np.argmax(counts)])]] = True
    return keep


def _merge_repeats(pitches: np.ndarray) -> np.ndarray:
    if not len(pitches):
        return pitches
    keep = np.ones(len(pitches), bool)
    keep[1:] = pitches[1:] != pitches[:-1]
    return pitches[keep]
