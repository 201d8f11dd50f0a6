"""The ∞-gram baseline: suffix array, longest-suffix distributions against brute force, grammar-aware
backoff, decoding real chorales (copying, validity, determinism), persistence and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic._util.suffix_array import suffix_array
from remixmusic.errors import CheckpointError
from remixmusic.generation.baselines.infinigram import InfiniGram
from remixmusic.generation.baselines.ngram import NGramModel
from remixmusic.generation.loading import load_ngram

V, BOS = 6, 0


class ForbidGrammar:
    """A stateless grammar that never allows the tokens in ``forbidden`` (enough to force backoff)."""

    def __init__(self, forbidden: set[int]) -> None:
        self.mask = np.array([t not in forbidden for t in range(V)])

    def start(self, shape: int) -> np.ndarray:
        return np.zeros(shape, np.int64)

    def advance(self, state: np.ndarray, token: np.ndarray) -> np.ndarray:
        return state

    def allowed(self, state: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.mask, (*state.shape, V)).copy()


def brute_force(
    corpus: list[int], context: list[int], allowed: np.ndarray, cap: int | None
) -> tuple[int, np.ndarray]:
    """Longest suffix of ``context`` (at most ``cap``) followed somewhere in ``corpus`` by an allowed
    token, and the allowed-token distribution after it (uniform over allowed when there is none)."""
    longest = len(context) if cap is None else min(cap, len(context))
    for k in range(longest, -1, -1):
        suffix = context[len(context) - k :]
        counts = np.zeros(V)
        for i in range(len(corpus) - k):
            if corpus[i : i + k] == suffix:
                counts[corpus[i + k]] += 1
        counts *= allowed
        if counts.any():
            return k, counts / counts.sum()
    return 0, allowed / allowed.sum()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=80))
def test_suffix_array_sorts_suffixes(tokens) -> None:
    expected = sorted(range(len(tokens)), key=lambda i: tokens[i:])
    assert suffix_array(np.array(tokens)).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, V - 1), min_size=1, max_size=25), min_size=1, max_size=5),
    st.lists(st.integers(1, V - 1), min_size=1, max_size=12),
    st.sets(st.integers(1, V - 1), max_size=3),
    st.sampled_from([None, 1, 3]),
)
def test_distributions_match_brute_force(seqs, context, forbidden, cap) -> None:
    # Every prefix of a BOS-led context, with and without a grammar, bounded and unbounded.
    train = [np.array([BOS, *s]) for s in seqs]
    grammar = ForbidGrammar(forbidden) if forbidden else None
    model = InfiniGram(V, BOS, max_context=cap, grammar=grammar).fit(train)
    corpus = np.concatenate(train).tolist()
    allowed = grammar.mask if grammar else np.ones(V, bool)
    ids = [BOS, *context]
    decoder = model.decoder()
    logp = decoder.start(torch.tensor([ids[:1]]))[0, -1].numpy()
    for t in range(1, len(ids) + 1):
        k, expected = brute_force(corpus, ids[:t], allowed, cap)
        np.testing.assert_allclose(np.exp(logp), expected, atol=1e-6)
        assert decoder.context_lengths[0, -1] == k
        if t < len(ids):
            logp = decoder.step(torch.tensor([ids[t]]))[0].numpy()
    # The prefill path gives the same numbers as stepping.
    prefill = model.decoder().start(torch.tensor([ids]))[0].numpy()
    np.testing.assert_allclose(np.exp(prefill[-1]), np.exp(logp), atol=1e-6)


def test_backs_off_when_the_grammar_forbids_the_longest_contexts_continuations() -> None:
    # "1 2" is always followed by 3, which the grammar forbids; "2" alone is also followed by 4 and 5.
    train = [np.array([BOS, 1, 2, 3, 1, 2, 3]), np.array([BOS, 2, 4, 2, 5, 2, 4])]
    free = InfiniGram(V, BOS).fit(train)
    logp = free.decoder().start(torch.tensor([[BOS, 1, 2]]))[0, -1]
    assert torch.exp(logp)[3] == pytest.approx(1.0)  # unsmoothed: only what followed "1 2"
    model = InfiniGram(V, BOS, grammar=ForbidGrammar({3})).fit(train)
    decoder = model.decoder()
    p = torch.exp(decoder.start(torch.tensor([[BOS, 1, 2]]))[0, -1]).numpy()
    assert decoder.context_lengths[0, -1] == 1  # backed off from "BOS 1 2" to "2"
    np.testing.assert_allclose(p, [0, 0, 0, 0, 2 / 3, 1 / 3], atol=1e-6)


@pytest.fixture(scope="module")
def chorales():
    from remixmusic.data.datasets import load_dataset
    from remixmusic.tokenizer.remi import RemiTokenizer

    tokenizer = RemiTokenizer()
    pieces = load_dataset("bach-chorales").pieces("train", jobs=1, show_progress=False)[:30]
    train = [tokenizer.encode(p) for p in pieces]
    return tokenizer, train


def test_samples_copy_long_training_spans_grammatically_and_reproducibly(chorales) -> None:
    from remixmusic.generation.sampling import SamplingConfig, generate

    tokenizer, train = chorales
    model = InfiniGram(tokenizer.vocab_size, tokenizer.bos_id, grammar=tokenizer.grammar()).fit(train)
    # Default sampling settings: temperature 1, no top-k/top-p.
    first = generate(model, tokenizer, SamplingConfig(6, bars=8, seed=3, batch_size=4))
    again = generate(model, tokenizer, SamplingConfig(6, bars=8, seed=3, batch_size=4))
    assert all(np.array_equal(a.ids, b.ids) for a, b in zip(first, again, strict=True))
    assert tokenizer.grammar().validate([r.ids for r in first]).all()
    assert all(len(r.piece.notes) > 0 for r in first)
    for r in first:
        # Unbounded, the model replays a training piece: 100 tokens after BOS occur verbatim in training.
        span = r.ids[1:101]
        lo, hi = model.find(span[None, :], np.array([len(span)]))
        assert hi[0] > lo[0], "a 100-token span of the output is not in the training tokens"
    different = generate(model, tokenizer, SamplingConfig(6, bars=8, seed=4, batch_size=4))
    assert any(not np.array_equal(a.ids, b.ids) for a, b in zip(first, different, strict=True))


def test_held_out_tokens_get_zero_probability_and_the_score_says_so(chorales) -> None:
    tokenizer, train = chorales
    model = InfiniGram(tokenizer.vocab_size, tokenizer.bos_id, grammar=tokenizer.grammar()).fit(train[:25])
    seen = model.evaluate(train[:2], n_notes=100)
    assert seen.zero_probability_rate == 0.0 and np.isfinite(seen.bits_per_note)
    assert seen.mean_context_tokens > 50  # it predicts its own training pieces from long contexts
    held_out = model.evaluate(train[25:], n_notes=500)
    assert 0.05 < held_out.zero_probability_rate < 1.0
    assert np.isnan(held_out.bits_per_note)
    assert held_out.n_tokens == sum(len(s) - 1 for s in train[25:])


def test_save_load_roundtrip_without_pickle(chorales, tmp_path) -> None:
    tokenizer, train = chorales
    model = InfiniGram(tokenizer.vocab_size, tokenizer.bos_id, 16, tokenizer.grammar()).fit(train[:5])
    model.metadata = {"tokenizer": tokenizer.config.to_dict()}
    model.save(tmp_path / "inf")
    np.load(tmp_path / "inf" / "ngram.npz", allow_pickle=False).close()
    loaded = load_ngram(tmp_path / "inf")
    assert isinstance(loaded, InfiniGram) and loaded.max_context == 16 and loaded.grammar is not None
    np.testing.assert_array_equal(loaded.suffix_array_, model.suffix_array_)
    prefix = torch.as_tensor(train[6][None, :40])
    np.testing.assert_array_equal(
        loaded.decoder().start(prefix).numpy(), model.decoder().start(prefix).numpy()
    )
    # Each kind refuses the other's files; load_ngram tells them apart.
    with pytest.raises(CheckpointError):
        NGramModel.load(tmp_path / "inf")
    kn = NGramModel(tokenizer.vocab_size, tokenizer.bos_id, max_order=3).fit(train[:5])
    kn.save(tmp_path / "kn")
    assert isinstance(load_ngram(tmp_path / "kn"), NGramModel)
    with pytest.raises(CheckpointError):
        InfiniGram.load(tmp_path / "kn")


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint16])
def test_tokens_saved_at_any_integer_width_load_the_same(chorales, tmp_path, dtype) -> None:
    tokenizer, train = chorales
    model = InfiniGram(tokenizer.vocab_size, tokenizer.bos_id, 16).fit(train[:5])
    model.save(tmp_path / "inf")
    with np.load(tmp_path / "inf" / "ngram.npz") as data:
        tokens = data["tokens"]
    np.savez_compressed(tmp_path / "inf" / "ngram.npz", tokens=tokens.astype(dtype))
    loaded = InfiniGram.load(tmp_path / "inf")
    np.testing.assert_array_equal(loaded.suffix_array_, model.suffix_array_)
    for a, b in zip(loaded.log_probs(train[5:7]), model.log_probs(train[5:7]), strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    np.savez_compressed(tmp_path / "inf" / "ngram.npz", tokens=tokens.astype(np.float32))
    with pytest.raises(CheckpointError, match="integers"):
        InfiniGram.load(tmp_path / "inf")


def test_bad_files_are_checkpoint_errors(tmp_path) -> None:
    with pytest.raises(CheckpointError):
        load_ngram(tmp_path)
    (tmp_path / "ngram.json").write_text(json.dumps({"format": "remixmusic-infinigram", "version": 99}))
    with pytest.raises(CheckpointError, match="version"):
        InfiniGram.load(tmp_path)
    config = {
        "format": "remixmusic-infinigram",
        "version": 1,
        "vocab_size": V,
        "bos_id": BOS,
        "max_context": None,
    }
    (tmp_path / "ngram.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="damaged"):
        InfiniGram.load(tmp_path)


def test_rejects_tokens_outside_vocab() -> None:
    with pytest.raises(ValueError, match="vocabulary"):
        InfiniGram(V, BOS).fit([np.array([BOS, V + 1])])


def test_cli_fits_and_generate_samples_it(tmp_path) -> None:
    from typer.testing import CliRunner

    from remixmusic.cli import app

    runner = CliRunner()
    out = tmp_path / "inf"
    result = runner.invoke(
        app, ["ngram", "bach-chorales", "--kind", "infini", "--max-context", "24", "-j", "1", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    model = load_ngram(out)
    assert isinstance(model, InfiniGram) and model.max_context == 24
    assert 0 < model.metadata["metrics"]["test_zero_probability_rate"] < 1
    generated = runner.invoke(
        app, ["generate", "--checkpoint", str(out), "-n", "2", "--bars", "4", "-o", str(tmp_path / "g")]
    )
    assert generated.exit_code == 0, generated.output
    sidecar = json.loads((tmp_path / "g" / "piece_000.json").read_text())
    assert sidecar["model"]["kind"] == "infinigram" and sidecar["model"]["max_context"] == 24
    assert np.isfinite(sidecar["note_log_probs"]).all()
    bad = runner.invoke(app, ["ngram", "bach-chorales", "--kind", "infini", "--update-card"])
    assert bad.exit_code != 0
