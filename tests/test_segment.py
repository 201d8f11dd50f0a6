import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.errors import RemixError
from remixmusic.music.notes import STEPS_PER_BEAT
from remixmusic.novelty.segment import Segmenter, degree_of_change, lbdm_strength, profile_strength

Q = STEPS_PER_BEAT  # a quarter note


def line(pitches, durations, gaps=None):
    """Note arrays of a monophonic line; ``gaps`` adds rests after notes."""
    durations = np.asarray(durations) * Q // 4 if not isinstance(durations, np.ndarray) else durations
    gaps = np.zeros(len(pitches), dtype=np.int64) if gaps is None else np.asarray(gaps)
    onset = np.concatenate([[0], np.cumsum(durations + gaps)[:-1]]).astype(np.int64)
    return onset, np.asarray(durations, dtype=np.int64), np.asarray(pitches, dtype=np.int64)


def test_degree_of_change_matches_the_lbdm_definition():
    x = np.array([2.0, 2.0, 6.0, 0.0, 0.0])
    np.testing.assert_allclose(degree_of_change(x), [0.0, 4 / 8, 1.0, 0.0])
    s = profile_strength(x)
    assert s.max() == 1.0 and s[2] == 1.0  # the 6 among 2s and 0s is the strongest change


def test_long_note_creates_a_boundary_after_it():
    # eight sixteenths, one whole note, eight sixteenths: the boundary follows the long note.
    pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60, 62, 64, 65, 67, 65, 64, 62, 60]
    durs = [1] * 8 + [16] + [1] * 8
    seg = Segmenter(min_notes=3).segment(*line(pitches, durs))
    assert 9 in seg.starts.tolist()
    strength = lbdm_strength(*line(pitches, durs))
    assert int(np.argmax(strength)) == 8


def test_rest_creates_a_boundary():
    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69]
    gaps = [0] * 4 + [2 * Q] + [0] * 5
    seg = Segmenter(min_notes=2).segment(*line(pitches, [2] * 10, gaps))
    assert seg.starts.tolist() == [0, 5]


def test_leap_creates_a_boundary():
    # With even rhythm only the pitch profile (weight 0.25) speaks, so a lower threshold is needed.
    pitches = [60, 62, 64, 62, 60, 62, 79, 77, 76, 77, 79, 77]
    assert Segmenter(min_notes=3, threshold=0.2).segment(*line(pitches, [2] * 12)).starts.tolist() == [0, 6]
    assert Segmenter(min_notes=3).segment(*line(pitches, [2] * 12)).starts.tolist() == [0]


def test_fixed_windows_follow_beats():
    onset, dur, pitch = line(list(range(60, 76)), [2] * 16)  # eighths: 2 per beat
    seg = Segmenter(method="fixed", window_beats=2).segment(onset, dur, pitch)
    assert seg.starts.tolist() == [0, 4, 8, 12]
    assert seg.ends.tolist() == [4, 8, 12, 16]


def test_surprisal_peaks_make_boundaries_and_are_required():
    onset, dur, pitch = line(list(range(60, 80)), [2] * 20)
    info = np.ones(20)
    info[[7, 14]] = 9.0
    seg = Segmenter(method="surprisal", min_notes=3).segment(onset, dur, pitch, surprisal=info)
    assert seg.starts.tolist() == [0, 7, 14]
    with pytest.raises(RemixError):
        Segmenter(method="surprisal").segment(onset, dur, pitch)


def test_unknown_method_is_a_user_error():
    with pytest.raises(RemixError):
        Segmenter(method="magic")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(40, 90), min_size=1, max_size=80),
    st.lists(st.sampled_from([1, 2, 3, 4, 6, 8, 16]), min_size=80, max_size=80),
    st.integers(1, 6),
    st.integers(0, 10),
)
def test_motifs_partition_the_line_within_length_limits(pitches, durs, min_notes, extra):
    n = len(pitches)
    max_notes = 2 * min_notes + extra
    seg = Segmenter(min_notes=min_notes, max_notes=max_notes, threshold=0.1).segment(
        *line(pitches, np.asarray(durs[:n]) * 3)
    )
    assert seg.starts[0] == 0 and seg.ends[-1] == n
    np.testing.assert_array_equal(seg.starts[1:], seg.ends[:-1])
    lengths = seg.ends - seg.starts
    assert lengths.max() <= max_notes
    if n >= 2 * min_notes:
        assert lengths.min() >= min_notes
