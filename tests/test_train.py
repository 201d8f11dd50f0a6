"""Training: exact resume after an interrupt, evaluation arithmetic, schedule, sharding, DDP, the CLI."""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from remixmusic.cli import app
from remixmusic.data.tokens import count_notes
from remixmusic.errors import CheckpointError, DatasetError, RemixError
from remixmusic.generation.checkpoint import load_checkpoint, load_train_state
from remixmusic.generation.checkpoint_info import read_info
from remixmusic.generation.model import MusicTransformer
from remixmusic.generation.training.config import TrainConfig
from remixmusic.generation.training.loop import (
    Trainer,
    WindowSampler,
    _evaluate,
    eval_windows,
    learning_rate,
    make_optimizer,
)
from remixmusic.generation.training.runtime import _Distributed
from remixmusic.io.midi import read_midi
from remixmusic.tokenizer.remi import RemiTokenizer

CHORALES = Path(__file__).resolve().parent.parent / "datasets" / "bach-chorales" / "midi"
TINY = TrainConfig(
    preset="tiny",
    model={"block_size": 48, "dropout": 0.1},
    max_steps=8,
    batch_size=4,
    eval_interval=4,
    log_interval=2,
    warmup_steps=2,
    eval_batch_size=8,
    device="cpu",
    threads=1,
)


@pytest.fixture(scope="module")
def tokenizer():
    return RemiTokenizer()


@pytest.fixture(scope="module")
def sequences(tokenizer):
    """Token sequences of eight real chorales: six to train on, two to validate on."""
    files = sorted(CHORALES.glob("*.mid"))[:8]
    return [tokenizer.encode(read_midi(path)) for path in files]


def _fit(config, tokenizer, sequences, out, **kwargs):
    trainer = Trainer(config, tokenizer, callbacks=kwargs.pop("callbacks", ()), show_progress=False)
    return trainer, trainer.fit(sequences[:6], sequences[6:], out, **kwargs)


def test_interrupted_and_resumed_run_matches_uninterrupted(tmp_path, tokenizer, sequences):
    _, whole = _fit(TINY, tokenizer, sequences, tmp_path / "whole")

    def interrupt(info):
        if info.step == 5:
            raise KeyboardInterrupt

    _, stopped = _fit(TINY, tokenizer, sequences, tmp_path / "split", callbacks=[interrupt])
    assert stopped.interrupted and stopped.steps == 5
    assert load_train_state(tmp_path / "split")["progress"]["step"] == 5
    _, resumed = _fit(TINY, tokenizer, sequences, tmp_path / "split", resume=True)
    assert not resumed.interrupted and resumed.steps == whole.steps == 8

    a, b = load_train_state(tmp_path / "whole"), load_train_state(tmp_path / "split")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    strip = lambda history: [  # noqa: E731 - timings differ between runs, nothing else may
        {k: v for k, v in r.items() if k not in ("elapsed_s", "tokens_per_s")} for r in json.loads(history)
    ]
    assert strip(a["history"]) == strip(b["history"])
    assert read_info(tmp_path / "whole").weights_sha256 == read_info(tmp_path / "split").weights_sha256
    assert whole.metrics["valid_loss"] == resumed.metrics["valid_loss"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["split", "whole"]  # no temporaries left behind


def test_checkpoint_contents_and_evaluation_arithmetic(tmp_path, tokenizer, sequences):
    trainer, result = _fit(TINY, tokenizer, sequences, tmp_path / "run", test=sequences[6:7])
    out = tmp_path / "run"
    assert {
        "config.json",
        "model.safetensors",
        "README.md",
        "train_state.pt",
        "metrics.jsonl",
        "loss.png",
    } <= {p.name for p in out.iterdir()}
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train_loss" in r] == [2, 4, 6, 8]
    evals = [r for r in records if "valid_loss" in r]
    assert [r["step"] for r in evals] == [4, 8]

    # The checkpoint holds the best weights; re-scoring the validation pieces by hand gives its metrics.
    model, _, info = load_checkpoint(out)
    best = min(evals, key=lambda r: r["valid_loss"])
    assert info.metrics["best_step"] == best["step"] == result.best_step
    valid = sequences[6:]
    nats = tokens = 0.0
    with torch.no_grad():
        for ids in valid:
            for window, first in eval_windows([ids], model.config.block_size):
                x = torch.from_numpy(window)[None]
                nll = torch.nn.functional.cross_entropy(model(x[:, :-1])[0][0], x[0, 1:], reduction="none")
                nats += float(nll[first:].sum())
                tokens += len(nll) - first
    notes = count_notes(tokenizer, valid)
    assert tokens == sum(len(ids) - 1 for ids in valid)
    assert math.isclose(best["valid_loss"], nats / tokens, rel_tol=1e-5)
    assert math.isclose(best["valid_bits_per_note"], nats / math.log(2) / notes, rel_tol=1e-5)
    assert math.isclose(best["valid_bits_per_token"], best["valid_loss"] / math.log(2), rel_tol=1e-9)
    assert (
        "test_bits_per_note" in info.metrics
        and "bits per note (held-out test split)" in (out / "README.md").read_text()
    )
    assert trainer.best_weights_ is not None and len(trainer.history_) == len(records)


def test_evaluation_of_short_pieces_is_the_plain_likelihood(tokenizer, sequences):
    torch.manual_seed(0)
    model = MusicTransformer(TINY.model_config(tokenizer.vocab_size)).eval()
    pieces = [ids[:30] for ids in sequences[:3]]  # shorter than a block: one window each
    result = _evaluate(
        model, eval_windows(pieces, 48), 10, 2, tokenizer.pad_id, torch.device("cpu"), _Distributed()
    )
    with torch.no_grad():
        expected = sum(
            float(
                torch.nn.functional.cross_entropy(
                    model(torch.from_numpy(p[None, :-1]))[0][0], torch.from_numpy(p[1:]), reduction="sum"
                )
            )
            for p in pieces
        )
    assert result.tokens == 3 * 29
    assert math.isclose(result.loss * result.tokens, expected, rel_tol=1e-5)
    assert math.isclose(result.bits_per_note, expected / math.log(2) / 10, rel_tol=1e-5)


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(2, 200), min_size=1, max_size=4), block=st.integers(2, 64))
def test_eval_windows_score_every_token_once_with_context(lengths, block):
    sequences = [np.arange(n) for n in lengths]
    for ids in sequences:
        scored = []
        for position, (window, first) in enumerate(eval_windows([ids], block)):
            assert 2 <= len(window) <= block + 1
            targets = window[1:][first:]
            if position > 0:
                assert targets[0] - window[0] >= block // 2  # each new target sees >= block/2 tokens
            scored.extend(targets.tolist())
        assert scored == list(range(1, len(ids)))


def test_learning_rate_schedule():
    config = TrainConfig(lr=1e-3, min_lr_ratio=0.1, warmup_steps=10, max_steps=100)
    rates = [learning_rate(config, step, step / 100) for step in range(100)]
    assert rates[0] == pytest.approx(1e-4, rel=0.02)
    assert max(rates) == pytest.approx(rates[9]) and rates[9] > 9e-4
    assert all(a >= b for a, b in itertools.pairwise(rates[9:]))
    assert learning_rate(config, 100, 1.0) == pytest.approx(1e-4)
    assert learning_rate(config, 50, 2.0) == pytest.approx(1e-4)  # a spent time budget clamps


def test_weight_decay_only_on_matrices(tokenizer):
    model = MusicTransformer(TINY.model_config(tokenizer.vocab_size))
    decayed, plain = make_optimizer(model, TINY, torch.device("cpu")).param_groups
    assert decayed["weight_decay"] == TINY.weight_decay and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"]) and all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_sampler_shards_one_global_batch_and_transposes_in_range(tokenizer, sequences):
    whole = WindowSampler(sequences, 32, tokenizer, 6, seed=3).batch(4, 0, 1)
    shards = [WindowSampler(sequences, 32, tokenizer, 6, seed=3).batch(2, rank, 2) for rank in (0, 1)]
    np.testing.assert_array_equal(whole[0::2], shards[0])
    np.testing.assert_array_equal(whole[1::2], shards[1])
    sampler = WindowSampler(sequences, 32, tokenizer, 6, seed=0)
    stream_tokens = set(np.unique(sampler.stream))
    moved = 0
    for window in sampler.batch(64):
        assert window.shape == (33,)
        low, high = tokenizer.transpose_range(window)
        assert low <= 0 <= high  # every pitch still inside the tokenizer's range
        moved += not set(window.tolist()) <= stream_tokens
    assert moved > 0  # some windows were transposed to pitches the stream never uses as-is
    with pytest.raises(RemixError, match="fewer than one window"):
        WindowSampler([sequences[0][:10]], 32, tokenizer, 0, seed=0)


def test_ctrl_c_stops_between_steps_and_saves(tmp_path, tokenizer, sequences):
    def press_ctrl_c(info):
        if info.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # handled as a flag: the step in flight completes

    _, result = _fit(TINY, tokenizer, sequences, tmp_path / "run", callbacks=[press_ctrl_c])
    assert result.interrupted and result.steps == 3
    assert load_train_state(tmp_path / "run")["progress"]["step"] == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


def test_time_budget_ends_the_run_normally(tmp_path, tokenizer, sequences):
    config = TINY.__class__(**{**TINY.to_dict(), "max_minutes": 1e-9, "max_steps": 1000})
    _, result = _fit(config, tokenizer, sequences, tmp_path / "run")
    assert not result.interrupted and result.steps < 1000
    assert read_info(tmp_path / "run").metrics["steps"] == result.steps
    assert "valid_bits_per_note" in result.metrics  # a final evaluation still ran


def test_early_stopping(tmp_path, tokenizer, sequences):
    config = TINY.__class__(**{**TINY.to_dict(), "lr": 0.0, "patience": 1, "max_steps": 40})
    _, result = _fit(config, tokenizer, sequences, tmp_path / "run")
    assert result.stopped_early and result.steps == 8 and result.best_step == 4


def test_existing_output_and_missing_state_are_user_errors(tmp_path, tokenizer, sequences):
    config = TINY.__class__(**{**TINY.to_dict(), "max_steps": 2, "eval_interval": 2})
    _fit(config, tokenizer, sequences, tmp_path / "run")
    with pytest.raises(RemixError, match="--resume"):
        _fit(config, tokenizer, sequences, tmp_path / "run")
    _fit(config, tokenizer, sequences, tmp_path / "run", overwrite=True)
    (tmp_path / "run" / "train_state.pt").unlink()
    with pytest.raises(CheckpointError, match="no resumable training state"):
        _fit(config, tokenizer, sequences, tmp_path / "run", resume=True)


def test_bad_model_options_and_an_empty_train_split_are_user_errors(tokenizer, sequences):
    with pytest.raises(RemixError, match="preset"):
        TrainConfig(preset="huge")
    with pytest.raises(RemixError, match="n_embd"):
        TrainConfig(preset="tiny", model={"n_embd": 63})
    with pytest.raises(RemixError, match=r"unknown model config field.*layers"):
        TrainConfig(preset="tiny", model={"layers": 3})
    with pytest.raises(DatasetError, match="0 tokens"):
        WindowSampler([], 48, tokenizer, 0, seed=0)


def test_loss_plot_leaves_the_callers_matplotlib_backend_alone():
    import matplotlib

    from remixmusic.generation.training.logs import _plot

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        png = _plot([{"step": 1, "train_loss": 3.0}, {"step": 2, "valid_loss": 2.5}])
        assert png.startswith(b"\x89PNG") and matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


# -- distributed ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str, sequences: list, report: str) -> None:
    import os

    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    config = TINY.__class__(**{**TINY.to_dict(), "max_steps": 4, "eval_interval": 2, "batch_size": 2})
    trainer = Trainer(config, RemiTokenizer(), show_progress=False)
    result = trainer.fit(sequences[:6], sequences[6:], out)
    torch.save({"weights": trainer.model_.state_dict(), "steps": result.steps}, f"{report}.{rank}")
    torch.distributed.destroy_process_group()


@pytest.mark.slow  # two processes start torch and join a gloo group: about 20 s
def test_two_process_gloo_run_keeps_ranks_identical(tmp_path, sequences):
    report = str(tmp_path / "rank")
    args = (2, _free_port(), str(tmp_path / "ddp"), sequences, report)
    mp.spawn(_ddp_worker, args=args, nprocs=2, join=True)
    a, b = (torch.load(f"{report}.{rank}", weights_only=True) for rank in (0, 1))
    assert a["steps"] == b["steps"] == 4
    for name, tensor in a["weights"].items():
        assert torch.equal(tensor, b["weights"][name]), name
    info = read_info(tmp_path / "ddp")
    assert info.metrics["world_size"] == 2 and info.metrics["tokens_seen"] == 4 * 2 * 2 * 48


# -- command line -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_dataset(tmp_path_factory):
    from remixmusic.data.build import import_folder

    source = tmp_path_factory.mktemp("src")
    for path in sorted(CHORALES.glob("*.mid"))[:16]:
        shutil.copy(path, source)
    root = tmp_path_factory.mktemp("datasets")
    import_folder(source, "mini", root=root, jobs=1, show_progress=False)
    return root / "mini"


def test_cli_trains_and_resumes_with_more_steps(tmp_path, mini_dataset):
    runner = CliRunner()
    out = tmp_path / "ckpt"
    common = [
        "train",
        str(mini_dataset),
        "-o",
        str(out),
        "--preset",
        "tiny",
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    result = runner.invoke(app, [*common, "--steps", "3", "--eval-interval", "2", "--block-size", "48"])
    assert result.exit_code == 0, result.output
    assert "test" in result.output and "bits/note" in result.output
    info = read_info(out)
    assert info.metrics["steps"] == 3 and info.train_config["preset"] == "tiny"
    assert (
        info.dataset["name"] == "mini"
        and info.dataset["split"] == "train"
        and len(info.dataset["manifest_hash"]) == 64
    )
    again = runner.invoke(app, [*common, "--steps", "3"])
    assert again.exit_code != 0 and "--resume" in str(again.exception)
    longer = runner.invoke(app, [*common, "--resume", "--steps", "5"])
    assert longer.exit_code == 0, longer.output
    assert read_info(out).metrics["steps"] == 5 and read_info(out).train_config["max_steps"] == 5
