"""Training configuration and results: what a run was asked to do and what it reports.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from remixmusic.errors import RemixError
from remixmusic.generation.config import ModelConfig, preset

LN2 = math.log(2.0)


METRICS_FILE = "metrics.jsonl"


PLOT_FILE = "loss.png"


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters; saved in the checkpoint's ``config.json``."""

    preset: str = "small"
    """Model preset (see :data:`remixmusic.model.PRESETS`)."""
    model: dict[str, Any] = field(default_factory=dict)
    """Overrides of the preset's :class:`ModelConfig` fields (e.g. ``{"block_size": 256}``)."""
    max_steps: int = 1500
    max_minutes: float | None = None
    """Wall-clock budget; the cosine schedule then follows the larger of step and time progress."""
    batch_size: int = 8
    """Windows per optimizer step and process."""
    lr: float = 3e-3
    """Peak learning rate (3e-3 beat 1.5e-3 and 5e-3 for `small` on bach-chorales at equal tokens)."""
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    transpose: int = 6
    """Largest random transposition in semitones (0 = no augmentation)."""
    eval_interval: int = 100
    log_interval: int = 10
    eval_batch_size: int = 16
    patience: int = 6
    """Stop after this many evaluations without improvement of the validation loss (0 = never)."""
    seed: int = 0
    device: str = "auto"
    """``auto`` (CUDA, then MPS, then CPU), or any torch device name."""
    threads: int = 0
    """CPU threads for torch (0 = the cores available to this process, shared among local ranks)."""
    amp: bool = True
    """bfloat16 autocast on CUDA devices that support it (ignored elsewhere)."""

    def __post_init__(self) -> None:
        self.model_config(1)  # an unknown preset or model option fails here, before any data is read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The preset's model config with ``model`` overrides; a bad preset or option is a user error."""
        try:
            return preset(self.preset, vocab_size, **self.model)
        except (TypeError, ValueError) as exc:
            raise RemixError(f"invalid model configuration: {exc}") from None


@dataclass
class StepInfo:
    """What a callback sees after every optimizer step."""

    step: int
    loss: float
    lr: float
    tokens_seen: int
    elapsed_s: float


@dataclass
class EvalResult:
    loss: float
    bits_per_token: float
    bits_per_note: float
    tokens: int
    notes: int

    def as_metrics(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}_loss": self.loss,
            f"{prefix}_bits_per_token": self.bits_per_token,
            f"{prefix}_bits_per_note": self.bits_per_note,
        }


@dataclass
class TrainResult:
    path: Path
    steps: int
    tokens_seen: int
    wall_time_s: float
    best_step: int | None
    metrics: dict[str, Any]
    interrupted: bool = False
    stopped_early: bool = False
    is_main: bool = True
    """False on the other processes of a distributed run (only the main one reports)."""


@dataclass
class _Progress:
    """Mutable training state, everything ``train_state.pt`` restores besides tensors."""

    step: int = 0
    tokens_seen: int = 0
    elapsed_s: float = 0.0
    best_loss: float = math.inf
    best_step: int | None = None
    bad_evals: int = 0
    pending_losses: list[float] = field(default_factory=list)
    """Losses of the steps since the last log record (so a resumed run logs the same averages)."""
    history: list[dict[str, Any]] = field(default_factory=list)
