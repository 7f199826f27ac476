"""Settings: legacy dict keys, defaults, validation in one place, no mutation of the caller's dict."""

from __future__ import annotations

import json

import pytest

from pytorch_hyperlight import ConfigError, Settings

SEED_EXTRA_CONFIG = {
    "seed": 16,
    "metric_to_optimize": "val_f1_epoch",
    "ray_metrics_to_show": ["val_loss_epoch", "val_f1_epoch", "val_acc_epoch"],
    "metric_opt_mode": "max",
    "cpu_per_trial": 3,
    "gpu_per_trial": 0.0,
    "n_checkpoints_to_keep": 1,
    "grace_period": 6,
    "epoch_upper_limit": 45,
    "n_samples": 40,
    "ptl_early_stopping_patience": 7,
    "ptl_early_stopping_grace_period": 7,
    "ptl_precision": 32,
    "train_loader_name": "train_loader",
    "val_loader_name": "val_loader",
    "test_loader_name": "test_loader",
    "batch_size_main": 32,
    "gpus": -1,
}


def test_every_key_of_the_seed_readme_extra_config_is_accepted() -> None:
    settings = Settings.from_any(SEED_EXTRA_CONFIG)
    assert settings.metric_to_optimize == "val_f1_epoch"
    assert settings.ray_metrics_to_show == ("val_loss_epoch", "val_f1_epoch", "val_acc_epoch")
    assert settings.epoch_upper_limit == 45


def test_the_callers_dict_is_not_mutated() -> None:
    original = json.loads(json.dumps(SEED_EXTRA_CONFIG))
    Settings.from_any(SEED_EXTRA_CONFIG)
    assert original == SEED_EXTRA_CONFIG


def test_unknown_key_names_the_closest_valid_key() -> None:
    with pytest.raises(
        ConfigError,
        match=r"'ptl_early_stoping_patience'.*did you mean "
        r"'ptl_early_stopping_patience'",
    ):
        Settings.from_any({"ptl_early_stoping_patience": 3})


def test_all_bad_values_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_any({"metric_opt_mode": "maximum", "n_samples": 0, "searcher": "optuna"})
    message = str(caught.value)
    assert "metric_opt_mode: expected 'min' or 'max', got 'maximum'" in message
    assert "n_samples: expected an int >= 1, got 0" in message
    assert "searcher" in message and "'optuna'" in message


def test_settings_object_passes_through_and_is_frozen() -> None:
    settings = Settings(metric_to_optimize="val_acc", metric_opt_mode="max")
    assert Settings.from_any(settings) is settings
    with pytest.raises(AttributeError):
        settings.seed = 3  # type: ignore[misc]


def test_replace_validates_like_a_new_object() -> None:
    with pytest.raises(ConfigError, match="grace_period"):
        Settings().replace(grace_period=0)


def test_to_dict_is_json_serialisable_and_round_trips() -> None:
    settings = Settings.from_any(SEED_EXTRA_CONFIG)
    restored = Settings.from_any(json.loads(json.dumps(settings.to_dict())))
    assert restored == settings


def test_every_key_has_a_description() -> None:
    described = Settings.describe()
    assert set(described) >= set(SEED_EXTRA_CONFIG)
    assert all(help_text for _default, help_text in described.values())


def test_wrong_container_type_is_an_error() -> None:
    with pytest.raises(ConfigError, match="must be a dict"):
        Settings.from_any(["metric_to_optimize"])  # type: ignore[arg-type]


def test_every_setting_has_one_rule_that_checks_its_value() -> None:
    """A new setting gets a rule in ``_RULES`` (``higher_is_better`` is checked with the metric)."""
    import dataclasses

    from pytorch_hyperlight import settings

    names = {f.name for f in dataclasses.fields(settings.Settings)}
    assert names - set(settings._RULES) == {"higher_is_better"}
    assert set(settings._RULES) <= names
