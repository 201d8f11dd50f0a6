"""What a checkpoint is, read from its ``config.json`` alone (JSON, no torch): name, model and tokenizer config, training dataset, metrics, and its model card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remixmusic._util.files import sha256_bytes
from remixmusic.errors import CheckpointError
from remixmusic.generation.config import ModelConfig

FORMAT_NAME = "remixmusic-checkpoint"


FORMAT_VERSION = 1


CONFIG_FILE = "config.json"


WEIGHTS_FILE = "model.safetensors"


STATE_FILE = "train_state.pt"


CARD_FILE = "README.md"


DEFAULT_CHECKPOINT = "bach-small"


PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt")


@dataclass
class CheckpointInfo:
    """Everything in a checkpoint's ``config.json`` besides the weights, plus where it was loaded from."""

    path: Path
    model_config: ModelConfig
    tokenizer_config: dict[str, Any]
    weights_sha256: str
    train_config: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    train_state_sha256: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def id(self) -> str:
        """A short identity for provenance: directory name plus the first 12 hex digits of the weights hash."""
        return f"{self.name}@{self.weights_sha256[:12]}"






def read_info(path: str | Path) -> CheckpointInfo:
    """Parse and validate ``config.json`` only (format, version, configs); does not touch the weights."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    if not path.is_dir():
        raise CheckpointError(f"{path}: a checkpoint is a directory with {CONFIG_FILE} and {WEIGHTS_FILE}")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: not a remixmusic checkpoint (no {CONFIG_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable {CONFIG_FILE} ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: unknown checkpoint format (expected {FORMAT_NAME!r})")
    version = config.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{path}: checkpoint has no valid format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is newer than this remixmusic supports "
            f"({FORMAT_VERSION}); upgrade remixmusic"
        )
    try:
        return CheckpointInfo(
            path=path,
            model_config=ModelConfig.from_dict(config["model"]),
            tokenizer_config=dict(config["tokenizer"]),
            weights_sha256=str(config["weights_sha256"]),
            train_config=dict(config.get("training") or {}),
            dataset=dict(config.get("dataset") or {}),
            metrics=dict(config.get("metrics") or {}),
            versions=dict(config.get("versions") or {}),
            created=str(config.get("created", "")),
            train_state_sha256=config.get("train_state_sha256"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid {CONFIG_FILE} ({type(exc).__name__}: {exc})") from None


def default_checkpoint_path(name: str = DEFAULT_CHECKPOINT) -> Path:
    """The shipped default checkpoint, ``checkpoints/bach-small`` (or another shipped ``name``).

    In a wheel it is package data of ``remixmusic._checkpoints`` (``checkpoints/`` mapped into the package
    by ``[tool.setuptools.package-dir]``); in a source checkout or editable install it is the
    ``checkpoints/`` folder at the repository root.
    """
    for folder in _shipped_folders():
        if (folder / name / CONFIG_FILE).exists():
            return folder / name
    raise CheckpointError(
        f"the default checkpoint {name!r} is not installed; pass --checkpoint PATH "
        "or train one with `remixmusic train`"
    )


def _shipped_folders() -> list[Path]:
    package = Path(__file__).resolve().parents[1]  # remixmusic/
    return [package / "_checkpoints", package.parent / "checkpoints"]  # wheel, then source checkout


def model_card(info: CheckpointInfo) -> str:
    """A short Markdown model card: what was trained on what, and how well it does on held-out data."""
    cfg = info.model_config
    metrics = info.metrics
    dataset = info.dataset
    lines = [
        f"# {info.name}",
        "",
        f"A remixmusic decoder-only transformer ({_count(metrics.get('parameters'))} parameters: "
        f"{cfg.n_layer} layers, {cfg.n_head} heads, width {cfg.n_embd}, context {cfg.block_size} tokens, "
        f"{cfg.positions} positions) over a {cfg.vocab_size}-token REMI vocabulary.",
        "",
    ]
    if dataset:
        lines += [
            f"Trained on the `{dataset.get('split', 'train')}` split of `{dataset.get('name', '?')}` "
            f"(manifest sha256 `{str(dataset.get('manifest_hash', '?'))[:16]}`), selected on its "
            f"`{dataset.get('eval_split', 'valid')}` split and tested on its held-out "
            f"`{dataset.get('test_split', 'test')}` split.",
            "",
        ]
    rows = [(label, metrics[key]) for key, label in _CARD_METRICS if key in metrics]
    if rows:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {label} | {_format_value(value)} |" for label, value in rows]
        lines.append("")
    lines += [
        "Bits per note: total negative log-likelihood of a piece's tokens (in bits) divided by its number of",
        "notes, summed over the split; it compares models with different tokenizations.",
        "",
        f"Weights sha256 `{info.weights_sha256}`; created {info.created} with "
        + ", ".join(f"{k} {v}" for k, v in info.versions.items())
        + ".",
        "",
        "```",
        f"remixmusic generate --checkpoint {_display_path(info.path)}",
        "```",
        "",
    ]
    return "\n".join(lines)


_CARD_METRICS = (
    ("test_bits_per_note", "bits per note (held-out test split)"),
    ("test_bits_per_token", "bits per token (held-out test split)"),
    ("ngram_bits_per_note", "n-gram baseline bits per note (test split)"),
    ("ngram_bits_per_token", "n-gram baseline bits per token (test split)"),
    ("valid_bits_per_note", "bits per note (validation split)"),
    ("valid_bits_per_token", "bits per token (validation split)"),
    ("parameters", "parameters"),
    ("best_step", "best step"),
    ("steps", "steps trained"),
    ("tokens_seen", "training tokens seen"),
    ("wall_time_s", "wall time (s)"),
    ("device", "device"),
    ("machine", "machine"),
)


def _display_path(path: Path) -> str:
    """The path relative to the working directory when below it (cards travel with their folder)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _count(n: Any) -> str:
    if not isinstance(n, int):
        return "?"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _config_json(info: CheckpointInfo) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created": info.created,
        "model": info.model_config.to_dict(),
        "tokenizer": info.tokenizer_config,
        "training": info.train_config,
        "dataset": info.dataset,
        "metrics": info.metrics,
        "versions": info.versions,
        "weights_sha256": info.weights_sha256,
        "train_state_sha256": info.train_state_sha256,
    }


def _verify(path: Path, expected: str) -> bytes:
    data = path.read_bytes()
    if sha256_bytes(data) != expected:
        raise CheckpointError(
            f"{path}: sha256 does not match {CONFIG_FILE} (tampered or corrupt); refusing it"
        )
    return data
