"""The experiment's training runs: models of several sizes on several fractions of the training split,
with snapshots from early on to well past the best validation loss (the memorisation curve).

Each run is a checkpoint folder ``runs/NAME`` trained by :class:`~remixmusic.generation.training.loop.
Trainer` with ``patience=0`` (never stopped early) and ``snapshot_steps``, which saves the weights of
every snapshot step as a checkpoint of its own in ``runs/NAME.snapshots/step-NNNNNN``. An interrupted
run resumes exactly (the trainer's own resume: optimizer, data order and RNG state), so a long sweep can
be stopped and continued by a later process. Each snapshot is then scored on the run's own training
pieces and on the valid split (bits per note), which gives the train-validation gap that separates
memorisation from recombination (Carlini et al. 2023 measure memorisation against such curves; here the
analyser measures the copying itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remixmusic.errors import RemixError
from remixmusic.experiment.conditions import Corpus
from remixmusic.experiment.config import ExperimentConfig, RunSpec

SCORED_PIECES = 200
"""Pieces (at most; a fixed draw) of the run's training pieces and of the valid split that a snapshot's
bits per note are measured on: the same number from both, so the gap compares like with like."""


@dataclass
class Snapshot:
    """One snapshot of a run: ``step``, its checkpoint ``path``, bits per note on the run's training
    pieces and on the valid split, and ``gap`` = valid - train (bits per note)."""

    run: str
    step: int
    path: str
    train_bits_per_note: float
    valid_bits_per_note: float

    @property
    def gap(self) -> float:
        return self.valid_bits_per_note - self.train_bits_per_note

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "step": self.step,
            "path": self.path,
            "train_bits_per_note": self.train_bits_per_note,
            "valid_bits_per_note": self.valid_bits_per_note,
            "gap": self.gap,
        }


def fraction_indices(groups: list[str], fraction: float, seed: int) -> np.ndarray:
    """Indices of the training pieces of a ``fraction`` of the training split, drawn as whole tune
    groups (so a tune's variants are all in or all out), in their original order. Nested: with one
    seed, the 10% draw is inside the 30% draw."""
    if fraction >= 1:
        return np.arange(len(groups))
    keys = sorted(set(groups))
    rank = np.random.default_rng(seed).permutation(len(keys))
    order = {keys[i]: r for r, i in enumerate(np.argsort(rank))}
    # Walk the groups in the drawn order until the fraction of pieces is reached.
    sizes = {k: 0 for k in keys}
    for g in groups:
        sizes[g] += 1
    target, total, chosen = fraction * len(groups), 0, set()
    for key in sorted(keys, key=order.__getitem__):
        if total >= target:
            break
        chosen.add(key)
        total += sizes[key]
    return np.array([i for i, g in enumerate(groups) if g in chosen], dtype=np.int64)


def train_run(
    spec: RunSpec,
    corpus: Corpus,
    config: ExperimentConfig,
    folder: Path,
    show_progress: bool = True,
) -> Path:
    """Train (or resume, or find finished) the run ``spec`` in ``folder / spec.name``; return that
    checkpoint folder. Its best-validation weights are the checkpoint; its snapshots lie beside it.

    Raises:
        CheckpointError: a saved run that cannot be resumed (another model or dataset).
    """
    from remixmusic.data.tokens import encode_pieces
    from remixmusic.generation.checkpoint_info import read_info
    from remixmusic.generation.training.config import TrainConfig
    from remixmusic.generation.training.loop import Trainer, snapshot_dir

    out = folder / spec.name
    train_config = TrainConfig(
        preset=spec.preset,
        model={"block_size": config.block_size},
        max_steps=config.train_steps,
        batch_size=config.train_batch_size,
        eval_interval=max(config.train_steps // 10, 5),
        log_interval=max(config.train_steps // 100, 1),
        patience=0,
        transpose=config.transpose,
        seed=config.seed,
        device="cpu",
        snapshot_steps=tuple(config.snapshot_steps),
    )
    resume = (out / "config.json").exists()
    if resume:
        info = read_info(out)
        if TrainConfig.from_dict(info.train_config) != train_config:
            raise RemixError(
                f"{out} was trained with other settings than this experiment asks for; remove it (and "
                f"{snapshot_dir(out).name}) to train it again"
            )
        step = int(info.metrics.get("steps", 0) or 0)
        done = step >= config.train_steps and all(
            (snapshot_dir(out) / f"step-{s:06d}" / "config.json").exists() for s in config.snapshot_steps
        )
        if done:
            return out
    picked = fraction_indices(corpus.train_groups, spec.fraction, config.seed)
    train = encode_pieces(corpus.tokenizer, [corpus.train[i] for i in picked])
    valid = encode_pieces(corpus.tokenizer, valid_pieces(corpus, config.seed))
    provenance = {
        "name": corpus.data.name,
        "manifest_hash": corpus.data.manifest_hash,
        "split": "train",
        "fraction": spec.fraction,
        "n_train_pieces": len(picked),
        "eval_split": "valid",
    }
    trainer = Trainer(train_config, corpus.tokenizer, show_progress=show_progress)
    result = trainer.fit(train, valid, out, dataset=provenance, resume=resume, overwrite=not resume)
    if result.interrupted:  # Ctrl-C: the state is saved; the same command resumes from this step
        raise KeyboardInterrupt(
            f"training run {spec.name} interrupted at step {result.steps}; rerun to resume"
        )
    return out


def score_snapshots(
    spec: RunSpec, run_folder: Path, corpus: Corpus, config: ExperimentConfig
) -> list[Snapshot]:
    """Bits per note of every snapshot of the run on as many of its own training pieces as of the valid
    split (:data:`SCORED_PIECES` at most, drawn once with the experiment's seed)."""
    from remixmusic.data.tokens import encode_pieces
    from remixmusic.generation.checkpoint import load_checkpoint
    from remixmusic.generation.training.loop import evaluate_model, snapshot_dir

    picked = fraction_indices(corpus.train_groups, spec.fraction, config.seed)
    rng = np.random.default_rng(config.seed)
    n = min(SCORED_PIECES, len(corpus.valid), len(picked))
    scored = picked[np.sort(rng.permutation(len(picked))[:n])]
    train = encode_pieces(corpus.tokenizer, [corpus.train[i] for i in scored])
    valid = encode_pieces(corpus.tokenizer, valid_pieces(corpus, config.seed)[:n])
    out = []
    for step in config.snapshot_steps:
        path = snapshot_dir(run_folder) / f"step-{step:06d}"
        model, _, _ = load_checkpoint(path)
        out.append(
            Snapshot(
                spec.name,
                int(step),
                str(path),
                _finite(evaluate_model(model, train, corpus.tokenizer).bits_per_note),
                _finite(evaluate_model(model, valid, corpus.tokenizer).bits_per_note),
            )
        )
    return out


def valid_pieces(corpus: Corpus, seed: int) -> list[Any]:
    """The valid pieces a run selects on and a snapshot is scored on: :data:`SCORED_PIECES` at most,
    a fixed draw with ``seed`` (in a random order, so any prefix is a random draw too)."""
    order = np.random.default_rng(seed + 1).permutation(len(corpus.valid))[:SCORED_PIECES]
    return [corpus.valid[i] for i in order]


def best_step(run_folder: Path) -> int | None:
    """The step of the run's best validation loss (what early stopping would have kept)."""
    from remixmusic.generation.checkpoint_info import read_info

    value = read_info(run_folder).metrics.get("best_step")
    return None if value is None else int(value)


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else math.nan
