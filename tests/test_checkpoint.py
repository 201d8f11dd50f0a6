"""Checkpoints: round trip, atomic replacement, and refusal of unknown, newer, tampered or pickled ones."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from remixmusic.generation import checkpoint, checkpoint_info
from remixmusic.generation.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_train_state,
    load_weights,
    save_checkpoint,
    update_metrics,
)
from remixmusic.generation.checkpoint_info import default_checkpoint_path, read_info
from remixmusic.generation.config import preset
from remixmusic.generation.model import MusicTransformer
from remixmusic.tokenizer.config import TokenizerConfig
from remixmusic.tokenizer.remi import RemiTokenizer


@pytest.fixture
def tokenizer():
    return RemiTokenizer(TokenizerConfig(velocity_bins=8))


@pytest.fixture
def model(tokenizer):
    torch.manual_seed(0)
    return MusicTransformer(preset("tiny", tokenizer.vocab_size))


@pytest.fixture
def saved(tmp_path, model, tokenizer):
    path = tmp_path / "run"
    save_checkpoint(
        path,
        model,
        tokenizer,
        train_config={"preset": "tiny", "lr": 0.001},
        dataset={"name": "toy", "manifest_hash": "ab" * 32, "split": "train"},
        metrics={"test_bits_per_note": 7.25, "tokens_seen": 1234},
        train_state={"step": 3, "moments": torch.arange(5.0), "history": [{"loss": 1.5}]},
        extra_files={"metrics.jsonl": b'{"step": 1}\n'},
    )
    return path


def _one_line_error(fn, *args, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as info:
        fn(*args)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_round_trip(saved, model, tokenizer):
    loaded, loaded_tokenizer, info = load_checkpoint(saved)
    idx = torch.randint(0, tokenizer.vocab_size, (2, 20))
    with torch.no_grad():
        torch.testing.assert_close(loaded(idx)[0], model.eval()(idx)[0], rtol=0, atol=0)
    assert not loaded.training
    assert loaded_tokenizer.config == tokenizer.config
    assert info.model_config == model.config
    assert info.dataset["manifest_hash"] == "ab" * 32 and info.dataset["split"] == "train"
    assert info.train_config["lr"] == 0.001
    assert info.metrics["parameters"] == model.num_parameters()
    assert info.versions["torch"] == torch.__version__
    assert info.id == f"run@{info.weights_sha256[:12]}"
    assert (saved / "metrics.jsonl").read_bytes() == b'{"step": 1}\n'
    card = (saved / "README.md").read_text()
    assert "7.250" in card and "1,234" in card and "toy" in card
    state = load_train_state(saved)
    assert state["step"] == 3 and torch.equal(state["moments"], torch.arange(5.0))
    assert state["history"] == [{"loss": 1.5}]
    assert (saved / ".gitignore").read_text().strip() == "train_state.pt"


def test_saving_replaces_atomically_and_leaves_no_temporaries(saved, model, tokenizer, monkeypatch):
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    with torch.no_grad():
        next(model.parameters()).add_(1.0)

    def broken_card(info):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "model_card", broken_card)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(saved, model, tokenizer)
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before  # the old checkpoint is intact
    monkeypatch.undo()
    info = save_checkpoint(saved, model, tokenizer)
    assert (
        read_info(saved).weights_sha256
        == info.weights_sha256
        != json.loads(before["config.json"])["weights_sha256"]
    )
    assert not (saved / "train_state.pt").exists()  # the new checkpoint has none: no stale files survive


def test_a_failed_swap_puts_the_previous_checkpoint_back(saved, model, tokenizer, monkeypatch):
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    replace = os.replace

    def failing_replace(src, dst):
        if Path(src).is_dir() and Path(src).name.endswith(".tmp"):  # the new checkpoint moving into place
            raise OSError("rename failed")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        save_checkpoint(saved, model, tokenizer)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name]  # no temporaries left
    assert sorted(p.name for p in saved.parent.iterdir()) == ["run"]


def test_refuses_to_replace_a_folder_that_is_not_a_checkpoint(tmp_path, model, tokenizer):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    _one_line_error(save_checkpoint, folder, model, tokenizer, match="not a remixmusic checkpoint")
    assert (folder / "notes.txt").read_text() == "precious"


def _edit_config(path, **changes):
    config = json.loads((path / "config.json").read_text())
    config.update(changes)
    (path / "config.json").write_text(json.dumps(config))


def test_unknown_format_and_newer_version(saved):
    _edit_config(saved, format_version=checkpoint_info.FORMAT_VERSION + 1)
    message = _one_line_error(load_checkpoint, saved, match="newer")
    assert "upgrade" in message
    _edit_config(saved, format="someone-elses-format")
    _one_line_error(load_checkpoint, saved, match="unknown checkpoint format")
    (saved / "config.json").write_text("{not json")
    _one_line_error(load_checkpoint, saved, match="unreadable config.json")


def test_missing_or_not_a_directory(tmp_path):
    _one_line_error(load_checkpoint, tmp_path / "nope", match="no such checkpoint")
    (tmp_path / "model.pt").write_bytes(b"x")
    _one_line_error(load_checkpoint, tmp_path / "model.pt", match="is a directory")
    _one_line_error(load_checkpoint, tmp_path, match="no config.json")


def test_tampered_weights_are_refused(saved):
    data = bytearray((saved / "model.safetensors").read_bytes())
    data[-1] ^= 0x01
    (saved / "model.safetensors").write_bytes(bytes(data))
    _one_line_error(load_checkpoint, saved, match="tampered")
    _one_line_error(update_metrics, saved, {"x": 1}, match="tampered")


def test_tampered_train_state_is_refused(saved):
    torch.save({"step": 99}, saved / "train_state.pt")
    _one_line_error(load_train_state, saved, match="tampered")


def test_pickled_weights_are_refused(saved, model):
    (saved / "model.safetensors").unlink()
    torch.save(model.state_dict(), saved / "model.pt")
    _one_line_error(load_checkpoint, saved, match="refusing pickled weights")


def test_weights_that_do_not_fit_the_config(saved):
    _edit_config(saved, model={**json.loads((saved / "config.json").read_text())["model"], "n_layer": 3})
    _one_line_error(load_checkpoint, saved, match="do not fit")


def test_update_metrics_rewrites_card(saved):
    update_metrics(saved, {"ngram_bits_per_note": 9.5})
    info = read_info(saved)
    assert info.metrics["ngram_bits_per_note"] == 9.5 and info.metrics["test_bits_per_note"] == 7.25
    assert "n-gram baseline bits per note" in (saved / "README.md").read_text()
    load_weights(saved)  # weights untouched and still verified


def test_default_checkpoint_path(tmp_path, saved, monkeypatch):
    monkeypatch.setattr(checkpoint_info, "_shipped_folders", lambda: [tmp_path / "wheel", saved.parent])
    assert default_checkpoint_path("run") == saved
    _one_line_error(default_checkpoint_path, "bach-small", match="not installed")
