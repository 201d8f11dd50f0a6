"""The melody of a piece: the part the source names as the tune, else the skyline of all parts."""

from __future__ import annotations

import numpy as np

from remixmusic.music.lines import melody_line, melody_track
from remixmusic.music.notes import NOTE_DTYPE, Piece, Track


def _part(track: int, pitches: list[int], step: int = 12) -> np.ndarray:
    notes = np.zeros(len(pitches), NOTE_DTYPE)
    notes["onset"] = np.arange(len(pitches)) * step
    notes["duration"] = step
    notes["pitch"] = pitches
    notes["velocity"] = 80
    notes["track"] = track
    return notes


def test_a_named_soprano_is_the_melody_even_under_a_higher_descant() -> None:
    tune = [67, 69, 71, 72, 71, 69, 67, 66]
    descant = [79, 81, 83, 84, 83, 81, 79, 78]  # a violin above the tune all along
    bass = [48, 50, 52, 53, 52, 50, 48, 47]
    piece = Piece(
        np.concatenate([_part(0, descant), _part(1, tune), _part(2, bass)]),
        tracks=[Track("Violin"), Track("Soprano"), Track("Bass")],
    )
    assert melody_track(piece) == 1
    assert melody_line(piece).tolist() == tune


def test_the_sung_part_of_a_song_is_the_melody_under_a_guitars_chords() -> None:
    """A song: a part named "Voice" (or "Vocals", "Vox", "Singer") under a guitar whose strummed chords
    ring above it is the melody (the skyline of the guitar's top strings was read as the tune)."""
    tune = [60, 57, 55, 57, 59, 60, 62, 60]
    guitar = [67, 65, 67, 65, 67, 67, 69, 67]
    for name in ("Voice", "Vocals", "vox 1", "Singer"):
        piece = Piece(np.concatenate([_part(0, guitar), _part(1, tune)]), tracks=[Track("Guitar"), Track(name)])
        assert melody_track(piece) == 1
        assert melody_line(piece).tolist() == tune


def test_without_a_named_part_the_melody_is_the_skyline_of_all_parts() -> None:
    upper = [79, 81, 83, 84]
    lower = [67, 69, 71, 72]
    piece = Piece(np.concatenate([_part(0, upper), _part(1, lower)]), tracks=[Track("Violin I"), Track("Viola")])
    assert melody_track(piece) is None
    assert melody_line(piece).tolist() == upper


def test_a_named_part_with_no_pitched_note_is_not_taken() -> None:
    drums = _part(0, [36, 38, 36, 38])
    drums["is_drum"] = True
    piece = Piece(
        np.concatenate([drums, _part(1, [60, 62, 64])]),
        tracks=[Track("Lead drums", is_drum=True), Track("Piano")],
    )
    assert melody_track(piece) is None
    assert melody_line(piece).tolist() == [60, 62, 64]
