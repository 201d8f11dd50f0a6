"""Training a :class:`~remixmusic.model.MusicTransformer` on a dataset's token sequences.

The recipe is the GPT-2/nanoGPT one for small language models: random fixed-length windows of tokens,
AdamW (Loshchilov & Hutter 2019) with weight decay on matrices only, linear warmup then cosine decay
(Loshchilov & Hutter 2017), gradient-norm clipping, evaluation on the validation split at intervals,
early stopping, and pitch-transposition augmentation as in Music Transformer (Huang et al. 2019).

Data. Every piece is encoded to ``BOS ... EOS`` and the train split's pieces are concatenated into one
stream; a training example is a window of ``block_size + 1`` tokens at a uniformly random offset (input =
first ``block_size`` tokens, target = the same shifted by one), so every token is used, nothing is
padded, and the model learns where pieces end and start. Each window is transposed by a random number of
semitones that keeps all of its pitches in range (:meth:`RemiTokenizer.transpose_range`).

Evaluation scores every token of every held-out piece (after its BOS) with a strided sliding window, so
each token is predicted from at least ``block_size / 2`` tokens of its own piece. Reported: loss (nats
per token), bits per token, and bits per note = total nats over the split / ln 2 / number of notes,
which compares models whose tokenizations differ.

Output. ``out`` is one checkpoint directory (see :mod:`remixmusic.checkpoint`) rewritten atomically
at every evaluation: ``model.safetensors`` holds the best weights so far, ``train_state.pt`` the last
weights with the optimizer, data-order and RNG state, plus ``metrics.jsonl`` and ``loss.png``.

Interrupting and resuming. Ctrl-C (SIGINT) is caught between steps: the state is saved and
:func:`train` returns with ``interrupted=True``. ``train(..., resume=True)`` reloads the optimizer,
step, data-order and RNG state, and the learning rate is a pure function of the step, so an interrupted
and resumed run ends exactly where an uninterrupted one does (with ``max_minutes`` the schedule also
depends on elapsed time, so only step budgets are reproducible).

Several GPUs or machines. Run the same command under ``torchrun`` (the ``remixmusic`` console script is
the program it starts), e.g. on one node with 4 GPUs::

    torchrun --standalone --nproc_per_node 4 $(which remixmusic) train bach-chorales --preset base -o out

or on 2 nodes: ``torchrun --nnodes 2 --node_rank R --nproc_per_node 8 --rdzv_backend c10d
--rdzv_endpoint HOST:29500 $(which remixmusic) train ...``. Each process reads ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` from the environment, joins the process group (NCCL on CUDA, gloo on CPU) and wraps the
model in ``DistributedDataParallel``. All ranks draw the same random windows and each keeps its own
``rank::world_size`` share, so ``batch_size`` is per process and the global batch is ``batch_size *
world_size``; evaluation is sharded the same way and summed. Only rank 0 writes the checkpoint and shows
progress; ``out`` must be on a filesystem all nodes see for ``--resume``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from remixmusic.data.tokens import encode_pieces
from remixmusic.errors import RemixError
from remixmusic.generation.checkpoint_info import read_info
from remixmusic.generation.training.config import StepInfo, TrainConfig, TrainResult
from remixmusic.generation.training.loop import Trainer
from remixmusic.tokenizer.config import TokenizerConfig
from remixmusic.tokenizer.remi import RemiTokenizer


def train(
    dataset: str | Path,
    out: str | Path,
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    tokenizer_config: TokenizerConfig | None = None,
    callbacks: Sequence[Callable[[StepInfo], None]] = (),
    show_progress: bool = True,
    **overrides: Any,
) -> TrainResult:
    """Train on a dataset's ``train`` split, select on ``valid``, report ``test``; save to ``out``.

    ``overrides`` replace fields of ``config`` (default :class:`TrainConfig`). With ``resume`` the run
    continues from ``out`` with the configuration it was started with (plus ``overrides``: only
    ``max_steps``, ``max_minutes``, ``device`` and ``threads`` keep the result identical to an
    uninterrupted run). ``overwrite`` replaces an existing checkpoint at ``out``.
    """
    from remixmusic.data.datasets import load_dataset

    out = Path(out)
    if resume:
        if config is not None:
            raise ValueError("resume continues with the saved config; pass changes as keyword overrides")
        info = read_info(out)
        config = TrainConfig.from_dict(info.train_config)
        tokenizer = RemiTokenizer(TokenizerConfig.from_dict(info.tokenizer_config))
    else:
        config = config or TrainConfig()
        tokenizer = RemiTokenizer(tokenizer_config)
    try:
        config = replace(config, **overrides)
    except TypeError as exc:
        raise RemixError(f"unknown training option ({exc})") from None
    data = load_dataset(dataset)
    splits = {
        split: encode_pieces(tokenizer, data.pieces(split, show_progress=show_progress))
        for split in ("train", "valid", "test")
    }
    provenance = {
        "name": data.name,
        "manifest_hash": data.manifest_hash,
        "split": "train",
        "eval_split": "valid",
        "test_split": "test",
    }
    trainer = Trainer(config, tokenizer, callbacks=callbacks, show_progress=show_progress)
    return trainer.fit(
        splits["train"],
        splits["valid"],
        out,
        test=splits["test"],
        dataset=provenance,
        resume=resume,
        overwrite=overwrite,
    )
