"""`remixmusic generate` (issue 10): a seed fixes each piece whatever -n and --batch-size are; exactly
--bars bars, shorter only where the model ends a piece (then listed and recorded); a non-empty output
folder is refused unless --overwrite, which leaves no stale piece behind; shipped models by name from any
directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from remixmusic.cli import app
from remixmusic.errors import RemixError
from remixmusic.generation.baselines.ngram import NGramModel
from remixmusic.generation.loading import load_model
from remixmusic.generation.sampling import SamplingConfig, check_output, generate
from remixmusic.tokenizer.remi import RemiTokenizer
from tests.conftest import make_piece

runner = CliRunner()


@pytest.fixture(scope="module")
def shipped():
    return load_model("bach-small")


@pytest.fixture(scope="module")
def short_ngram(tmp_path_factory) -> Path:
    """An n-gram fitted on two-bar tunes: it ends its pieces after about two bars."""
    tokenizer = RemiTokenizer()
    tunes = [
        make_piece([60 + (i * k) % 12 for i in range(8)], [12 * i for i in range(8)], [12] * 8)
        for k in range(1, 8)
    ]
    seqs = [tokenizer.encode(t) for t in tunes]
    ngram = NGramModel(tokenizer.vocab_size, tokenizer.bos_id, max_order=4).fit(seqs[1:], seqs[:1])
    ngram.metadata["tokenizer"] = tokenizer.config.to_dict()
    return ngram.save(tmp_path_factory.mktemp("models") / "short-ngram")


def _ids(results) -> list[list[int]]:
    return [r.ids.tolist() for r in results]


def test_piece_i_of_a_seed_does_not_depend_on_n_or_the_batch_size(shipped) -> None:
    model, tokenizer, _ = shipped
    four = generate(model, tokenizer, SamplingConfig(n=4, bars=2, seed=3, batch_size=4))
    eight = generate(model, tokenizer, SamplingConfig(n=8, bars=2, seed=3, batch_size=2))
    one_by_one = generate(model, tokenizer, SamplingConfig(n=3, bars=2, seed=3, batch_size=1))
    assert _ids(four) == _ids(eight)[:4]
    assert _ids(one_by_one) == _ids(four)[:3]
    assert len({tuple(ids) for ids in _ids(eight)}) == 8  # pieces differ from each other
    other_seed = generate(model, tokenizer, SamplingConfig(n=4, bars=2, seed=4, batch_size=4))
    assert all(a != b for a, b in zip(_ids(four), _ids(other_seed), strict=True))


def test_the_cli_writes_the_same_bytes_for_a_piece_whatever_n_and_batch_size(tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    base = ["generate", "--bars", "1", "--seed", "5"]
    assert runner.invoke(app, [*base, "-n", "2", "--batch-size", "2", "-o", str(a)]).exit_code == 0
    assert runner.invoke(app, [*base, "-n", "3", "--batch-size", "1", "-o", str(b)]).exit_code == 0
    for name in ("piece_000.mid", "piece_001.mid"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_pieces_have_exactly_the_bars_asked_for_unless_the_model_ends_them(shipped) -> None:
    model, tokenizer, _ = shipped
    results = generate(model, tokenizer, SamplingConfig(n=6, bars=3, seed=1, batch_size=3))
    for result in results:
        bar_tokens = int((result.ids == tokenizer.bar_token_id).sum())
        assert result.n_bars == bar_tokens
        if result.stop_reason == "eos":
            assert result.n_bars <= 3
        else:
            assert result.stop_reason == "bars" and result.n_bars == 3
            # The piece spans its three bars: its last note starts in bar 3.
            assert result.piece.bar_of(int(result.piece.notes["onset"].max())) == 2
    assert any(r.stop_reason == "bars" for r in results)


def test_bars_after_a_prompt_count_the_continuation_only(shipped) -> None:
    model, tokenizer, _ = shipped
    prompt = make_piece([60, 62, 64, 65, 67, 69, 71, 72], [24 * i for i in range(8)], [24] * 8)  # 4 bars
    results = generate(model, tokenizer, SamplingConfig(n=2, bars=2, seed=0, prompt_bars=4), prompt=prompt)
    for result in results:
        bar_tokens = int((result.ids == tokenizer.bar_token_id).sum())
        assert result.n_bars == bar_tokens - 4
        assert result.n_bars == 2 or result.stop_reason == "eos"


def test_pieces_the_model_ends_early_are_listed_and_recorded(short_ngram, tmp_path) -> None:
    out = tmp_path / "out"
    args = ["generate", "--checkpoint", str(short_ngram), "-n", "3", "--bars", "8", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    sidecars = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    assert all(s["stop_reason"] == "eos" and s["n_bars"] < 8 for s in sidecars)
    assert "3 of 3 piece(s) are shorter than --bars 8" in result.stderr
    for s in sidecars:
        assert f"{s['midi']}: {s['n_bars']} bar" in result.stderr and "the model ended it" in result.stderr
    # With room for the model's own ending, nothing is listed and every piece has the bars asked for.
    again = runner.invoke(app, [*args[:-4], "--bars", "1", "-o", str(tmp_path / "one")])
    assert again.exit_code == 0 and "shorter" not in again.stderr
    assert all(json.loads(p.read_text())["n_bars"] == 1 for p in (tmp_path / "one").glob("*.json"))


def test_generate_refuses_a_non_empty_folder_before_loading_the_model(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["generate", "--checkpoint", str(tmp_path / "missing"), "-o", str(out)])
    assert result.exit_code == 1
    message = str(result.exception)
    assert "not empty" in message and "--overwrite" in message and "-o" in message
    assert (out / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_the_earlier_pieces_and_leaves_no_stale_one(short_ngram, tmp_path) -> None:
    out = tmp_path / "out"
    base = ["generate", "--checkpoint", str(short_ngram), "--bars", "1", "-o", str(out)]
    assert runner.invoke(app, [*base, "-n", "3"]).exit_code == 0
    (out / "notes.txt").write_text("kept")
    refused = runner.invoke(app, [*base, "-n", "1"])
    assert refused.exit_code == 1 and "--overwrite" in str(refused.exception)
    assert len(list(out.glob("*.mid"))) == 3
    assert runner.invoke(app, [*base, "-n", "1", "--overwrite"]).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "piece_000.json", "piece_000.mid"]


def test_overwrite_never_mixes_in_or_deletes_midi_that_generate_did_not_write(tmp_path) -> None:
    out = tmp_path / "out"
    (out / "mine").mkdir(parents=True)
    (out / "mine" / "tune.mid").write_bytes(b"MThd")
    (out / "piece_000.mid").write_bytes(b"MThd")
    with pytest.raises(RemixError, match="did not write"):
        check_output(out, overwrite=True)
    assert (out / "piece_000.mid").exists() and (out / "mine" / "tune.mid").exists()
    with pytest.raises(RemixError, match="is a file"):
        check_output(out / "piece_000.mid", overwrite=True)
    assert check_output(tmp_path / "new") == []


def test_python_m_remixmusic_generate_in_a_fresh_folder(tmp_path) -> None:
    """The README's first command, as `python -m remixmusic`, in a folder with no generated/ yet."""
    cmd = [sys.executable, "-m", "remixmusic", "generate", "-n", "1", "--bars", "1"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "generated").iterdir()) == ["piece_000.json", "piece_000.mid"]
    assert done.stdout.startswith("wrote 1 MIDI files")  # progress went to stderr


def test_shipped_checkpoints_work_by_name_from_any_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["generate", "--checkpoint", "bach-small", "-n", "1", "--bars", "1"])
    assert result.exit_code == 0, result.output
    model = json.loads((tmp_path / "generated" / "piece_000.json").read_text())["model"]
    assert model["name"] == "bach-small" and len(model["weights_sha256"]) == 64
    assert Path(model["path"]).is_absolute()

    import remixmusic.cli.generate as cli_generate

    seen = {}

    def fit(dataset, info, *args) -> None:
        seen["checkpoint"] = info.path

    monkeypatch.setattr(cli_generate, "_fit_kn", fit)
    result = runner.invoke(app, ["ngram", "bach-chorales", "--checkpoint", "bach-small"])
    assert result.exit_code == 0, result.output
    assert seen["checkpoint"].name == "bach-small" and seen["checkpoint"].is_dir()


def test_sidecars_record_the_model_by_name_and_content_hash(short_ngram, tmp_path) -> None:
    from remixmusic._util.files import sha256_file

    out = tmp_path / "out"
    assert runner.invoke(app, ["generate", "--checkpoint", str(short_ngram), "-n", "1", "-o", str(out)]).exit_code == 0
    model = json.loads((out / "piece_000.json").read_text())["model"]
    assert model["name"] == "short-ngram" and model["kind"] == "ngram"
    assert model["weights_sha256"] == sha256_file(short_ngram / "ngram.npz")
    assert model["path"] == str(short_ngram.resolve())
    assert np.isfinite(json.loads((out / "piece_000.json").read_text())["note_log_probs"]).all()
