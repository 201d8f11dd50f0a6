"""The experiment: config, the building blocks, every decision rule's outcomes, and the pipeline end to end
(cached, resumable, reproducible)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from remixmusic.cli import app
from remixmusic.data.datasets import load_dataset
from remixmusic.data.tokens import encode_pieces
from remixmusic.errors import ConfigError
from remixmusic.evaluation.descriptors import describe_pieces
from remixmusic.evaluation.melodic import describe_melody, melodic_matrix
from remixmusic.evaluation.two_sample import knn_two_sample
from remixmusic.experiment import design as D
from remixmusic.experiment.conditions import Condition, shuffled
from remixmusic.experiment.config import ExperimentConfig, RunSpec
from remixmusic.experiment.measure import Measured, fit_judge, quality_of
from remixmusic.experiment.questions import pareto_frontier, question1, question2, question3, spearman_ci
from remixmusic.experiment.training_runs import fraction_indices
from remixmusic.music.notes import Piece, empty_notes
from remixmusic.tokenizer.remi import RemiTokenizer


# -- config -------------------------------------------------------------------------------------------------
def test_config_validates_and_round_trips():
    config = ExperimentConfig()
    assert ExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert (1.0, 1.0) in config.settings() and (1.0, 0.9) in config.settings()
    assert len(config.settings()) == len(set(config.settings()))
    with pytest.raises(ConfigError, match="main_run"):
        ExperimentConfig(runs=("tiny:1.0",), main_run="mini:1.0")
    with pytest.raises(ConfigError, match="preset:fraction"):
        RunSpec.parse("tiny:2")
    with pytest.raises(ConfigError, match="snapshot_steps"):
        ExperimentConfig(train_steps=100, snapshot_steps=(50, 200))
    with pytest.raises(ConfigError, match="temperatures"):
        ExperimentConfig(temperatures=(0.0,))
    with pytest.raises(ConfigError, match="unknown"):
        ExperimentConfig.from_dict({"bogus": 1})
    quick = config.quick()
    assert quick.n < config.n and quick.train_steps < config.train_steps
    assert RunSpec.parse("mini:0.3").name == "mini-30pct"


def test_fraction_indices_whole_groups_and_nested():
    rng = np.random.default_rng(0)
    groups = [f"g{int(x)}" for x in rng.integers(0, 60, 400)]
    small, large = fraction_indices(groups, 0.1, 3), fraction_indices(groups, 0.3, 3)
    assert set(small) <= set(large)
    assert 0.1 * 400 <= len(small) < 0.3 * 400 <= len(large)
    for picked in (small, large):  # whole groups: a group is all in or all out
        chosen = {groups[i] for i in picked}
        assert sorted(picked) == [i for i, g in enumerate(groups) if g in chosen]
    assert len(fraction_indices(groups, 1.0, 3)) == 400


# -- building blocks ----------------------------------------------------------------------------------------
def test_two_sample_test_separates_and_does_not():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(80, 4)), rng.normal(size=(120, 4))
    same = knn_two_sample(a, b, seed=0)
    assert same.n_per_sample == 80 and abs(same.accuracy - 0.5) < 0.12 and same.p_value > 0.01
    far = knn_two_sample(a, b + 3.0, seed=0)
    assert far.accuracy > 0.95 and far.p_value < 1e-10 and far.indistinguishability < 0.1
    assert math.isnan(knn_two_sample(a[:1], b).accuracy)
    with pytest.raises(ValueError):
        knn_two_sample(a, b[:, :3])


def test_shuffled_keeps_pitches_and_rhythm_per_track():
    notes = empty_notes(40)
    notes["onset"] = np.arange(40) * 12
    notes["duration"] = 12
    notes["pitch"] = np.r_[np.arange(60, 80), np.arange(40, 60)]
    notes["track"] = np.repeat([0, 1], 20)
    notes["velocity"] = 80
    piece = Piece(notes=notes)
    out = shuffled([piece], seed=0)[0]
    assert np.array_equal(out.notes["onset"], piece.notes["onset"])
    for t in (0, 1):
        sel = out.notes["track"] == t
        assert sorted(out.notes["pitch"][sel]) == sorted(piece.notes["pitch"][piece.notes["track"] == t])
    assert not np.array_equal(out.notes["pitch"], piece.notes["pitch"])


def _line(pitches, iois=None) -> Piece:
    notes = empty_notes(len(pitches))
    notes["onset"] = np.cumsum(np.r_[0, iois if iois is not None else [12] * (len(pitches) - 1)])
    notes["duration"] = 12
    notes["pitch"] = pitches
    notes["velocity"] = 80
    return Piece(notes=notes)


def test_melodic_descriptors_by_hand():
    # Intervals +2 +2 -1 +7 -2 +2 +2 -1 +7 -2: steps 8 of 10, leaps +7 twice, both followed by -2.
    d = describe_melody(_line([60, 62, 64, 63, 70, 68, 70, 72, 71, 78, 76]))
    assert d["step_share"] == pytest.approx(0.8)
    assert d["post_skip_reversal"] == pytest.approx(1.0)
    # (+2 +2 -1), (+2 -1 +7), (-1 +7 -2) recur at equal IOIs: 6 of the 8 four-note patterns repeat.
    steps = np.diff([60, 62, 64, 63, 70, 68, 70, 72, 71, 78, 76])
    grams = [tuple(steps[i : i + 3]) for i in range(8)]
    assert d["self_repetition"] == pytest.approx(0.75) == np.mean([grams.count(g) > 1 for g in grams])
    assert d["interval_autocorrelation"] == pytest.approx(np.corrcoef(steps[:-1], steps[1:])[0, 1])
    # A different rhythm breaks the repetition; a line of two notes defines nothing.
    assert (
        describe_melody(
            _line([60, 62, 64, 63, 70, 68, 70, 72, 71, 78, 76], [12, 6, 12, 24, 12, 12, 6, 6, 12, 12])
        )["self_repetition"]
        < d["self_repetition"]
    )
    assert all(math.isnan(v) for v in describe_melody(_line([60, 62])).values())
    assert math.isnan(describe_melody(_line([60, 62, 64, 65]))["post_skip_reversal"])  # no leap


def test_the_quality_judge_tells_human_tunes_from_their_reorderings():
    """The classifier two-sample test of question 2 must see note order: descriptors alone cannot tell
    a chorale from the same notes reordered (they are identical), the melodic features can."""
    pieces = [p for p in load_dataset("bach-chorales").pieces("test") if len(p.notes)]
    human = describe_pieces(pieces)
    reordered = Condition("reordered", Path("."), shuffled(pieces, 0), [str(i) for i in range(len(pieces))])
    tok = RemiTokenizer()
    judge = fit_judge(encode_pieces(tok, pieces[:8]), tok.vocab_size, tok.bos_id)
    blind = quality_of(reordered, human, judge, tok, seed=0)
    seeing = quality_of(reordered, human, judge, tok, seed=0, human_melodic=melodic_matrix(pieces))
    assert blind["quality"] < 0.2 and blind["c2st_accuracy"] < 0.2  # each piece's nearest is its twin
    assert seeing["c2st_accuracy"] > 0.85 and seeing["c2st_p"] < 1e-6
    # Against a second, disjoint draw of human chorales the judge stays near chance.
    other = Condition("other", Path("."), pieces[1::2], [str(i) for i in range(len(pieces[1::2]))])
    half = quality_of(
        other, describe_pieces(pieces[::2]), judge, tok, seed=0, human_melodic=melodic_matrix(pieces[::2])
    )
    assert 0.25 < half["c2st_accuracy"] < 0.75


def test_pareto_and_spearman():
    assert pareto_frontier([(0.1, 0.5), (0.2, 0.4), (0.3, 0.9), (0.05, 0.2)]) == {0, 2, 3}
    rho, lo, hi = spearman_ci(range(10), [x * 2 for x in range(10)], seed=0)
    assert rho == pytest.approx(1.0) and lo > 0.9
    rho, lo, hi = spearman_ci(range(10), range(10, 0, -1), seed=0)
    assert rho == pytest.approx(-1.0) and hi < -0.9
    assert math.isnan(spearman_ci([1, 2], [3, 4], seed=0)[0])


# -- the rules: every outcome reachable ---------------------------------------------------------------------
def _measured(
    name: str,
    means: dict[str, float],
    n: int = 30,
    spread: float = 0.02,
    seed: int = 0,
    quality: dict[str, float] | None = None,
) -> Measured:
    rng = np.random.default_rng(seed)
    values = {key: [] for key, _, _ in D.MEASURES}
    for key in values:
        mu = means.get(key, 0.1)
        values[key] = list(np.clip(mu + rng.normal(0, spread, n), 0, 1))
    return Measured(
        name,
        [f"p{i}" for i in range(n)],
        [f"{name}/{i}" for i in range(n)],
        [False] * n,
        values,
        quality or {},
    )


def _q1(model: float, patch: float, n: int = 30) -> str:
    human = _measured(D.HUMAN, {"span_coverage_1": 0.3}, seed=1)
    measured = {
        D.HUMAN: human,
        D.transformer(*D.MAIN_SETTING): _measured("t", {"span_coverage_1": model}, n=n, seed=2),
        D.patchwork(1): _measured("p", {"span_coverage_1": patch}, seed=3),
    }
    return question1(measured, (1,), 0.05, 20, 0).outcome


def test_question1_outcomes():
    assert _q1(model=0.6, patch=0.9).startswith("recombines more at >= 1 bar")
    assert _q1(model=0.1, patch=0.9) == "recombines less"
    assert _q1(model=0.3, patch=0.9) == "no more than human"
    assert _q1(model=0.6, patch=0.3) == "no verdict"  # the control does not register: no verdict
    assert _q1(model=0.6, patch=0.9, n=5) == "inconclusive"


def _settings(slope: float, k: int = 6) -> list[Measured]:
    out = []
    for i in range(k):
        r = 0.1 + 0.1 * i
        acc = (
            0.5 + 0.4 * (1 - i / (k - 1))
            if slope > 0
            else 0.5 + 0.4 * i / (k - 1)
            if slope < 0
            else (0.6 if i % 2 else 0.9)
        )
        out.append(_measured(f"s{i}", {"granularity_share": r}, seed=i, quality={"c2st_accuracy": acc}))
    return out


def test_question2_outcomes():
    assert question2(_settings(+1), 4, 0).outcome == "yes"
    assert question2(_settings(-1), 4, 0).outcome == "opposite"
    assert question2(_settings(0, k=4), 4, 0).outcome == "no association"
    assert question2(_settings(+1, k=3), 4, 0).outcome.startswith("inconclusive")
    rows = question2(_settings(+1), 4, 0).rows
    assert sum(r["frontier"] for r in rows) >= 1


def test_question3_outcomes():
    human = _measured(D.HUMAN, {"copied_coverage": 0.05}, seed=9)

    def run(levels: list[float]) -> list:
        return [
            (
                {
                    "step": 10 * 2**k,
                    "train_bits_per_note": 3 - k,
                    "valid_bits_per_note": 3.0,
                    "gap": float(k),
                },
                _measured(f"r-step{k}", {"copied_coverage": lv}, seed=k),
            )
            for k, lv in enumerate(levels)
        ]

    copies = question3({"r": run([0.05, 0.05, 0.3, 0.6])}, human, {"r": 20}, 0.05, 20, 0)
    assert (
        copies.outcome == "copies (1 of 1 runs)"
        and "from step 40 after the best validation step 20" in copies.text
    )
    assert question3({"r": run([0.05] * 4)}, human, {"r": 20}, 0.05, 20, 0).outcome == "no copying"
    assert question3({"r": run([0.05] * 3)}, human, {"r": 20}, 0.05, 20, 0).outcome == "inconclusive"


# -- end to end ---------------------------------------------------------------------------------------------
TINY = {
    "bars": 4,
    "n": 6,
    "sample_seeds": (0, 1),
    "temperatures": (1.0,),
    "top_ps": (0.9,),
    "infinigram_contexts": (0,),
    "patchwork_bars": (1,),
    "ngram": False,
    "n_prompts": 4,
    "prompt_bars": 1,
    "runs": ("tiny:0.3",),
    "main_run": "tiny:0.3",
    "train_steps": 6,
    "snapshot_steps": (2, 4, 6),
    "snapshot_n": 4,
    "snapshot_temperatures": (0.7, 1.0),
    "train_batch_size": 2,
    "block_size": 64,
    "min_pieces": 3,
    "min_settings": 3,
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from remixmusic.experiment import training_runs
    from remixmusic.experiment.run import run_experiment

    out = tmp_path_factory.mktemp("experiment")
    config = ExperimentConfig(**TINY)
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training_runs, "SCORED_PIECES", 8)  # validation and scoring on 8 valid chorales
        result = run_experiment(config, out, jobs=1, show_progress=False, log=lines.append)
    return config, out, result, lines


def test_pipeline_writes_every_output(tiny_run):
    _config, out, result, _ = tiny_run
    for name in (
        "results.json",
        "experiment.html",
        "results.md",
        *("granularity.png", "frontier.png", "memorisation.png"),
    ):
        assert (out / name).stat().st_size > 0
    data = json.loads((out / "results.json").read_text())
    assert [a["question"][0] for a in data["answers"]] == ["1", "2", "3"]
    names = {r["condition"] for r in data["conditions"]}
    assert {
        D.HUMAN,
        D.SHUFFLED,
        D.patchwork(1),
        D.infinigram(0),
        D.transformer(1.0, 1.0),
        D.transformer(1.0, 0.9),
        D.PROMPTED_MODEL,
        D.PROMPTED_HUMAN,
    } <= names
    assert {D.snapshot("tiny-30pct", s, t) for s in (2, 4, 6) for t in (0.7, 1.0)} <= names
    # One memorisation curve per snapshot temperature, each with its snapshots in step order.
    curves = [(r["run"], r["step"]) for r in data["answers"][2]["rows"]]
    assert curves == [(c, s) for c in ("tiny-30pct at T=0.7", "tiny-30pct") for s in (2, 4, 6)]
    assert len(result.snapshots["tiny-30pct"]) == 3
    page = (out / "experiment.html").read_text()
    assert "http://" not in page and "https://" not in page and "<img" in page
    assert result._repr_html_().count("<tr>") == 3 and len(result._repr_html_()) < 3000
    assert list(result.table["condition"]) == list(result.measured)


def test_pure_recombination_registers_and_chance_does_not(tiny_run):
    _, _, result, _ = tiny_run
    m = result.measured
    # The unbounded ∞-gram replays training pieces; the shuffled human pieces are chance.
    assert m[D.infinigram(0)].mean("span_coverage_1") > m[D.SHUFFLED].mean("span_coverage_1")
    assert m[D.patchwork(1)].mean("span_coverage_1") > m[D.SHUFFLED].mean("span_coverage_1")


def test_resume_reuses_every_stage_and_reproduces(tiny_run):
    from remixmusic.experiment import training_runs
    from remixmusic.experiment.run import run_experiment

    config, out, result, _ = tiny_run
    lines: list[str] = []
    again = run_experiment(config, out, jobs=1, show_progress=False, log=lines.append)
    made = [line for line in lines if line.startswith("   ") and not line.startswith("   run ")]
    assert not made  # nothing trained, made or analysed again
    assert [a.text for a in again.answers] == [a.text for a in result.answers]
    # A changed setting reruns only what reads it: another temperature adds one condition.
    more = replace(config, temperatures=(1.0, 0.8))
    lines.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training_runs, "SCORED_PIECES", 8)
        run_experiment(more, out, jobs=1, show_progress=False, log=lines.append)
    made = [line.strip() for line in lines if line.startswith("   ") and not line.startswith("   run ")]
    assert made == [D.transformer(0.8, 1.0), f"analysing {D.transformer(0.8, 1.0)} (6 pieces)"]


def test_a_new_matcher_version_reanalyses_every_condition_and_nothing_else(tiny_run):
    """Cached analyses are keyed by the matcher's version too: a change to what matching labels (with the
    same settings) reanalyses every condition, and trains, samples and judges nothing again."""
    from remixmusic.experiment import training_runs
    from remixmusic.experiment.run import run_experiment
    from remixmusic.novelty import config as novelty_config

    config, out, result, _ = tiny_run
    for version in ("test", novelty_config.MATCHER_VERSION):  # then back, for the tests after this one
        lines: list[str] = []
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(training_runs, "SCORED_PIECES", 8)
            mp.setattr(novelty_config, "MATCHER_VERSION", version)
            again = run_experiment(config, out, jobs=1, show_progress=False, log=lines.append)
        made = [line.strip() for line in lines if line.startswith("   ") and not line.startswith("   run ")]
        assert made and all(line.startswith("analysing ") for line in made)
        assert len(made) == len(again.measured)
    assert [a.text for a in again.answers] == [a.text for a in result.answers]


def test_cli_quick_options_fail_early(tmp_path):
    result = CliRunner().invoke(
        app, ["experiment", "--config", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x")]
    )
    assert result.exit_code != 0 and "cannot read experiment config" in f"{result.output}{result.exception}"
    (tmp_path / "bad.json").write_text(json.dumps({"n": 0}))
    result = CliRunner().invoke(
        app, ["experiment", "--config", str(tmp_path / "bad.json"), "-o", str(tmp_path / "x")]
    )
    assert result.exit_code != 0 and "n must be at least 1" in f"{result.output}{result.exception}"
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_quick_answers_all_three_questions(tmp_path):
    """``remixmusic experiment --quick`` (about 1.5 minutes on 2 idle cores): every question gets a verdict
    (its snapshots are trained far enough to write analysable pieces), and the page and plots exist."""
    result = CliRunner().invoke(app, ["experiment", "--quick", "-o", str(tmp_path / "q"), "-j", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "q" / "results.json").read_text())
    assert [a["outcome"].startswith("inconclusive") for a in data["answers"]] == [False] * 3
    assert all(r["n"] >= 5 for r in data["answers"][2]["rows"])
    assert (tmp_path / "q" / "experiment.html").stat().st_size > 0


def test_the_example_notebook_runs_on_a_finished_run(tiny_run, tmp_path):
    """``examples/experiment.ipynb`` in a fresh kernel, pointed at the tiny run (every stage cached): no
    errors, the result's short display, the verdicts, a DataFrame and three pictures."""
    from pathlib import Path

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    config, out, result, _ = tiny_run
    nb = nbformat.read(Path(__file__).parent.parent / "examples" / "experiment.ipynb", as_version=4)
    assert all(not c.outputs for c in nb.cells if c.cell_type == "code")  # committed without outputs
    setup = next(c for c in nb.cells if c.cell_type == "code" and "ExperimentConfig().quick()" in c.source)
    setup.source = (
        "import json\nfrom remixmusic.experiment.config import ExperimentConfig\n"
        "from remixmusic.experiment.run import run_experiment\n"
        f"config = ExperimentConfig.from_dict(json.loads({json.dumps(json.dumps(config.to_dict()))}))\n"
        f"OUT = {str(out)!r}"
    )
    nbclient.NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs)
    assert all(a.outcome in text for a in result.answers)
    rerun = [line for line in text.splitlines() if line.startswith("   ") and not line.startswith("   run ")]
    assert not rerun  # every stage came from the cache
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3
    assert any("<table" in o.get("data", {}).get("text/html", "") for o in outputs)


def test_patchworks_are_training_chunks_in_full_texture():
    from remixmusic.data.datasets import load_dataset
    from remixmusic.experiment.conditions import patchworks
    from remixmusic.music.notes import bar_length
    from remixmusic.tokenizer.remi import RemiTokenizer

    tokenizer = RemiTokenizer()
    train = [
        tokenizer.canonicalize(p)
        for p in load_dataset("bach-chorales").pieces("train", show_progress=False)[:40]
    ]
    for piece in patchworks(train, 4, 2, 8, seed=5):
        ((_, num, den),) = piece.meter_map()
        bar = bar_length(int(num), int(den))
        assert piece.n_bars <= 8 and piece.notes["onset"].max() < 8 * bar
        for c in range(4):
            chunk = piece.crop(c * 2 * bar, (c + 1) * 2 * bar).notes
            key = sorted(zip(chunk["onset"], np.diff(np.r_[chunk["pitch"][:1], chunk["pitch"]]), strict=True))
            found = False
            for source in train:
                for first in range(source.n_bars):
                    part = source.crop(first * bar, (first + 2) * bar).notes
                    if (
                        len(part) == len(chunk)
                        and sorted(
                            zip(part["onset"], np.diff(np.r_[part["pitch"][:1], part["pitch"]]), strict=True)
                        )
                        == key
                    ):
                        found = True
                        break
                if found:
                    break
            assert found, f"chunk {c} is not a transposed two-bar chunk of a training piece"
            assert len(np.unique(chunk["onset"])) < len(chunk)  # chords: all voices, not the melody only


def test_a_run_trained_with_other_settings_is_never_reused(tiny_run):
    from remixmusic.errors import RemixError
    from remixmusic.experiment.run import run_experiment

    config, out, _, _ = tiny_run
    with pytest.raises(RemixError, match="trained with other settings"):
        run_experiment(replace(config, transpose=0), out, jobs=1, show_progress=False)


def test_human_pieces_whose_melody_is_a_training_tune_are_no_control():
    from remixmusic.data.datasets import load_dataset
    from remixmusic.data.tune_match import melody_duplicates

    data = load_dataset("bach-chorales")
    train, test = data.pieces("train", show_progress=False), data.pieces("test", show_progress=False)
    names = [p.source.rsplit("/", 1)[-1] for p in test]
    train_names = [p.source.rsplit("/", 1)[-1] for p in train]
    dup = melody_duplicates(train, test)
    # "Meinen Jesum lass ich nicht": bwv70.11 (test) harmonises the tune of bwv154.8 (train); the
    # function says which training piece holds the tune.
    assert train_names[dup[names.index("bwv70.11.mid")]] == "bwv154.8.mid"
    assert 0 < (dup >= 0).sum() < len(test) // 4
    assert not (melody_duplicates(train[:50], train[50:60]) >= 0).all()


def test_docs_collects_each_corpus_section_with_its_command_and_figures(tiny_run, tmp_path):
    from remixmusic.experiment.docs import write_docs

    _, out, result, _ = tiny_run
    page = write_docs(result, out, tmp_path / "docs", "remixmusic experiment --config x.json --docs docs")
    text = page.read_text()
    assert text.startswith("# Results") and "## bach-chorales" in text
    assert "remixmusic experiment --config x.json --docs docs" in text
    for figure in ("granularity.png", "frontier.png", "memorisation.png"):
        assert f"(results/bach-chorales/{figure})" in text
        assert (tmp_path / "docs" / "results" / "bach-chorales" / figure).stat().st_size > 0
    other = tmp_path / "docs" / "results" / "another" / "results.md"
    other.parent.mkdir()
    other.write_text("## another\n\ntext\n")
    assert "## another" in write_docs(result, out, tmp_path / "docs", "cmd").read_text()
