"""The reference index: suffix array and matching statistics against brute force, provenance, chance
length, and the save/load round trip with memory mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic._util.suffix_array import suffix_array
from remixmusic.errors import IndexFileError, RemixError
from remixmusic.io.midi import write_midi
from remixmusic.music.lines import extract_lines
from remixmusic.music.notes import NOTE_DTYPE, Piece
from remixmusic.novelty.index import FORMAT_VERSION, Index


def _suffix_key(text: np.ndarray, i: int) -> tuple:
    """A suffix up to and including its first separator; separators sort first and never tie."""
    out = []
    for j in range(i, len(text)):
        if text[j] < 0:
            out.append((-1, j))
            break
        out.append((int(text[j]), 0))
    return tuple(out)


texts = st.lists(st.integers(-1, 3), min_size=1, max_size=60).map(lambda xs: np.array([*xs, -1], np.int32))


@settings(max_examples=80, deadline=None)
@given(texts)
def test_suffix_array_sorts_suffixes_up_to_their_separator(text):
    sa = suffix_array(text)
    assert sorted(sa.tolist()) == list(range(len(text)))
    keys = [_suffix_key(text, int(i)) for i in sa if text[i] >= 0]
    assert keys == sorted(keys)


def random_piece(rng: np.random.Generator, n: int, name: str) -> Piece:
    notes = np.zeros(n, NOTE_DTYPE)
    notes["pitch"] = np.clip(60 + np.cumsum(rng.integers(-3, 4, n)), 30, 100)
    ioi = rng.choice([6, 12, 24], n)
    notes["onset"] = np.cumsum(ioi) - ioi[0]
    notes["duration"] = ioi
    notes["velocity"] = 80
    return Piece(notes=notes, source=f"/corpus/{name}.mid")


@pytest.fixture(scope="module")
def pieces() -> list[Piece]:
    rng = np.random.default_rng(3)
    return [random_piece(rng, int(rng.integers(20, 80)), f"p{i}") for i in range(30)]


@pytest.fixture(scope="module")
def index(pieces) -> Index:
    return Index.build(pieces)


def _brute_matching_statistics(reference: list[np.ndarray], query: np.ndarray) -> np.ndarray:
    out = np.zeros(len(query), np.int64)
    for i in range(len(query)):
        for ref in reference:
            for s in range(len(ref)):
                k = 0
                while i + k < len(query) and s + k < len(ref) and ref[s + k] == query[i + k]:
                    k += 1
                out[i] = max(out[i], k)
    return out


def test_matching_statistics_and_counts_agree_with_brute_force(index, pieces):
    reference = [s.symbols for p in pieces for s in index.streams(p)]
    rng = np.random.default_rng(0)
    query = np.concatenate([reference[4][5:15], rng.integers(0, 60, 10), reference[9][:12]])
    length, lo, hi, lo_d, hi_d, _ = index.matching_statistics(query, record_depth=2)
    assert length.tolist() == _brute_matching_statistics(reference, query).tolist()
    for i in range(len(query)):
        occurrences = sum(
            1
            for ref in reference
            for s in range(len(ref) - length[i] + 1)
            if np.array_equal(ref[s : s + length[i]], query[i : i + length[i]])
        )
        assert hi[i] - lo[i] == (occurrences if length[i] else 0)
        if length[i] >= 2:
            assert hi_d[i] - lo_d[i] == index.count(query[i : i + 2])
    assert index.count(reference[4][5:15]) >= 1
    assert index.count(np.array([10**6])) == 0


def test_adaptive_seeds_are_the_shortest_prefixes_rare_enough(index, pieces):
    """With ``max_count``, each position's seed range is its shortest prefix of ``record_depth`` symbols
    or more that occurs at most ``max_count`` times (Kiełbasa et al. 2011), brute-force counted."""
    reference = [s.symbols for p in pieces for s in index.streams(p)]
    rng = np.random.default_rng(1)
    query = np.concatenate([reference[2][:20], rng.integers(0, 60, 6), reference[7][3:18]])
    for max_count in (1, 2, 5):
        length, _, _, lo_d, hi_d, depth_d = index.matching_statistics(query, record_depth=2, max_count=max_count)
        for i in range(len(query)):
            rare = [d for d in range(2, int(length[i]) + 1) if index.count(query[i : i + d]) <= max_count]
            want = rare[0] if rare else (2 if length[i] >= 2 else 0)
            assert depth_d[i] == want
            assert hi_d[i] - lo_d[i] == (index.count(query[i : i + want]) if want else 0)


def test_provenance_points_back_to_the_reference_notes(index, pieces):
    slots = np.asarray(index.sa)
    piece = index.piece[slots]
    note = index.note[slots]
    for p in (0, 7, 29):
        mine = slots[piece == p]
        assert np.array_equal(np.sort(index.onset[mine]), np.sort(pieces[p].notes["onset"][note[piece == p]]))
        assert np.all(index.pitch[mine] == pieces[p].notes["pitch"][note[piece == p]])
    assert index.piece_names[7] == "p7.mid" and index.piece_sources[7] == "/corpus/p7.mid"
    # Every line of n notes takes n slots (order 2): symbols then two separators.
    assert index.n_slots == sum(len(extract_lines(p)[0].notes) for p in pieces)
    assert index.n_symbols == index.n_slots - 2 * len(pieces)
    assert index.line_of(np.array([0, index.n_slots - 1])).tolist() == [0, len(pieces) - 1]


def test_chance_length_is_small_for_random_material_and_reported(index):
    assert 1 <= index.chance_length <= 6
    assert index.header()["chance_length"] == index.chance_length


def test_chance_bits_is_what_surrogate_matches_reach(index):
    """About 1% of positions of fresh surrogate lines (another seed) match more bits than chance_bits."""
    assert index.header()["chance_bits"] == index.chance_bits > 0
    rng = np.random.default_rng(7)
    surrogates = index.model.sample(np.full(300, 40), rng)
    stats = index.matching_statistics_many(surrogates)
    bits = np.concatenate(
        [index.model.passage_bits(s, np.arange(len(s)), r[0]) for s, r in zip(surrogates, stats, strict=True)]
    )
    assert 0.002 <= np.mean(bits > index.chance_bits) <= 0.03


def test_save_load_round_trip_is_memory_mapped(tmp_path, index):
    path = index.save(tmp_path / "ref.idx")
    loaded = Index.load(path)
    assert isinstance(loaded.sa, np.memmap) and isinstance(loaded.text, np.memmap)
    assert loaded.header() == index.header()
    query = np.asarray(index.text[10:30])
    query = query[query >= 0]
    for a, b in zip(index.matching_statistics(query)[:3], loaded.matching_statistics(query)[:3], strict=True):
        assert np.array_equal(a, b)
    starts, lengths = np.arange(len(query) - 5), np.full(len(query) - 5, 5)
    assert np.array_equal(
        index.model.passage_bits(query, starts, lengths), loaded.model.passage_bits(query, starts, lengths)
    )
    # Saving again replaces the index in place; nothing else is left in the folder.
    index.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref.idx"]


def test_an_index_saved_with_other_integer_widths_loads_and_matches_the_same(tmp_path, index):
    # An older or larger index may hold int64 text and suffix array (int64 past 2**31 slots).
    path = index.save(tmp_path / "wide.idx")
    for name in ("sa", "text"):
        np.save(path / f"{name}.npy", np.load(path / f"{name}.npy").astype(np.int64))
    loaded = Index.load(path)
    assert loaded.sa.dtype == np.int64 and index.sa.dtype == np.int32
    query = np.concatenate([np.asarray(index.text[40:70]), np.arange(5)])
    query = query[query >= 0]
    for a, b in zip(index.matching_statistics(query, 2), loaded.matching_statistics(query, 2), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.estimate_chance_length(seed=1) == index.estimate_chance_length(seed=1)
    np.save(path / "sa.npy", np.load(path / "sa.npy").astype(np.float64))
    with pytest.raises(IndexFileError, match=r"sa\.npy"):
        Index.load(path)


def test_load_rejects_other_versions_and_damage(tmp_path, index):
    path = index.save(tmp_path / "ref.idx")
    header = json.loads((path / "header.json").read_text())
    header["format_version"] = FORMAT_VERSION + 1
    (path / "header.json").write_text(json.dumps(header))
    with pytest.raises(IndexFileError, match="version"):
        Index.load(path)
    with pytest.raises(IndexFileError, match="not a remixmusic index"):
        Index.load(tmp_path / "missing")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(IndexFileError, match="not overwriting"):
        index.save(tmp_path / "other")


def test_build_from_a_midi_folder_and_bad_input(tmp_path, pieces):
    for p in pieces[:5]:
        write_midi(p, tmp_path / "midi" / f"{p.source.rsplit('/', 1)[1]}")
    (tmp_path / "midi" / "broken.mid").write_bytes(b"not midi")
    index = Index.build(tmp_path / "midi", invariance="transposed")
    assert index.n_pieces == 5 and index.invariance == "transposed" and index.order == 1
    with pytest.raises(RemixError):
        Index.build([], invariance="transposed")
    with pytest.raises(RemixError, match="invariance"):
        Index.build(pieces, invariance="bogus")


def _copy(piece: Piece, name: str, group: str) -> Piece:
    return Piece(notes=piece.notes.copy(), source=f"/corpus/{name}.mid", metadata={"group": group})


def test_doc_freq_counts_tune_groups_not_pieces(pieces):
    """Two versions of one tune in one near-duplicate group hold a phrase no other piece has: its
    document frequency is 1 (one tune), not 2; an index that knows no groups counts pieces."""
    from remixmusic.novelty.match import Matcher

    tune = pieces[0]
    reference = [_copy(tune, "tune-a", "tune"), _copy(tune, "tune-b", "tune"), *pieces[1:12]]
    index = Index.build(reference)
    assert index.piece_groups[:3] == ["tune", "tune", ""]
    assert index.n_groups == index.n_pieces - 1
    (lm,) = Matcher(index).match_piece(tune).lines
    longest = int(np.argmax(lm.match_length))
    assert lm.match_length[longest] == len(lm.stream.symbols) and lm.count[longest] == 2
    assert lm.doc_freq[longest] == 1
    index.piece_groups = []  # as an index saved before tune groups
    del index.__dict__["piece_group"]
    (lm,) = Matcher(index).match_piece(tune).lines
    assert lm.doc_freq[longest] == 2


def test_five_versions_of_one_tune_are_not_stock(pieces):
    """stock_df = 5: a phrase five harmonisations of one tune share is one tune's phrase, a quotation; the
    same phrase in five unrelated tunes would be a stock formula."""
    from remixmusic.novelty.match import Matcher

    tune = pieces[0]
    copies = [_copy(tune, f"tune-{k}", "tune") for k in range(5)]
    grouped = Index.build([*copies, *pieces[1:12]])
    ungrouped = Index.build([_copy(c, f"tune-{k}", f"tune-{k}") for k, c in enumerate(copies)] + pieces[1:12])
    found = {}
    for name, index in (("grouped", grouped), ("ungrouped", ungrouped)):
        matches = Matcher(index, stock_df=5).match_piece(tune).matches
        longest = max(matches, key=lambda m: m.length)
        found[name] = (longest.doc_freq, longest.stock)
    assert found == {"grouped": (1, False), "ungrouped": (5, True)}


def test_tune_groups_are_saved_and_old_indexes_load_with_one_group_per_piece(tmp_path, pieces):
    from pathlib import Path

    index = Index.build([_copy(pieces[0], "a", "g1"), _copy(pieces[1], "b", "g1"), pieces[2]])
    loaded = Index.load(index.save(tmp_path / "ref.idx"))
    assert loaded.piece_groups == ["g1", "g1", ""]
    assert loaded.piece_group.tolist() == [0, 0, 1]
    legacy = Index.load(Path(__file__).parent / "data" / "legacy" / "index")
    assert legacy.piece_groups == [] and legacy.piece_group.tolist() == list(range(legacy.n_pieces))
    header = json.loads((tmp_path / "ref.idx" / "header.json").read_text())
    header["piece_groups"] = ["g1"]
    (tmp_path / "ref.idx" / "header.json").write_text(json.dumps(header))
    with pytest.raises(IndexFileError, match="1 piece groups for 3 pieces"):
        Index.load(tmp_path / "ref.idx")


def test_dataset_files_read_by_path_get_their_manifest_group(tmp_path):
    from remixmusic.data.datasets import load_dataset
    from remixmusic.novelty.groups import tune_group

    ds = load_dataset("bach-chorales")
    records = ds.records("test")[:6]
    index = Index.build([ds.root / r["file"] for r in records])
    assert index.piece_groups == [r["group"] for r in records]
    assert index.n_groups == len({r["group"] for r in records})
    # A copy outside the dataset folder has no known group; a Piece's metadata wins.
    outside = tmp_path / "bwv.mid"
    outside.write_bytes((ds.root / records[0]["file"]).read_bytes())
    assert tune_group(Piece(source=str(outside))) == ""
    assert tune_group(Piece(source=str(outside), metadata={"group": "g"})) == "g"


def test_an_index_records_how_its_lines_were_read_and_an_older_one_is_flagged(tmp_path, pieces):
    from pathlib import Path

    from remixmusic.music.lines import LINES_VERSION
    from remixmusic.novelty.analyze import StaleIndexWarning, analyze

    index = Index.build(pieces[:3])
    loaded = Index.load(index.save(tmp_path / "ref.idx"))
    assert index.lines_version == loaded.lines_version == LINES_VERSION
    assert Index.load(Path(__file__).parent / "data" / "legacy" / "index").lines_version == 1
    header = json.loads((tmp_path / "ref.idx" / "header.json").read_text())
    del header["lines_version"]  # saved before lines were versioned: voices under held notes read otherwise
    (tmp_path / "ref.idx" / "header.json").write_text(json.dumps(header))
    with pytest.warns(StaleIndexWarning, match="rebuild the index"):
        analyze(pieces[3:4], tmp_path / "ref.idx", jobs=1, show_progress=False, originality=False)
