"""Training configuration and results: what a run was asked to do and what it reports.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from remixmusic.errors import ConfigError, check_values
from remixmusic.generation.config import ModelConfig, preset

LN2 = math.log(2.0)


METRICS_FILE = "metrics.jsonl"


PLOT_FILE = "loss.png"


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters; saved in the checkpoint's ``config.json`` under ``training``.

    Raises:
        ConfigError: an unknown preset or ``model`` override, an invalid resulting model config, or a
            value out of range (non-positive steps, sizes or intervals; a ratio or beta outside its
            interval; a negative learning rate, warmup, decay, clip, transposition, patience or thread
            count).
    """

    preset: str = "small"
    """Model preset (see :data:`remixmusic.generation.config.PRESETS`)."""
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
    snapshot_steps: tuple[int, ...] = ()
    """Steps at which the current (not the best) weights are also saved as a checkpoint of their own,
    ``<out>.snapshots/step-NNNNNN`` (after a validation at that step), for curves over training such as
    the experiment's memorisation curve. Use with ``patience=0`` to train past the best validation loss."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "snapshot_steps", tuple(sorted({int(s) for s in self.snapshot_steps})))
        checks = [
            (self.max_steps >= 1, "max_steps must be at least 1"),
            (self.max_minutes is None or self.max_minutes > 0, "max_minutes must be positive (or None)"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.lr >= 0, "lr must be >= 0"),
            (0 <= self.min_lr_ratio <= 1, "min_lr_ratio must be in [0, 1]"),
            (self.warmup_steps >= 0, "warmup_steps must be >= 0"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "beta1 and beta2 must be in [0, 1)"),
            (self.grad_clip >= 0, "grad_clip must be >= 0 (0 = off)"),
            (self.transpose >= 0, "transpose must be >= 0 semitones (0 = off)"),
            (self.eval_interval >= 1, "eval_interval must be at least 1"),
            (self.log_interval >= 1, "log_interval must be at least 1"),
            (self.eval_batch_size >= 1, "eval_batch_size must be at least 1"),
            (self.patience >= 0, "patience must be >= 0 (0 = never stop early)"),
            (self.threads >= 0, "threads must be >= 0 (0 = all cores)"),
            (all(int(s) >= 1 for s in self.snapshot_steps), "snapshot_steps must be at least 1"),
        ]
        check_values("training", checks)
        self.model_config(1)  # an unknown preset or model option fails here, before any data is read

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (what ``config.json`` stores under ``training``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; missing fields take their defaults (older checkpoints lack some).

        Raises:
            ConfigError: an unknown key (named in the message) or an invalid value.
        """
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown training config field(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The preset's model config for ``vocab_size`` tokens with the ``model`` overrides.

        Raises:
            ConfigError: an unknown preset or override field, or an invalid model config.
        """
        return preset(self.preset, vocab_size, **self.model)


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
