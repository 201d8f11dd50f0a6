"""Load any generative model by path or shipped name: a transformer checkpoint, a Kneser-Ney n-gram or an ∞-gram.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from remixmusic.errors import CheckpointError
from remixmusic.generation.baselines.common import read_model_config
from remixmusic.generation.baselines.ngram import NGramModel
from remixmusic.tokenizer.remi import RemiTokenizer


def load_model(path: str | Path | None = None) -> tuple[Any, RemiTokenizer, dict[str, Any]]:
    """A model to generate with, its tokenizer, and its identity for sidecars.

    ``path`` is a transformer checkpoint directory or a saved n-gram or ∞-gram model (a directory with
    ``ngram.json``, see :func:`remixmusic.ngram.load_ngram`); ``None`` means the shipped default
    checkpoint. The identity holds the kind, the directory name and path, and the sha256 of the weights
    (of the n-gram counts) so a sidecar says exactly which model wrote a file.
    """
    from remixmusic._util.files import sha256_file
    from remixmusic.generation.checkpoint import load_checkpoint
    from remixmusic.generation.checkpoint_info import default_checkpoint_path
    pass
    from remixmusic.tokenizer.config import TokenizerConfig

    path = Path(path) if path is not None else default_checkpoint_path()
    if (path / "ngram.json").exists():
        ngram = load_ngram(path)
        try:
            tokenizer = RemiTokenizer(TokenizerConfig.from_dict(ngram.metadata["tokenizer"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: n-gram model without a valid tokenizer config ({exc})") from None
        if tokenizer.vocab_size != ngram.vocab_size:
            raise CheckpointError(f"{path}: tokenizer and n-gram vocabulary sizes differ")
        sha = sha256_file(path / "ngram.npz")
        identity = ngram.describe()
        model: Any = ngram
    else:
        model, tokenizer, info = load_checkpoint(path)
        sha = info.weights_sha256
        identity = {"kind": "transformer"}
    return (
        model,
        tokenizer,
        {
            **identity,
            "id": f"{path.name}@{sha[:12]}",
            "name": path.name,
            "path": str(path),
            "weights_sha256": sha,
        },
    )


def load_ngram(directory: str | Path) -> Any:
    """A saved count-based model of either kind: :class:`NGramModel` or
    :class:`~remixmusic.infinigram.InfiniGram` (told apart by the ``format`` in ``ngram.json``)."""
    from remixmusic.generation.baselines.infinigram import FORMAT as INFINIGRAM_FORMAT
    from remixmusic.generation.baselines.infinigram import InfiniGram

    kind = read_model_config(directory).get("format")
    return InfiniGram.load(directory) if kind == INFINIGRAM_FORMAT else NGramModel.load(directory)
