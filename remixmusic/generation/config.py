"""The transformer's configuration and presets: torch-free, so reading a checkpoint's config needs no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

POSITIONS = ("rope", "learned")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters; saved in every checkpoint's ``config.json``."""

    vocab_size: int
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 192
    block_size: int = 512
    dropout: float = 0.0
    positions: str = "rope"
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, not {self.positions!r}")
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError("n_embd must be a multiple of n_head with an even head size")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


PRESETS: dict[str, dict[str, Any]] = {
    # For tests: trains in seconds, well under 200k parameters.
    "tiny": {"n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 128, "dropout": 0.0},
    # The shipped default: sized by measured throughput to train in ~25 minutes on 2 CPU cores.
    "small": {"n_layer": 4, "n_head": 4, "n_embd": 192, "block_size": 512, "dropout": 0.1},
    # For a GPU: about 14M parameters.
    "base": {"n_layer": 8, "n_head": 8, "n_embd": 384, "block_size": 1024, "dropout": 0.1},
}


def preset(name: str, vocab_size: int, **overrides: Any) -> ModelConfig:
    """The named preset's config for a vocabulary, with any field overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r} (choose from {', '.join(PRESETS)})")
    return ModelConfig(vocab_size=vocab_size, **{**PRESETS[name], **overrides})
