"""What a model must offer to generate: the :class:`GenerativeModel` and :class:`Decoder` protocols.

Three kinds of model implement them: the transformer (:class:`~remixmusic.generation.model.MusicTransformer`,
whose decoder is :class:`~remixmusic.generation.model.TransformerDecoder`), the interpolated Kneser-Ney
n-gram (:class:`~remixmusic.generation.baselines.ngram.NGramModel`, Kneser & Ney 1995; Chen & Goodman
1999) and the ∞-gram (:class:`~remixmusic.generation.baselines.infinigram.InfiniGram`, Liu et al. 2024).
:func:`remixmusic.generation.loading.load_model` returns one of them and
:func:`remixmusic.generation.sampling.generate` samples from any of them. The protocols are structural
(:pep:`544`): a class conforms by having the members, not by inheriting from these classes. They are
``runtime_checkable``, so ``isinstance(x, GenerativeModel)`` tells whether ``x`` has the members (not
their signatures).

This module imports no torch at run time (tensors appear in annotations only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torch import Tensor


@runtime_checkable
class Decoder(Protocol):
    """Incremental next-token log-probabilities for a batch of ``B`` equal-length prefixes.

    A decoder is stateful for one batch: :meth:`start` begins it, each :meth:`step` appends one token per
    row. Log-probabilities are natural logs over the whole vocabulary, as float32 CPU tensors.
    """

    @property
    def max_length(self) -> int | None:
        """The longest sequence (tokens, BOS included) the model can score, or ``None`` for no limit."""
        ...

    def start(self, prefix: Tensor) -> Tensor:
        """Begin every row with ``prefix`` ``(B, T)`` token ids (BOS first).

        Returns log-probabilities ``(B, T, vocab)``: ``[:, t]`` is the distribution of the token after
        position ``t``.
        """
        ...

    def step(self, tokens: Tensor) -> Tensor:
        """Append ``tokens`` ``(B,)``, one per row; return the next token's log-probabilities ``(B, vocab)``."""
        ...


@runtime_checkable
class GenerativeModel(Protocol):
    """A model :func:`~remixmusic.generation.sampling.generate` can sample from."""

    def decoder(self) -> Decoder:
        """A fresh :class:`Decoder` (its own state, so batches may decode one after another)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What a generated file's sidecar records about this model (JSON-able; at least ``kind``),
        besides its path and weights hash."""
        ...
