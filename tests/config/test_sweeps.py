"""Hydra's sweep grammar -> Ray Tune domains, with Hydra's bounds; sweep strings in the Python API."""

from __future__ import annotations

import re

import pytest
from ray import tune
from ray.tune.search.sample import Categorical, Float, Integer, LogUniform

from pytorch_hyperlight.config.sweeps import (
    domain_from_string,
    parse_override,
    sweep_values,
)
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.search import space as spaces


def domain(text: str) -> object:
    return domain_from_string(text, name="x")


def test_a_comma_list_is_a_grid_like_hydras_basic_sweeper() -> None:
    assert domain("16,32,64") == tune.grid_search([16, 32, 64])


def test_choice_is_sampled_not_enumerated() -> None:
    value = domain("choice(relu, tanh)")
    assert isinstance(value, Categorical)
    assert value.categories == ["relu", "tanh"]


def test_range_stops_before_stop_as_in_hydras_basic_sweeper() -> None:
    assert domain("range(1, 4)") == tune.grid_search([1, 2, 3])
    assert domain("range(0, 1, 0.25)") == tune.grid_search([0.0, 0.25, 0.5, 0.75])


def test_interval_is_uniform_between_its_bounds() -> None:
    value = domain("interval(0.1, 0.5)")
    assert isinstance(value, Float) and not isinstance(value.get_sampler(), LogUniform)
    assert (value.lower, value.upper) == (0.1, 0.5)


def test_tag_log_interval_is_loguniform() -> None:
    value = domain("tag(log, interval(1e-5, 1e-3))")
    assert isinstance(value, Float) and isinstance(value.get_sampler(), LogUniform)
    assert (value.lower, value.upper) == (1e-5, 1e-3)


def test_int_interval_includes_both_ends() -> None:
    value = domain("int(interval(1, 8))")
    assert isinstance(value, Integer)
    # Ray's randint excludes its upper bound; Hydra's interval includes it.
    assert (value.lower, value.upper) == (1, 9)
    drawn = {value.sample() for _ in range(400)}
    assert drawn == set(range(1, 9))


def test_tag_log_int_interval_is_lograndint_including_the_upper_end() -> None:
    value = domain("tag(log, int(interval(1, 64)))")
    assert isinstance(value, Integer) and isinstance(value.get_sampler(), LogUniform)
    assert (value.lower, value.upper) == (1, 65)


def test_sweep_values_enumerate_choice_and_range_in_order() -> None:
    assert sweep_values(parse_override("seed=range(3)")) == [0, 1, 2]
    assert sweep_values(parse_override("act='a b',c")) == ["a b", "c"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval(3, 1)", "lower bound 3.0 must be below the upper bound 1.0"),
        ("tag(log, interval(0, 1))", "a log scale needs bounds above 0"),
        ("tag(logg, interval(1e-5, 1e-3))", "unknown tag 'logg'"),
        ("tag(log, choice(1, 2))", "tag(log, ...) applies to interval(...)"),
        ("range(4, 1)", "has no values"),
    ],
)
def test_bad_sweeps_are_errors_that_say_why(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        domain(text)


def test_bad_sweep_syntax_points_at_the_character_where_parsing_stopped() -> None:
    with pytest.raises(ConfigError) as error:
        parse_override("model.lr=tag(log, interval(1e-5,)")
    lines = str(error.value).splitlines()
    assert lines[0] == "Bad override syntax: 'model.lr=tag(log, interval(1e-5,)'"
    caret_line = next(line for line in lines if "^ here" in line)
    text_line = lines[lines.index(caret_line) - 1]
    assert text_line[caret_line.index("^")] == ")"  # the ')' where a value was expected
    assert "character 33" in caret_line


def test_an_unknown_grammar_function_is_named() -> None:
    with pytest.raises(ConfigError, match="Unknown function 'inteval'"):
        parse_override("lr=inteval(1, 2)")


def test_glob_on_a_value_is_an_error() -> None:
    with pytest.raises(ConfigError, match="glob"):
        domain("glob(*)")


# --- the Python API --------------------------------------------------------------------------------
def test_python_search_space_accepts_sweep_strings_nested_too() -> None:
    space = spaces.with_sweep_strings(
        {
            "lr": "tag(log, interval(1e-4, 1e-1))",
            "optimizer": {"momentum": "interval(0.8, 0.99)"},
            "n_hidden": "choice(16, 32)",
            "max_epochs": 5,
        }
    )
    described = spaces.describe_search_space(space)
    assert described["lr"] == {"type": "loguniform", "lower": 1e-4, "upper": 1e-1}
    assert described["optimizer/momentum"] == {"type": "uniform", "lower": 0.8, "upper": 0.99}
    assert described["n_hidden"] == {"type": "choice", "categories": [16, 32]}


def test_plain_strings_stay_constants_even_with_commas() -> None:
    space = {"activation": "relu", "layers": "64,64", "lr": tune.uniform(0, 1)}
    assert spaces.with_sweep_strings(space) == space


def test_a_string_that_opens_like_a_sweep_but_is_none_is_an_error() -> None:
    with pytest.raises(ConfigError, match="starts like a Hydra sweep but is not one"):
        spaces.with_sweep_strings({"n": "int(5)"})


def test_grid_strings_become_choices_under_hyperopt_with_a_note() -> None:
    space = spaces.with_sweep_strings({"batch_size": "range(16, 65, 16)", "max_epochs": 2})
    prepared = spaces.prepare_search_space(space, "hyperopt")
    assert spaces.describe_search_space(prepared.param_space)["batch_size"] == {
        "type": "choice",
        "categories": [16, 32, 48, 64],
    }
    assert "HyperOpt cannot enumerate a grid" in prepared.notes[0]
    assert spaces.prepare_search_space(space, "grid").n_grid_points == 4
