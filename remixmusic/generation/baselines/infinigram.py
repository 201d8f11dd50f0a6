"""An unsmoothed longest-context model: the pure-recombination baseline (the ∞-gram of infini-gram).

Implements the ∞-gram of Liu et al., "Infini-gram: Scaling Unbounded n-gram Language Models to a
Trillion Tokens" (2024): the next token is predicted from the *longest* suffix of the context that occurs
in the training tokens, with the empirical distribution of what follows that suffix there,

    P(w | context) = cnt(s w) / cnt(s .),   s = the longest suffix of the context with cnt(s .) > 0,

with no smoothing and no discount. Sampling from it can only continue a training passage or jump to
another training passage that shares the last ``|s|`` tokens: it writes nothing but recombined training
music, which is what the experiment needs as its positive control.

Two changes to the published model, both for decoding music: ``max_context`` caps ``|s|`` (``None`` is
the unbounded ∞-gram; a cap lets the model jump between passages that share the last ``max_context``
tokens instead of replaying one piece to its end), and the backoff is grammar-aware. With a
:class:`~remixmusic.tokenizer.Grammar`, the decoder tracks each row's grammar state and uses the longest
suffix that has at least one continuation the grammar allows; when every continuation of the longest
match is forbidden (a bar limit, a prompt's pitch order), it backs off to a shorter suffix. Continuation
sets only grow as the suffix shrinks, so that longest suffix is found by binary search over its length.
Where not even the empty context has an allowed continuation, the row gets a uniform distribution over
the allowed tokens. Returned distributions are restricted to the allowed tokens and renormalized.

Lookups use a suffix array over the concatenated training sequences (Manber & Myers 1993, built by
prefix doubling with numpy sorts), as infini-gram does: the suffixes that start with a pattern form one
interval of the array, found by binary search, and inside the interval of a pattern of length ``k`` the
suffixes are sorted by their ``k``-th token, so the counts of every next token are interval boundaries
found by binary search too. Decoding keeps each row's interval and extends it by one token per step,
going back to a full search only when the match cannot grow. Everything is vectorized over the batch.

Saved as ``ngram.json`` (format ``remixmusic-infinigram``) and ``ngram.npz`` holding only the training
tokens (no pickle); the suffix array is rebuilt on load (deterministic, well under a second for 10^5
tokens). There is no meaningful bits-per-note alone: the ∞-gram gives probability zero to every
continuation it has not seen; :meth:`InfiniGram.evaluate` reports how often that happens instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from remixmusic._util.files import atomic_write, write_json
from remixmusic._util.suffix_array import bisect, lower_bound, narrow, suffix_array
from remixmusic.errors import CheckpointError, ConfigError

FORMAT = "remixmusic-infinigram"


FORMAT_VERSION = 1


@dataclass
class InfiniScore:
    """How the ∞-gram predicts held-out sequences (every token after BOS, EOS included).

    ``zero_probability_rate``: share of tokens it gives probability zero (never seen after the longest
    matching context); ``bits_per_note`` is only finite when that share is zero. ``mean_context_tokens``:
    mean length of the suffix it predicted from (the "effective n" minus one of Liu et al. 2024).
    """

    zero_probability_rate: float
    bits_per_note: float
    mean_context_tokens: float
    n_tokens: int
    n_notes: int


class InfiniGram:
    """The ∞-gram over token ids (see the module docstring).

    ``max_context``: the longest suffix used, in tokens (``None``: unbounded). ``grammar``: a
    :class:`~remixmusic.tokenizer.Grammar` (or anything with its ``start``/``allowed``/``advance``) that
    decoding respects; :func:`fit_infinigram` and :meth:`load` set the tokenizer's.

    Raises:
        ConfigError: ``max_context`` below 1.
    """

    def __init__(
        self, vocab_size: int, bos_id: int, max_context: int | None = None, grammar: Any = None
    ) -> None:
        if max_context is not None and max_context < 1:
            raise ConfigError(
                f"invalid ∞-gram parameters: max_context must be at least 1 (or None for unbounded), not "
                f"{max_context}"
            )
        self.vocab_size = vocab_size
        self.bos_id = bos_id
        self.max_context = max_context
        self.grammar = grammar
        self.metadata: dict[str, Any] = {}
        self.tokens_ = np.zeros(0, np.int64)
        self.suffix_array_ = np.zeros(0, np.int64)
        self.n_sequences_ = 0

    def fit(self, train: list[np.ndarray]) -> InfiniGram:
        """Index the concatenation of ``train`` (id arrays, each BOS .. EOS)."""
        seqs = [np.asarray(s, np.int64) for s in train if len(s) > 1]
        if not seqs:
            raise ValueError("no training tokens")
        tokens = np.concatenate(seqs)
        if tokens.min() < 0 or tokens.max() >= self.vocab_size:
            raise ValueError("token id outside the vocabulary")
        self._index(tokens, len(seqs))
        return self

    def _index(self, tokens: np.ndarray, n_sequences: int) -> None:
        self.tokens_ = tokens
        self.n_sequences_ = n_sequences
        self.suffix_array_ = suffix_array(tokens)
        # Tokens with one -1 after the end: the "token" at the end of a suffix sorts before all others.
        self._text = np.append(tokens, -1)
        self._unigram = np.bincount(tokens, minlength=self.vocab_size) > 0

    def _check_fitted(self) -> None:
        if len(self.tokens_) == 0:
            raise RuntimeError("InfiniGram is not fitted")

    # -- suffix-array lookups (remixmusic._util.suffix_array, shared with the reference index) ----------
    def narrow(
        self, lo: np.ndarray, hi: np.ndarray, offset: np.ndarray, token: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The interval of pattern + ``token`` inside the interval ``[lo, hi)`` of a pattern of length
        ``offset`` (elementwise, all shape ``(rows,)``): infini-gram's range narrowing (Liu et al. 2024)."""
        return narrow(self._text, self.suffix_array_, lo, hi, offset, token)

    def find(self, patterns: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Suffix-array interval ``[lo, hi)`` of each row's first ``lengths[r]`` tokens of ``patterns``
        ``(rows, width)``: two vectorized binary searches comparing whole patterns (Manber & Myers 1993)."""
        n, width = len(self.tokens_), patterns.shape[1]
        inside = np.arange(width) < lengths[:, None]

        def compare(i: np.ndarray, rows: np.ndarray) -> np.ndarray:
            """Sign of (suffix ranked ``i`` - pattern ``rows``), over the pattern's first tokens."""
            window = np.take(self._text, self.suffix_array_[i][:, None] + np.arange(width), mode="clip")
            every = len(rows) == len(patterns)  # all rows still searching: no gathers (small batches)
            pattern = patterns if every else patterns[rows]
            differs = (window != pattern) & (inside if every else inside[rows])
            first = differs.argmax(axis=1)
            at = np.arange(len(i))
            return np.where(differs.any(axis=1), np.sign(window[at, first] - pattern[at, first]), 0)

        ends = np.full(len(patterns), n, np.int64)
        lo = bisect(np.zeros(len(patterns), np.int64), ends, lambda m, rows: compare(m, rows) < 0)
        return lo, bisect(lo, ends, lambda m, rows: compare(m, rows) <= 0)

    def continuation_counts(self, lo: np.ndarray, hi: np.ndarray, length: np.ndarray) -> np.ndarray:
        """``(rows, vocab)`` counts of each token right after the pattern of ``length`` tokens whose
        suffix-array interval is ``[lo, hi)``: boundaries of equal-token runs, found by binary search."""
        V = self.vocab_size
        targets = np.tile(np.arange(V + 1), len(lo))
        starts, ends, offset = (np.repeat(a, V + 1) for a in (lo, hi, length))
        bounds = lower_bound(self._text, self.suffix_array_, starts, ends, offset, targets)
        return np.diff(bounds.reshape(len(lo), V + 1), axis=1)

    # -- decoding -----------------------------------------------------------------------------------
    def decoder(self) -> InfiniGramDecoder:
        self._check_fitted()
        return InfiniGramDecoder(self)

    def describe(self) -> dict[str, Any]:
        """What a generated file's sidecar records about this model, besides its path and hash."""
        return {"kind": "infinigram", "max_context": self.max_context, "train_tokens": len(self.tokens_)}

    def log_probs(
        self, seqs: list[np.ndarray], batch_size: int = 64
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per sequence, the natural log-probability of every token after the first (``-inf`` where the
        ∞-gram has never seen it), and the context length each was predicted from."""
        self._check_fitted()
        out_logp: list[np.ndarray] = []
        out_ctx: list[np.ndarray] = []
        for first in range(0, len(seqs), batch_size):
            chunk = [np.asarray(s, np.int64) for s in seqs[first : first + batch_size]]
            width = max(len(s) for s in chunk)
            ids = np.zeros((len(chunk), width), np.int64)  # PAD after EOS: the grammar allows it
            for row, s in enumerate(chunk):
                ids[row, : len(s)] = s
            decoder = self.decoder()
            decoder.reset(len(chunk), width)
            rows = np.arange(len(chunk))
            target = np.stack(
                [decoder.push(ids[:, t])[rows, ids[:, t + 1]] for t in range(width - 1)], axis=1
            )
            for row, s in enumerate(chunk):
                out_logp.append(target[row, : len(s) - 1])
                out_ctx.append(decoder.context_lengths[row, : len(s) - 1].copy())
        return out_logp, out_ctx

    def evaluate(self, seqs: list[np.ndarray], n_notes: int) -> InfiniScore:
        """Zero-probability rate, bits per note (finite only without zeros) and mean context length."""
        logp, context = self.log_probs(seqs)
        logp_all = np.concatenate(logp) if logp else np.zeros(0)
        n_tokens = len(logp_all)
        zeros = float(np.isneginf(logp_all).mean()) if n_tokens else math.nan
        bits = -logp_all.sum() / math.log(2.0) / n_notes if n_notes and zeros == 0 else math.nan
        mean_context = float(np.concatenate(context).mean()) if n_tokens else math.nan
        return InfiniScore(zeros, float(bits), mean_context, n_tokens, n_notes)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``ngram.json`` (config, metadata) and ``ngram.npz`` (the training tokens) atomically."""
        self._check_fitted()
        directory = Path(directory)
        dtype = np.uint16 if self.vocab_size <= np.iinfo(np.uint16).max else np.int32
        with atomic_write(directory / "ngram.npz") as fh:
            np.savez_compressed(fh, tokens=self.tokens_.astype(dtype))
        config = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "vocab_size": self.vocab_size,
            "bos_id": self.bos_id,
            "max_context": self.max_context,
            "n_sequences": self.n_sequences_,
            "metadata": self.metadata,
        }
        write_json(directory / "ngram.json", config)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> InfiniGram:
        """Read a model written by :meth:`save`; its grammar comes from ``metadata["tokenizer"]`` when
        present. A missing or foreign file is a ``CheckpointError``."""
        from remixmusic.generation.baselines.common import read_model_config
        from remixmusic.tokenizer.config import TokenizerConfig
        from remixmusic.tokenizer.remi import RemiTokenizer

        directory = Path(directory)
        config = read_model_config(directory, FORMAT, FORMAT_VERSION, "∞-gram model")
        model = cls(config["vocab_size"], config["bos_id"], config["max_context"])
        model.metadata = config.get("metadata", {})
        if "tokenizer" in model.metadata:
            try:
                tokenizer = RemiTokenizer(TokenizerConfig.from_dict(model.metadata["tokenizer"]))
            except (TypeError, ValueError) as exc:
                raise CheckpointError(
                    f"{directory}: ∞-gram with an invalid tokenizer config ({exc})"
                ) from None
            if tokenizer.vocab_size != model.vocab_size:
                raise CheckpointError(f"{directory}: tokenizer and ∞-gram vocabulary sizes differ")
            model.grammar = tokenizer.grammar()
        try:
            with np.load(directory / "ngram.npz", allow_pickle=False) as data:
                saved = data["tokens"]  # uint16 or int32 as saved; any integer width reads the same
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{directory}: damaged ∞-gram tokens ({exc})") from None
        if saved.ndim != 1 or saved.dtype.kind not in "iu":
            raise CheckpointError(f"{directory}: damaged ∞-gram tokens (not 1-D integers)")
        tokens = saved.astype(np.int64)
        if len(tokens) == 0 or tokens.min() < 0 or tokens.max() >= model.vocab_size:
            raise CheckpointError(f"{directory}: damaged ∞-gram tokens (ids outside the vocabulary)")
        model._index(tokens, int(config.get("n_sequences", 0)))
        return model


class InfiniGramDecoder:
    """Incremental decoding for a batch (the decoder protocol of :mod:`remixmusic.sample`).

    Per row: the tokens so far, the grammar state, and the suffix the last distribution came from (its
    length and suffix-array interval). After a token ``t`` sampled from suffix ``s``, ``s t`` occurs in
    the training tokens, and no longer suffix of the new context can have an allowed continuation (its
    last ``|s| + 1`` tokens would have to be ``s'' t`` with ``s''`` longer than ``s``, which had none), so
    the longest candidate is ``s t``: one narrowing of the interval. Only when that fails (no allowed
    continuation, ``max_context`` reached, or ``t`` was not allowed, as a forced pad is not) does the row
    search shorter suffixes.
    """

    max_length = None  # no context limit

    def __init__(self, model: InfiniGram) -> None:
        self.model = model
        self._history = np.zeros((0, 0), np.int64)  # (B, capacity): the tokens so far
        self._contexts = np.zeros((0, 0), np.int64)  # (B, capacity): suffix length behind each output
        self._length = 0

    @property
    def context_lengths(self) -> np.ndarray:
        """``(B, T)``: the length of the suffix each returned distribution came from."""
        return self._contexts[:, : self._length]

    def start(self, prefix: torch.Tensor) -> torch.Tensor:
        """Begin rows with ``prefix`` (B, T) ids (BOS first); return log-probs (B, T, vocab), where
        ``[:, t]`` is the distribution of the token after position ``t``."""
        ids = prefix.cpu().numpy().astype(np.int64)
        self.reset(len(ids), ids.shape[1])
        return torch.from_numpy(np.stack([self.push(ids[:, t]) for t in range(ids.shape[1])], axis=1)).float()

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row; return the next token's log-probs (B, vocab)."""
        return torch.from_numpy(self.push(tokens.cpu().numpy().astype(np.int64))).float()

    def reset(self, batch: int, capacity: int = 64) -> None:
        """Empty rows, before their first token (BOS)."""
        m = self.model
        self._history = np.zeros((batch, max(2 * capacity, 64)), np.int64)
        self._contexts = np.zeros_like(self._history)
        self._length = 0
        self._state = m.grammar.start(batch) if m.grammar is not None else None
        self._allowed = np.ones((batch, m.vocab_size), bool)
        self._match = np.zeros(batch, np.int64)
        self._lo = np.zeros(batch, np.int64)
        self._hi = np.full(batch, len(m.tokens_), np.int64)

    def push(self, tokens: np.ndarray) -> np.ndarray:
        """Append one token id per row (numpy); return the next token's log-probs (B, vocab) float64."""
        m = self.model
        B, V = len(tokens), m.vocab_size
        if self._length == self._history.shape[1]:
            self._history, self._contexts = (
                np.pad(a, ((0, 0), (0, a.shape[1]))) for a in (self._history, self._contexts)
            )
        self._history[:, self._length] = tokens
        self._length += 1
        if self._state is not None:
            self._state = m.grammar.advance(self._state, tokens)
            allowed = m.grammar.allowed(self._state)
        else:
            allowed = np.ones((B, V), bool)
        cap = m.max_context if m.max_context is not None else self._length
        legal = self._allowed[np.arange(B), tokens]
        self._allowed = allowed

        # The one candidate that needs no search: the previous suffix extended by the new token (the
        # longest possible one after a token the grammar allowed).
        match, lo, hi = self._match + 1, self._lo.copy(), self._hi.copy()
        counts = np.zeros((B, V), np.int64)
        grow = (self._match < cap) & legal
        ok = np.zeros(B, bool)
        if grow.any():
            r = np.nonzero(grow)[0]
            lo[r], hi[r] = m.narrow(self._lo[r], self._hi[r], self._match[r], tokens[r])
            r = r[hi[r] > lo[r]]
            counts[r] = m.continuation_counts(lo[r], hi[r], match[r]) * allowed[r]
            ok[r] = counts[r].any(axis=1)
        redo = np.nonzero(~ok)[0]
        if len(redo):
            # Longest suffix not yet ruled out: one shorter than the failed extension, else the cap.
            longest = np.where(grow[redo], self._match[redo], min(cap, self._length))
            k, lo[redo], hi[redo], counts[redo] = self._longest(redo, longest, allowed[redo])
            match[redo] = k
        self._match, self._lo, self._hi = match, lo, hi
        self._contexts[:, self._length - 1] = match
        # Nothing allowed follows even the empty context: uniform over what the grammar allows.
        empty = ~counts.any(axis=1)
        counts[empty] = allowed[empty] | ~allowed[empty].any(axis=1, keepdims=True)
        with np.errstate(divide="ignore"):
            return np.log(counts) - np.log(counts.sum(axis=1, keepdims=True))

    def _probe(
        self, rows: np.ndarray, k: np.ndarray, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For each row, the last ``k`` tokens' interval, allowed continuation counts and whether any."""
        m = self.model
        width = max(int(k.max(initial=0)), 1)
        columns = self._length - k[:, None] + np.arange(width)
        patterns = np.take_along_axis(self._history[rows], np.clip(columns, 0, self._length - 1), axis=1)
        lo, hi = m.find(patterns, k)
        counts = np.zeros((len(rows), m.vocab_size), np.int64)
        found = hi > lo
        counts[found] = m.continuation_counts(lo[found], hi[found], k[found]) * allowed[found]
        return lo, hi, counts, np.count_nonzero(counts, axis=1) > 0

    def _longest(
        self, rows: np.ndarray, longest: np.ndarray, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The longest suffix (at most ``longest`` tokens) of each row's tokens with an allowed
        continuation: its length, interval and counts (length 0, all counts zero, where none)."""
        # Rows whose allowed tokens never occur (after EOS, a dead state) need no search.
        longest = np.where((allowed & self.model._unigram).any(axis=1), longest, 0)
        lo, hi, counts, ok = self._probe(rows, longest, allowed)
        # Binary search on the length for the rest: "has an allowed continuation" is monotone in it.
        low = np.zeros(len(rows), np.int64)
        high = np.where(ok, longest, longest - 1)
        low = np.where(ok, longest, low)
        while (active := low < high).any():
            mid = (low + high + 1) // 2
            a = np.nonzero(active)[0]
            passed = self._probe(rows[a], mid[a], allowed[a])[3]
            low[a] = np.where(passed, mid[a], low[a])
            high[a] = np.where(passed, high[a], mid[a] - 1)
        settle = np.nonzero(~ok)[0]
        if len(settle):
            lo[settle], hi[settle], counts[settle], _ = self._probe(
                rows[settle], low[settle], allowed[settle]
            )
        return low, lo, hi, counts


def fit_infinigram(
    dataset: str | Path,
    tokenizer_config: dict[str, Any] | None = None,
    max_context: int | None = None,
    transpositions: int = 0,
    jobs: int = 0,
) -> InfiniGram:
    """Index a dataset's ``train`` split (see :func:`remixmusic.ngram.training_data`) with the
    tokenizer's grammar. How it predicts the held-out split (``test``, else ``valid``) goes into
    ``metadata["metrics"]``: zero-probability rate, mean context length, and bits per note only when no
    held-out token has probability zero.

    Raises:
        ConfigError: ``max_context`` below 1.
    """
    from remixmusic.data.tokens import count_notes, training_data

    data = training_data(dataset, tokenizer_config, transpositions, jobs)
    tokenizer = data.tokenizer
    model = InfiniGram(tokenizer.vocab_size, tokenizer.bos_id, max_context, tokenizer.grammar())
    model.fit(data.train)
    split = "test" if data.splits["test"] else "valid"
    held_out = data.splits[split]
    score = model.evaluate(held_out, count_notes(tokenizer, held_out))
    metrics: dict[str, float] = {
        f"{split}_zero_probability_rate": score.zero_probability_rate,
        f"{split}_mean_context_tokens": score.mean_context_tokens,
    }
    if math.isfinite(score.bits_per_note):
        metrics[f"{split}_bits_per_note"] = score.bits_per_note
    model.metadata = {**data.metadata(transpositions), "metrics": metrics}
    return model
