"""Searches built from a config: sweeps from the command line and search.params, config-group
sweeps composed per option, the outer --multirun loop, and what cannot be searched. Nothing trains."""

from __future__ import annotations

from pathlib import Path

import pytest
from ray import tune

from pytorch_hyperlight.config import compose as composing
from pytorch_hyperlight.config.jobs import Source, expand_multirun, plan_run, plan_search
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.results.config_record import trial_config
from pytorch_hyperlight.search.space import (
    VARIANT_KEY,
    VARIANTS_KEY,
    describe_search_space,
    resolve_variant,
    sample_config,
)
from tests.config.helpers import EXAMPLE_CONF, write_config_dir


def searched(overrides: list[str], config_dir: Path = EXAMPLE_CONF, **kwargs):  # type: ignore[no-untyped-def]
    with composing.config_dir_session(config_dir) as path:
        return plan_search(overrides, Source(path, "config", ("hyperlight", "tune")), **kwargs)


def test_command_line_sweeps_land_at_their_place_in_the_module_config() -> None:
    search, record = searched(
        [
            "model.lr=tag(log, interval(1e-4, 1e-1))",
            "data.batch_size=32,64",
            "model.net.n_hidden=choice(8, 16)",
        ]
    )
    described = describe_search_space(search.search_space)
    assert described["lr"] == {"type": "loguniform", "lower": 1e-4, "upper": 1e-1}
    assert described["batch_size"] == {"type": "grid", "values": [32, 64]}
    assert described["net/n_hidden"] == {"type": "choice", "categories": [8, 16]}
    assert search.search_space["net"]["_target_"] == "examples.digits_hydra.MLP"
    assert described["max_epochs"] == {"type": "constant", "value": 10}
    assert record.searched == {
        "model.lr": ("lr",),
        "data.batch_size": ("batch_size",),
        "model.net.n_hidden": ("net", "n_hidden"),
    }


def test_search_params_from_a_config_group_and_the_command_line_wins_per_key() -> None:
    search, _ = searched(["+search=mlp_width", "data.batch_size=16,128"])
    assert search.sweeps == {
        "model.lr": "tag(log, interval(1e-3, 1e-1))",
        "model.net.n_hidden": "choice(16, 32, 64, 128)",
        "data.batch_size": "16,128",
    }
    assert search.search_space["batch_size"] == tune.grid_search([16, 128])
    # The saved config keeps the composed values and the sweeps, so `tune` can run it again.
    assert search.config["data"]["batch_size"] == 64
    assert search.config["search"]["params"] == search.sweeps


def test_a_config_group_sweep_composes_each_option_anew() -> None:
    search, record = searched(["model=mlp,cnn", "model.lr=interval(0.001, 0.01)"])
    space = search.search_space
    assert space[VARIANT_KEY] == tune.grid_search(["model=mlp", "model=cnn"])
    assert space[VARIANTS_KEY] == {
        "model=mlp": {"net": {"_target_": "examples.digits_hydra.MLP", "n_hidden": 64}},
        "model=cnn": {"net": {"_target_": "examples.digits_hydra.CNN", "n_channels": 8}},
    }
    # What a trial of the cnn option trains with: Ray's params resolved by the trainable.
    params = {**space, "lr": 0.004, VARIANT_KEY: "model=cnn"}
    trial = resolve_variant(params)
    assert trial == {
        "net": {"_target_": "examples.digits_hydra.CNN", "n_channels": 8},
        "lr": 0.004,
        "batch_size": 64,
        "max_epochs": 10,
        "gradient_clip_val": 0,
    }
    first = sample_config(space)  # the dry run's config: the first option, variant keys gone
    assert first["net"]["_target_"] == "examples.digits_hydra.MLP" and VARIANT_KEY not in first
    # Each trial's saved config is its own option's, with its sampled value.
    saved = trial_config(record, {"lr": 0.004, VARIANT_KEY: "model=cnn"})
    assert saved["model"] == {
        "_target_": "examples.digits_hydra.LitDigitsNet",
        "lr": 0.004,
        "net": {"_target_": "examples.digits_hydra.CNN", "n_channels": 8},
    }
    assert "search" not in saved


def test_choice_over_options_is_sampled_not_enumerated() -> None:
    search, _ = searched(["model=choice(mlp,cnn)", "model.lr=interval(0.001, 0.01)"])
    assert describe_search_space(search.search_space)[VARIANT_KEY]["type"] == "choice"


def test_a_searched_key_missing_from_one_option_names_the_option() -> None:
    with pytest.raises(
        ConfigError,
        match=r"With the swept option model=cnn: Could not override 'model\.net\.n_hidden'",
    ):
        searched(["model=mlp,cnn", "model.net.n_hidden=8,16"])


def test_options_with_different_module_classes_cannot_share_a_search(tmp_path: Path) -> None:
    config_dir = write_config_dir(
        tmp_path,
        {
            "config.yaml": """
            defaults:
              - model: tiny
              - _self_
            data: {_target_: examples.digits.configure_dataloaders, batch_size: 256}
            trainer: {max_epochs: 1}
            """,
            "model/tiny.yaml": "_target_: tests.models.TinyDigits\nlr: 0.05\n",
            "model/seed.yaml": "_target_: examples.digits.LitDigits\nlr: 0.05\nn_classes: 10\n",
        },
    )
    with pytest.raises(ConfigError, match=r"differ in the module class \(model\._target_\)"):
        searched(["model=tiny,seed", "model.lr=interval(0.01, 0.1)"], config_dir)


def test_a_value_computed_from_a_searched_one_is_an_error(tmp_path: Path) -> None:
    config_dir = write_config_dir(
        tmp_path,
        {
            "config.yaml": """
            model:
              _target_: tests.models.TinyDigits
              lr: 0.05
              n_hidden: 16
            data: {_target_: examples.digits.configure_dataloaders, batch_size: 256}
            trainer: {max_epochs: 1}
            runner: {run_name_prefix: "lr${model.lr}"}
            """,
        },
    )
    with pytest.raises(
        ConfigError, match=r"runner\.run_name_prefix follows the searched model\.lr"
    ):
        searched(["model.lr=interval(0.01, 0.1)"], config_dir)


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ("data.val_size=0.1,0.2", "only data.batch_size reaches each trial"),
        ("hyperlight.seed=1,2", "settings are the same for every trial"),
        ("model._target_=a.B,c.D", "the module class is the same in every trial"),
    ],
)
def test_keys_that_cannot_change_per_trial_say_to_use_multirun(sweep: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        searched([sweep])
    assert expected in str(error.value) and "--multirun" in str(error.value)


def test_tune_without_sweeps_says_where_to_put_them() -> None:
    with pytest.raises(ConfigError, match="`tune` found nothing to search"):
        searched([])


def test_run_given_a_sweep_says_to_use_tune() -> None:
    with composing.config_dir_session(EXAMPLE_CONF) as path, pytest.raises(ConfigError) as error:
        plan_run(["data.batch_size=16,32"], Source(path))
    assert "`run` trains one config" in str(error.value)
    assert "hyperlight tune" in str(error.value) and "--multirun" in str(error.value)


def test_multirun_expands_every_combination_last_sweep_fastest() -> None:
    with composing.config_dir_session(EXAMPLE_CONF):
        jobs = expand_multirun(["hyperlight.seed=1,2", "model=glob(*)", "trainer.max_epochs=3"])
    assert jobs == [
        ["hyperlight.seed=1", "model=cnn", "trainer.max_epochs=3"],
        ["hyperlight.seed=1", "model=mlp", "trainer.max_epochs=3"],
        ["hyperlight.seed=2", "model=cnn", "trainer.max_epochs=3"],
        ["hyperlight.seed=2", "model=mlp", "trainer.max_epochs=3"],
    ]


def test_multirun_cannot_enumerate_an_interval() -> None:
    with pytest.raises(ConfigError, match="--multirun cannot enumerate"):
        expand_multirun(["model.lr=interval(0, 1)"])


def test_under_multirun_the_search_space_comes_from_search_params() -> None:
    search, _ = searched(["+search=mlp_width", "hyperlight.seed=2"], outer_loop=True)
    assert set(search.searched) == {"model.lr", "model.net.n_hidden", "data.batch_size"}
    assert search.job.settings.seed == 2


def test_a_group_sweep_without_the_group_says_what_a_group_needs(tmp_path: Path) -> None:
    config_dir = write_config_dir(
        tmp_path,
        {
            "config.yaml": """
            model: {_target_: tests.models.TinyDigits, lr: 0.05}
            data: {_target_: examples.digits.configure_dataloaders, batch_size: 256}
            trainer: {max_epochs: 1}
            """,
        },
    )
    with pytest.raises(
        ConfigError, match=r"'model' is not a config group of this config directory"
    ):
        searched(["model=mlp,cnn"], config_dir)
