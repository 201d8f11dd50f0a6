"""Standard symbolic-music descriptors, computed on whole note arrays.

Each descriptor follows a published definition (as collected in MusPy, Dong et al., ISMIR 2020) and is
evaluated on our step grid (``STEPS_PER_BEAT`` steps per quarter note). Conventions shared by all:

* "Pitched notes" exclude drums (``is_drum``); pitch descriptors use pitched notes only, rhythm
  descriptors (empty beats, groove, density) use every note.
* A note *sounds* during the steps ``[onset, onset + duration)``; the piece spans ``[0, end)`` where
  ``end`` is the offset of its last note. Beats are quarter notes counted from step 0.
* A descriptor that is undefined for a piece (e.g. pitch range without pitched notes, groove with fewer
  than two bars) is NaN, and folder aggregates ignore NaNs.

Definitions:

``n_notes`` / ``n_bars``
    number of notes (drums included) / bars from step 0 to ``end`` under the piece's meter map.
``pitch_range``
    highest minus lowest pitch, in semitones (Dong et al., MuseGAN, AAAI 2018).
``n_pitches`` / ``n_pitch_classes``
    number of distinct MIDI pitches / pitch classes used (Dong et al. 2018, "UPC").
``pitch_class_entropy``
    Shannon entropy in bits of the normalized 12-bin pitch-class histogram of note counts
    (Wu & Yang, "The Jazz Transformer on the Front Line", ISMIR 2020). 0 = one pitch class, log2 12 max.
``scale_consistency``
    the largest fraction of notes whose pitch class lies in one major or natural-minor scale, over all
    24 such scales (Mogren, C-RNN-GAN, 2016).
``polyphony``
    mean number of distinct pitches sounding, over the steps where at least one pitch sounds (MusPy).
``polyphony_rate``
    fraction of the piece's steps where at least ``POLYPHONY_THRESHOLD`` distinct pitches sound
    ("polyphonicity", Dong et al. 2018).
``empty_beat_rate``
    fraction of beats during which no note (drums included) sounds (Dong et al., Pypianoroll 2018).
``groove_consistency``
    ``1 - mean_i d(g_i, g_{i+1}) / Q``: ``g_i`` is the binary onset vector of bar ``i`` (one slot per
    step, ``Q`` slots = the longest bar), ``d`` the Hamming distance (Wu & Yang 2020).
``note_density``
    notes per beat over the piece's span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from remixmusic._util.arrays import interval_union
from remixmusic.errors import DatasetError, RemixError
from remixmusic.music.notes import STEPS_PER_BEAT, Piece

POLYPHONY_THRESHOLD = 2
"""Number of distinct sounding pitches from which a step counts as polyphonic."""


DESCRIPTORS: tuple[str, ...] = (
    "n_notes",
    "n_bars",
    "pitch_range",
    "n_pitches",
    "n_pitch_classes",
    "pitch_class_entropy",
    "scale_consistency",
    "polyphony",
    "polyphony_rate",
    "empty_beat_rate",
    "groove_consistency",
    "note_density",
)
"""Keys of :func:`describe`'s result, in display order."""


_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)


_NATURAL_MINOR = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], bool)


# Row r (r < 12): major scale on pitch class r; row 12 + r: natural minor on r.
_SCALES = np.stack([np.roll(_MAJOR, r) for r in range(12)] + [np.roll(_NATURAL_MINOR, r) for r in range(12)])


def _voices(notes: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pitches sounding over ``[0, end)``, as runs: ``(lengths, counts)`` of the stretches between
    successive note boundaries. Sparse (one sweep over the notes' boundaries), so a note far out costs
    nothing."""
    pitch = notes["pitch"].astype(np.int64)
    onset = notes["onset"].astype(np.int64)
    offset = onset + notes["duration"].astype(np.int64)
    # per pitch, overlapping notes sound as one: shift each pitch's notes apart, unite, shift back
    span = int(max(offset.max(), end)) + 1 if len(offset) else 1
    starts, ends = interval_union(pitch * span + onset, pitch * span + offset)
    starts, ends = starts % span, ends % span  # every offset is below span
    starts, ends = np.minimum(starts, end), np.minimum(ends, end)
    points = np.concatenate([starts, ends])
    change = np.concatenate([np.ones(len(starts), np.int64), -np.ones(len(ends), np.int64)])
    order = np.argsort(points, kind="stable")
    points, change = points[order], change[order]
    counts = np.cumsum(change)[:-1] if len(points) else np.zeros(0, np.int64)
    lengths = np.diff(points)
    return lengths, counts


def _entropy_bits(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def groove_consistency(piece: Piece) -> float:
    """Wu & Yang (2020) groove consistency; see the module docstring. NaN with fewer than two bars.

    Computed from the onsets alone (the Hamming distance of two bars' onset vectors is the onsets of each
    less twice those they share), so its cost follows the notes, not the number of bars."""
    notes = piece.notes
    if len(notes) == 0:
        return math.nan
    n_bars = piece.n_bars
    if n_bars < 2:
        return math.nan
    onset = notes["onset"].astype(np.int64)
    bar = piece.bar_of(onset)
    position = onset - piece.bar_step_of(bar)
    slots = np.unique(bar * (int(position.max()) + 1) + position)  # distinct (bar, position) onsets
    width_key = int(position.max()) + 1
    bars, positions = slots // width_key, slots % width_key
    shared = np.isin((bars + 1) * width_key + positions, slots).sum()
    total = len(slots) * 2 - np.count_nonzero(bars == 0) - np.count_nonzero(bars == n_bars - 1)
    distance = (total - 2 * shared) / (n_bars - 1)
    return float(1.0 - distance / piece.longest_bar())


def describe(piece: Piece) -> dict[str, float]:
    """All :data:`DESCRIPTORS` of one piece (definitions and sources in the module docstring)."""
    notes = piece.notes
    pitched = notes[~notes["is_drum"]]
    end = piece.end
    nan = math.nan
    out: dict[str, float] = {"n_notes": float(len(notes)), "n_bars": float(piece.n_bars if len(notes) else 0)}

    if len(pitched):
        pitches = pitched["pitch"].astype(np.int64)
        pc_counts = np.bincount(pitches % 12, minlength=12)
        lengths, voices = _voices(pitched, end)
        active = (voices > 0) & (lengths > 0)
        out |= {
            "pitch_range": float(pitches.max() - pitches.min()),
            "n_pitches": float(len(np.unique(pitches))),
            "n_pitch_classes": float(np.count_nonzero(pc_counts)),
            "pitch_class_entropy": _entropy_bits(pc_counts),
            "scale_consistency": float((_SCALES @ pc_counts).max() / len(pitched)),
            "polyphony": float((voices * lengths)[active].sum() / lengths[active].sum()),
            "polyphony_rate": float(lengths[voices >= POLYPHONY_THRESHOLD].sum() / end),
        }
    else:
        out |= dict.fromkeys(
            ("pitch_range", "n_pitches", "n_pitch_classes", "pitch_class_entropy", "scale_consistency"), nan
        ) | {"polyphony": nan, "polyphony_rate": nan}

    if len(notes):
        n_beats = -(-end // STEPS_PER_BEAT)
        onset = notes["onset"].astype(np.int64)
        starts, ends = interval_union(np.minimum(onset, end), np.minimum(onset + notes["duration"], end))
        # the beats each sounding stretch touches, united (two stretches may share a beat)
        first, last = interval_union(starts // STEPS_PER_BEAT, (ends - 1) // STEPS_PER_BEAT + 1)
        out["empty_beat_rate"] = float(1.0 - (last - first).sum() / n_beats)
        out["note_density"] = float(len(notes) * STEPS_PER_BEAT / end)
    else:
        out["empty_beat_rate"] = nan
        out["note_density"] = nan
    out["groove_consistency"] = groove_consistency(piece)
    return {key: out[key] for key in DESCRIPTORS}


@dataclass
class FolderStats:
    """Descriptors of every readable piece in a folder, with their mean and standard deviation."""

    folder: str
    files: list[str]
    values: dict[str, np.ndarray]  # descriptor -> one value per file (NaN where undefined)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def mean(self) -> dict[str, float]:
        return {k: _nan_stat(np.nanmean, v) for k, v in self.values.items()}

    @property
    def std(self) -> dict[str, float]:
        return {k: _nan_stat(np.nanstd, v) for k, v in self.values.items()}

    def to_dict(self) -> dict:
        """JSON-ready summary; undefined values (NaN) become ``None``."""
        return {
            "folder": self.folder,
            "n_files": len(self.files),
            "mean": json_safe(self.mean),
            "std": json_safe(self.std),
            "files": {
                f: json_safe({k: v[i] for k, v in self.values.items()}) for i, f in enumerate(self.files)
            },
            "skipped": [{"file": p, "reason": r} for p, r in self.skipped],
        }


def json_safe(values: dict[str, float]) -> dict[str, float | None]:
    """Descriptor values with NaN replaced by ``None`` (JSON has no NaN)."""
    return {k: None if math.isnan(v) else float(v) for k, v in values.items()}


def _nan_stat(fn, values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(fn(finite)) if len(finite) else math.nan


def describe_pieces(pieces: list[Piece], folder: str = "", skipped: list | None = None) -> FolderStats:
    """Aggregate :func:`describe` over pieces (each identified by its ``source``)."""
    rows = [describe(p) for p in pieces]
    values = {k: np.array([r[k] for r in rows], np.float64) for k in DESCRIPTORS}
    files = [p.source or f"piece {i}" for i, p in enumerate(pieces)]
    return FolderStats(folder=folder, files=files, values=values, skipped=list(skipped or []))


def describe_folder(folder: str | Path, jobs: int = 0, show_progress: bool = True) -> FolderStats:
    """Descriptors of every MIDI file under ``folder`` (a folder or one file) or, when ``folder`` is no
    path here but a dataset's name (``bach-chorales``, found as
    :func:`~remixmusic.data.datasets.load_dataset` finds it), of every piece of that dataset; unreadable
    files are skipped and listed.

    Raises:
        RemixError: ``folder`` is neither a path nor a dataset name, or holds no readable MIDI file.
    """
    from remixmusic.io.folders import read_folder, unreadable_summary

    source: str | Path | list[Path] = folder
    if not Path(folder).exists() and len(Path(folder).parts) == 1:
        from remixmusic.data.datasets import load_dataset

        try:
            source = load_dataset(str(folder)).files()
        except DatasetError as exc:
            raise RemixError(f"{folder}: no such file or folder, and {exc}") from None
    result = read_folder(source, jobs=jobs, cache=False, show_progress=show_progress)
    if not result.pieces:
        raise RemixError(f"{folder}: no readable MIDI files ({unreadable_summary(result.skipped)})")
    return describe_pieces(result.pieces, folder=str(folder), skipped=result.skipped)


def overlapping_area(a: np.ndarray, b: np.ndarray, grid_size: int = 512) -> float:
    """Overlapping area of two samples' Gaussian-kernel density estimates (Yang & Lerch 2020).

    1 means the two sets of per-piece values are distributed identically, 0 that they never meet.
    Bandwidths follow Scott's rule; NaN if either sample has fewer than two finite values.
    """
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return float(a[0] == b[0])
    spread = max(np.std(a), np.std(b))
    lo, hi = min(a.min(), b.min()) - 4 * spread, max(a.max(), b.max()) + 4 * spread
    grid = np.linspace(lo, hi, grid_size)
    step = grid[1] - grid[0]
    return float(np.minimum(_kde(a, grid, spread), _kde(b, grid, spread)).sum() * step)


def _kde(sample: np.ndarray, grid: np.ndarray, fallback_spread: float) -> np.ndarray:
    std = np.std(sample) if np.std(sample) > 0 else fallback_spread
    bandwidth = std * len(sample) ** (-1 / 5)
    z = (grid[:, None] - sample[None, :]) / bandwidth
    return np.exp(-0.5 * z**2).sum(axis=1) / (len(sample) * bandwidth * math.sqrt(2 * math.pi))


def compare(a: FolderStats, b: FolderStats) -> dict[str, float]:
    """Per-descriptor overlapping area between two folders (e.g. generated vs held-out)."""
    return {k: overlapping_area(a.values[k], b.values[k]) for k in DESCRIPTORS}
