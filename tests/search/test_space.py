"""Unit tests of search-space description, checks per searcher and sampling (no Ray cluster)."""

from __future__ import annotations

import copy

import pytest
from ray import tune

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.search import space as spaces


def seed_space() -> dict:
    """The seed README's SEARCH_SPACE_CONFIG, shortened."""
    return {
        "unfreeze_epochs": [0, 1],
        "lr": tune.uniform(1e-5, 1e-4),
        "warmup": tune.choice([200, 500, 600, 1000]),
        "gradient_clip_val": 0,
        "max_epochs": tune.choice([10, 20, 30]),
        "batch_size": tune.choice([16, 32, 64]),
        "n_classes": 10,
    }


def test_describe_names_every_domain_type_with_its_bounds() -> None:
    space = {
        "a": tune.uniform(0.0, 1.0),
        "b": tune.loguniform(1e-4, 1e-1),
        "c": tune.quniform(0.0, 1.0, 0.25),
        "d": tune.qloguniform(1e-3, 1.0, 1e-3),
        "e": tune.randint(1, 10),
        "f": tune.qrandint(8, 64, 8),
        "g": tune.lograndint(1, 100),
        "h": tune.choice(["relu", "tanh"]),
        "i": tune.grid_search([1, 2]),
        "j": tune.randn(0.5, 2.0),
        "k": tune.sample_from(lambda config: 3),
        "l": 7,
    }
    described = spaces.describe_search_space(space)
    assert described["a"] == {"type": "uniform", "lower": 0.0, "upper": 1.0}
    assert described["b"] == {"type": "loguniform", "lower": 1e-4, "upper": 1e-1}
    assert described["c"] == {"type": "quniform", "lower": 0.0, "upper": 1.0, "q": 0.25}
    assert described["d"]["type"] == "qloguniform"
    assert described["e"] == {"type": "randint", "lower": 1, "upper": 10}
    assert described["f"] == {"type": "qrandint", "lower": 8, "upper": 64, "q": 8}
    assert described["g"]["type"] == "lograndint"
    assert described["h"] == {"type": "choice", "categories": ["relu", "tanh"]}
    assert described["i"] == {"type": "grid", "values": [1, 2]}
    assert described["j"] == {"type": "randn", "mean": 0.5, "sd": 2.0}
    assert described["k"]["type"] == "sample_from"
    assert described["l"] == {"type": "constant", "value": 7}
    assert list(described) == list(space)


def test_describe_keeps_list_constants_and_names_nested_domains_by_path() -> None:
    described = spaces.describe_search_space(
        {"unfreeze_epochs": [0, 1], "optimizer": {"lr": tune.uniform(0, 1), "beta": 0.9}}
    )
    assert described["unfreeze_epochs"] == {"type": "constant", "value": [0, 1]}
    assert described["optimizer/lr"]["type"] == "uniform"
    assert "optimizer" not in described


def test_prepare_for_hyperopt_turns_grid_values_into_choices_with_a_note() -> None:
    space = {**seed_space(), "n_hidden": tune.grid_search([16, 32])}
    original = copy.deepcopy(space)
    prepared = spaces.prepare_search_space(space, "hyperopt")
    converted = prepared.param_space["n_hidden"]
    assert not converted.is_grid()
    assert list(converted.categories) == [16, 32]
    assert len(prepared.notes) == 1 and "n_hidden" in prepared.notes[0]
    assert "searcher='grid'" in prepared.notes[0]
    assert prepared.n_grid_points == 1
    assert "n_hidden" in prepared.searched
    # the caller's dict still holds the grid
    assert space["n_hidden"] == original["n_hidden"] == {"grid_search": [16, 32]}


def test_prepare_for_hyperopt_rejects_sample_from_naming_the_key() -> None:
    space = {**seed_space(), "dropout": tune.sample_from(lambda config: 0.1)}
    with pytest.raises(ConfigError, match=r"HyperOpt cannot sample tune\.sample_from.*dropout"):
        spaces.prepare_search_space(space, "hyperopt")


def test_prepare_for_random_keeps_grid_and_counts_grid_points() -> None:
    space = {**seed_space(), "a": tune.grid_search([1, 2, 3]), "b": tune.grid_search(["x", "y"])}
    prepared = spaces.prepare_search_space(space, "random")
    assert prepared.n_grid_points == 6
    assert prepared.n_trials(2) == 12
    assert prepared.param_space["a"] == {"grid_search": [1, 2, 3]}
    assert prepared.notes == ()


def test_grid_searcher_without_grid_values_is_an_error_that_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigError, match=r"searcher='grid' needs at least one tune\.grid_search"):
        spaces.prepare_search_space(seed_space(), "grid")


def test_space_without_any_searched_parameter_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no search domain: every value is a constant"):
        spaces.prepare_search_space({"lr": 0.1, "max_epochs": 3}, "random")


def test_space_that_is_not_a_dict_is_an_error() -> None:
    with pytest.raises(ConfigError, match="must be a dict"):
        spaces.prepare_search_space([("lr", tune.uniform(0, 1))], "random")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("max_epochs", "expected"),
    [
        (12, 12),
        (tune.choice([10, 30, 20]), 30),
        (tune.grid_search([3, 5]), 5),
        (tune.randint(2, 8), 7),  # Ray's randint excludes the upper bound
        (tune.qrandint(2, 8, 2), 8),  # its qrandint includes it
    ],
)
def test_default_epoch_upper_limit_is_the_largest_max_epochs(max_epochs, expected) -> None:
    assert spaces.default_epoch_upper_limit({"max_epochs": max_epochs}) == expected


def test_default_epoch_upper_limit_errors_without_max_epochs_or_with_a_float_domain() -> None:
    with pytest.raises(ConfigError, match="no 'max_epochs'"):
        spaces.default_epoch_upper_limit({"lr": tune.uniform(0, 1)})
    with pytest.raises(ConfigError, match="set epoch_upper_limit explicitly"):
        spaces.default_epoch_upper_limit({"max_epochs": tune.uniform(1, 5)})
    with pytest.raises(ConfigError, match="must be an int"):
        spaces.default_epoch_upper_limit({"max_epochs": 2.5})


def test_sample_config_is_concrete_seeded_and_leaves_the_space_alone() -> None:
    space = {**seed_space(), "n_hidden": tune.grid_search([16, 32])}
    first = spaces.sample_config(space, seed=3)
    assert first == spaces.sample_config(space, seed=3)
    assert 1e-5 <= first["lr"] <= 1e-4
    assert first["warmup"] in (200, 500, 600, 1000)
    assert first["n_hidden"] == 16  # the first grid point
    assert first["unfreeze_epochs"] == [0, 1]
    assert first["n_classes"] == 10
    assert isinstance(space["lr"], type(tune.uniform(0, 1)))  # still a domain
