"""Checkpoints: a directory that loads without executing code, saved atomically.

Layout of a checkpoint directory::

    config.json         format name + version, model/tokenizer/training configs, dataset name, manifest
                        hash and training split, metrics, package versions, sha256 of the weights
    model.safetensors   the weights (safetensors: a plain tensor container, nothing to unpickle)
    README.md           a model card with the held-out metrics
    train_state.pt      optional, only to resume training (optimizer, RNG and data-order state, last
                        weights); read with ``torch.load(weights_only=True)`` after a hash check
    metrics.jsonl       optional training log, and loss.png its plot

A whole checkpoint is written into a temporary sibling directory and renamed into place, so a reader (or
a crash) never sees a mix of old and new files or a partial file under the final name. Loading verifies
the format and version, then the sha256 of every payload against ``config.json``: a tampered file, a
pickle where safetensors belong, or a checkpoint from a newer remixmusic is refused with a one-line
:class:`~remixmusic.errors.CheckpointError`.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch

from remixmusic._util.files import (
    atomic_directory,
    sha256_bytes,
    sha256_file,
    write_bytes,
    write_json,
    write_text,
)
from remixmusic._util.meta import __version__
from remixmusic._util.text import first_line
from remixmusic.errors import CheckpointError, RemixError
from remixmusic.generation.checkpoint_info import (
    CARD_FILE,
    CONFIG_FILE,
    PICKLE_SUFFIXES,
    STATE_FILE,
    WEIGHTS_FILE,
    CheckpointInfo,
    _config_json,
    _verify,
    model_card,
    read_info,
)
from remixmusic.generation.model import MusicTransformer
from remixmusic.tokenizer.config import TokenizerConfig
from remixmusic.tokenizer.remi import RemiTokenizer


def save_checkpoint(
    path: str | Path,
    model: MusicTransformer,
    tokenizer: RemiTokenizer,
    *,
    train_config: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    train_state: dict[str, Any] | None = None,
    extra_files: dict[str, bytes] | None = None,
    weights: dict[str, torch.Tensor] | None = None,
) -> CheckpointInfo:
    """Write a complete checkpoint directory at ``path`` atomically (replacing an older checkpoint there).

    ``dataset`` records provenance (``name``, ``manifest_hash``, ``split``); ``train_state`` is a dict of
    tensors and plain Python values for resuming; ``extra_files`` maps file names (e.g. ``metrics.jsonl``)
    to their bytes; ``weights`` is a state dict to store instead of the model's current one (training
    stores its best weights while it goes on with the last).
    """
    path = Path(path)
    _check_replaceable(path)
    state = model.state_dict() if weights is None else weights
    payload = safetensors.torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()})
    info = CheckpointInfo(
        path=path,
        model_config=model.config,
        tokenizer_config=tokenizer.config.to_dict(),
        weights_sha256=sha256_bytes(payload),
        train_config=dict(train_config or {}),
        dataset=dict(dataset or {}),
        metrics={"parameters": model.num_parameters(), **(metrics or {})},
        versions=package_versions(),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    with atomic_directory(path) as tmp:
        write_bytes(tmp / WEIGHTS_FILE, payload)
        if train_state is not None:
            torch.save(train_state, tmp / STATE_FILE)
            info.train_state_sha256 = sha256_file(tmp / STATE_FILE)
            # The resume state is several times the size of the weights and only useful where it was made.
            write_text(tmp / ".gitignore", f"{STATE_FILE}\n")
        for name, data in (extra_files or {}).items():
            write_bytes(tmp / name, data)
        write_json(tmp / CONFIG_FILE, _config_json(info))
        write_text(tmp / CARD_FILE, model_card(info))
    return info


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A checkpoint's state dict (CPU tensors), after checking its sha256 against ``config.json``."""
    info = read_info(path)
    weights_path = info.path / WEIGHTS_FILE
    if not weights_path.exists():
        pickled = sorted(p.name for p in info.path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickled:
            raise CheckpointError(
                f"{info.path}: refusing pickled weights ({', '.join(pickled)}); only {WEIGHTS_FILE} is loaded"
            )
        raise CheckpointError(f"{info.path}: missing {WEIGHTS_FILE}")
    data = _verify(weights_path, info.weights_sha256)
    try:
        return safetensors.torch.load(data)
    except Exception as exc:  # safetensors raises its own error types for malformed headers
        raise CheckpointError(
            f"{info.path}: {WEIGHTS_FILE} is not a valid safetensors file ({exc})"
        ) from None


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[MusicTransformer, RemiTokenizer, CheckpointInfo]:
    """Load a checkpoint's model (in eval mode, on ``device``), its tokenizer and its info."""
    info = read_info(path)
    state = load_weights(info.path)
    try:
        tokenizer = RemiTokenizer(TokenizerConfig.from_dict(info.tokenizer_config))
    except (KeyError, TypeError, ValueError, RemixError) as exc:
        raise CheckpointError(f"{info.path}: invalid tokenizer config ({exc})") from None
    if tokenizer.vocab_size != info.model_config.vocab_size:
        raise CheckpointError(
            f"{info.path}: tokenizer vocabulary ({tokenizer.vocab_size}) does not match the model's "
            f"({info.model_config.vocab_size})"
        )
    model = MusicTransformer(info.model_config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = first_line(str(exc), type(exc).__name__)
        raise CheckpointError(f"{info.path}: weights do not fit the model config ({first})") from None
    return model.to(device).eval(), tokenizer, info


def load_train_state(path: str | Path) -> dict[str, Any]:
    """The resumable training state of a checkpoint, verified against its hash, loaded without pickle code."""
    info = read_info(path)
    state_path = info.path / STATE_FILE
    if info.train_state_sha256 is None or not state_path.exists():
        raise CheckpointError(f"{info.path}: no resumable training state ({STATE_FILE})")
    _verify(state_path, info.train_state_sha256)
    try:
        return torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the weights-only unpickler raises plain pickle/runtime errors
        first = first_line(str(exc), type(exc).__name__)
        raise CheckpointError(f"{info.path}: unreadable {STATE_FILE} ({first})") from None




def _check_replaceable(path: Path) -> None:
    """Refuse to replace a directory that is not a checkpoint: saving swaps the whole directory."""
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / CONFIG_FILE).exists())):
        raise CheckpointError(f"{path}: exists and is not a remixmusic checkpoint; refusing to overwrite it")




def package_versions() -> dict[str, str]:
    return {
        "remixmusic": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


def update_metrics(path: str | Path, metrics: dict[str, Any]) -> CheckpointInfo:
    """Add or change metrics of a saved checkpoint (e.g. a baseline's bits per note), rewriting its card.

    Only ``config.json`` and ``README.md`` change, each written atomically; the weights are re-verified
    first so a tampered checkpoint is never blessed with new metrics.
    """
    info = read_info(path)
    _verify(info.path / WEIGHTS_FILE, info.weights_sha256)
    info.metrics.update(metrics)
    write_json(info.path / CONFIG_FILE, _config_json(info))
    write_text(info.path / CARD_FILE, model_card(info))
    return info
