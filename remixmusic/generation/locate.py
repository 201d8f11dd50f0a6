"""Find a model directory by path, by shipped name or by the identity a sidecar records, and read what it
was trained on: JSON and file hashes only, never torch (``remixmusic analyze`` uses this).

A model directory is a transformer checkpoint (``config.json``, see
:mod:`~remixmusic.generation.checkpoint_info`) or a saved n-gram or ∞-gram (``ngram.json`` and
``ngram.npz``). Its *content hash* is the sha256 of its weights (recorded in a checkpoint's
``config.json``) or of its counts (``ngram.npz``): what a sidecar's ``model.weights_sha256`` holds.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from remixmusic._util.files import sha256_file
from remixmusic.errors import CheckpointError
from remixmusic.generation.baselines.common import read_model_config
from remixmusic.generation.checkpoint_info import default_checkpoint_path, read_info

NGRAM_CONFIG = "ngram.json"


NGRAM_ARRAYS = "ngram.npz"


def resolve_model_path(path_or_name: str | Path | None = None) -> Path:
    """The directory ``path_or_name`` means: ``None`` is the shipped default checkpoint; an existing path
    is itself; a bare name that is no path in the working directory names a shipped checkpoint
    (``bach-small``), found from any directory. Anything else is returned as given, for the loader to
    report as missing with the path the user gave.

    Raises:
        CheckpointError: ``None`` and the default checkpoint is not installed.
    """
    if path_or_name is None:
        return default_checkpoint_path()
    given = Path(path_or_name)
    if given.exists() or len(given.parts) != 1:
        return given
    try:
        return default_checkpoint_path(str(path_or_name))
    except CheckpointError:
        return given


def is_count_model(path: str | Path) -> bool:
    """Whether ``path`` holds a saved n-gram or ∞-gram (an ``ngram.json``). Raises nothing."""
    return (Path(path) / NGRAM_CONFIG).is_file()


def content_hash(path: str | Path) -> str:
    """The model's content hash (hex sha256): the weights hash a checkpoint's ``config.json`` records, or
    the hash of an n-gram's or ∞-gram's ``ngram.npz``.

    Raises:
        CheckpointError: ``path`` is no readable model directory.
    """
    path = Path(path)
    if is_count_model(path):
        try:
            return sha256_file(path / NGRAM_ARRAYS)
        except OSError as exc:
            raise CheckpointError(f"{path}: unreadable {NGRAM_ARRAYS} ({exc.__class__.__name__})") from None
    return read_info(path).weights_sha256


def training_dataset(path: str | Path) -> dict[str, Any]:
    """What the model at ``path`` records about its training data: ``name``, ``manifest_hash`` and the
    split it was fitted on (empty when it records nothing).

    Raises:
        CheckpointError: ``path`` is no readable model directory.
    """
    if is_count_model(path):
        metadata = read_model_config(path).get("metadata")
        dataset = metadata.get("dataset") if isinstance(metadata, dict) else None
        return dict(dataset) if isinstance(dataset, dict) else {}
    return dict(read_info(path).dataset)


def find_model(identity: dict[str, Any], base: str | Path | None = None) -> Path:
    """The model directory a sidecar's ``model`` record names, checked against its content hash.

    Tried in order: the recorded ``path`` (a relative one from the working directory, then from
    ``base``, e.g. the folder of the generated pieces), then the shipped checkpoint of the recorded
    ``name``; the first whose content hash equals the recorded ``weights_sha256`` wins (without a
    recorded hash, the first that exists). So pieces written by a shipped model are traced from any
    machine, and a model changed since is never taken for the one that wrote them.

    Raises:
        CheckpointError: no candidate exists, or none has the recorded content hash (both named).
    """
    recorded = str(identity.get("path") or "")
    name = str(identity.get("name") or "")
    expected = identity.get("weights_sha256")
    candidates: list[Path] = []
    if recorded:
        candidates.append(Path(recorded))
        if base is not None and not Path(recorded).is_absolute():
            candidates.append(Path(base) / recorded)
    if name and len(Path(name).parts) == 1:
        with contextlib.suppress(CheckpointError):
            candidates.append(default_checkpoint_path(name))
    found: list[str] = []
    for candidate in (c for c in candidates if c.is_dir()):
        if not expected:
            return candidate
        try:
            actual = content_hash(candidate)
        except CheckpointError as exc:
            found.append(str(exc))
            continue
        if actual == expected:
            return candidate
        found.append(f"{candidate} has {actual[:12]}")
    what = f"{name or recorded or 'model'}@{str(expected)[:12]}" if expected else (name or recorded)
    if not found:
        raise CheckpointError(f"the model that wrote these pieces ({what}) is not at {recorded!r} nor shipped")
    raise CheckpointError(f"the model that wrote these pieces ({what}) is gone or changed: {'; '.join(found)}")
