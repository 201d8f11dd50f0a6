"""Token data shared by the trainer and the count-based baselines: pieces encoded as REMI ids, note counts, transposition augmentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remixmusic.errors import DatasetError
from remixmusic.tokenizer.config import TokenizerConfig
from remixmusic.tokenizer.remi import RemiTokenizer


def encode_pieces(tokenizer: RemiTokenizer, pieces: Sequence[Any]) -> list[np.ndarray]:
    return [tokenizer.encode(piece) for piece in pieces]


def count_notes(tokenizer: RemiTokenizer, sequences: Sequence[np.ndarray]) -> int:
    total = 0
    for ids in sequences:
        notes = tokenizer.align(ids)
        total += len(np.unique(notes[notes >= 0]))
    return total


@dataclass
class TrainingData:
    """A dataset's splits as token sequences for count-based models, with the training sequences to count."""

    tokenizer: Any  # RemiTokenizer
    dataset: Any  # corpora.Dataset
    splits: dict[str, list[np.ndarray]]  # train, valid, test as encoded (BOS .. EOS)
    train: list[np.ndarray]  # the train split plus its transpositions

    def metadata(self, transpositions: int) -> dict[str, Any]:
        """The provenance every count-based model records: tokenizer, dataset, training tokens."""
        return {
            "tokenizer": self.tokenizer.config.to_dict(),
            "dataset": {
                "name": self.dataset.name,
                "manifest_hash": self.dataset.manifest_hash,
                "split": "train",
            },
            "transpositions": transpositions,
            "train_tokens": int(sum(len(s) - 1 for s in self.train)),
        }


def training_data(
    dataset: str | Path, tokenizer_config: dict[str, Any] | None, transpositions: int = 0, jobs: int = 0
) -> TrainingData:
    """Encode a dataset's splits with the given tokenizer; add training transpositions within ``+-t``.

    ``tokenizer_config`` should be the transformer's (``CheckpointInfo.tokenizer_config``) so the models
    predict the same tokens; ``transpositions`` adds every shift in ``-t..t`` semitones of each training
    piece that stays in the pitch range (the transformer's augmentation, made exhaustive, with the same
    range: :meth:`RemiTokenizer.transpose_range`).

    Raises:
        DatasetError: no such dataset, or an empty train or valid split.
        ConfigError: negative ``transpositions``.
        TokenizerError: an invalid ``tokenizer_config``.
    """
    from remixmusic.data.datasets import load_dataset

    tokenizer = RemiTokenizer(TokenizerConfig.from_dict(tokenizer_config) if tokenizer_config else None)
    data = load_dataset(dataset)
    splits = {
        name: encode_pieces(tokenizer, data.pieces(name, jobs=jobs)) for name in ("train", "valid", "test")
    }
    if not splits["train"] or not splits["valid"]:
        raise DatasetError(f"dataset {data.name!r} needs non-empty train and valid splits for the n-gram")
    train = list(splits["train"])
    for ids in splits["train"]:
        low, high = tokenizer.transpose_range(ids, transpositions)
        train += [tokenizer.transpose_ids(ids, s) for s in range(low, high + 1) if s]
    return TrainingData(tokenizer, data, splits, train)
