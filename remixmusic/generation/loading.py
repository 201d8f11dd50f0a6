"""Load any generative model by path or shipped name: a transformer checkpoint, a Kneser-Ney n-gram or an ∞-gram.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from remixmusic.errors import CheckpointError
from remixmusic.generation.baselines.common import read_model_config
from remixmusic.generation.baselines.ngram import NGramModel
from remixmusic.generation.protocols import GenerativeModel
from remixmusic.tokenizer.remi import RemiTokenizer

if TYPE_CHECKING:
    from remixmusic.generation.baselines.infinigram import InfiniGram


def load_model(path: str | Path | None = None) -> tuple[GenerativeModel, RemiTokenizer, dict[str, Any]]:
    """A model to generate with, its tokenizer, and its identity for sidecars.

    ``path`` is a transformer checkpoint directory or a saved n-gram or ∞-gram model (a directory with
    ``ngram.json``, see :func:`load_ngram`), or the name of a shipped checkpoint (``bach-small``) from
    any working directory; ``None`` means the shipped default checkpoint. The identity records the
    model's name, content hash and absolute path, by which
    :func:`~remixmusic.generation.locate.find_model` traces a sidecar back to it. The model is
    a :class:`~remixmusic.generation.protocols.GenerativeModel`: a
    :class:`~remixmusic.generation.model.MusicTransformer` (in eval mode, on the CPU), an
    :class:`NGramModel` or an :class:`~remixmusic.generation.baselines.infinigram.InfiniGram`. The
    identity is the model's ``describe()`` (its kind, at least) plus the directory name and path, and the
    sha256 of the weights (of the n-gram counts) so a sidecar says exactly which model wrote a file.

    Raises:
        CheckpointError: if ``path`` is missing, not a model of a known format and version, tampered
            with, or without a tokenizer that matches the model's vocabulary.
    """
    from remixmusic._util.files import sha256_file
    from remixmusic.generation.checkpoint import load_checkpoint
    from remixmusic.generation.locate import resolve_model_path
    from remixmusic.tokenizer.config import TokenizerConfig

    path = resolve_model_path(path)
    if (path / "ngram.json").exists():
        ngram = load_ngram(path)
        try:
            tokenizer = RemiTokenizer(TokenizerConfig.from_dict(ngram.metadata["tokenizer"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: n-gram model without a valid tokenizer config ({exc})") from None
        if tokenizer.vocab_size != ngram.vocab_size:
            raise CheckpointError(f"{path}: tokenizer and n-gram vocabulary sizes differ")
        sha = sha256_file(path / "ngram.npz")
        model: GenerativeModel = ngram
    else:
        transformer, tokenizer, info = load_checkpoint(path)
        sha = info.weights_sha256
        model = transformer
    identity = model.describe()
    return (
        model,
        tokenizer,
        {
            **identity,
            "id": f"{path.name}@{sha[:12]}",
            "name": path.name,
            "path": str(path.resolve()),
            "weights_sha256": sha,
        },
    )


def load_ngram(directory: str | Path) -> NGramModel | InfiniGram:
    """A saved count-based model of either kind: :class:`NGramModel` or
    :class:`~remixmusic.generation.baselines.infinigram.InfiniGram` (told apart by the ``format`` in
    ``ngram.json``).

    Raises:
        CheckpointError: if the directory holds no readable, intact model of a known format.
    """
    from remixmusic.generation.baselines.infinigram import FORMAT as INFINIGRAM_FORMAT
    from remixmusic.generation.baselines.infinigram import InfiniGram

    kind = read_model_config(directory).get("format")
    return InfiniGram.load(directory) if kind == INFINIGRAM_FORMAT else NGramModel.load(directory)
