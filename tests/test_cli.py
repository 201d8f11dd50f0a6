"""The command line: fixed choices are enums (listed in --help, exit 2 before any work), bad settings are
one-line ConfigErrors (exit 1) raised before anything is loaded."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from remixmusic.cli import app, main
from remixmusic.cli.analyze import Invariance, Lines, Segmentation
from remixmusic.cli.generate import Kind
from remixmusic.cli.train import Preset
from remixmusic.errors import ConfigError
from remixmusic.generation.config import PRESETS
from remixmusic.music.lines import LINE_MODES
from remixmusic.novelty.segment import METHODS
from remixmusic.novelty.symbols import INVARIANCES

runner = CliRunner()


def _values(choices) -> list[str]:
    return [member.value for member in choices]


def test_choice_enums_match_the_library() -> None:
    assert _values(Invariance) == list(INVARIANCES)
    assert _values(Lines) == list(LINE_MODES)
    assert _values(Segmentation) == list(METHODS)
    assert _values(Preset) == list(PRESETS)
    assert _values(Kind) == ["kn", "infini"]


@pytest.fixture
def nothing_is_read(monkeypatch):
    """Fail the test if a command gets as far as reading MIDI, an index, a dataset or a model."""
    import remixmusic.data.datasets as datasets
    import remixmusic.experiment.provenance as provenance
    import remixmusic.novelty.analyze as novelty_analyze

    def fail(*args, **kwargs):
        raise AssertionError("the command started work before rejecting its options")

    monkeypatch.setattr(provenance, "analyze", fail)
    monkeypatch.setattr(novelty_analyze, "build_index", fail)
    monkeypatch.setattr(datasets, "load_dataset", fail)


@pytest.mark.parametrize(
    ("args", "option", "choices"),
    [
        (["analyze", "x", "--invariance", "bogus"], "--invariance", INVARIANCES),
        (["analyze", "x", "--lines", "bogus"], "--lines", LINE_MODES),
        (["analyze", "x", "--segmentation", "bogus"], "--segmentation", METHODS),
        (["index", "x", "--invariance", "bogus"], "--invariance", INVARIANCES),
        (["ngram", "x", "--kind", "bogus"], "--kind", ("kn", "infini")),
        (["train", "x", "--preset", "bogus"], "--preset", tuple(PRESETS)),
    ],
)
def test_a_bad_choice_exits_2_listing_the_choices_before_any_work(nothing_is_read, args, option, choices):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert option in result.output and "bogus" in result.output
    assert all(choice in result.output for choice in choices)


def test_help_lists_the_choices() -> None:
    result = runner.invoke(app, ["analyze", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert all(value in result.output for value in (*INVARIANCES, *LINE_MODES, *METHODS))


def test_choices_reach_the_api_as_plain_strings(monkeypatch, tmp_path) -> None:
    import remixmusic.experiment.provenance as provenance

    seen = {}

    class Stop(Exception):
        pass

    def record(query, against, **options):
        seen.update(options)
        raise Stop

    monkeypatch.setattr(provenance, "analyze", record)
    args = ["analyze", str(tmp_path), "--invariance", "transposed+tempo", "--lines", "merged-voices"]
    result = runner.invoke(app, [*args, "--segmentation", "fixed"])
    assert isinstance(result.exception, Stop)
    assert seen["invariance"] == "transposed+tempo" and seen["lines"] == "merged-voices"
    assert seen["segmentation"] == "fixed"
    assert all(type(seen[k]) is str for k in ("invariance", "lines", "segmentation"))
    runner.invoke(app, ["analyze", str(tmp_path)])
    assert seen["invariance"] is None and seen["lines"] is None  # the index's own views


def test_bad_sampling_settings_fail_before_the_model_loads(monkeypatch, tmp_path) -> None:
    pytest.importorskip("torch")
    import remixmusic.generation.loading as loading

    def fail(*args, **kwargs):
        raise AssertionError("loaded a model before validating the settings")

    monkeypatch.setattr(loading, "load_model", fail)
    result = runner.invoke(app, ["generate", "--top-p", "0", "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError)
    assert "top_p" in str(result.exception) and not (tmp_path / "out").exists()


def test_main_prints_a_config_error_as_one_line_and_exits_1(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["remixmusic", "train", "bach-chorales", "--steps", "0"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "max_steps" in err and "Traceback" not in err
