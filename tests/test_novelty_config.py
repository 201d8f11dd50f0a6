"""The novelty analysis' config objects: validated on construction, strict from_dict, JSON round trips."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from remixmusic.errors import ConfigError, RemixError
from remixmusic.novelty.config import AnalysisConfig, MatchConfig, SegmentConfig
from remixmusic.novelty.segment import Segmenter


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"min_length": 0}, "min_length"),
        ({"min_bits": -1.0}, "min_bits"),
        ({"stock_df": 0}, "stock_df"),
        ({"max_sources": 0}, "max_sources"),
        ({"df_cap": 2.5}, "df_cap"),
        ({"near": 1}, "near"),
        ({"seed_length": True}, "seed_length"),
        ({"max_seed_occurrences": 0}, "max_seed_occurrences"),
        ({"max_edits": -1}, "max_edits"),
        ({"edit_rate": 0.0}, "edit_rate"),
        ({"edit_rate": 1.5}, "edit_rate"),
        ({"extension": -2}, "extension"),
        ({"max_chains": 0}, "max_chains"),
    ],
)
def test_match_config_rejects_bad_values_naming_the_field(values, field) -> None:
    with pytest.raises(ConfigError, match=field):
        MatchConfig(**values)


def test_match_config_from_dict_is_strict_and_round_trips_through_json() -> None:
    config = MatchConfig(min_length=7, min_bits=20.5, max_edits=0, edit_rate=1.0, extension=0, near=False)
    assert MatchConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert set(config.to_dict()) == {f.name for f in fields(MatchConfig)}
    assert MatchConfig.from_dict({"max_chains": 3}) == MatchConfig(max_chains=3)  # missing: defaults
    with pytest.raises(ConfigError, match="max_chain, min_len"):
        MatchConfig.from_dict({"max_chain": 3, "min_len": 5})
    with pytest.raises(ConfigError, match="bogus"):
        config.replace(bogus=1)
    assert config.replace(max_edits=1).max_edits == 1 and config.max_edits == 0


def test_match_config_resolves_its_thresholds_from_the_index() -> None:
    class FakeIndex:  # what resolve() reads of an index
        chance_length, chance_bits, n_pieces = 6, 17.25, 1234

    def derived(config: MatchConfig) -> tuple:
        resolved = config.resolve(FakeIndex())  # type: ignore[arg-type]
        return resolved.min_length, resolved.min_bits, resolved.stock_df, resolved.seed_length

    assert derived(MatchConfig()) == (8, 17.25, 13, 4)
    assert derived(MatchConfig(min_length=12, stock_df=3, seed_length=5, min_bits=1.0)) == (12, 1.0, 3, 5)
    small = MatchConfig(min_length=4).resolve(FakeIndex())  # type: ignore[arg-type]
    assert small.seed_length == 3  # never below 3 symbols


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"method": "magic"}, "unknown segmentation 'magic'"),
        ({"threshold": -0.1}, "threshold"),
        ({"weights": (1.0, 1.0)}, "weights"),
        ({"weights": (0.0, 0.0, 0.0)}, "weights"),
        ({"weights": (0.5, -0.5, 1.0)}, "weight"),
        ({"min_notes": 5, "max_notes": 4}, "min_notes <= max_notes"),
        ({"min_notes": 0}, "min_notes"),
        ({"window_beats": 0}, "window_beats"),
    ],
)
def test_segment_config_rejects_bad_values(values, message) -> None:
    with pytest.raises(ConfigError, match=message):
        SegmentConfig(**values)
    with pytest.raises(RemixError, match=message):  # the segmenter validates through its config
        Segmenter(**values)


def test_segment_config_round_trips_through_json_and_builds_its_segmenter() -> None:
    config = SegmentConfig(method="fixed", weights=(1, 2, 1), window_beats=2, surprisal_k=-0.5)
    data = json.loads(json.dumps(config.to_dict()))
    assert data["weights"] == [1.0, 2.0, 1.0]
    assert SegmentConfig.from_dict(data) == config
    assert isinstance(SegmentConfig.from_dict(data).weights, tuple)
    segmenter = Segmenter.from_config(config)
    assert segmenter.config == config and segmenter.window_beats == 2.0 and segmenter.params() == data
    with pytest.raises(ConfigError, match="window"):
        SegmentConfig.from_dict({"window": 2})


def test_analysis_config_is_validated_and_round_trips_nested_through_json() -> None:
    config = AnalysisConfig(
        match=MatchConfig(max_chains=3, near=False),
        segmentation=SegmentConfig(method="surprisal", min_notes=3),
        label_share=0.6,
        leak_share=1.0,
        originality=False,
        invariance="rhythm",
        lines="skyline",
        seed=7,
    )
    data = json.loads(json.dumps(config.to_dict()))
    assert data["match"]["max_chains"] == 3 and data["segmentation"]["method"] == "surprisal"
    assert AnalysisConfig.from_dict(data) == config
    assert AnalysisConfig.from_dict({}) == AnalysisConfig()
    with pytest.raises(ConfigError, match=r"matching config field.*max_chain"):
        AnalysisConfig.from_dict({**data, "match": {"max_chain": 3}})
    with pytest.raises(ConfigError, match=r"analysis config field.*colour"):
        AnalysisConfig.from_dict({**data, "colour": 1})
    for values, message in [
        ({"label_share": 0.0}, "label_share"),
        ({"leak_share": 1.2}, "leak_share"),
        ({"originality": "yes"}, "originality"),
        ({"invariance": "pitch"}, "invariance"),
        ({"lines": "all"}, "line mode"),
        ({"seed": -1}, "seed"),
        ({"match": {"max_chains": 3}}, "MatchConfig"),
    ]:
        with pytest.raises(ConfigError, match=message):
            AnalysisConfig(**values)  # type: ignore[arg-type]


def test_analysis_options_replace_only_the_fields_they_name() -> None:
    base = AnalysisConfig(match=MatchConfig(max_edits=1), segmentation=SegmentConfig(min_notes=3), seed=2)
    changed = base.with_options(
        max_chains=4,
        segmentation="fixed",
        segmenter_params={"window_beats": 2.0},
        label_share=0.7,
        lines=None,
    )
    assert changed.match == MatchConfig(max_edits=1, max_chains=4)
    assert changed.segmentation == SegmentConfig(method="fixed", min_notes=3, window_beats=2.0)
    assert (changed.label_share, changed.seed, changed.lines) == (0.7, 2, None)
    assert base.with_options() == base and base.with_options(seed=None) == base
    with pytest.raises(ConfigError, match="max_chain, stock"):
        base.with_options(max_chain=3, stock=2)
    with pytest.raises(ConfigError, match=r"segmentation config field.*windows"):
        base.with_options(segmenter_params={"windows": 2})
    with pytest.raises(ConfigError, match="unknown segmentation 'magic'"):
        base.with_options(segmentation="magic")
