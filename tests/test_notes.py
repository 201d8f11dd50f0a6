import numpy as np

from remixmusic.music.notes import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Piece
from tests.conftest import make_piece


def test_crop_bars_keeps_the_last_bar_of_a_piece_in_a_long_meter():
    # Three bars of 6/4 (72 steps each), one note per bar.
    piece = make_piece([60, 62, 64], onsets=[0, 72, 150], time_signatures=[(0, 6, 4)])
    assert piece.crop_bars(0, 3).notes["onset"].tolist() == [0, 72, 150]
    assert piece.crop_bars(2, 1).notes["onset"].tolist() == [6]
    # Bars past the end follow the last meter: bar 4 starts at 4 * 72 steps.
    assert piece.crop_bars(0, 5).bar_starts(4 * 72 + 1)[-1] == 4 * 72


def test_a_later_event_at_the_same_onset_wins():
    meters = np.array([(0, 4, 4), (0, 3, 4)], TIME_SIGNATURE_DTYPE)
    tempos = np.array([(0, 90.0), (0, 60.0)], TEMPO_DTYPE)
    piece = Piece(time_signatures=meters, tempos=tempos)
    assert piece.meter_map()[["numerator", "denominator"]].tolist() == [(3, 4)]
    assert piece.seconds(12) == 1.0  # one beat at 60 qpm


def test_bar_of_no_positions_is_empty():
    empty = Piece()
    assert empty.bar_of(empty.notes["onset"]).tolist() == []
    assert make_piece([60], onsets=[100]).bar_of(100) == 2
