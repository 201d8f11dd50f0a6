"""Shipped models load by name from any directory, and sidecar identities lead back to them."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from remixmusic.errors import CheckpointError
from remixmusic.generation.loading import load_model


def test_a_shipped_checkpoint_loads_by_name_from_any_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    model, tokenizer, info = load_model("bach-small")
    assert info["name"] == "bach-small" and info["kind"] == "transformer"
    assert Path(info["path"]).is_absolute() and (Path(info["path"]) / "config.json").exists()
    assert tokenizer.vocab_size > 0 and model is not None


def test_a_relative_checkpoint_path_is_recorded_absolute(tmp_path, monkeypatch) -> None:
    shipped = Path(load_model()[2]["path"])
    monkeypatch.chdir(shipped.parent)
    _, _, info = load_model(Path(shipped.name))
    assert info["path"] == str(shipped)


def test_an_unknown_name_is_a_checkpoint_error(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="no-such-model"):
        load_model("no-such-model")
