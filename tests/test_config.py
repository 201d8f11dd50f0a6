"""Every config dataclass validates its values and reads its dict strictly, raising ConfigError (a RemixError)."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from remixmusic.errors import ConfigError, RemixError
from remixmusic.generation.checkpoint_info import default_checkpoint_path
from remixmusic.generation.config import PRESETS, ModelConfig, preset
from remixmusic.generation.training.config import TrainConfig


def test_config_error_is_a_user_error_and_a_value_error() -> None:
    assert issubclass(ConfigError, RemixError) and issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"n_embd": 5}, "n_embd"),  # not a multiple of n_head
        ({"n_head": 3, "n_embd": 9}, "n_embd"),  # odd head size
        ({"n_layer": 0}, "n_layer"),
        ({"block_size": -1}, "block_size"),
        ({"dropout": 1.0}, "dropout"),
        ({"positions": "alibi"}, "positions"),
        ({"rope_base": 0.0}, "rope_base"),
    ],
)
def test_model_config_rejects_bad_values(values, field) -> None:
    with pytest.raises(ConfigError, match=field):
        ModelConfig(vocab_size=10, **values)


def test_model_config_from_dict_is_strict_and_round_trips() -> None:
    config = preset("small", 344, dropout=0.0)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="n_layers, width"):
        ModelConfig.from_dict({**config.to_dict(), "width": 3, "n_layers": 3})
    with pytest.raises(ConfigError, match="vocab_size"):
        ModelConfig.from_dict({"n_layer": 2})


def test_presets_reject_unknown_names_and_fields() -> None:
    assert set(PRESETS) == {"tiny", "mini", "small", "base"}
    with pytest.raises(ConfigError, match="huge"):
        preset("huge", 10)
    with pytest.raises(ConfigError, match="layers"):
        preset("tiny", 10, layers=3)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"preset": "huge"}, "preset"),
        ({"model": {"n_embd": 63}}, "n_embd"),
        ({"model": {"layers": 3}}, "layers"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_minutes": 0}, "max_minutes"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": -0.1}, "lr"),
        ({"min_lr_ratio": 2}, "min_lr_ratio"),
        ({"beta2": 1.0}, "beta"),
        ({"eval_interval": 0}, "eval_interval"),
        ({"patience": -1}, "patience"),
        ({"transpose": -1}, "transpose"),
        ({"threads": -2}, "threads"),
    ],
)
def test_train_config_rejects_bad_values(values, field) -> None:
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{"preset": "tiny", **values})


def test_train_config_from_dict_rejects_unknown_keys_by_name() -> None:
    config = TrainConfig(preset="tiny", max_steps=3)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="learning_rate, warmup"):
        TrainConfig.from_dict({**config.to_dict(), "warmup": 10, "learning_rate": 0.1})


def test_the_shipped_checkpoint_configs_still_read_strictly() -> None:
    saved = json.loads((default_checkpoint_path() / "config.json").read_text())
    train = TrainConfig.from_dict(saved["training"])
    # Every saved field reads back as saved; fields added since (snapshot_steps) take their defaults.
    assert {k: v for k, v in train.to_dict().items() if k in saved["training"]} == saved["training"]
    assert set(train.to_dict()) - set(saved["training"]) <= {"snapshot_steps"}
    assert train.snapshot_steps == ()
    model = ModelConfig.from_dict(saved["model"])
    assert model == train.model_config(saved["model"]["vocab_size"])
    # A checkpoint written before a field existed lacks it: the default fills in.
    older = {k: v for k, v in saved["training"].items() if k not in ("beta1", "beta2", "amp")}
    assert TrainConfig.from_dict(older).beta2 == TrainConfig.beta2


def test_sampling_config_is_validated_and_strict() -> None:
    pytest.importorskip("torch")
    from remixmusic.generation.sampling import SamplingConfig

    config = SamplingConfig(n=2, bars=None, top_k=5)
    assert SamplingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert {f.name for f in fields(SamplingConfig)} == set(config.to_dict())
    for values in ({"n": 0}, {"bars": 0}, {"max_tokens": 1}, {"temperature": -1}, {"top_p": 1.5}):
        with pytest.raises(ConfigError, match=next(iter(values))):
            SamplingConfig(**values)
    with pytest.raises(ConfigError, match="seeds"):
        SamplingConfig.from_dict({"seeds": 3})


def test_baseline_parameters_raise_config_errors() -> None:
    pytest.importorskip("torch")
    from remixmusic.generation.baselines.infinigram import InfiniGram
    from remixmusic.generation.baselines.ngram import NGramModel

    with pytest.raises(ConfigError, match="max_order"):
        NGramModel(10, 0, max_order=1)
    with pytest.raises(ConfigError, match="min_order"):
        NGramModel(10, 0, max_order=4, min_order=5)
    with pytest.raises(ConfigError, match="max_context"):
        InfiniGram(10, 0, max_context=0)
