"""The transformer: presets, the KV cache against a full forward, the sliding context window."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from remixmusic.errors import RemixError
from remixmusic.generation.config import ModelConfig, preset
from remixmusic.generation.model import MusicTransformer

VOCAB = 97


def _model(positions: str = "rope", block_size: int = 16, seed: int = 0) -> MusicTransformer:
    torch.manual_seed(seed)
    return MusicTransformer(preset("tiny", VOCAB, block_size=block_size, positions=positions)).eval()


def test_preset_sizes():
    sizes = {name: MusicTransformer(preset(name, 344)).num_parameters() for name in ("tiny", "small", "base")}
    assert sizes["tiny"] < 200_000
    assert 1_000_000 <= sizes["small"] <= 3_000_000
    assert 10_000_000 <= sizes["base"] <= 20_000_000


def test_weights_are_tied_and_stored_once():
    model = _model()
    names = set(model.state_dict())
    assert not any("head" in name for name in names)
    idx = torch.randint(0, VOCAB, (2, 8))
    logits, cache = model(idx)
    assert cache is None and logits.shape == (2, 8, VOCAB)
    logits.sum().backward()
    assert model.tok_emb.weight.grad is not None


def test_config_round_trip_and_validation():
    config = preset("small", 344, dropout=0.0)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown model config"):
        ModelConfig.from_dict({**config.to_dict(), "n_layers": 3})
    with pytest.raises(ValueError, match="positions"):
        preset("tiny", 10, positions="alibi")
    with pytest.raises(ValueError, match="preset"):
        preset("huge", 10)


@settings(max_examples=15, deadline=None)
@given(
    positions=st.sampled_from(["rope", "learned"]),
    prefill=st.integers(1, 16),
    chunk=st.integers(1, 5),
    batch=st.integers(1, 3),
)
def test_cached_decoding_matches_full_forward(positions, prefill, chunk, batch):
    """Prefill then decode in chunks (1 = token by token): the logits equal one full forward."""
    model = _model(positions)
    length = 40 if positions == "rope" else 16  # RoPE runs past block_size with its sliding window
    prefill = min(prefill, length)
    idx = torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(prefill))
    with torch.no_grad():
        full, _ = model(idx)
        cache = model.new_cache(batch, capacity=4)  # small on purpose: the cache must grow
        parts = [model(idx[:, :prefill], cache=cache)[0]]
        for start in range(prefill, length, chunk):
            logits, returned = model(idx[:, start : start + chunk], cache=cache)
            assert returned is cache
            parts.append(logits)
    assert cache.length == length
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-4)


def test_sliding_window_bounds_the_receptive_field():
    """Each attention layer looks back at most block_size - 1 tokens, so after n_layer layers a token's
    logits depend on its last n_layer * (block_size - 1) tokens only (sliding-window attention)."""
    model = _model("rope", block_size=8)  # tiny preset: 2 layers
    reach = model.config.n_layer * (model.config.block_size - 1)
    idx = torch.randint(0, VOCAB, (2, 40))
    far, near = idx.clone(), idx.clone()
    far[:, : 40 - 1 - reach] = (far[:, : 40 - 1 - reach] + 1) % VOCAB
    near[:, 40 - 1 - reach] = (near[:, 40 - 1 - reach] + 1) % VOCAB
    with torch.no_grad():
        last = model(idx)[0][:, -1]
        torch.testing.assert_close(model(far)[0][:, -1], last, atol=1e-5, rtol=1e-4)
        assert not torch.allclose(model(near)[0][:, -1], last, atol=1e-5)


def test_rewinding_the_cache_overwrites_positions():
    model = _model()
    idx = torch.randint(0, VOCAB, (1, 12))
    other = torch.randint(0, VOCAB, (1, 4))
    with torch.no_grad():
        cache = model.new_cache(1)
        model(idx, cache=cache)
        rewound, _ = model(other, cache=cache, start_pos=8)
        expected, _ = model(torch.cat([idx[:, :8], other], dim=1))
    assert cache.length == 12
    torch.testing.assert_close(rewound, expected[:, 8:], atol=1e-5, rtol=1e-4)


def test_invalid_calls_raise():
    learned = _model("learned", block_size=8)
    with pytest.raises(ValueError, match="block_size"):
        learned(torch.zeros(1, 9, dtype=torch.long))
    model = _model()
    cache = model.new_cache(2)
    with pytest.raises(ValueError, match="batch size"):
        model(torch.zeros(3, 2, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="outside the cache"):
        model(torch.zeros(2, 2, dtype=torch.long), cache=cache, start_pos=5)
    with pytest.raises(ValueError, match="needs a cache"):
        model(torch.zeros(2, 2, dtype=torch.long), start_pos=3)


def _decode_one_at_a_time(model: MusicTransformer, idx: torch.Tensor, capacity: int | None = None):
    """Feed ``idx`` (B, T) one token per call; return the logits (B, T, vocab), the cache, and the
    number of distinct layer-0 key buffers the cache went through (one per allocation)."""
    cache = model.new_cache(idx.shape[0], capacity=capacity)
    buffers, parts = set(), []
    with torch.no_grad():
        for t in range(idx.shape[1]):
            logits, _ = model(idx[:, t : t + 1], cache=cache)
            parts.append(logits)
            buffers.add(cache.keys[0].data_ptr())
    return torch.cat(parts, dim=1), cache, len(buffers)


@pytest.mark.parametrize("capacity", [None, 5])
def test_cache_grows_geometrically_past_block_size(capacity):
    """Decoding 4 x block_size tokens one at a time reallocates the cache O(log T) times (doubling), not
    once per step, and still gives the logits of one full forward (RoPE: the window slides on)."""
    model = _model("rope", block_size=16)
    length = 4 * model.config.block_size
    idx = torch.randint(0, VOCAB, (2, length), generator=torch.Generator().manual_seed(1))
    logits, cache, allocations = _decode_one_at_a_time(model, idx, capacity)
    initial = capacity or model.config.block_size
    assert allocations <= math.ceil(math.log2(length / initial)) + 1
    assert allocations >= 2  # it did have to grow: 64 positions do not fit in 16 (or 5)
    assert cache.length == length and cache.capacity >= length
    # Every layer's buffer holds the whole sequence, in one buffer of the final capacity.
    assert all(k.shape[2] == cache.capacity for k in cache.keys if k is not None)
    with torch.no_grad():
        full, _ = model(idx)
    torch.testing.assert_close(logits, full, atol=1e-5, rtol=1e-4)


def test_cache_with_learned_positions_stops_at_block_size():
    """Learned positions have no embedding past block_size: decoding up to it grows the cache
    geometrically and matches a full forward; one token more is refused, leaving the cache as it was."""
    model = _model("learned", block_size=16)
    block = model.config.block_size
    idx = torch.randint(0, VOCAB, (3, block), generator=torch.Generator().manual_seed(2))
    logits, cache, allocations = _decode_one_at_a_time(model, idx, capacity=2)
    assert allocations <= math.ceil(math.log2(block / 2)) + 1
    with torch.no_grad():
        full, _ = model(idx)
    torch.testing.assert_close(logits, full, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="block_size"), torch.no_grad():
        model(idx[:, :1], cache=cache)
    assert cache.length == block


def test_cache_rejects_a_capacity_below_one():
    model = _model()
    with pytest.raises(RemixError, match="capacity"):
        model.new_cache(2, capacity=0)
    with pytest.raises(RemixError, match="batch_size"):
        model.new_cache(0)
