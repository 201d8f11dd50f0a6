"""The Kneser-Ney n-gram baseline: proper distributions, order selection, persistence, decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.errors import CheckpointError
from remixmusic.generation.baselines.ngram import NGramModel, context_keys

V, BOS = 40, 1


def markov_sequences(n_seqs: int, length: int, seed: int) -> list[np.ndarray]:
    """Sequences from a noisy second-order recurrence: longer contexts genuinely help."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_seqs):
        s = [BOS, int(rng.integers(2, V))]
        for _ in range(length):
            nxt = (5 * s[-1] + 3 * s[-2] + int(rng.integers(0, 2))) % (V - 2) + 2
            s.append(nxt if rng.random() < 0.9 else int(rng.integers(2, V)))
        out.append(np.array(s))
    return out


TRAIN = markov_sequences(40, 200, seed=0)
VALID = markov_sequences(10, 200, seed=1)


@pytest.fixture(scope="module")
def model() -> NGramModel:
    return NGramModel(V, BOS, max_order=6, min_order=2).fit(TRAIN, VALID)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, V - 1), min_size=5, max_size=5), st.integers(1, 6))
def test_next_token_distribution_sums_to_one(model, context, order) -> None:
    # Random contexts, seen or not, at every order: a proper distribution with no zero.
    p = np.exp(model.next_log_probs(np.array([context, TRAIN[0][-5:]]), order=order))
    assert p.shape == (2, V)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert (p > 0).all()


def test_higher_order_lowers_train_perplexity(model) -> None:
    bits = [-model.score(TRAIN, order=n) for n in range(1, 7)]
    assert all(b > a for a, b in zip(bits[1:], bits[:-1], strict=True)), bits


def test_order_chosen_on_valid(model) -> None:
    assert set(model.valid_bits_per_token_) == {2, 3, 4, 5, 6}
    best = min(model.valid_bits_per_token_, key=model.valid_bits_per_token_.get)
    assert model.order_ == best
    assert model.order_ >= 3  # the data is second-order Markov: bigrams are clearly worse
    assert model.valid_bits_per_token_[3] < model.valid_bits_per_token_[2] - 0.5


def test_log_prob_matches_decoder(model) -> None:
    seq = VALID[0][:30]
    per_token = model.log_prob(seq)
    assert len(per_token) == len(seq) - 1
    # All prefix positions at once (start), then one token at a time (step): the same numbers.
    prefill = model.decoder().start(torch.as_tensor(seq[None, :-1]))
    assert prefill.shape == (1, len(seq) - 1, V)
    np.testing.assert_allclose(prefill[0, np.arange(len(seq) - 1), seq[1:]].numpy(), per_token, atol=1e-5)
    decoder = model.decoder()
    logp = decoder.start(torch.as_tensor(seq[None, :1]))[:, -1]
    for t in range(1, len(seq)):
        assert logp[0, seq[t]].item() == pytest.approx(per_token[t - 1], abs=1e-5)
        logp = decoder.step(torch.tensor([seq[t]]))


def test_evaluate_bits(model) -> None:
    result = model.evaluate(VALID, n_notes=1000)
    assert result.n_tokens == sum(len(s) - 1 for s in VALID)
    assert result.bits_per_token == pytest.approx(model.valid_bits_per_token_[model.order_])
    assert result.bits_per_note == pytest.approx(result.bits_per_token * result.n_tokens / 1000)


def test_save_load_roundtrip(model, tmp_path) -> None:
    model.metadata["tokenizer"] = {"kind": "test"}
    model.save(tmp_path / "ng")
    loaded = NGramModel.load(str(tmp_path / "ng"))  # a plain string path works too
    assert loaded.order_ == model.order_ and loaded.metadata == model.metadata
    np.testing.assert_array_equal(loaded.log_prob(VALID[1]), model.log_prob(VALID[1]))
    # No pickle anywhere: the counts load with allow_pickle=False.
    np.load(tmp_path / "ng" / "ngram.npz", allow_pickle=False).close()


def test_context_hashes_are_the_ones_saved_models_hold() -> None:
    # Saved models store contexts as these hashes: any change to the hash would make them unreadable.
    keys = context_keys(np.array([[0, 1, 2], [2, 1, 0], [5, 5, 5]]))
    assert keys.tolist() == [0xEADBA27E20362828, 0x8636CBC3B0628A0C, 0xBBA17B806CC1A6D8]
    assert context_keys(np.zeros((1, 0), np.int64)).tolist() == [0x9E3779B97F4A7C15]  # the empty context


def test_bad_files_are_checkpoint_errors(tmp_path) -> None:
    with pytest.raises(CheckpointError):
        NGramModel.load(tmp_path)
    (tmp_path / "ngram.json").write_text('{"format": "remixmusic-ngram", "version": 99}')
    with pytest.raises(CheckpointError, match="version"):
        NGramModel.load(tmp_path)


def test_rejects_tokens_outside_vocab() -> None:
    with pytest.raises(ValueError, match="vocabulary"):
        NGramModel(V, BOS).fit([np.array([BOS, V + 3])])


def test_fit_on_dataset_and_cli_updates_card(tmp_path) -> None:
    from typer.testing import CliRunner

    from remixmusic.cli import app
    from remixmusic.generation.checkpoint import save_checkpoint
    from remixmusic.generation.checkpoint_info import read_info
    from remixmusic.generation.config import preset
    from remixmusic.generation.model import MusicTransformer
    from remixmusic.tokenizer.remi import RemiTokenizer

    tokenizer = RemiTokenizer()
    save_checkpoint(tmp_path / "ckpt", MusicTransformer(preset("tiny", tokenizer.vocab_size)), tokenizer)
    args = ["ngram", "bach-chorales", "--checkpoint", str(tmp_path / "ckpt"), "--max-order", "4", "-j", "1"]
    result = CliRunner().invoke(app, [*args, "--update-card", "-o", str(tmp_path / "ng")])
    assert result.exit_code == 0, result.output
    model = NGramModel.load(tmp_path / "ng")
    metrics = model.metadata["metrics"]
    assert 2 <= model.order_ <= 4 and metrics["order"] == model.order_
    assert metrics["valid_bits_per_note"] > metrics["valid_bits_per_token"] > 0
    assert model.metadata["tokenizer"] == tokenizer.config.to_dict()
    info = read_info(tmp_path / "ckpt")
    # The card reports the held-out test split next to the transformer's; valid only chose the order.
    assert info.metrics["ngram_bits_per_note"] == pytest.approx(metrics["test_bits_per_note"])
    assert info.metrics["ngram_valid_bits_per_note"] == pytest.approx(metrics["valid_bits_per_note"])
    assert "n-gram baseline bits per note" in (tmp_path / "ckpt" / "README.md").read_text()


@pytest.mark.parametrize("option", [["--max-order", "1"], ["--kind", "infini", "--max-context", "-3"]])
def test_bad_model_parameters_are_user_errors(option) -> None:
    from typer.testing import CliRunner

    from remixmusic.cli import app
    from remixmusic.errors import RemixError

    result = CliRunner().invoke(app, ["ngram", "bach-chorales", "-j", "1", *option])
    assert result.exit_code == 1 and isinstance(result.exception, RemixError)
    assert "parameters" in str(result.exception)
