"""Composing configs the way Hydra users know, and every bad input found before training.

Runs on the digits config directory of ``examples/conf`` (and small directories written per test);
nothing trains.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytorch_hyperlight.config import compose as composing
from pytorch_hyperlight.config.jobs import Source, plan_run
from pytorch_hyperlight.config.schema import job_from_config
from pytorch_hyperlight.errors import ConfigError
from tests.config.helpers import BASE_CONFIG, EXAMPLE_CONF, write_config_dir


def composed(overrides: list[str], config_dir: Path = EXAMPLE_CONF) -> dict:
    with composing.config_dir_session(config_dir):
        return composing.resolve(composing.compose("config", overrides))


def planned(overrides: list[str], config_dir: Path = EXAMPLE_CONF):  # type: ignore[no-untyped-def]
    with composing.config_dir_session(config_dir) as path:
        return plan_run(overrides, Source(path, "config", ("hyperlight", "run")))


# --- each override form ----------------------------------------------------------------------------
def test_defaults_list_picks_the_group_defaults_and_framework_nodes_are_added() -> None:
    config = composed([])
    assert list(config)[:2] == ["model", "data"]
    assert config["model"]["net"]["_target_"] == "examples.digits_hydra.MLP"
    assert config["data"]["batch_size"] == 64
    assert config["hyperlight"]["metric_to_optimize"] == "val_f1"  # from config.yaml
    assert config["hyperlight"]["n_samples"] == 10  # a framework default
    assert config["runner"] == {
        "experiment_id": "digits",
        "run_name_prefix": None,
        "is_debug": False,
    }


def test_key_equals_value_changes_a_value() -> None:
    job, _ = planned(["model.lr=0.5", "hyperlight.seed=3"])
    assert job.module_config["lr"] == 0.5
    assert job.settings.seed == 3


def test_plus_adds_a_key_and_double_plus_adds_or_changes() -> None:
    job, _ = planned(["+model.weight_decay=0.1", "++model.lr=0.2", "++model.net.dropout=0.3"])
    assert job.module_config["weight_decay"] == 0.1
    assert job.module_config["lr"] == 0.2
    assert job.module_config["net"]["dropout"] == 0.3


def test_tilde_deletes_a_key() -> None:
    job, _ = planned(["~model.net.n_hidden"])
    assert job.module_config["net"] == {"_target_": "examples.digits_hydra.MLP"}


def test_group_equals_option_swaps_a_config_group() -> None:
    job, _ = planned(["model=cnn"])
    assert job.module_config["net"] == {"_target_": "examples.digits_hydra.CNN", "n_channels": 8}
    assert job.module_config["lr"] == 0.005


def test_a_preset_inherits_through_its_defaults_list() -> None:
    config = composed(["data=digits_small_batches"])
    assert config["data"] == {
        "_target_": "examples.digits.configure_dataloaders",
        "batch_size": 16,  # the preset's
        "val_size": 0.2,  # inherited from digits.yaml
    }


def test_a_global_experiment_config_overrides_groups_and_values() -> None:
    job, _ = planned(["+experiment=good_run", "model.net.n_channels=4"])
    assert job.module_config["net"] == {"_target_": "examples.digits_hydra.CNN", "n_channels": 4}
    assert job.module_config["lr"] == 0.003
    assert job.module_config["batch_size"] == 16
    assert job.module_config["max_epochs"] == 12
    assert job.settings.seed == 1


def test_interpolation_resolves_and_data_keys_reach_the_loader_function(tmp_path: Path) -> None:
    config_dir = write_config_dir(
        tmp_path,
        {
            "config.yaml": """
            model:
              _target_: tests.models.TinyDigits
              lr: 0.05
              n_hidden: ${trainer.max_epochs}
            data:
              _target_: examples.digits.configure_dataloaders
              batch_size: 256
              val_size: 0.25
            trainer:
              max_epochs: 1
            """
        },
    )
    job, _ = planned(["trainer.max_epochs=3"], config_dir)
    assert job.module_config["n_hidden"] == 3
    assert job.configure_dataloaders.keywords == {"val_size": 0.25}  # type: ignore[attr-defined]
    assert job.module_config["batch_size"] == 256


# --- bad input: one clear error each ---------------------------------------------------------------
def test_bad_yaml_names_the_file_and_the_line(tmp_path: Path) -> None:
    config_dir = write_config_dir(
        tmp_path,
        {"config.yaml": "defaults:\n  - model: m\n", "model/m.yaml": "lr: 0.1\n  n: [1\n"},
    )
    with pytest.raises(
        ConfigError, match=r"Bad YAML in .*model/m\.yaml, line 2, column 4: mapping"
    ):
        composed([], config_dir)


def test_overriding_a_key_that_does_not_exist_suggests_the_closest_and_the_plus_form() -> None:
    with pytest.raises(ConfigError) as error:
        composed(["model.net.n_hiden=3"])
    message = str(error.value)
    assert "did you mean 'model.net.n_hidden'?" in message
    assert "+model.net.n_hiden=3" in message


def test_an_unknown_group_option_lists_the_options() -> None:
    with pytest.raises(ConfigError, match=r"Could not find 'model/cnnn' \(did you mean 'cnn'\?\)"):
        composed(["model=cnnn"])


def test_an_unknown_top_level_key_suggests_the_closest(tmp_path: Path) -> None:
    config_dir = write_config_dir(tmp_path, {"config.yaml": BASE_CONFIG + "    modle: {}\n"})
    with pytest.raises(
        ConfigError, match=r"Unknown key The config's top level\.modle \(did you mean 'model'\?\)"
    ):
        planned([], config_dir)


def test_a_misspelled_setting_gets_did_you_mean_from_settings() -> None:
    with pytest.raises(
        ConfigError,
        match=r"hyperlight node: Unknown settings key 'seedd' \(did you mean 'seed'\?\)",
    ):
        planned(["+hyperlight.seedd=1"])


def test_a_misspelled_loader_argument_gets_did_you_mean() -> None:
    with pytest.raises(
        ConfigError, match=r"Unknown key data\.val_sise \(did you mean 'val_size'\?\)"
    ):
        planned(["+data.val_sise=0.1"])


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            "examples.digits_hydra.LitDigitsNett",
            "module 'examples.digits_hydra' has no attribute 'LitDigitsNett' (did you mean 'LitDigitsNet'?)",
        ),
        ("exampels.digits_hydra.LitDigitsNet", "no module named 'exampels'"),
        (
            "examples.digits_hydra:LitDigitsNet.nope",
            "object 'examples.digits_hydra.LitDigitsNet' has no attribute 'nope'",
        ),
    ],
)
def test_a_target_that_does_not_resolve_names_the_part_that_fails(
    target: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        planned([f"model._target_={target}"])
    assert f"model._target_='{target}'" in str(error.value)
    assert expected in str(error.value)


def test_a_module_argument_the_class_does_not_take_is_found_before_training() -> None:
    with pytest.raises(ConfigError, match="Config key 'foo' is neither read by the framework"):
        planned(["+model.foo=1"])


def test_a_missing_max_epochs_says_where_to_set_it() -> None:
    with pytest.raises(ConfigError, match=r"trainer\.max_epochs has no value"):
        planned(["~trainer.max_epochs"])


def test_framework_keys_in_the_model_node_are_redirected() -> None:
    with pytest.raises(
        ConfigError,
        match=r"model\.batch_size: the framework reads batch_size from data\.batch_size",
    ):
        planned(["+model.batch_size=8"])


def test_a_missing_primary_config_says_how_to_pick_another(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("a: 1\n")
    with pytest.raises(ConfigError, match=r"No primary config 'config'.*--config-name"):
        composed([], tmp_path)


def test_job_from_config_needs_model_and_data() -> None:
    with pytest.raises(ConfigError, match="The config has no 'data' node"):
        job_from_config({"model": {"_target_": "tests.models.TinyDigits"}})
