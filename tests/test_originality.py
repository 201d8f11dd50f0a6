import numpy as np
import pytest

from remixmusic.errors import RemixError
from remixmusic.music.lines import DEFAULT_LINES
from remixmusic.music.notes import NOTE_DTYPE, STEPS_PER_BEAT, Piece
from remixmusic.novelty.originality import OriginalityScorer, best_window, point_set, query_windows


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
    owner = np.zeros(4, np.int64)
    assert best_window(p, p + np.array([5, -7]), owner, 48) == (1.0, 0, 5)
    # Two extra points inside the best window [5, 53): 4 of max(4, 6).
    bigger = np.concatenate([p + np.array([5, -7]), [[40, 50], [41, 51]]])
    bigger = bigger[np.argsort(bigger[:, 0])]
    score, _, _ = best_window(p, bigger, np.zeros(6, np.int64), 48)
    assert score == pytest.approx(4 / 6)
    half = np.array([[0, 60], [12, 64], [24, 61], [36, 90]])
    assert best_window(p, half, owner, 48)[0] == pytest.approx(0.5)


def test_best_window_equals_explicit_windows_at_every_start():
    rng = np.random.default_rng(5)
    length = 24
    query = np.unique(np.stack([rng.integers(0, length, 6), rng.integers(60, 64, 6)], axis=1), axis=0)
    ref = np.unique(np.stack([rng.integers(0, 90, 40), rng.integers(58, 66, 40)], axis=1), axis=0)
    expected = 0.0
    for t in range(-length, 91):
        inside = ref[(ref[:, 0] >= t) & (ref[:, 0] < t + length)]
        for dp in range(-10, 11):
            moved = {(int(a) + t, int(b) + dp) for a, b in query}
            hits = len(moved & {(int(a), int(b)) for a, b in inside})
            expected = max(expected, hits / max(len(query), len(inside), 1))
    assert best_window(query, ref, np.zeros(len(ref), np.int64), length)[0] == pytest.approx(expected)


def test_query_windows_have_relative_onsets():
    pts = np.array([[0, 60], [50, 62], [100, 64], [500, 65]])
    windows, starts = query_windows(pts, 96, 48)
    assert starts.tolist() == [0, 48, 96, 432, 480]  # empty windows are dropped
    assert all(np.all((w[:, 0] >= 0) & (w[:, 0] < 96)) for w in windows)
    assert [len(w) for w in windows] == [2, 2, 1, 1, 1]


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
    scorer = OriginalityScorer(window_beats=8, hop_beats=4).fit(refs)
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
    from remixmusic.novelty.index import Index

    rng = np.random.default_rng(7)
    refs = [random_piece(rng, 60) for _ in range(4)]
    from_pieces = OriginalityScorer().fit(refs)
    from_index = OriginalityScorer().fit_index(Index.build(refs))
    np.testing.assert_array_equal(from_index.points, from_pieces.points)
    np.testing.assert_array_equal(from_index.piece_ptr, from_pieces.piece_ptr)


def test_a_verbatim_copy_of_a_polyphonic_reference_piece_is_unoriginal_against_an_index(tmp_path):
    from remixmusic.novelty.index import Index

    rng = np.random.default_rng(11)
    refs = []
    for _ in range(3):
        top = random_piece(rng, 80)
        low = top.transpose(-9).notes  # a second voice under the melody, at the same onsets
        refs.append(top.with_notes(np.concatenate([top.notes, low])))
    scorer = OriginalityScorer().fit_index(Index.build(refs))
    np.testing.assert_allclose(scorer.brute_force(refs[1]).originality, 0.0, atol=1e-9)
    scorer.save(tmp_path / "w.npz")
    loaded = OriginalityScorer.load(tmp_path / "w.npz")
    assert loaded.lines == DEFAULT_LINES
    np.testing.assert_allclose(loaded.brute_force(refs[1]).originality, 0.0, atol=1e-9)
