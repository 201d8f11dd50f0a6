"""What one experiment is asked to do: the checkpoint, the sampling settings every model shares, the
baselines' sizes and the verdict's thresholds. Saved in ``experiment.json`` under ``config``.

It is torch-free, so the CLI validates it before anything is loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remixmusic.errors import ConfigError
from remixmusic.experiment.design import DEFAULT_INFINIGRAM_CONTEXT

if TYPE_CHECKING:
    from remixmusic.generation.sampling import SamplingConfig


@dataclass(frozen=True)
class ExperimentConfig:
    """The settings of :func:`~remixmusic.experiment.run.run_experiment` that decide its result.

    ``checkpoint``: a transformer checkpoint folder (``None``: the shipped one); its training dataset is
    found by the name it records, or ``dataset`` (a name or folder) when that name is not in the dataset
    roots. Every model samples ``n`` pieces of ``bars`` bars with the same ``temperature``, ``top_k``,
    ``top_p`` and ``seed`` (``seed`` also seeds the analyses and bootstraps). ``infinigram_context``:
    the ∞-gram's longest context in tokens (``None``: unbounded). ``ngram_order``: the KN n-gram order
    to sample with (``None``: the order chosen on the valid split). ``min_pieces``: the fewest pieces
    per group for a verdict; ``alpha``: the significance level of its tests.

    Raises:
        ConfigError: a value out of range (each message names its field).
    """

    checkpoint: str | None = None
    dataset: str | None = None
    n: int = 32
    bars: int = 16
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    infinigram_context: int | None = DEFAULT_INFINIGRAM_CONTEXT
    ngram_order: int | None = None
    min_pieces: int = 8
    alpha: float = 0.05

    def __post_init__(self) -> None:
        # Paths are kept as strings, so the config is JSON as it is.
        for name in ("checkpoint", "dataset"):
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))
        checks = [
            (self.n >= 1, "n must be at least 1"),
            (self.bars >= 1, "bars must be at least 1"),
            (self.temperature >= 0, "temperature must be >= 0 (0 = greedy)"),
            (self.top_k >= 0, "top_k must be >= 0 (0 = off)"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (
                self.infinigram_context is None or self.infinigram_context >= 1,
                "infinigram_context must be at least 1 token (or None for unbounded)",
            ),
            (self.ngram_order is None or self.ngram_order >= 1, "ngram_order must be at least 1 (or None)"),
            (self.min_pieces >= 1, "min_pieces must be at least 1"),
            (0 < self.alpha < 1, "alpha must be in (0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"experiment {message}")

    def sampling_config(self) -> SamplingConfig:
        """The sampling settings every model shares (the fields not set here keep their defaults)."""
        from remixmusic.generation.sampling import SamplingConfig

        return SamplingConfig(
            n=self.n,
            bars=self.bars,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            seed=self.seed,
        )

    def with_checkpoint(self, path: str | Path) -> ExperimentConfig:
        """This config with ``checkpoint`` resolved to ``path`` (what ``experiment.json`` records)."""
        return replace(self, checkpoint=str(path))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        """Inverse of :meth:`to_dict` (e.g. ``experiment.json``'s ``config``); missing fields take their
        defaults.

        Raises:
            ConfigError: an unknown key (named in the message) or an invalid value.
        """
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown experiment config field(s): {', '.join(sorted(unknown))}")
        return cls(**data)
