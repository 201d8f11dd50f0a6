"""Plots of an analysis: coverage curves with bootstrap intervals, and remix-map colours and rasters.

Kept apart from :mod:`remixmusic.novelty.report` (the report's data and files), which draws with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from remixmusic.errors import RemixError
from remixmusic.evaluation.significance import bootstrap_ci_curves
from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.novelty.passages import NOTE_LABELS

if TYPE_CHECKING:
    from remixmusic.novelty.report import NoteMap

MAP_RASTER_COLUMNS = 1_200
"""Time bins (image columns) of a rastered remix map."""


LABEL_COLORS = {
    "copied": "#D55E00",
    "varied": "#E69F00",
    "stock": "#0072B2",
    "self-repeat": "#56B4E9",
    "prompt": "#000000",
    "novel": "#F5EDB0",
    "not-analysed": "#AAAAAA",
}
"""The colour of each note label (:data:`~remixmusic.novelty.passages.NOTE_LABELS`) in remix maps: the
Okabe-Ito palette (vermillion copied, orange varied, blue stock, sky blue self-repeat, black prompt), a
pale yellow for novel notes and a grey for notes on no analysed line. Every pair stays apart under
simulated protan, deutan and tritan colour blindness (CIELAB distance 18 or more, tested); varied notes
are hatched too, so copied and varied differ in pattern as well as colour."""

LABEL_HATCHES = {"varied": "////"}
"""Hatching of a label's notes in remix maps (matplotlib hatch patterns; the page draws the same stripes)."""

_LABEL_EDGES = {"novel": "#8C7E1E", "not-analysed": "#777777"}  # outlines of the light fills


GROUP_COLORS = {"query": "#d62728", "control": "#1f77b4"}
"""Plot colors of the analysis groups; other groups take the next tab10 colors."""



def query_map(records: Sequence[Any], note_maps: Sequence[Any], which: int | str) -> tuple[Any, Any]:
    """The record and note map of one query piece, by position (``int``, negative from the end) or by
    name (``str``, as in ``pieces.csv``).

    Raises:
        RemixError: no such position or name (the number of query pieces, or the names, in the message).
    """
    if isinstance(which, str):
        names = [r.piece for r in records]
        if which not in names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise RemixError(f"no query piece named {which!r}; the query pieces are {shown}")
        which = names.index(which)
    if not -len(records) <= which < len(records):
        raise RemixError(f"no query piece {which}: there are {len(records)} (0 to {len(records) - 1}, or a name)")
    return records[which], note_maps[which]

def chance_notes(params: Mapping[str, Any]) -> int | None:
    """The chance length in notes from an analysis's parameters: ``chance_length`` (symbols) plus the
    view's order (``min_match_notes - min_match_symbols``); ``None`` when they are not all given."""
    try:
        order = int(params["min_match_notes"]) - int(params["min_match_symbols"])
        return int(params["chance_length"]) + order
    except (KeyError, TypeError, ValueError):
        return None


def min_copy_notes(params: Mapping[str, Any]) -> int | None:
    """The fewest notes a passage (copied, varied or stock) can have: ``min_copy_notes`` when the
    analysis recorded it, else the notes the shortest counted match spans (``min_match_notes``), less
    its last note under ``transposed+tempo``, whose pitch the match leaves free (it belongs to the
    passage only when its pitch agrees with the source's too); ``None`` when not given."""
    if isinstance(params.get("min_copy_notes"), int):
        return int(params["min_copy_notes"])
    try:
        n = int(params["min_match_notes"])
    except (KeyError, TypeError, ValueError):
        return None
    return n - 1 if params.get("invariance") == "transposed+tempo" else n


def plot_coverage_curves(
    lengths: np.ndarray,
    curves: dict[str, np.ndarray],
    threshold: float,
    title: str,
    seed: int = 0,
    ax: Any = None,
    colors: dict[str, str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    chance: float | None = None,
    shortest_copy: int | None = None,
) -> Any:
    """Mean coverage curve of each group (pieces x lengths) with pointwise bootstrap 95% intervals, the
    shortest match that counts (``threshold``, notes) as a dashed line and, when given, the chance length
    (``chance``, notes: the longest match that shuffled reference lines reach by chance) as a dotted one;
    ``shortest_copy``: the fewest notes of a passage that match gives (its legend says both);
    a matplotlib ``Figure`` drawn without pyplot state.

    ``groups``: per group, a tune-group label per piece (curve row); the intervals then resample whole
    tune groups (cluster bootstrap, :func:`~remixmusic.evaluation.significance.bootstrap_ci_curves`).

    Raises:
        ValueError: a group's labels are not one per curve.
    """
    import matplotlib

    from remixmusic._util.figures import new_figure

    fig = ax.figure if ax is not None else new_figure((6.5, 3.8))
    ax = ax if ax is not None else fig.add_subplot(111)
    colors = {**GROUP_COLORS, **(colors or {})}
    palette = matplotlib.colormaps["tab10"]
    for k, (group, group_curves) in enumerate(curves.items()):
        if group_curves is None or len(group_curves) == 0:
            continue
        color = colors.get(group, palette(k % 10))
        lo, hi = bootstrap_ci_curves(group_curves, seed=seed, groups=(groups or {}).get(group))
        ax.plot(lengths, group_curves.mean(axis=0), color=color, label=f"{group} (n={len(group_curves)})")
        ax.fill_between(lengths, lo, hi, color=color, alpha=0.2, linewidth=0)
    counted = (
        f"shortest copy: {shortest_copy} notes (a match spanning {threshold:g})"
        if shortest_copy is not None and shortest_copy != threshold
        else f"shortest copy ({threshold:g} notes)"
    )
    ax.axvline(threshold, color="gray", linestyle="--", label=counted, linewidth=1)
    if chance is not None:
        ax.axvline(chance, color="black", linestyle=":", label=f"chance length ({chance:g} notes)", linewidth=1)
    ax.set_xlabel("minimum match length L (notes)")
    ax.set_ylabel("fraction of notes covered")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _note_colors(notes: NoteMap, names: list[str]) -> tuple[np.ndarray, list[tuple[str, Any]]]:
    """One RGBA colour per note, its label's (:data:`LABEL_COLORS`), and the legend: the labels present,
    in :data:`~remixmusic.novelty.passages.NOTE_LABELS` order. ``names`` (the reference pieces) is unused:
    sources are named beside the map, not coded in colour (twenty source hues cannot all stay apart, and
    copied, varied and novel notes must)."""
    from matplotlib.colors import to_rgba, to_rgba_array

    label = np.asarray(notes.label)
    colors = to_rgba_array([LABEL_COLORS[lab] for lab in NOTE_LABELS])[label]
    present = {NOTE_LABELS[x] for x in np.unique(label).tolist()}
    # "novel" as the page and the tables word it too: in no copy (its notes may share shorter stretches)
    legend: list[tuple[str, Any]] = [
        ("novel (no copy)" if lab == "novel" else lab, to_rgba(LABEL_COLORS[lab])) for lab in NOTE_LABELS if lab in present
    ]
    return colors, legend


def _raster(notes: NoteMap, colors: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float], float]:
    """A pitch x time RGBA image of a piece (rows: pitches low to high; at most
    :data:`MAP_RASTER_COLUMNS` time bins), each cell the colour of the most notes sounding in it (a note
    fills the bins from its onset to its end, at most 16 of them), empty cells transparent; its extent
    (beats, pitch) for ``imshow`` and the bin width in beats. Time and memory O(notes)."""
    onset = np.asarray(notes.onset, np.int64)
    end = onset + np.maximum(np.asarray(notes.duration, np.int64), 1)
    pitch = np.asarray(notes.pitch, np.int64)
    t0, t1 = int(onset.min()), int(end.max())
    width = max(1, -(-(t1 - t0) // MAP_RASTER_COLUMNS))  # steps per bin
    n_cols = -(-(t1 - t0) // width)
    p0, p1 = int(pitch.min()), int(pitch.max())
    first = (onset - t0) // width
    span = np.clip((end - 1 - t0) // width - first + 1, 1, 16)
    note = np.repeat(np.arange(len(onset)), span)
    col = first[note] + (np.arange(len(note)) - np.repeat(np.cumsum(span) - span, span))
    cell = (pitch[note] - p0) * n_cols + col
    palette, cat = np.unique(colors, axis=0, return_inverse=True)
    cat = cat.reshape(-1)
    keys, counts = np.unique(cell * len(palette) + cat[note], return_counts=True)
    cells, cats = keys // len(palette), keys % len(palette)
    order = np.lexsort((-counts, cells))  # per cell, the most frequent colour first
    cells, cats = cells[order], cats[order]
    head = np.r_[True, cells[1:] != cells[:-1]]
    image = np.zeros(((p1 - p0 + 1) * n_cols, 4))
    image[cells[head]] = palette[cats[head]]
    image[cells[head], 3] = np.maximum(image[cells[head], 3], 0.55)
    extent = (t0 / STEPS_PER_BEAT, (t0 + n_cols * width) / STEPS_PER_BEAT, p0 - 0.5, p1 + 0.5)
    return image.reshape(p1 - p0 + 1, n_cols, 4), extent, width / STEPS_PER_BEAT


def _edges(label: np.ndarray) -> list[str]:
    """Outlines: the light fills (novel, not-analysed) a darker shade of theirs, varied notes black
    (around their hatching), else none."""
    out = np.full(len(label), "none", object)
    out[label == NOTE_LABELS.index("varied")] = "#000000"
    for name, edge in _LABEL_EDGES.items():
        out[label == NOTE_LABELS.index(name)] = edge
    return out.tolist()


def _hatches(label: np.ndarray) -> list[str | None]:
    """Per note, its label's hatch (:data:`LABEL_HATCHES`) or ``None``."""
    return [LABEL_HATCHES.get(NOTE_LABELS[c]) for c in np.asarray(label).tolist()]
