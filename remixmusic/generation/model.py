"""A decoder-only transformer over music tokens, with a KV cache for incremental decoding.

One readable file in the spirit of Karpathy's nanoGPT: a GPT-2 style stack of pre-norm blocks (Radford et
al. 2019) with ``torch.nn.functional.scaled_dot_product_attention``, input/output embedding weight tying
(Press & Wolf 2017) and rotary position embeddings (RoPE, Su et al. 2021) or learned absolute positions.

Context window. Each attention layer lets a token see itself and at most ``block_size - 1`` tokens
before it: sliding-window attention as in Longformer (Beltagy et al. 2020) and Mistral (Jiang et al.
2023). Within ``block_size`` tokens this is ordinary causal attention, so training is unchanged; past it,
with RoPE (which only sees relative offsets), every attention still sees offsets it was trained on, so
generation can run longer than ``block_size`` with the cache, and incremental decoding gives the same
logits as one full forward of the whole sequence. Learned positions have no meaning past
``block_size``, so those models refuse longer sequences.

Incremental decoding (the KV cache API)::

    cache = model.new_cache(batch_size)           # empty; grows as needed
    logits, cache = model(prompt, cache=cache)    # prefill: positions 0..T-1, logits (B, T, vocab)
    logits, cache = model(next_ids[:, None], cache=cache)   # one step: position T, logits (B, 1, vocab)

``forward`` always returns ``(logits, cache)``; the cache is updated in place and returned for
convenience (``None`` when no cache was passed, as in training). ``start_pos`` defaults to
``cache.length`` (append); passing a smaller value rewinds, overwriting positions from there on. All rows
of a batch share positions, so a batch decodes samples of equal length (e.g. one prompt, many samples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from remixmusic.errors import RemixError
from remixmusic.generation.config import ModelConfig


class KVCache:
    """Keys and values of the positions decoded so far, per layer, for incremental decoding.

    Buffers have shape ``(batch, n_head, capacity, head_dim)``; they are allocated on first use with the
    dtype and device of the keys (so autocast works) and doubled when full (geometric growth, as in a
    dynamic array), so decoding ``T`` positions one at a time reallocates each buffer at most
    ``ceil(log2(T / capacity)) + 1`` times and copies O(T) positions in all, not O(T^2). ``length`` is the
    number of valid positions. Make one with :meth:`MusicTransformer.new_cache`.

    Raises:
        RemixError: if ``n_layer``, ``batch_size`` or ``capacity`` is below 1.
    """

    def __init__(self, n_layer: int, batch_size: int, capacity: int) -> None:
        if min(n_layer, batch_size, capacity) < 1:
            raise RemixError(
                f"a KV cache needs n_layer, batch_size and capacity >= 1 (got {n_layer}, {batch_size}, "
                f"{capacity})"
            )
        self.batch_size = batch_size
        self.capacity = capacity
        self.length = 0
        self.keys: list[Tensor | None] = [None] * n_layer
        self.values: list[Tensor | None] = [None] * n_layer

    @staticmethod
    def _grown(capacity: int, end: int) -> int:
        """The capacity of a buffer that must hold ``end`` positions: ``capacity`` doubled until it does."""
        while capacity < end:
            capacity *= 2
        return capacity

    def update(self, layer: int, start: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store ``k, v`` (B, H, T, D) at positions ``start..start+T``; return keys/values ``0..start+T``.

        A buffer too short for ``start + T`` positions is replaced by one of twice its capacity (or more,
        by doublings, for a long prefill) holding a copy of positions ``0..start``.
        """
        end = start + k.shape[2]
        keys, values = self.keys[layer], self.values[layer]
        if keys is None or values is None or end > keys.shape[2]:
            capacity = self._grown(self.capacity if keys is None else keys.shape[2], end)
            self.capacity = max(self.capacity, capacity)
            shape = (*k.shape[:2], capacity, k.shape[3])
            new_keys, new_values = k.new_zeros(shape), v.new_zeros(shape)
            if keys is not None and values is not None:
                new_keys[:, :, :start] = keys[:, :, :start]
                new_values[:, :, :start] = values[:, :, :start]
            self.keys[layer], self.values[layer] = keys, values = new_keys, new_values
        keys[:, :, start:end] = k
        values[:, :, start:end] = v
        return keys[:, :, :end], values[:, :, :end]


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Apply rotary embeddings to ``x`` (B, H, T, D), pairing the two halves of the head dimension."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).type_as(x)


class SelfAttention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, layer: int, context: _Context) -> Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        if context.rope is not None:
            q, k = _rotate(q, *context.rope), _rotate(k, *context.rope)
        if context.cache is not None:
            k, v = context.cache.update(layer, context.start_pos, k, v)
            k, v = k[:, :, context.first_key :], v[:, :, context.first_key :]
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=context.mask,
            is_causal=context.causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(B, T, C)))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=False)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm residual block: ``x + attn(norm(x))`` then ``x + mlp(norm(x))`` (GPT-2 ordering)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.n_embd, bias=False)
        self.attn = SelfAttention(config)
        self.norm2 = nn.LayerNorm(config.n_embd, bias=False)
        self.mlp = MLP(config)

    def forward(self, x: Tensor, layer: int, context: _Context) -> Tensor:
        x = x + self.attn(self.norm1(x), layer, context)
        return x + self.mlp(self.norm2(x))


@dataclass
class _Context:
    """What every attention layer of one forward call shares: positions, mask and cache slice."""

    rope: tuple[Tensor, Tensor] | None
    mask: Tensor | None
    causal: bool
    cache: KVCache | None
    start_pos: int
    first_key: int


class MusicTransformer(nn.Module):
    """GPT-style decoder over token ids; see the module docstring for the context window and cache API.

    It is a :class:`~remixmusic.generation.protocols.GenerativeModel` (see :meth:`decoder`).
    """

    inv_freq: Tensor  # (head_dim / 2,) RoPE inverse frequencies, a non-persistent buffer

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        learned = config.positions == "learned"
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd) if learned else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = nn.LayerNorm(config.n_embd, bias=False)
        exponents = torch.arange(0, config.head_dim, 2, dtype=torch.float32) / config.head_dim
        inv_freq = config.rope_base**-exponents
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.apply(self._init_weights)
        # GPT-2 initialisation: residual output projections scaled by 1/sqrt(2 * n_layer) so the residual
        # stream's variance does not grow with depth.
        for name, param in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch_size: int, capacity: int | None = None) -> KVCache:
        """An empty KV cache for ``batch_size`` sequences, first allocated for ``capacity`` positions
        (default ``block_size``) and doubled whenever it fills up.

        Raises:
            RemixError: if ``batch_size`` or ``capacity`` is below 1.
        """
        initial = self.config.block_size if capacity is None else capacity
        return KVCache(self.config.n_layer, batch_size, initial)

    def decoder(self, use_cache: bool = True) -> TransformerDecoder:
        """A fresh :class:`TransformerDecoder` (the :class:`~remixmusic.generation.protocols.Decoder`
        protocol); ``use_cache=False`` recomputes the whole sequence at every step instead."""
        return TransformerDecoder(self, use_cache)

    def describe(self) -> dict[str, Any]:
        """What a generated file's sidecar records about this model, besides its path and hash."""
        return {"kind": "transformer"}

    def forward(
        self, idx: Tensor, cache: KVCache | None = None, start_pos: int | None = None
    ) -> tuple[Tensor, KVCache | None]:
        """Logits ``(B, T, vocab)`` for token ids ``idx`` ``(B, T)``, and the (updated) cache.

        Without a cache, ``idx`` holds positions ``0..T-1``. With a cache, ``idx`` holds positions
        ``start_pos..start_pos+T-1`` (default ``start_pos = cache.length``, i.e. append); their keys and
        values are written into the cache, attention covers the cached positions before them, and
        ``cache.length`` becomes ``start_pos + T``.

        Raises:
            ValueError: ``start_pos`` without a cache or outside ``0..cache.length``, a batch size other
                than the cache's, or (learned positions only) a sequence longer than ``block_size``.
        """
        batch, length = idx.shape
        block = self.config.block_size
        if cache is None:
            if start_pos:
                raise ValueError("start_pos needs a cache")
            start_pos = 0
        else:
            if start_pos is None:
                start_pos = cache.length
            if not 0 <= start_pos <= cache.length:
                raise ValueError(f"start_pos {start_pos} outside the cache (length {cache.length})")
            if batch != cache.batch_size:
                raise ValueError(f"batch size {batch} does not match the cache's {cache.batch_size}")
        end = start_pos + length
        if self.pos_emb is not None and end > block:
            raise ValueError(f"sequence of {end} tokens exceeds block_size {block} (learned positions)")
        positions = torch.arange(start_pos, end, device=idx.device)
        context = self._context(positions, cache, start_pos)
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb(positions)
        x = self.drop(x)
        for layer, block_module in enumerate(self.blocks):
            x = block_module(x, layer, context)
        if cache is not None:
            cache.length = end
        # Weight tying: the output layer is the transposed token embedding.
        logits = F.linear(self.norm(x), self.tok_emb.weight)
        return logits, cache

    def _context(self, positions: Tensor, cache: KVCache | None, start_pos: int) -> _Context:
        """Rotary angles and the sliding-window causal mask for queries at ``positions``."""
        block = self.config.block_size
        length = positions.numel()
        end = start_pos + length
        first_key = max(0, start_pos + 1 - block) if cache is not None else 0
        rope = None
        if self.pos_emb is None:
            angles = positions.float()[:, None] * self.inv_freq[None, :]
            rope = (angles.cos(), angles.sin())
        mask, causal = None, False
        if first_key == 0 and start_pos == 0 and length <= block:
            causal = True  # plain causal attention over positions 0..T-1
        elif length > 1 or end - first_key > block:
            keys = torch.arange(first_key, end, device=positions.device)
            offset = positions[:, None] - keys[None, :]
            mask = (offset >= 0) & (offset < block)
        return _Context(rope, mask, causal, cache, start_pos, first_key)


class TransformerDecoder:
    """The :class:`~remixmusic.generation.protocols.Decoder` protocol for :class:`MusicTransformer`.

    With ``use_cache`` each step feeds one token and reuses the keys/values of the prefix (KV cache, which
    grows geometrically past ``block_size``); without it each step runs the model over the whole sequence
    again (the baseline the benchmark compares against). Both give the same log-probabilities: natural
    logs ``(B, T, vocab)`` from :meth:`start`, ``(B, vocab)`` from :meth:`step`, float32 on the CPU.
    ``max_length`` is ``block_size`` for learned positions (which have no meaning past it) and ``None``
    for RoPE (whose sliding window runs on).
    """

    def __init__(self, model: MusicTransformer, use_cache: bool = True) -> None:
        self.model = model.eval()
        self.use_cache = use_cache
        self.max_length = model.config.block_size if model.config.positions == "learned" else None
        self._cache: KVCache | None = None
        self._ids: Tensor | None = None

    @torch.inference_mode()
    def start(self, prefix: Tensor) -> Tensor:
        """Begin rows with ``prefix`` ``(B, T)`` ids; log-probs ``(B, T, vocab)``, ``[:, t]`` predicts ``t + 1``.

        Raises:
            ValueError: if ``T`` exceeds ``max_length``.
        """
        device = next(self.model.parameters()).device
        prefix = prefix.to(device)
        self._cache = self.model.new_cache(len(prefix)) if self.use_cache else None
        self._ids = prefix
        logits, _ = self.model(prefix, cache=self._cache)
        return F.log_softmax(logits.float(), dim=-1).cpu()

    @torch.inference_mode()
    def step(self, tokens: Tensor) -> Tensor:
        """Append ``tokens`` ``(B,)``; log-probs ``(B, vocab)`` of the next token.

        Raises:
            RemixError: if called before :meth:`start`.
            ValueError: if the sequence would exceed ``max_length``.
        """
        if self._ids is None:
            raise RemixError("TransformerDecoder.step called before start")
        column = tokens.to(self._ids.device)[:, None]
        if self._cache is not None:
            logits, _ = self.model(column, cache=self._cache)
        else:
            self._ids = torch.cat([self._ids, column], dim=1)
            logits, _ = self.model(self._ids)
        return F.log_softmax(logits[:, -1].float(), dim=-1).cpu()
