"""Plumbing shared by the count-based baselines: reading a saved model's config, and parameter errors as one-line user errors.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from remixmusic.errors import CheckpointError, RemixError


@contextlib.contextmanager
def user_error(what: str) -> Iterator[None]:
    """Bad model parameters (a ``ValueError`` from a constructor) as a one-line user error."""
    try:
        yield
    except ValueError as exc:
        raise RemixError(f"invalid {what} parameters: {exc}") from None


def read_model_config(
    directory: str | Path,
    expected_format: str | None = None,
    version: int | None = None,
    what: str = "n-gram model",
) -> dict[str, Any]:
    """``ngram.json`` of a saved count-based model, checked for its format and version; a missing, foreign
    or newer file is a one-line ``CheckpointError``."""
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
