"""Per-note evidence for labels: prompt notes, model surprisal from sidecars, which match covers each note, and note sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from remixmusic.music.notes import Piece
from remixmusic.novelty.matches import PieceMatches
from remixmusic.novelty.report import LABELS

LOG_PROB_KEY = "note_log_probs"
"""Sidecar key (written by :func:`remixmusic.sample.write_results`) with one natural-log probability per
note, in the order of ``read_midi(file).notes``; surprisal is its negative."""


def _surprisal(sidecar: dict[str, Any], n: int) -> np.ndarray | None:
    values = sidecar.get(LOG_PROB_KEY)
    if not isinstance(values, list) or len(values) != n:
        return None
    return -np.asarray(values, dtype=np.float64)  # a None (no probability) becomes NaN


def _prompt_mask(sidecar: dict[str, Any], piece: Piece) -> np.ndarray:
    """Notes that came from the prompt of a continuation: the sidecar's ``prompt`` says whether the
    prompt's first ``bars`` bars were kept in the file (``included``); those bars are the prompt."""
    prompt = sidecar.get("prompt")
    if (
        not isinstance(prompt, dict)
        or not prompt.get("included")
        or not prompt.get("n_notes")
        or not len(piece)
    ):
        return np.zeros(len(piece.notes), bool)
    return piece.bar_of(piece.notes["onset"]) < int(prompt.get("bars", 0))


def _cover_ids(
    n: int, spans: Sequence[np.ndarray], weights: Sequence[int], keep: Sequence[bool] | None = None
) -> np.ndarray:
    """Per note, the id of the heaviest span covering it (-1 none), among the spans ``keep`` allows;
    heavier spans are painted last."""
    out = np.full(n, -1, np.int64)
    for i in np.argsort(np.asarray(weights, dtype=np.int64), kind="stable"):
        if keep is None or keep[i]:
            out[spans[i]] = i
    return out


def _most_common(ids: np.ndarray) -> int:
    ids = ids[ids >= 0]
    if len(ids) == 0:
        return -1
    values, counts = np.unique(ids, return_counts=True)
    return int(values[np.argmax(counts)])


def _note_sources(
    pm: PieceMatches, note_match: np.ndarray, note_varied: np.ndarray, note_label: np.ndarray
) -> np.ndarray:
    """Reference piece per note for the remix map: its match's first source, varied copies' source."""
    first = np.asarray([m.sources[0].piece if m.sources else -1 for m in pm.matches] + [-1], np.int64)
    vsrc = np.asarray([v.source.piece for v in pm.varied_matches] + [-1], np.int64)
    source = first[note_match]  # -1 indexes the trailing -1
    varied_here = (note_label == LABELS.index("varied")) & (note_varied >= 0)
    source[varied_here] = vsrc[note_varied[varied_here]]
    return source


def _top_source_share(pm: PieceMatches) -> float:
    """Largest fraction of a piece's line notes covered by above-chance matches to one reference piece."""
    n_line = int(pm.in_line.sum())
    if n_line == 0:
        return 0.0
    pieces = [np.full(m.n_notes, s.piece, np.int64) for m in pm.matches for s in m.sources]
    notes = [m.notes for m in pm.matches for _ in m.sources]
    pieces += [np.full(len(v.notes), v.source.piece, np.int64) for v in pm.varied_matches]
    notes += [v.notes for v in pm.varied_matches]
    if not pieces:
        return 0.0
    n = len(pm.piece.notes)
    pairs = np.unique(np.concatenate(pieces) * (n + 1) + np.concatenate(notes))
    return float(np.bincount(pairs // (n + 1)).max() / n_line)
