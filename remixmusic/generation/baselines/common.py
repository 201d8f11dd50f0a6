"""Plumbing shared by the count-based baselines: reading a saved model's config.

(Bad model parameters raise :class:`~remixmusic.errors.ConfigError` from the constructors themselves.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from remixmusic.errors import CheckpointError


def read_model_config(
    directory: str | Path,
    expected_format: str | None = None,
    version: int | None = None,
    what: str = "n-gram model",
) -> dict[str, Any]:
    """``ngram.json`` of a saved count-based model, checked for its format and version; a missing, foreign
    or newer file is a one-line ``CheckpointError``.

    Raises:
        CheckpointError: no readable ``ngram.json``, another format, or another version.
    """
    directory = Path(directory)
    try:
        config = json.loads((directory / "ngram.json").read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{directory}: not an {what} ({exc.__class__.__name__})") from None
    if not isinstance(config, dict) or (
        expected_format is not None and config.get("format") != expected_format
    ):
        raise CheckpointError(f"{directory}: not an {what}")
    if version is not None and config.get("version") != version:
        raise CheckpointError(f"{directory}: {what} format version {config.get('version')} is not supported")
    return config
