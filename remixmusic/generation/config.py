"""The transformer's configuration and presets: torch-free, so reading a checkpoint's config needs no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from numbers import Integral
from typing import Any

from remixmusic.errors import ConfigError

POSITIONS = ("rope", "learned")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters; saved in every checkpoint's ``config.json``.

    Sizes are counts (tokens, layers, heads, channels); ``block_size`` is the training context in
    tokens; ``rope_base`` is the rotary embedding's base wavelength.

    Raises:
        ConfigError: a non-positive size, ``dropout`` outside [0, 1), ``positions`` not in
            :data:`POSITIONS`, or ``n_embd`` not a multiple of ``n_head`` with an even head size.
    """

    vocab_size: int
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 192
    block_size: int = 512
    dropout: float = 0.0
    positions: str = "rope"
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_head", "n_embd", "block_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ConfigError(f"model {name} must be a positive integer, not {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model dropout must be in [0, 1), not {self.dropout!r}")
        if self.positions not in POSITIONS:
            raise ConfigError(f"model positions must be one of {', '.join(POSITIONS)}, not {self.positions!r}")
        if not self.rope_base > 0:
            raise ConfigError(f"model rope_base must be positive, not {self.rope_base!r}")
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ConfigError(
                f"model n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head}) with an even "
                "head size"
            )

    @property
    def head_dim(self) -> int:
        """Channels per attention head (``n_embd // n_head``)."""
        return self.n_embd // self.n_head

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (what ``config.json`` stores under ``model``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; missing fields take their defaults.

        Raises:
            ConfigError: an unknown key, a missing ``vocab_size`` or an invalid value.
        """
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown model config field(s): {', '.join(sorted(unknown))}")
        if "vocab_size" not in data:
            raise ConfigError("model config needs vocab_size")
        return cls(**data)


PRESETS: dict[str, dict[str, Any]] = {
    # For tests: trains in seconds, well under 200k parameters.
    "tiny": {"n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 128, "dropout": 0.0},
    # Between the two (about 0.6M parameters): the middle size of the experiment's memorisation curve.
    "mini": {"n_layer": 3, "n_head": 4, "n_embd": 128, "block_size": 256, "dropout": 0.1},
    # The shipped default: sized by measured throughput to train in ~25 minutes on 2 CPU cores.
    "small": {"n_layer": 4, "n_head": 4, "n_embd": 192, "block_size": 512, "dropout": 0.1},
    # For a GPU: about 14M parameters.
    "base": {"n_layer": 8, "n_head": 8, "n_embd": 384, "block_size": 1024, "dropout": 0.1},
}


def preset(name: str, vocab_size: int, **overrides: Any) -> ModelConfig:
    """The named preset's config for a vocabulary of ``vocab_size`` tokens, with fields overridden.

    Raises:
        ConfigError: an unknown preset or override field, or an invalid resulting config.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r} (choose from {', '.join(PRESETS)})")
    unknown = set(overrides) - {f.name for f in fields(ModelConfig)}
    if unknown:
        raise ConfigError(f"unknown model config field(s): {', '.join(sorted(unknown))}")
    return ModelConfig(vocab_size=vocab_size, **{**PRESETS[name], **overrides})
