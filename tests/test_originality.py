import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.errors import RemixError
from remixmusic.music.lines import DEFAULT_LINES
from remixmusic.music.notes import NOTE_DTYPE, STEPS_PER_BEAT, Piece
from remixmusic.novelty.originality import OriginalityScorer, best_window, point_set, query_windows
from remixmusic.novelty.translations import Hints, TranslationIndex


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


def attained(scorer: OriginalityScorer, piece: Piece, result) -> np.ndarray:
    """The cardinality score of each reported best window, recomputed from scratch over every pitch shift."""
    windows, starts = query_windows(
        point_set(piece, scorer.lines, scorer.include_drums), scorer.length, scorer.hop
    )
    np.testing.assert_array_equal(starts, result.window_start)
    out = np.zeros(len(windows))
    for k, window in enumerate(windows):
        r, t = int(result.best_piece[k]), int(result.best_start[k])
        if r < 0:
            continue
        ref = scorer.points[scorer.piece_ptr[r] : scorer.piece_ptr[r + 1]]
        inside = ref[(ref[:, 0] >= t) & (ref[:, 0] < t + scorer.length)]
        there = {(int(a), int(b)) for a, b in inside}
        hits = max(sum((int(a) + t, int(b) + dp) in there for a, b in window) for dp in range(-127, 128))
        out[k] = hits / max(len(window), len(inside))
    return out


def assert_exact(scorer: OriginalityScorer, piece: Piece, hints: np.ndarray | None = None) -> int:
    """Checks the exact score against brute force on every window of ``piece``; returns the windows."""
    brute = scorer.brute_force(piece)
    fast = scorer.score(piece, hints)
    np.testing.assert_array_equal(fast.window_start, brute.window_start)
    np.testing.assert_array_equal(fast.originality, brute.originality)  # the same floats, not approximately
    np.testing.assert_array_equal(1.0 - attained(scorer, piece, fast), fast.originality)
    return len(fast.originality)


def test_copy_is_unoriginal_novel_is_original_and_both_equal_brute_force():
    rng = np.random.default_rng(3)
    refs = [random_piece(rng) for _ in range(12)]
    scorer = OriginalityScorer().fit(refs)
    copy = shifted(refs[5], 7 * STEPS_PER_BEAT, -4)  # moved by 7 beats, a major third down
    fast = scorer.score(copy)
    np.testing.assert_array_equal(fast.originality, scorer.brute_force(copy).originality)
    assert np.median(fast.originality) == 0.0
    assert np.all(fast.best_piece[fast.originality == 0.0] == 5)
    novel = random_piece(rng)
    brute_novel = scorer.brute_force(novel)
    assert brute_novel.mean > 0.5
    # Hints only move the starting point of the search: good, misleading or none, the same numbers.
    for hints in (None, np.array([[0, 0, 0, 0], [12, 1, 500, -3]]), np.array([[0, 99, 5, 0]])):
        np.testing.assert_array_equal(scorer.score(novel, hints).originality, brute_novel.originality)
    with pytest.raises(RemixError):
        scorer.score(novel, np.array([1.5, 2.0]))


def test_a_hint_pointing_at_the_source_is_taken_as_is():
    rng = np.random.default_rng(8)
    refs = [random_piece(rng, 60) for _ in range(5)]
    scorer = OriginalityScorer().fit(refs)
    copy = shifted(refs[2], -12, 5)
    onset = int(copy.notes["onset"][0])
    # The first note of the copy sits 12 steps later and 5 semitones lower in piece 2.
    hints = np.array([[onset, 2, 12, -5]])
    result = scorer.score(copy, hints)
    assert result.originality[0] == 0.0 and result.best_piece[0] == 2
    assert_exact(scorer, copy, hints)


points = st.lists(st.tuples(st.integers(0, 40), st.integers(58, 66)), min_size=0, max_size=25)


def piece_of(pts: list[tuple[int, int]]) -> Piece:
    notes = np.zeros(len(pts), NOTE_DTYPE)
    if pts:
        notes["onset"], notes["pitch"] = np.array(pts).T * np.array([[3], [1]])
    notes["duration"], notes["velocity"] = 3, 80
    return Piece(notes)


@settings(max_examples=150, deadline=None)
@given(
    refs=st.lists(points, min_size=1, max_size=4),
    query=points.filter(bool),
    hints=st.lists(
        st.tuples(st.integers(0, 120), st.integers(-1, 4), st.integers(-130, 130), st.integers(-9, 9))
    ),
    window_beats=st.sampled_from([1.0, 2.0, 3.5]),
)
def test_exact_score_equals_brute_force_on_random_point_sets(refs, query, hints, window_beats):
    # Few pitches and a coarse grid: many equal difference vectors, chords, ties and near-misses.
    scorer = OriginalityScorer(window_beats=window_beats, hop_beats=window_beats / 2).fit(
        [piece_of(r) for r in refs]
    )
    assert_exact(scorer, piece_of(query), np.array(hints, np.int64).reshape(-1, 4))


def test_brute_force_fallback_and_small_slices_give_the_same_numbers(monkeypatch):
    import remixmusic.novelty.translations as translations

    rng = np.random.default_rng(4)
    refs = [random_piece(rng, int(rng.integers(5, 60))) for _ in range(9)]
    queries = [random_piece(rng, 40), shifted(refs[3], 5, 2)]
    expected = [OriginalityScorer().fit(refs).brute_force(q).originality for q in queries]
    # Slices of 64 (query point, reference point) pairs: the fallback votes piece by piece, and the
    # votes of many candidates are counted in several passes.
    monkeypatch.setattr(translations, "_CHUNK", 64)
    scorer = OriginalityScorer().fit(refs)
    index = scorer.translations
    for query, want in zip(queries, expected, strict=True):
        windows, _ = query_windows(point_set(query), scorer.length, scorer.hop)
        owner, keys = index._brute(windows, list(range(len(windows))))
        best = translations._Best.empty(windows)
        best.take(index, windows, owner, keys)
        np.testing.assert_array_equal(1.0 - best.result(index).score, want)
        np.testing.assert_array_equal(scorer.score(query).originality, want)


def test_greedy_groups_keep_the_light_pairs_inside_groups():
    from remixmusic.novelty.partition import greedy_groups

    a, b = np.triu_indices(4, 1)  # pairs 01 02 03 12 13 23
    weight = np.array([1.0, 10, 10, 10, 10, 2])
    assert greedy_groups(4, 2, a, b, weight).tolist() == [True, False, False, False, False, True]
    assert greedy_groups(4, 3, a, b, weight).tolist() == [True, False, False, False, False, False]
    assert not greedy_groups(4, 4, a, b, weight).any()
    assert greedy_groups(4, 1, a, b, weight).all()


def test_extreme_pitches_and_chords_keep_their_keys_apart():
    # Pitches 0 and 127 at the edges of the packed key, chords of up to four notes on one onset.
    ref = [(0, 0), (0, 127), (0, 60), (0, 64), (4, 127), (4, 0), (8, 1), (8, 126), (12, 60)]
    query = [(0, 127), (0, 0), (4, 0), (8, 126), (8, 127)]
    scorer = OriginalityScorer(window_beats=2, hop_beats=1).fit([piece_of(ref), piece_of([(2, 5)])])
    assert_exact(scorer, piece_of(query))
    assert_exact(scorer, piece_of([(3, 0)]))


def test_translation_index_rejects_bad_input_and_handles_an_empty_reference():
    with pytest.raises(ValueError):
        TranslationIndex(np.array([[0, 130]]), np.array([0, 1]), 24)
    with pytest.raises(ValueError):
        TranslationIndex(np.zeros((0, 2)), np.array([0]), 0)
    empty = TranslationIndex(np.zeros((0, 2)), np.array([0, 0, 0]), 24)
    best = empty.best(
        [np.array([[0, 60], [5, 62]])], Hints(np.array([0]), np.array([1]), np.array([3]), np.array([0]))
    )
    assert best.votes.tolist() == [0] and best.piece.tolist() == [-1]
    scorer = OriginalityScorer().fit([Piece(np.zeros(0, NOTE_DTYPE))])
    np.testing.assert_array_equal(scorer.score(random_piece(np.random.default_rng(1), 20)).originality, 1.0)


def test_every_window_of_held_out_bach_chorales_equals_brute_force():
    from remixmusic.data.datasets import load_dataset
    from remixmusic.novelty.index import Index

    ds = load_dataset("bach-chorales")
    held_out = ds.pieces("valid", jobs=1) + ds.pieces("test", jobs=1)
    melody = OriginalityScorer().fit_index(Index.build(ds.pieces("train", jobs=1), lines="melody"))
    windows = 0
    for piece in held_out:  # 65 chorales, melody against the training melodies: every window
        windows += assert_exact(melody, piece)
    assert windows > 400
    # All four voices against all the voices of 40 chorales (chords: several points per onset).
    voices = OriginalityScorer().fit(ds.pieces("train", jobs=1)[:40])
    for piece in held_out[:3]:
        assert_exact(voices, piece)
    # A training chorale is a copy of itself in every window.
    train0 = ds.pieces("train", jobs=1)[0]
    assert np.all(voices.score(train0).originality == 0.0)


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


def test_a_long_piece_is_scored_on_evenly_spaced_windows_each_exact(tmp_path):
    """A piece with more windows than ``max_windows`` (a 200,000-note file has thousands) is scored on that
    many evenly spaced windows, first and last included, each equal to the brute force's; shorter pieces
    are scored whole. The cap travels with a saved scorer; a file saved before it loads the default."""
    rng = np.random.default_rng(5)
    refs = [random_piece(rng) for _ in range(6)]
    scorer = OriginalityScorer(window_beats=8, hop_beats=4, max_windows=5).fit(refs)
    long = random_piece(rng, 400)
    every = scorer.brute_force(long)
    assert len(every.window_start) > 20
    sampled = scorer.score(long)
    pick = np.round(np.linspace(0, len(every.window_start) - 1, 5)).astype(int)
    np.testing.assert_array_equal(sampled.window_start, every.window_start[pick])
    np.testing.assert_array_equal(sampled.originality, every.originality[pick])
    short = random_piece(rng, 12)
    assert len(scorer.score(short).window_start) == len(scorer.brute_force(short).window_start) <= 5
    assert scorer.params()["max_windows"] == 5
    scorer.save(tmp_path / "w.npz")
    assert OriginalityScorer.load(tmp_path / "w.npz").max_windows == 5
    data = dict(np.load(tmp_path / "w.npz"))
    data["params"] = data["params"][:2]
    np.savez(tmp_path / "old.npz", **data)
    assert OriginalityScorer.load(tmp_path / "old.npz").max_windows == 128


def test_a_dense_piece_is_scored_on_windows_holding_at_most_max_points(tmp_path):
    """64-note chords on every beat made one 100-beat piece cost 100 s (a window's exact search grows
    faster than its points): windows are also thinned, evenly, until they hold about ``max_points`` points
    in all; each scored window is still exact. The cap travels with a saved scorer."""
    rng = np.random.default_rng(6)
    refs = [random_piece(rng) for _ in range(6)]
    scorer = OriginalityScorer(window_beats=8, hop_beats=4, max_points=60).fit(refs)
    long = random_piece(rng, 200)
    every = scorer.brute_force(long)
    sampled = scorer.score(long)
    windows, _ = query_windows(point_set(long), scorer.length, scorer.hop)
    total = sum(len(w) for w in windows)
    assert total > 60
    keep = max(1, len(windows) * 60 // total)
    pick = np.unique(np.round(np.linspace(0, len(windows) - 1, keep)).astype(int))
    np.testing.assert_array_equal(sampled.window_start, every.window_start[pick])
    np.testing.assert_array_equal(sampled.originality, every.originality[pick])
    assert scorer.params()["max_points"] == 60
    scorer.save(tmp_path / "p.npz")
    assert OriginalityScorer.load(tmp_path / "p.npz").max_points == 60
