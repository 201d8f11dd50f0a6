"""Shared test helpers."""

from __future__ import annotations

import numpy as np

from remixmusic.music.notes import NOTE_DTYPE, TIME_SIGNATURE_DTYPE, Piece, Track


def make_piece(pitches, onsets=None, durations=None, track=0, time_signatures=None) -> Piece:
    """A one-track piece from plain lists (steps on the 12-per-beat grid)."""
    n = len(pitches)
    notes = np.zeros(n, NOTE_DTYPE)
    notes["pitch"] = pitches
    notes["onset"] = np.arange(n) * 12 if onsets is None else onsets
    notes["duration"] = 12 if durations is None else durations
    notes["velocity"] = 80
    notes["track"] = track
    ts = (
        np.zeros(0, TIME_SIGNATURE_DTYPE)
        if time_signatures is None
        else np.array(time_signatures, TIME_SIGNATURE_DTYPE)
    )
    return Piece(notes=notes, tracks=[Track("melody")], time_signatures=ts)
