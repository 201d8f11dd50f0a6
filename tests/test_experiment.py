"""The experiment end to end on a tiny checkpoint, its verdict rules, positions and the CLI."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from remixmusic.cli import app
from remixmusic.errors import ConfigError, RemixError
from remixmusic.evaluation.significance import compare
from remixmusic.experiment.config import ExperimentConfig
from remixmusic.experiment.design import (
    COMPARISON_COLUMNS,
    DEFAULT_INFINIGRAM_CONTEXT,
    GROUPS,
    MEASURES,
    MODELS,
    PAIRS,
    PRIMARY,
)
from remixmusic.experiment.run import _checkpoint_dataset, run_experiment
from remixmusic.experiment.verdict import comparison_row, decide, normalized_position
from remixmusic.generation.checkpoint_info import read_info
from remixmusic.generation.training import train
from remixmusic.generation.training.config import TrainConfig
from remixmusic.novelty.index import Index

# Default sampling settings (temperature 1, no top-k/top-p): the ∞-gram copies training passages there,
# while the KN n-gram does not (its smoothing wanders off every training melody).
SETTINGS = {"n": 4, "bars": 8}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    config = TrainConfig(
        preset="tiny",
        model={"block_size": 64},
        max_steps=20,
        batch_size=8,
        eval_interval=20,
        log_interval=10,
        warmup_steps=4,
        transpose=0,
        device="cpu",
        threads=1,
    )
    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    train("bach-chorales", out, config, show_progress=False)
    return out


@pytest.fixture(scope="module")
def run(checkpoint, tmp_path_factory):
    builds = []
    original = Index.build.__func__

    def counting_build(cls, *args, **kwargs):
        builds.append(1)
        return original(cls, *args, **kwargs)

    out = tmp_path_factory.mktemp("experiment") / "run"
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Index, "build", classmethod(counting_build))
        config = ExperimentConfig(checkpoint=checkpoint, **SETTINGS)
        result = run_experiment(config, out, jobs=1, show_progress=False, log=lines.append)
    return result, out, len(builds), lines


def test_files_and_their_structure(run):
    result, out, builds, lines = run
    assert builds == 1  # one reference index serves all four groups
    assert [line[:3] for line in lines if line[0].isdigit()] == [
        "1/5",
        "2/5",
        "3/5",
        "3/5",
        "3/5",
        "4/5",
        "5/5",
    ]
    for group in MODELS:
        assert len(list((out / group).glob("piece_*.mid"))) == 4
        assert len(list((out / group).glob("piece_*.json"))) == 4
        assert (out / "analysis" / group / "report.html").exists()
    for png in ("coverage.png", "measures.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    page = (out / "experiment.html").read_text()
    assert all(f"analysis/{group}/report.html" in page for group in MODELS)
    assert "data:image/png;base64," in page and result.verdict.outcome in page
    # Only the ∞-gram is saved (its training tokens), and it is small; the KN counts are not.
    saved_model = sum(f.stat().st_size for f in (out / "infinigram-model").iterdir())
    assert 0 < saved_model < 1_000_000 and not (out / "ngram-model").exists()

    saved = json.loads((out / "experiment.json").read_text())
    assert saved["schema_version"] == 1
    # The config reads back as what was run, its checkpoint resolved to the path it was loaded from.
    config = ExperimentConfig.from_dict(saved["config"])
    assert config == result.config == ExperimentConfig(checkpoint=result.settings["checkpoint"], **SETTINGS)
    # Every model sampled with one config, recorded in the settings and in each sidecar.
    sidecars = [json.loads(p.read_text()) for g in MODELS for p in sorted((out / g).glob("piece_*.json"))]
    assert all(s["sampling"] == saved["settings"]["sampling"] for s in sidecars)
    assert saved["settings"]["sampling"]["bars"] == 8 and saved["settings"]["sampling"]["n"] == 4
    assert saved["settings"]["top_p"] == 1.0 and saved["settings"]["n"] == 4
    assert saved["settings"]["infinigram_context"] == DEFAULT_INFINIGRAM_CONTEXT
    assert saved["provenance"]["infinigram"]["kind"] == "infinigram"
    assert saved["provenance"]["infinigram"]["max_context"] == DEFAULT_INFINIGRAM_CONTEXT
    assert saved["provenance"]["ngram"]["kind"] == "ngram" and saved["provenance"]["ngram"]["order"] >= 2
    assert saved["verdict"]["recombination_control"] == "infinigram"
    assert (
        saved["provenance"]["dataset"]["manifest_hash"]
        == read_info(result.settings["checkpoint"]).dataset["manifest_hash"]
    )
    assert saved["verdict"]["outcome"] == result.verdict.outcome
    assert "remixmusic" in saved["provenance"]["versions"]

    with open(out / "comparison.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == COMPARISON_COLUMNS
    assert {(r["measure"], r["group_a"], r["group_b"]) for r in rows} == {
        (key, a, b) for key, _, _ in MEASURES for a, b in PAIRS
    }
    assert len(rows) == len(MEASURES) * len(PAIRS)
    assert [p["measure"] for p in result.positions] == [key for key, _, _ in MEASURES]


def test_groups_and_leakage_are_consistent(run):
    result, _, _, _ = run
    leak = result.leakage
    n_human = leak["n_control"] - leak["n_removed"]
    assert all(len(result.values["human"][key]) == n_human for key, _, _ in MEASURES)
    # 4 pieces per model, less any empty piece a tiny model wrote (skipped with "no pitched notes").
    for g in MODELS:
        n = {len(result.values[g][key]) for key, _, _ in MEASURES}
        assert len(n) == 1 and 1 <= n.pop() <= 4
    assert set(result.coverage) == set(GROUPS)
    assert len(result.coverage["human"]) == n_human
    mean, lo, hi = result.group_mean("copied_coverage", "human")
    values = np.asarray(result.values["human"]["copied_coverage"])
    assert mean == pytest.approx(np.nanmean(values)) and lo <= mean <= hi
    bits = result.quality["bits_per_note"]
    assert bits["ngram"] < bits["transformer"]  # 20 steps of a tiny transformer lose to counting
    # The ∞-gram has no bits: it gives zero probability to a share of the held-out tokens instead.
    assert math.isnan(bits["infinigram"])
    infini = next(m for m in result.quality["models"] if m["group"] == "infinigram")
    assert 0 < infini["test_zero_probability_rate"] < 1


def test_pure_recombination_shows_up_as_copying(run):
    # The positive control at default sampling settings: the ∞-gram's pieces are copied training music.
    result, _, _, _ = run
    infini = result.group_mean("copied_coverage", "infinigram")[0]
    human = result.group_mean("copied_coverage", "human")[0]
    # All four voices are analysed: 0.30 of the ∞-gram's notes lie in copied passages (its 16-token
    # context spans a few chords, so inner voices copy in shorter stretches than the soprano; 0.57 on the
    # melody line alone) against 0.03 for held-out chorales; recombined 0.58 against 0.11.
    assert infini > 0.2 and infini > 3 * human
    # Cliff's delta over tune-group means (4 ∞-gram pieces against 17 human tune groups): positive.
    assert result.comparison("copied_coverage", "infinigram", "human")["cliffs_delta"] > 0.2
    # The smoothed n-gram copies nothing at these settings: why it is not the control.
    assert result.group_mean("copied_coverage", "ngram")[0] < human
    assert result.group_mean(PRIMARY, "infinigram")[0] > result.group_mean(PRIMARY, "human")[0]


def test_verdict_names_the_numbers_it_used(run):
    result, _, _, _ = run
    verdict = result.verdict
    assert verdict.outcome == "inconclusive (n too small)"  # 4 pieces per model, 8 needed
    th = result.comparison(PRIMARY, "transformer", "human")
    rh = result.comparison(PRIMARY, "infinigram", "human")
    for number in (
        f"{th['mean_a']:.2f} [{th['ci_a_low']:.2f}, {th['ci_a_high']:.2f}]",
        f"{th['mean_b']:.2f} [{th['ci_b_low']:.2f}, {th['ci_b_high']:.2f}]",
        f"p = {th['p_value']:.2g}",
        f"Cliff's delta = {th['cliffs_delta']:+.2f}",
        f"∞-gram {rh['mean_a']:.2f}",
        f"{result.quality['descriptor_overlap']['transformer']:.2f} (transformer)",
    ):
        assert number in verdict.text
    assert verdict.checks[0]["rule"] == "n" and verdict.checks[0]["holds"]


def _comparisons(t, r, h):
    groups = {"transformer": t, "infinigram": r, "ngram": h, "human": h}
    rows = {}
    for key, _, _ in MEASURES:
        for a, b in PAIRS:
            rows[(key, a, b)] = comparison_row(key, a, b, compare(key, groups[a], groups[b]))
    return rows


@pytest.mark.parametrize(
    ("t_level", "r_level", "size", "overlap", "outcome"),
    [
        (0.5, 0.9, 5, (0.8, 0.5), "inconclusive (n too small)"),
        (0.2, 0.2, 30, (0.8, 0.5), "inconclusive (positive control failed)"),
        (0.5, 0.9, 30, (0.8, 0.5), "supported"),
        (0.5, 0.9, 30, (0.4, 0.5), "partly supported"),
        (0.2, 0.9, 30, (0.8, 0.5), "not supported"),
    ],
)
def test_decision_rules(t_level, r_level, size, overlap, outcome):
    # The ∞-gram decides the positive control and the quality rule; the KN n-gram plays no part.
    rng = np.random.default_rng(0)
    human = rng.normal(0.2, 0.05, size)
    t = rng.normal(t_level, 0.05, size)
    r = rng.normal(r_level, 0.05, size)
    positions = [{"measure": PRIMARY, "position": 0.3, "position_ci_low": 0.2, "position_ci_high": 0.4}]
    quality = {"descriptor_overlap": {"transformer": overlap[0], "infinigram": overlap[1], "ngram": 0.99}}
    verdict = decide(_comparisons(t, r, human), positions, quality)
    assert verdict.outcome == outcome
    assert f"{np.mean(t):.2f}" in verdict.text and f"{np.mean(human):.2f}" in verdict.text
    holding = [c["rule"] for c in verdict.checks if c["holds"]]
    assert (
        holding[0]
        == {
            "inconclusive (n too small)": "n",
            "inconclusive (positive control failed)": "positive control",
            "supported": "recombination",
            "partly supported": "quality",
            "not supported": "otherwise",
        }[outcome]
    )


def test_normalized_position():
    rng = np.random.default_rng(1)
    human, ngram = rng.normal(0.1, 0.02, 40), rng.normal(0.9, 0.02, 40)
    assert normalized_position(human, ngram, human)[0] == pytest.approx(0.0)
    assert normalized_position(ngram, ngram, human)[0] == pytest.approx(1.0)
    middle = (human + ngram) / 2
    point, (lo, hi) = normalized_position(middle, ngram, human)
    assert point == pytest.approx(0.5) and lo < 0.5 < hi
    assert math.isnan(normalized_position(middle, human + 1e-6, human)[0])  # no scale to place it on


def test_dataset_must_be_the_one_trained_on(checkpoint):
    info = read_info(checkpoint)
    assert _checkpoint_dataset(info, None).name == "bach-chorales"
    changed = dataclasses.replace(info, dataset={**info.dataset, "manifest_hash": "0" * 64})
    with pytest.raises(RemixError, match="not the one"):
        _checkpoint_dataset(changed, None)


def test_cli_runs_and_refuses_to_mix_runs(checkpoint, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    args = [
        "experiment",
        "--checkpoint",
        str(checkpoint),
        "-n",
        "2",
        "--bars",
        "2",
        "-j",
        "1",
        "-o",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "position" in result.output and "inconclusive (n too small)" in result.output
    assert "5/5" in result.output and (out / "experiment.html").exists()
    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "--overwrite" in str(again.exception)
    replaced = runner.invoke(app, [*args, "--overwrite", "-n", "3"])
    assert replaced.exit_code == 0, replaced.output
    assert len(list((out / "transformer").glob("*.mid"))) == 3


def test_saved_kn_ngram_is_reused_and_other_models_are_not(checkpoint, tmp_path):
    import shutil

    from remixmusic.experiment.run import _ngram_model
    from remixmusic.generation.baselines.infinigram import fit_infinigram
    from remixmusic.generation.baselines.ngram import NGramModel, fit_ngram

    info = read_info(checkpoint)
    data = _checkpoint_dataset(info, None)
    ckpt = tmp_path / "tiny"
    shutil.copytree(checkpoint, ckpt)
    info = read_info(ckpt)
    fit_infinigram(data.root, info.tokenizer_config, 8).save(ckpt / "ngram")  # an ∞-gram is not a KN n-gram
    fit_ngram(data.root, info.tokenizer_config, max_order=3).save(tmp_path / "ngram-bach-chorales")
    lines: list[str] = []
    model, identity = _ngram_model(info, data, None, 1, lines.append)
    assert isinstance(model, NGramModel) and model.max_order == 3
    assert (
        identity["source"] == str(tmp_path / "ngram-bach-chorales") and len(identity["weights_sha256"]) == 64
    )
    assert "ignoring" in lines[0] and str(ckpt / "ngram") in lines[0]


def test_config_is_validated_strict_and_round_trips(tmp_path):
    config = ExperimentConfig(checkpoint=tmp_path, n=3, ngram_order=4, infinigram_context=None)
    assert config.checkpoint == str(tmp_path)  # paths are kept as JSON strings
    assert ExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.sampling_config().n == 3 and config.sampling_config().bars == config.bars
    with pytest.raises(ConfigError, match="bogus"):
        ExperimentConfig.from_dict({**config.to_dict(), "bogus": 1})
    for bad in ({"n": 0}, {"bars": 0}, {"top_p": 0}, {"infinigram_context": 0}, {"alpha": 1.5}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            ExperimentConfig(**bad)


def test_cli_rejects_bad_settings_before_loading_anything(tmp_path, monkeypatch):
    import remixmusic.generation.loading as loading

    def no_load(*args, **kwargs):
        raise AssertionError("loaded a model before validating the settings")

    monkeypatch.setattr(loading, "load_model", no_load)
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["experiment", "--top-p", "0", "-o", str(out)])
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError)
    assert "top_p" in str(result.exception) and not out.exists()
