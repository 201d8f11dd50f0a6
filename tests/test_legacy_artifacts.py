"""Files saved by remixmusic before the subpackage layout (commit 0f3b7f5) still load and give the same
values: a reference index, a Kneser-Ney n-gram and an ∞-gram, made by tests/data/legacy/make_legacy.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from remixmusic.data.datasets import load_dataset
from remixmusic.novelty.index import Index
from remixmusic.tokenizer.config import TokenizerConfig
from remixmusic.tokenizer.remi import RemiTokenizer

LEGACY = Path(__file__).parent / "data" / "legacy"
EXPECTED = json.loads((LEGACY / "expected.json").read_text())


@pytest.fixture(scope="module")
def pieces():
    return load_dataset("bach-chorales").pieces("train", jobs=1)[:8]


def test_an_index_saved_before_the_move_loads_and_matches_the_same(pieces) -> None:
    index = Index.load(LEGACY / "index")
    assert index.n_slots == EXPECTED["index_n_slots"]
    assert index.chance_length == EXPECTED["index_chance_length"]
    assert list(index.piece_names) == EXPECTED["index_piece_names"]
    query = np.asarray(index.streams(pieces[6])[0].symbols, np.int64)
    assert np.asarray(index.matching_statistics(query)[0]).tolist() == EXPECTED["index_matching_lengths"]
    symbols = np.asarray(index.streams(pieces[2])[0].symbols)
    for k, count in EXPECTED["index_counts"].items():
        assert index.count(symbols[: int(k)]) == count


def test_baselines_saved_before_the_move_load_and_score_the_same(pieces) -> None:
    torch = pytest.importorskip("torch")  # the baselines live in the generation half
    del torch
    from remixmusic.generation.baselines.infinigram import InfiniGram
    from remixmusic.generation.baselines.ngram import NGramModel

    tok = RemiTokenizer(TokenizerConfig())
    held = [tok.encode(p) for p in pieces[6:]]
    ngram = NGramModel.load(LEGACY / "ngram")
    assert ngram.order_ == EXPECTED["ngram_order"]
    assert ngram.score(held) == pytest.approx(EXPECTED["ngram_bits_per_token"], rel=1e-12)
    infini = InfiniGram.load(LEGACY / "infinigram")
    logp, context = infini.log_probs(held)
    for got, want in zip(logp, EXPECTED["infinigram_log_probs"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    for got, want in zip(context, EXPECTED["infinigram_context"], strict=True):
        assert np.asarray(got).tolist() == want
