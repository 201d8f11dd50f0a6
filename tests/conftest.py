"""Shared test helpers."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.fixture(scope="module")
def analysis():
    """A real analysis of chorale patchworks (tests/page_report.py), built once per test module that asks
    for it (modules may change it; a module with its own ``analysis`` fixture overrides this one)."""
    from tests.page_report import page_report

    return page_report()


@pytest.fixture(scope="module")
def page(analysis):
    """That analysis's report.html, as text and parsed."""
    from tests.page_report import Page

    report, _ = analysis
    text = report.html()
    return text, Page(text)
