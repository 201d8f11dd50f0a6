"""An n-gram language model over music tokens: the "pure recombination" baseline.

Smoothing is interpolated modified Kneser-Ney (Chen & Goodman, "An Empirical Study of Smoothing
Techniques for Language Modeling", 1998, section 3): with ``c`` the counts of order ``n`` (raw counts at
the model's highest order, continuation counts ``N1+(. h w)`` below it),

    P_n(w | h) = (max(c(h w) - D_n(c(h w)), 0) + gamma(h) P_{n-1}(w | h')) / c(h)
    gamma(h)   = D_n1 N1(h .) + D_n2 N2(h .) + D_n3+ N3+(h .)

where ``h'`` drops the oldest token of ``h``, ``P_n = P_{n-1}`` when the context ``h`` was never seen, and
``P_0`` is uniform over the vocabulary, so every token has non-zero probability and each distribution
sums to one. The three discounts per order come from the count-of-counts ``n_k``:
``Y = n1 / (n1 + 2 n2)``, ``D_k = k - (k + 1) Y n_{k+1} / n_k``; when sparse counts put any of them outside
``(0, k]``, that order uses the single discount ``Y`` for all counts (plain interpolated Kneser-Ney).

One fit over ``max_order`` gives every model of order ``min_order..max_order``, because each order's raw
and continuation counts are both kept; :meth:`NGramModel.fit` picks the order with the lowest
cross-entropy on a validation split. Sequences start with BOS, which stands for ``max_order - 1`` BOS
tokens, so every position has a full-length context; generation pads the same way.

Storage: per order, the distinct contexts as sorted 64-bit hashes (splitmix64 over the tokens; a collision
among a million contexts has probability about 1e-7) and, grouped by context, the next tokens with their
raw and continuation counts. Everything is numpy arrays, saved as ``.npz`` plus a ``.json`` config (no
pickle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from remixmusic._util.arrays import GOLDEN_GAMMA, ramp, splitmix64
from remixmusic._util.files import atomic_write, write_json
from remixmusic._util.suffix_array import bisect
from remixmusic.data.tokens import training_data
from remixmusic.errors import CheckpointError, ConfigError
from remixmusic.generation.baselines.common import read_model_config

FORMAT = "remixmusic-ngram"


FORMAT_VERSION = 1


_LN2 = math.log(2.0)


def context_keys(contexts: np.ndarray) -> np.ndarray:
    """64-bit hash of each row of ``contexts`` (rows of token ids, any width including zero)."""
    h = np.full(len(contexts), GOLDEN_GAMMA, np.uint64)
    for column in contexts.T:
        h = splitmix64(h ^ (column.astype(np.uint64) + np.uint64(1)), gamma=0)  # saved models: keep as is
    return h


def _discounts(counts: np.ndarray) -> np.ndarray:
    """Modified Kneser-Ney discounts ``[0, D1, D2, D3+]`` from count-of-counts (Chen & Goodman 1998)."""
    n = np.bincount(np.minimum(counts, 5), minlength=5)[1:5].astype(np.float64)  # n1..n4
    out = np.zeros(4)
    y = n[0] / (n[0] + 2 * n[1]) if n[0] > 0 else 0.5  # no singletons at all: any discount in (0, 1)
    for k in (1, 2, 3):
        out[k] = k - (k + 1) * y * n[k] / n[k - 1] if n[k - 1] > 0 else -1.0
    if not all(0 < out[k] <= k for k in (1, 2, 3)):
        # Sparse counts can push an estimate out of (0, k]; a zero discount would leave no mass for unseen
        # tokens. Fall back to the single discount Y of interpolated Kneser-Ney (Ney et al. 1994).
        out[1:] = y
    return out


def _interpolate(
    c: np.ndarray, stats: dict[str, np.ndarray], ci: np.ndarray, lower: np.ndarray
) -> np.ndarray:
    """One level of interpolated modified Kneser-Ney (module docstring): ``(max(c - D(c), 0) + gamma(h)
    lower) / c(h)`` for counts ``c`` in contexts ``ci`` (broadcast against ``c``), ``lower`` being the
    next lower level's probabilities."""
    discounted = np.maximum(c - stats["discounts"][np.minimum(c, 3).astype(np.int64)], 0.0)
    return (discounted + stats["reserved"][ci] * lower) / stats["total"][ci]


@dataclass
class _OrderTable:
    """Counts of one order ``n``: distinct contexts (n-1 tokens) and, grouped by context, next tokens."""

    ctx_keys: np.ndarray  # (C,) uint64, sorted
    ctx_start: np.ndarray  # (C+1,) int64 offsets into the per-type arrays
    tokens: np.ndarray  # (M,) int32, ascending within a context
    raw: np.ndarray  # (M,) int64 counts c(h w)
    cont: np.ndarray  # (M,) int64 continuation counts N1+(. h w)

    def __post_init__(self) -> None:
        ctx_of_type = np.repeat(np.arange(len(self.ctx_keys)), np.diff(self.ctx_start))
        self.ctx_of_type = ctx_of_type
        self.stats = {variant: self._context_stats(getattr(self, variant)) for variant in ("raw", "cont")}

    def _context_stats(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        discounts = _discounts(counts)
        n_ctx = len(self.ctx_keys)
        total = np.bincount(self.ctx_of_type, weights=counts, minlength=n_ctx)
        reserved = np.bincount(self.ctx_of_type, weights=discounts[np.minimum(counts, 3)], minlength=n_ctx)
        return {"discounts": discounts, "total": total, "reserved": reserved}

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Index of each context key in this table, -1 where unseen."""
        i = np.searchsorted(self.ctx_keys, keys)
        i = np.minimum(i, len(self.ctx_keys) - 1)
        return np.where(self.ctx_keys[i] == keys, i, -1)


@dataclass
class LMScore:
    """Cross-entropy of a model on token sequences: every token after BOS is predicted (EOS included)."""

    bits_per_token: float
    bits_per_note: float
    n_tokens: int
    n_notes: int

    @classmethod
    def from_total(cls, total_bits: float, n_tokens: int, n_notes: int) -> LMScore:
        return cls(
            total_bits / max(n_tokens, 1), total_bits / n_notes if n_notes else math.nan, n_tokens, n_notes
        )


class NGramModel:
    """Interpolated modified Kneser-Ney n-gram model over token ids (see the module docstring).

    ``fit(train, valid)`` counts orders up to ``max_order`` and, given a validation split, sets ``order_``
    to the order in ``min_order..max_order`` with the lowest validation bits per token
    (``valid_bits_per_token_`` keeps them all); without one, ``order_ = max_order``.

    Raises:
        ConfigError: unless ``1 <= min_order <= max_order`` and ``max_order >= 2``.
    """

    def __init__(self, vocab_size: int, bos_id: int, max_order: int = 8, min_order: int = 2) -> None:
        if not 1 <= min_order <= max_order or max_order < 2:
            raise ConfigError(
                f"invalid n-gram parameters: need 1 <= min_order <= max_order and max_order >= 2 (got "
                f"min_order={min_order}, max_order={max_order})"
            )
        self.vocab_size = vocab_size
        self.bos_id = bos_id
        self.max_order = max_order
        self.min_order = min_order
        self.order_ = max_order
        self.valid_bits_per_token_: dict[int, float] = {}
        self.metadata: dict[str, Any] = {}
        self._tables: list[_OrderTable] = []

    # -- counting -----------------------------------------------------------------------------
    def _windows(self, seqs: list[np.ndarray]) -> np.ndarray:
        """(positions, max_order) rows: ``max_order - 1`` context tokens then the predicted token."""
        width = self.max_order
        pad = np.full(width - 1, self.bos_id, np.int64)
        # The leading BOS of each sequence is replaced by the padding (all BOS), so the first real token
        # is predicted from a context of ``max_order - 1`` BOS tokens.
        rows = [
            np.lib.stride_tricks.sliding_window_view(
                np.concatenate([pad, np.asarray(s[1:], np.int64)]), width
            )
            for s in seqs
            if len(s) > 1
        ]
        return np.concatenate(rows) if rows else np.zeros((0, width), np.int64)

    def fit(self, train: list[np.ndarray], valid: list[np.ndarray] | None = None) -> NGramModel:
        """Count all orders on ``train`` (id arrays starting with BOS); choose the order on ``valid``."""
        windows = self._windows(train)
        if len(windows) == 0:
            raise ValueError("no training tokens")
        if windows.max() >= self.vocab_size or windows.min() < 0:
            raise ValueError("token id outside the vocabulary")
        top = self.max_order
        type_of_position: list[np.ndarray] = []
        first_position: list[np.ndarray] = []
        raw_tables = []
        for n in range(1, top + 1):
            keys = context_keys(windows[:, top - n : top - 1])
            ctx_keys, ctx_index = np.unique(keys, return_inverse=True)
            code = ctx_index.astype(np.int64) * self.vocab_size + windows[:, -1]
            codes, first, inverse, raw = np.unique(
                code, return_index=True, return_inverse=True, return_counts=True
            )
            type_of_position.append(inverse.ravel())
            first_position.append(first)
            raw_tables.append((ctx_keys, codes, raw))
        self._tables = []
        for n, (ctx_keys, codes, raw) in enumerate(raw_tables, start=1):
            if n < top:
                # Continuation count: how many distinct (n+1)-gram types end in this n-gram.
                cont = np.bincount(type_of_position[n - 1][first_position[n]], minlength=len(codes))
            else:
                cont = raw
            ctx_of_type = codes // self.vocab_size
            ctx_start = np.searchsorted(ctx_of_type, np.arange(len(ctx_keys) + 1))
            tokens = (codes % self.vocab_size).astype(np.int32)
            self._tables.append(
                _OrderTable(ctx_keys, ctx_start, tokens, raw.astype(np.int64), cont.astype(np.int64))
            )
        self.order_ = top
        self.valid_bits_per_token_ = {}
        if valid is not None:
            valid_windows = self._windows(valid)
            for order in range(self.min_order, top + 1):
                bits = -self._target_log_prob(valid_windows, order).sum() / _LN2
                self.valid_bits_per_token_[order] = float(bits / max(len(valid_windows), 1))
            self.order_ = min(self.valid_bits_per_token_, key=self.valid_bits_per_token_.__getitem__)
        return self

    def _check_fitted(self) -> None:
        if not self._tables:
            raise RuntimeError("NGramModel is not fitted")

    # -- probabilities ------------------------------------------------------------------------------
    def _target_log_prob(self, windows: np.ndarray, order: int) -> np.ndarray:
        """Natural log-probability of each window's last token given its context, under ``order``."""
        p = np.full(len(windows), 1.0 / self.vocab_size)
        target = windows[:, -1]
        for n in range(1, order + 1):
            table, counts, stats, ci = self._level(n, order, windows)
            seen = ci >= 0
            ci = ci[seen]
            lo, hi = table.ctx_start[ci], table.ctx_start[ci + 1]
            # Position of the target among the context's tokens (ascending), then whether it is there.
            wanted = target[seen]
            j = bisect(lo, hi, lambda mid, live: table.tokens[mid] < wanted[live])  # noqa: B023 (called now)
            hit = (j < hi) & (table.tokens[np.minimum(j, len(table.tokens) - 1)] == wanted)
            c = np.where(hit, counts[np.minimum(j, len(counts) - 1)], 0)
            p[seen] = _interpolate(c, stats, ci, p[seen])
        return np.log(p)

    def next_log_probs(self, contexts: np.ndarray, order: int | None = None) -> np.ndarray:
        """Log-probabilities ``(B, vocab)`` of the next token after each row of ``contexts``.

        Rows hold the last ``max_order - 1`` tokens (left-padded with BOS).
        """
        self._check_fitted()
        order = self.order_ if order is None else order
        B, V = len(contexts), self.vocab_size
        p = np.full((B, V), 1.0 / V)
        for n in range(1, order + 1):
            table, counts, stats, ci = self._level(n, order, contexts)
            rows = np.nonzero(ci >= 0)[0]
            if len(rows) == 0:
                continue
            ci = ci[rows]
            lo, hi = table.ctx_start[ci], table.ctx_start[ci + 1]
            lengths = hi - lo
            row_of = np.repeat(np.arange(len(rows)), lengths)
            type_index = lo[row_of] + ramp(lengths)
            c = np.zeros((len(rows), V))
            c[row_of, table.tokens[type_index]] = counts[type_index]
            p[rows] = _interpolate(c, stats, ci[:, None], p[rows])
        return np.log(p)

    def _level(
        self, n: int, order: int, contexts: np.ndarray
    ) -> tuple[_OrderTable, np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Level ``n`` of the interpolation of a model of ``order``: its table, its counts (raw at the top
        level, continuation counts below) with their statistics, and the index in the table of each row's
        context (the last ``n - 1`` of the ``max_order - 1`` context tokens the rows start with; -1 where
        unseen)."""
        table = self._tables[n - 1]
        variant = "raw" if n == order else "cont"
        ci = table.find(context_keys(contexts[:, self.max_order - n : self.max_order - 1]))
        return table, table.raw if variant == "raw" else table.cont, table.stats[variant], ci

    def log_prob(self, seq: np.ndarray, order: int | None = None) -> np.ndarray:
        """Natural log-probability of every token of ``seq`` after its first (BOS), in order."""
        self._check_fitted()
        return self._target_log_prob(self._windows([seq]), self.order_ if order is None else order)

    def score(self, seqs: list[np.ndarray], order: int | None = None) -> float:
        """Mean log-probability per predicted token (natural log; higher is better, as in scikit-learn)."""
        self._check_fitted()
        windows = self._windows(seqs)
        return float(self._target_log_prob(windows, self.order_ if order is None else order).mean())

    def evaluate(self, seqs: list[np.ndarray], n_notes: int, order: int | None = None) -> LMScore:
        """Bits per token and per note on ``seqs``, which together encode ``n_notes`` notes."""
        self._check_fitted()
        windows = self._windows(seqs)
        bits = -self._target_log_prob(windows, self.order_ if order is None else order).sum() / _LN2
        return LMScore.from_total(float(bits), len(windows), n_notes)

    # -- decoding (the sampler protocol of remixmusic.sample) --------------------------------------
    def decoder(self) -> NGramDecoder:
        self._check_fitted()
        return NGramDecoder(self)

    def describe(self) -> dict[str, Any]:
        """What a generated file's sidecar records about this model, besides its path and hash."""
        return {"kind": "ngram", "order": self.order_}

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``ngram.json`` (config, chosen order, metadata) and ``ngram.npz`` (counts) atomically."""
        self._check_fitted()
        directory = Path(directory)
        arrays: dict[str, np.ndarray] = {}
        for n, t in enumerate(self._tables, start=1):
            arrays |= {f"{n}_ctx_keys": t.ctx_keys, f"{n}_ctx_start": t.ctx_start, f"{n}_tokens": t.tokens}
            arrays |= {f"{n}_raw": t.raw, f"{n}_cont": t.cont}
        with atomic_write(directory / "ngram.npz") as fh:
            np.savez_compressed(fh, allow_pickle=False, **arrays)
        config = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "vocab_size": self.vocab_size,
            "bos_id": self.bos_id,
            "max_order": self.max_order,
            "min_order": self.min_order,
            "order": self.order_,
            "valid_bits_per_token": {str(k): v for k, v in self.valid_bits_per_token_.items()},
            "metadata": self.metadata,
        }
        write_json(directory / "ngram.json", config)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> NGramModel:
        """Read a model written by :meth:`save`.

        Raises:
            CheckpointError: a missing, foreign, newer or damaged model.
        """
        directory = Path(directory)
        config = read_model_config(directory, FORMAT, FORMAT_VERSION, "n-gram model")
        model = cls(config["vocab_size"], config["bos_id"], config["max_order"], config["min_order"])
        model.order_ = int(config["order"])
        model.valid_bits_per_token_ = {int(k): v for k, v in config["valid_bits_per_token"].items()}
        model.metadata = config.get("metadata", {})
        try:
            with np.load(directory / "ngram.npz", allow_pickle=False) as data:
                model._tables = [
                    _OrderTable(
                        *(data[f"{n}_{name}"] for name in ("ctx_keys", "ctx_start", "tokens", "raw", "cont"))
                    )
                    for n in range(1, model.max_order + 1)
                ]
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{directory}: damaged n-gram counts ({exc})") from None
        return model


class NGramDecoder:
    """Incremental decoding state for a batch: the last ``max_order - 1`` tokens of every row."""

    max_length = None  # an n-gram model has no context limit

    def __init__(self, model: NGramModel) -> None:
        self.model = model
        self.history = np.zeros((0, model.max_order - 1), np.int64)

    def start(self, prefix: torch.Tensor) -> torch.Tensor:
        """Begin rows with ``prefix`` (B, T) ids (BOS first); return log-probs (B, T, vocab), where
        ``[:, t]`` is the distribution of the token after position ``t``."""
        ids = prefix.cpu().numpy().astype(np.int64)
        B, T = ids.shape
        width = self.model.max_order - 1
        padded = np.concatenate([np.full((B, width), self.model.bos_id, np.int64), ids[:, 1:]], axis=1)
        contexts = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)  # (B, T, width)
        self.history = padded[:, -width:]
        logp = self.model.next_log_probs(contexts.reshape(B * T, width))
        return torch.from_numpy(logp.reshape(B, T, -1)).float()

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row; return the next token's log-probs (B, vocab)."""
        new = tokens.cpu().numpy().astype(np.int64)[:, None]
        self.history = np.concatenate([self.history[:, 1:], new], axis=1)
        return torch.from_numpy(self.model.next_log_probs(self.history)).float()


def fit_ngram(
    dataset: str | Path,
    tokenizer_config: dict[str, Any] | None = None,
    max_order: int = 8,
    min_order: int = 2,
    transpositions: int = 0,
    jobs: int = 0,
) -> NGramModel:
    """Fit the baseline on a dataset's ``train`` split, choose its order on ``valid``, score it.

    See :func:`training_data` for ``tokenizer_config`` and ``transpositions``. Bits per token and per
    note on ``valid`` (and ``test`` when present) go into ``metadata["metrics"]``, with the same
    definitions as training: every token after BOS is scored, notes are those the tokens encode.

    Raises:
        ConfigError: invalid orders (see :class:`NGramModel`).
    """
    from remixmusic.data.tokens import count_notes

    data = training_data(dataset, tokenizer_config, transpositions, jobs)
    tokenizer, splits = data.tokenizer, data.splits
    model = NGramModel(tokenizer.vocab_size, tokenizer.bos_id, max_order, min_order)
    model.fit(data.train, splits["valid"])
    metrics: dict[str, float | int] = {"order": model.order_}
    for name in ("valid", "test"):
        if splits[name]:
            score = model.evaluate(splits[name], count_notes(tokenizer, splits[name]))
            metrics |= {
                f"{name}_bits_per_token": score.bits_per_token,
                f"{name}_bits_per_note": score.bits_per_note,
            }
    model.metadata = {**data.metadata(transpositions), "metrics": metrics}
    model.metadata["dataset"]["order_split"] = "valid"
    return model
