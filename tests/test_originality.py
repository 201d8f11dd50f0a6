import numpy as np
import pytest

from remixmusic.errors import RemixError
from remixmusic.notes import NOTE_DTYPE, STEPS_PER_BEAT, Piece
from remixmusic.originality import OriginalityScorer, best_cardinality, point_set, windows_of


def random_piece(rng: np.random.Generator, n: int = 100) -> Piece:
    notes = np.zeros(n, NOTE_DTYPE)
    notes["onset"] = np.cumsum(rng.choice([3, 6, 12, 24], n)) - 3
    notes["duration"] = 3
    notes["pitch"] = rng.integers(55, 80, n)
    notes["velocity"] = 80
    return Piece(notes)


def shifted(piece: Piece, steps: int, semitones: int) -> Piece:
    notes = piece.transpose(semitones).notes.copy()
    notes["onset"] += steps
    return piece.with_notes(notes)


def test_cardinality_score_is_translation_invariant_and_normalized_by_the_larger_set():
    p = np.array([[0, 60], [12, 64], [24, 67], [36, 72]])
    q = p + np.array([5, -7])
    score, w = best_cardinality(p, q, np.zeros(4, np.int64), np.array([4]), 48)
    assert (score, w) == (1.0, 0)
    q_bigger = np.concatenate([q, [[40, 50], [41, 51]]])
    score, _ = best_cardinality(p, q_bigger, np.zeros(6, np.int64), np.array([6]), 48)
    assert score == pytest.approx(4 / 6)
    half = np.array([[0, 60], [12, 64], [24, 61], [36, 90]])
    score, _ = best_cardinality(p, half, np.zeros(4, np.int64), np.array([4]), 48)
    assert score == pytest.approx(0.5)


def test_windows_cover_every_point_with_relative_onsets():
    pts = np.array([[0, 60], [50, 62], [100, 64], [500, 65]])
    wp, wid, starts = windows_of(pts, 96, 48)
    assert starts.tolist() == [0, 48, 96, 432, 480]  # empty windows are dropped
    assert np.all((wp[:, 0] >= 0) & (wp[:, 0] < 96))
    np.testing.assert_array_equal(wp[:, 0] + starts[wid], [0, 50, 50, 100, 100, 500, 500])


def test_copy_is_unoriginal_novel_is_original_and_shortlist_agrees_with_brute_force():
    rng = np.random.default_rng(3)
    refs = [random_piece(rng) for _ in range(12)]
    scorer = OriginalityScorer().fit(refs)
    copy = shifted(refs[5], 7 * STEPS_PER_BEAT, -4)  # moved by 7 beats, a major third down
    brute = scorer.brute_force(copy)
    fast = scorer.score(copy, np.array([5, 9]))
    np.testing.assert_allclose(fast.originality, brute.originality)
    assert np.all(brute.best_piece == 5)
    assert np.median(brute.originality) == 0.0
    novel = random_piece(rng)
    brute_novel = scorer.brute_force(novel)
    assert brute_novel.mean > 0.5
    # A shortlist only removes candidates: never less original than brute force.
    fast_novel = scorer.score(novel, np.array([0, 1]))
    assert np.all(fast_novel.originality >= brute_novel.originality - 1e-12)
    assert np.all(scorer.score(novel, np.array([], np.int64)).originality == 1.0)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    refs = [random_piece(rng) for _ in range(3)]
    scorer = OriginalityScorer(window_beats=8, hop_beats=4, reference_hop_beats=2).fit(refs)
    scorer.save(tmp_path / "w.npz")
    loaded = OriginalityScorer.load(tmp_path / "w.npz")
    assert loaded.params() == scorer.params()
    q = shifted(refs[1], 5, 2)
    np.testing.assert_allclose(loaded.brute_force(q).originality, scorer.brute_force(q).originality)
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(RemixError):
        OriginalityScorer.load(tmp_path / "bad.npz")


def test_drums_are_not_points():
    notes = np.zeros(3, NOTE_DTYPE)
    notes["onset"] = [0, 0, 12]
    notes["pitch"] = [60, 36, 62]
    notes["duration"] = 3
    notes["is_drum"] = [False, True, False]
    assert point_set(Piece(notes)).tolist() == [[0, 60], [12, 62]]


def test_windows_from_the_index_equal_windows_from_monophonic_pieces():
    from remixmusic.index import Index

    rng = np.random.default_rng(7)
    refs = [random_piece(rng, 60) for _ in range(4)]
    from_pieces = OriginalityScorer().fit(refs)
    from_index = OriginalityScorer().fit_index(Index.build(refs))
    np.testing.assert_array_equal(from_index.points, from_pieces.points)
    np.testing.assert_array_equal(from_index.window_piece, from_pieces.window_piece)
