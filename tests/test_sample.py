"""Generation: determinism, grammar validity, prompts, sidecars, the n-gram path and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from remixmusic.cli import app
from remixmusic.generation.baselines.ngram import NGramModel
from remixmusic.generation.checkpoint import save_checkpoint
from remixmusic.generation.config import preset
from remixmusic.generation.loading import load_model
from remixmusic.generation.model import MusicTransformer, TransformerDecoder
from remixmusic.generation.sampling import SamplingConfig as Sampling
from remixmusic.generation.sampling import filter_logits, generate, write_generated
from remixmusic.io.midi import read_midi, write_midi
from remixmusic.tokenizer.remi import RemiTokenizer
from tests.conftest import make_piece


@pytest.fixture(scope="module")
def tokenizer() -> RemiTokenizer:
    return RemiTokenizer()


@pytest.fixture(scope="module")
def model(tokenizer) -> MusicTransformer:
    torch.manual_seed(0)
    return MusicTransformer(preset("tiny", tokenizer.vocab_size)).eval()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, model, tokenizer):
    path = tmp_path_factory.mktemp("ckpt") / "tiny-test"
    save_checkpoint(path, model, tokenizer)
    return path


def melody(n_bars: int = 8):
    """A two-voice piece: a scale in quarters over a held bass note per bar."""
    pitches = [60 + (i % 8) for i in range(4 * n_bars)] + [48 + (b % 5) for b in range(n_bars)]
    onsets = [12 * i for i in range(4 * n_bars)] + [48 * b for b in range(n_bars)]
    durations = [12] * (4 * n_bars) + [48] * n_bars
    return make_piece(pitches, onsets, durations)


def test_same_seed_same_bytes_different_seed_differs(model, tokenizer, tmp_path) -> None:
    kwargs = {"bars": 4, "max_tokens": 300, "temperature": 1.0}
    identity = {"kind": "transformer", "id": "test"}
    a = write_generated(generate(model, tokenizer, Sampling(3, seed=7, **kwargs)), tmp_path / "a", identity)
    b = write_generated(generate(model, tokenizer, Sampling(3, seed=7, **kwargs)), tmp_path / "b", identity)
    c = write_generated(generate(model, tokenizer, Sampling(3, seed=8, **kwargs)), tmp_path / "c", identity)
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes()
        assert x.with_suffix(".json").read_bytes() == y.with_suffix(".json").read_bytes()
    assert [p.read_bytes() for p in a] != [p.read_bytes() for p in c]


def test_outputs_are_grammatical_and_sidecars_align(model, tokenizer, tmp_path) -> None:
    config = Sampling(5, bars=3, max_tokens=200, seed=1, top_k=50, top_p=0.95, batch_size=2)
    results = generate(model, tokenizer, config)
    assert [r.index for r in results] == list(range(5))
    paths = write_generated(results, tmp_path, {"kind": "transformer"})
    for result, path in zip(results, paths, strict=True):
        assert tokenizer.is_valid(result.ids)
        assert len(result.ids) <= 200
        assert (result.ids == tokenizer.bar_token_id).sum() <= 3
        notes = read_midi(path).notes
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["n_notes"] == len(notes) == len(sidecar["note_log_probs"])
        assert all(v <= 0 for v in sidecar["note_log_probs"])
        assert sidecar["sampling"]["top_k"] == 50 and sidecar["sampling"]["seed"] == 1
        assert Sampling.from_dict(sidecar["sampling"]) == config == result.config
        assert sidecar["midi"] == path.name
        # Per-note values are sums of that note's token log-probs (finite, as every note was sampled).
        assert np.isfinite(result.note_log_probs).all()
        owner = tokenizer.align(result.ids)
        assert result.note_log_probs.sum() == pytest.approx(result.token_log_probs[owner >= 0].sum())


def test_token_limit_cuts_back_to_a_complete_note(model, tokenizer) -> None:
    for result in generate(model, tokenizer, Sampling(4, bars=None, max_tokens=40, seed=3)):
        assert len(result.ids) <= 40 and tokenizer.is_valid(result.ids)
        assert result.stop_reason in ("eos", "max_tokens")


def test_prompt_continuation_starts_with_the_prompt(model, tokenizer, tmp_path) -> None:
    prompt_file = tmp_path / "prompt.mid"
    write_midi(melody(), prompt_file)
    prompt = read_midi(prompt_file)
    head = tokenizer.canonicalize(prompt.crop_bars(0, 2))
    with_prompt = generate(model, tokenizer, Sampling(2, bars=2, seed=5, prompt_bars=2), prompt=prompt)
    without = generate(
        model, tokenizer, Sampling(2, bars=2, seed=5, prompt_bars=2, include_prompt=False), prompt=prompt
    )
    bar2 = int(prompt.bar_starts()[2])
    for full, cont in zip(with_prompt, without, strict=True):
        k = len(head.notes)
        assert full.prompt["n_notes"] == k and cont.prompt["n_notes"] == 0
        first = full.piece.notes[:k]
        for field in ("onset", "pitch", "duration"):
            np.testing.assert_array_equal(first[field], head.notes[field])
        assert (full.piece.notes["onset"][k:] >= bar2).all()
        # Leaving the prompt out gives the same continuation, moved to the start.
        np.testing.assert_array_equal(cont.piece.notes["onset"], full.piece.notes["onset"][k:] - bar2)
        np.testing.assert_array_equal(cont.piece.notes["pitch"], full.piece.notes["pitch"][k:])
        np.testing.assert_allclose(cont.note_log_probs, full.note_log_probs[k:])


def test_cache_and_no_cache_agree(model, tokenizer) -> None:
    ids = torch.as_tensor(tokenizer.encode(melody(2)))[None]
    cached, plain = TransformerDecoder(model, use_cache=True), TransformerDecoder(model, use_cache=False)
    a, b = cached.start(ids[:, :5])[:, -1], plain.start(ids[:, :5])[:, -1]
    for t in range(5, 20):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
        a, b = cached.step(ids[:, t]), plain.step(ids[:, t])
    fast = generate(model, tokenizer, Sampling(2, bars=2, seed=4))
    slow = generate(model, tokenizer, Sampling(2, bars=2, seed=4), use_cache=False)
    for x, y in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(x.ids, y.ids)


def test_filter_logits() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, top_k=2)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.7)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.5)).tolist() == [[False, True, True, True]]
    assert not torch.isinf(filter_logits(logits)).any()


def test_ngram_generates_valid_music(tokenizer, tmp_path) -> None:
    seqs = [tokenizer.encode(melody(8).transpose(s)) for s in range(-3, 4)]
    ngram = NGramModel(tokenizer.vocab_size, tokenizer.bos_id, max_order=4).fit(seqs[1:], seqs[:1])
    ngram.metadata["tokenizer"] = tokenizer.config.to_dict()
    ngram.save(tmp_path / "ng")
    loaded, loaded_tokenizer, identity = load_model(tmp_path / "ng")
    assert identity["kind"] == "ngram" and identity["order"] == ngram.order_
    results = generate(loaded, loaded_tokenizer, Sampling(3, bars=4, seed=0))
    for result in results:
        assert tokenizer.is_valid(result.ids)
        assert len(result.piece.notes) > 0
    # A prompt works the same way as with the transformer.
    prompted = generate(loaded, loaded_tokenizer, Sampling(1, bars=1, prompt_bars=2), prompt=melody(4))[0]
    assert tokenizer.is_valid(prompted.ids) and prompted.prompt["n_notes"] > 0


def test_generate_cli(checkpoint, tmp_path, monkeypatch) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    args = ["generate", "--checkpoint", str(checkpoint), "-n", "2", "--bars", "2", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "piece_000.json",
        "piece_000.mid",
        "piece_001.json",
        "piece_001.mid",
    ]
    sidecar = json.loads((out / "piece_000.json").read_text())
    assert sidecar["model"]["name"] == "tiny-test" and len(sidecar["model"]["weights_sha256"]) == 64
    # No arguments: the default checkpoint, written to ./generated.
    monkeypatch.setattr("remixmusic.generation.checkpoint_info.default_checkpoint_path", lambda: checkpoint)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["generate", "--bars", "1"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "generated").glob("*.mid"))) == 4


def test_bad_prompt_is_one_line_error(checkpoint, tmp_path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"garbage")
    cmd = [sys.executable, "-c", "from remixmusic.cli import main; main()", "generate", "--checkpoint",
           str(checkpoint), "--prompt", str(bad), "-o", str(tmp_path / "o")]  # fmt: skip
    # Wide COLUMNS: rich wraps long messages at 80 columns when stderr is not a terminal.
    env = {**os.environ, "COLUMNS": "1000"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1
    assert (
        proc.stderr.strip().count("\n") == 0 and "bad.mid" in proc.stderr and "Traceback" not in proc.stderr
    )


def test_prompt_errors(model, tokenizer) -> None:
    from remixmusic.errors import ConfigError, RemixError
    from remixmusic.music.notes import Piece

    with pytest.raises(RemixError, match="no notes"):
        generate(model, tokenizer, Sampling(1, prompt_bars=2), prompt=Piece())
    with pytest.raises(RemixError, match="no room"):
        generate(model, tokenizer, Sampling(1, prompt_bars=8, max_tokens=20), prompt=melody(8))
    with pytest.raises(ConfigError, match="top_p"):
        Sampling(1, top_p=0)


def test_shipped_default_checkpoint_loads_and_generates_valid_music() -> None:
    """The README's main job: the committed checkpoint must keep loading and sampling as the code moves."""
    model, tokenizer, identity = load_model()
    assert identity["name"] == "bach-small"
    first = generate(model, tokenizer, Sampling(n=2, bars=2, seed=3))
    again = generate(model, tokenizer, Sampling(n=2, bars=2, seed=3))
    assert tokenizer.grammar().validate([g.ids for g in first]).all()
    assert all(len(g.piece) > 0 for g in first)
    assert [g.ids.tolist() for g in first] == [g.ids.tolist() for g in again]


def test_prompt_in_a_meter_the_tokenizer_splits_is_left_out_whole(model, tokenizer) -> None:
    # 9/4 has no meter token: each prompt bar becomes two 9/8 bars in the tokens.
    bars = 2
    onsets = [36 * i for i in range(3 * bars)]
    prompt = make_piece(
        [60 + i for i in range(3 * bars)], onsets, [36] * len(onsets), time_signatures=[(0, 9, 4)]
    )
    full = generate(model, tokenizer, Sampling(2, bars=2, seed=5, prompt_bars=bars), prompt=prompt)
    cont = generate(
        model, tokenizer, Sampling(2, bars=2, seed=5, prompt_bars=bars, include_prompt=False), prompt=prompt
    )
    for a, b in zip(full, cont, strict=True):
        k = a.prompt["n_notes"]
        assert k == len(onsets)
        assert len(b.piece.notes) == len(b.note_log_probs) == len(a.piece.notes) - k
        np.testing.assert_array_equal(b.piece.notes["pitch"], a.piece.notes["pitch"][k:])
        np.testing.assert_allclose(b.note_log_probs, a.note_log_probs[k:])


def test_a_prompt_reads_as_the_opening_of_its_piece_did_in_training():
    """The tokens of a MIDI prompt's first bars are exactly the opening of the whole piece's canonical
    encoding (what training saw), for every bundled chorale and 1, 2 and 4 bars; canonicalizing only the
    cut kept meters the whole piece drops (bwv121.6's irregular 5/4 bar), so a model that memorised the
    chorale continued a sequence it had never seen."""
    from remixmusic.data.datasets import load_dataset
    from remixmusic.generation.sampling import prompt_ids

    tok = RemiTokenizer()
    checked = 0
    for piece in load_dataset("bach-chorales").pieces("train"):
        full = tok.encode(tok.canonicalize(piece))
        bars = int((full == tok.bar_token_id).sum())
        for k in (1, 2, 4):
            if bars <= k + 1 or not len(tok.canonicalize(piece).crop_bars(0, k).notes):
                continue
            ids, _ = prompt_ids(tok, piece, k)
            assert list(ids) == list(full[: len(ids)]), (piece.source, k)
            checked += 1
    assert checked > 600


def test_a_prompt_shorter_than_prompt_bars_is_continued_after_its_end(model, tokenizer) -> None:
    """A one-bar prompt with --prompt-bars 4 was padded with three silent bars before the continuation,
    and the sidecar said 4 bars, without a word. It is continued after its one bar (the same pieces as
    --prompt-bars 1), the sidecar says 1, and a warning says why."""
    from remixmusic.generation.sampling import PromptWarning

    with pytest.warns(PromptWarning, match="1 bar\\(s\\) long, shorter than the 4 asked"):
        asked = generate(model, tokenizer, Sampling(2, bars=2, seed=3, prompt_bars=4), prompt=melody(1))
    exact = generate(model, tokenizer, Sampling(2, bars=2, seed=3, prompt_bars=1), prompt=melody(1))
    assert [g.ids.tolist() for g in asked] == [g.ids.tolist() for g in exact]
    assert all(g.prompt["bars"] == 1 for g in asked)


def test_a_prompt_the_model_reads_only_in_part_says_so(model, tokenizer) -> None:
    """Drums (the model writes none) and a tempo (no tempo tokens) were dropped from a pop-song prompt
    without a word; each is a one-line warning."""
    import warnings as w

    from remixmusic.generation.sampling import PromptWarning

    piece = melody(2)
    drums = make_piece([36, 38, 36, 38], [0, 12, 24, 36], [6] * 4)
    notes = np.concatenate([piece.notes, drums.notes])
    notes["is_drum"][len(piece.notes) :] = True
    prompt = piece.with_notes(notes)
    prompt.tempos = np.array([(0, 100.0)], prompt.tempos.dtype)
    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        generate(model, tokenizer, Sampling(1, bars=3, seed=1, prompt_bars=2), prompt=prompt)
    messages = [str(c.message) for c in caught if issubclass(c.category, PromptWarning)]
    assert any("4 drum note(s)" in m and f"reads {len(piece.notes)} of the {len(notes)} notes" in m for m in messages)
    assert tokenizer.config.tempo_bins or any("100 qpm" in m for m in messages)


def test_a_prompt_whose_notes_start_late_names_the_bar(model, tokenizer) -> None:
    from remixmusic.errors import RemixError

    late = melody(2)
    notes = late.notes.copy()
    notes["onset"] += 4 * 48  # the first note in bar 5
    with pytest.raises(RemixError, match="first such note is in bar 5"):
        generate(model, tokenizer, Sampling(1, prompt_bars=4), prompt=late.with_notes(notes))
