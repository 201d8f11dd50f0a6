"""What one experiment is asked to do: corpus, conditions, sweeps, training runs and decision thresholds.

Saved in ``experiment.json`` under ``config`` and in ``results.json``; every stage's cache key is made
from the fields that stage reads (:mod:`remixmusic.experiment.stages`), so changing a field reruns only
what depends on it. Torch-free, so the CLI validates it before anything is loaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from remixmusic.errors import ConfigError, check_values


@dataclass(frozen=True)
class RunSpec:
    """One training run of the memorisation curve: a model ``preset`` trained on ``fraction`` of the
    training split (whole tune groups, drawn with the experiment's seed). Written ``preset:fraction``,
    e.g. ``mini:0.3``."""

    preset: str
    fraction: float

    @property
    def name(self) -> str:
        return f"{self.preset}-{round(self.fraction * 100):d}pct"

    @classmethod
    def parse(cls, text: str) -> RunSpec:
        """``"mini:0.3"`` -> ``RunSpec("mini", 0.3)``.

        Raises:
            ConfigError: not ``preset:fraction`` with a fraction in (0, 1].
        """
        preset, _, fraction = str(text).partition(":")
        try:
            value = float(fraction or 1.0)
        except ValueError:
            raise ConfigError(f"experiment run {text!r}: write it preset:fraction, e.g. mini:0.3") from None
        if not preset or not 0 < value <= 1:
            raise ConfigError(f"experiment run {text!r}: write it preset:fraction with a fraction in (0, 1]")
        return cls(preset, value)


@dataclass(frozen=True)
class ExperimentConfig:
    """Every setting of :func:`~remixmusic.experiment.run.run_experiment` that decides its numbers.

    Corpus and main model: ``dataset`` (a dataset name or folder); ``checkpoint`` the transformer whose
    samples answer questions 1 and 2 (``None``: the shipped checkpoint when it was trained on
    ``dataset``, else the best-validation weights of the ``main_run`` training run). Every generated and
    human piece has ``bars`` bars.

    Conditions (question 1): the transformer sampled at every ``temperatures`` value with top-p 1 and at
    temperature 1 with every ``top_ps`` value, ``n`` distinct pieces per setting spread over
    ``sample_seeds`` (exact duplicates among samples are counted and removed); ∞-grams of
    ``infinigram_contexts`` tokens of context (0: unbounded); patchworks of ``patchwork_bars``-bar
    chunks of training pieces; the KN n-gram (``ngram``); the human control and its shuffles; and
    ``n_prompts`` prompted continuations: the first ``prompt_bars`` bars of held-out pieces continued by
    the transformer and by their human composer.

    Training runs (question 3 and part of question 2): ``runs`` (``preset:fraction``), each trained to
    ``train_steps`` with snapshots at ``snapshot_steps``, ``snapshot_n`` pieces sampled from each snapshot
    at every ``snapshot_temperatures`` value (a memorised model's samples at temperature 1 drift off the
    memorised sequences; lower temperatures show what it has stored); ``train_batch_size`` windows of ``block_size`` tokens per step, each transposed by
    up to ``transpose`` semitones (the usual augmentation; 0 turns it off, and models then memorise
    sooner).

    Statistics: ``alpha`` the significance level, ``min_pieces`` the fewest pieces per group and
    ``min_settings`` the fewest settings for a verdict; ``seed`` seeds everything else.

    Raises:
        ConfigError: a value out of range (each message names its field).
    """

    dataset: str = "bach-chorales"
    checkpoint: str | None = None
    bars: int = 16
    n: int = 100
    sample_seeds: tuple[int, ...] = (0, 1, 2)
    temperatures: tuple[float, ...] = (0.5, 0.7, 0.85, 1.0, 1.2)
    top_ps: tuple[float, ...] = (0.7, 0.9)
    infinigram_contexts: tuple[int, ...] = (4, 8, 16, 0)
    patchwork_bars: tuple[int, ...] = (1, 2, 4)
    ngram: bool = True
    n_prompts: int = 100
    prompt_bars: int = 2
    runs: tuple[str, ...] = ("tiny:1.0", "mini:1.0", "small:1.0", "mini:0.1", "mini:0.3")
    main_run: str = "mini:1.0"
    train_steps: int = 4000
    snapshot_steps: tuple[int, ...] = (250, 500, 1000, 2000, 4000)
    snapshot_n: int = 100
    snapshot_temperatures: tuple[float, ...] = (1.0,)
    train_batch_size: int = 16
    block_size: int = 256
    transpose: int = 6
    alpha: float = 0.05
    min_pieces: int = 20
    min_settings: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "sample_seeds",
            "temperatures",
            "top_ps",
            "infinigram_contexts",
            "patchwork_bars",
            "runs",
            "snapshot_steps",
            "snapshot_temperatures",
        ):
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(value if isinstance(value, (list, tuple)) else [value]))
        if isinstance(self.checkpoint, Path):
            object.__setattr__(self, "checkpoint", str(self.checkpoint))
        checks = [
            (self.bars >= 1, "bars must be at least 1"),
            (self.n >= 1, "n must be at least 1"),
            (len(self.sample_seeds) >= 1, "sample_seeds needs at least one seed"),
            (
                all(t > 0 for t in self.temperatures),
                "temperatures must be > 0 (greedy decoding repeats itself)",
            ),
            (all(0 < p <= 1 for p in self.top_ps), "top_ps must be in (0, 1]"),
            (
                all(c >= 0 for c in self.infinigram_contexts),
                "infinigram_contexts must be >= 0 (0 = unbounded)",
            ),
            (all(b >= 1 for b in self.patchwork_bars), "patchwork_bars must be at least 1"),
            (self.n_prompts >= 0, "n_prompts must be >= 0"),
            (1 <= self.prompt_bars < self.bars, "prompt_bars must be at least 1 and below bars"),
            (self.train_steps >= 1, "train_steps must be at least 1"),
            (
                all(1 <= s <= self.train_steps for s in self.snapshot_steps),
                "snapshot_steps must be in [1, train_steps]",
            ),
            (self.snapshot_n >= 1, "snapshot_n must be at least 1"),
            (
                len(self.snapshot_temperatures) >= 1 and all(t > 0 for t in self.snapshot_temperatures),
                "snapshot_temperatures needs at least one temperature, each > 0",
            ),
            (
                self.train_batch_size >= 1 and self.block_size >= 16,
                "train_batch_size >= 1 and block_size >= 16",
            ),
            (0 < self.alpha < 1, "alpha must be in (0, 1)"),
            (self.min_pieces >= 2, "min_pieces must be at least 2"),
            (self.min_settings >= 3, "min_settings must be at least 3"),
        ]
        check_values("experiment", checks)
        specs = self.run_specs()  # parses every run (ConfigError on a bad one)
        if self.runs and self.main_run not in self.runs:
            raise ConfigError(f"experiment main_run {self.main_run!r} is not one of runs {list(self.runs)}")
        if len({s.name for s in specs}) != len(specs):
            raise ConfigError("experiment runs must be distinct")

    def run_specs(self) -> list[RunSpec]:
        """The training runs, parsed."""
        return [RunSpec.parse(r) for r in self.runs]

    def settings(self) -> list[tuple[float, float]]:
        """The transformer's sampling settings ``(temperature, top_p)``: every temperature at top-p 1,
        then temperature 1 at every top-p below 1; no repeats."""
        out = [(float(t), 1.0) for t in self.temperatures]
        out += [(1.0, float(p)) for p in self.top_ps if p < 1]
        return list(dict.fromkeys(out))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def key(self, *names: str) -> str:
        """A stable JSON text of the named fields: part of a stage's cache key."""
        data = self.to_dict()
        return json.dumps({n: data[n] for n in names}, sort_keys=True)

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

    @classmethod
    def load(cls, path: str | Path) -> ExperimentConfig:
        """A config from a JSON file of :meth:`to_dict`'s fields (any subset).

        Raises:
            ConfigError: unreadable file, not a JSON object, unknown field or invalid value.
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read experiment config {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"experiment config {path} must be a JSON object of fields")
        return cls.from_dict(data)

    def quick(self) -> ExperimentConfig:
        """This config cut down to run the whole pipeline in a few minutes on 2 CPU cores (``--quick``):
        few pieces, two temperatures, two ∞-grams, two patchworks, two tiny training runs."""
        return replace(self, **QUICK)


QUICK: dict[str, Any] = {
    "bars": 8,
    "n": 10,
    "sample_seeds": (0, 1),
    "temperatures": (0.7, 1.0),
    "top_ps": (0.9,),
    "infinigram_contexts": (8, 0),
    "patchwork_bars": (1, 2),
    "n_prompts": 10,
    "prompt_bars": 2,
    "runs": ("tiny:0.3", "tiny:1.0"),
    "main_run": "tiny:1.0",
    "train_steps": 400,
    "snapshot_steps": (100, 200, 300, 400),
    "snapshot_n": 16,
    "train_batch_size": 8,
    "block_size": 128,
    "min_pieces": 5,
    "min_settings": 3,
}
"""The fields :meth:`ExperimentConfig.quick` replaces."""
