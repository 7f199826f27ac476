"""Search spaces: describe them, check them against the chosen searcher, and sample from them.

A search space is the seed's ``SEARCH_SPACE_CONFIG``: Ray Tune domains (``tune.uniform``,
``tune.choice``, ``tune.grid_search``, ...) mixed with constants, possibly nested in dicts. These
functions are pure: they never start Ray and never change the caller's dict.

Example:
    >>> from ray import tune
    >>> space = {"lr": tune.loguniform(1e-4, 1e-1), "max_epochs": tune.choice([5, 10]), "n": 3}
    >>> describe_search_space(space)["lr"]
    {'type': 'loguniform', 'lower': 0.0001, 'upper': 0.1}
    >>> default_epoch_upper_limit(space)
    10
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.trial.variants import VARIANT_KEY as VARIANT_KEY  # re-exported
from pytorch_hyperlight.trial.variants import VARIANTS_KEY as VARIANTS_KEY
from pytorch_hyperlight.trial.variants import resolve_variant as resolve_variant

#: Searchers and what they accept.
SEARCHERS = ("hyperopt", "random", "grid")


@dataclass(frozen=True)
class PreparedSpace:
    """A search space made ready for one searcher.

    Attributes:
        param_space: the space handed to Ray Tune (a new dict; grid values became choices for
            HyperOpt).
        notes: what was changed and why, to show the user.
        searched: the searched parameters as ``a/b`` paths (Ray's flattened names).
        n_grid_points: the number of grid combinations (1 without grid values).
    """

    param_space: dict[str, Any]
    notes: tuple[str, ...]
    searched: tuple[str, ...]
    n_grid_points: int

    def n_trials(self, n_samples: int) -> int:
        """How many trials the search runs: ``n_samples`` per grid combination."""
        return n_samples * self.n_grid_points


def _split(space: Mapping[str, Any]) -> tuple[list[tuple[tuple, Any]], list[tuple[tuple, Any]]]:
    """``(domain_vars, grid_vars)`` as ``[(path, Domain)]`` (Ray's own parser)."""
    from pytorch_hyperlight.search.tune_internals import parse_spec_vars

    _, domain_vars, grid_vars = parse_spec_vars(dict(space))
    return list(domain_vars), list(grid_vars)


def _path_name(path: tuple) -> str:
    return "/".join(str(part) for part in path)


def _check_mapping(space: Any) -> None:
    if not isinstance(space, Mapping) or not all(isinstance(key, str) for key in space):
        raise ConfigError(
            "search_space_config must be a dict with string keys, mixing Ray Tune domains and "
            f"constants (e.g. {{'lr': tune.loguniform(1e-4, 1e-1), 'max_epochs': 10}}), got "
            f"{type(space).__name__}."
        )


def describe_domain(domain: Any) -> dict[str, Any]:
    """One Ray Tune domain as a JSON-friendly dict, e.g. ``{"type": "uniform", "lower": 0, "upper": 1}``."""
    from pytorch_hyperlight.search.tune_internals import (
        Categorical,
        Float,
        Function,
        Integer,
        LogUniform,
        Normal,
        Quantized,
    )

    sampler = domain.get_sampler()
    quantum = None
    if isinstance(sampler, Quantized):
        quantum = sampler.q
        sampler = sampler.get_sampler()
    if isinstance(domain, Categorical):
        kind = "grid" if domain.is_grid() else "choice"
        key = "values" if kind == "grid" else "categories"
        return {"type": kind, key: list(domain.categories)}
    if isinstance(domain, Function):
        name = getattr(domain.func, "__qualname__", repr(domain.func))
        return {"type": "sample_from", "function": name}
    description: dict[str, Any]
    if isinstance(sampler, Normal):
        description = {"type": "randn", "mean": sampler.mean, "sd": sampler.sd}
    elif isinstance(domain, Float):
        kind = "loguniform" if isinstance(sampler, LogUniform) else "uniform"
        description = {"type": kind, "lower": domain.lower, "upper": domain.upper}
    elif isinstance(domain, Integer):
        kind = "lograndint" if isinstance(sampler, LogUniform) else "randint"
        description = {"type": kind, "lower": domain.lower, "upper": domain.upper}
    else:
        return {"type": type(domain).__name__.lower(), "repr": repr(domain)}
    if quantum is not None:
        description["type"] = "q" + description["type"]
        description["q"] = quantum
    return description


def describe_search_space(space: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Describe every parameter: searched ones by their domain, top-level constants by value.

    Nested searched parameters are named by their path (``"optimizer/lr"``), as in Ray's results.

    >>> from ray import tune
    >>> describe_search_space({"batch_size": tune.choice([32, 64]), "seed_note": "x"})
    {'batch_size': {'type': 'choice', 'categories': [32, 64]}, 'seed_note': {'type': 'constant', 'value': 'x'}}
    """
    _check_mapping(space)
    domain_vars, grid_vars = _split(space)
    searched = {
        _path_name(path): describe_domain(domain) for path, domain in domain_vars + grid_vars
    }
    searched_roots = {str(path[0]) for path, _ in domain_vars + grid_vars}
    result: dict[str, dict[str, Any]] = {}
    for key, value in space.items():
        if key in searched_roots:
            for name in sorted(n for n in searched if n == key or n.startswith(key + "/")):
                result[name] = searched[name]
        else:
            result[key] = {"type": "constant", "value": value}
    return result


def prepare_search_space(space: Mapping[str, Any], searcher: str) -> PreparedSpace:
    """Check ``space`` against ``searcher`` and return the space to hand to Ray Tune.

    - ``hyperopt``: grid values become ``tune.choice`` (with a note: HyperOpt cannot enumerate a
      grid); ``tune.sample_from`` is an error (HyperOpt cannot sample functions).
    - ``random``: everything Ray Tune accepts; grid values are enumerated, the rest sampled.
    - ``grid``: needs at least one ``tune.grid_search`` value; other domains are sampled per point.

    Raises:
        ConfigError: the space has no searched parameter or does not suit the searcher.
    """
    _check_mapping(space)
    if searcher not in SEARCHERS:
        raise ConfigError(f"searcher must be one of {SEARCHERS}, got {searcher!r}.")
    if not space:
        raise ConfigError(
            "search_space_config must hold the hyper-parameters and at least one Ray Tune domain, "
            "got an empty dict {}. Pass e.g. {'lr': tune.loguniform(1e-4, 1e-1), "
            "'max_epochs': 10, 'batch_size': 64}."
        )
    domain_vars, grid_vars = _split(space)
    if not domain_vars and not grid_vars:
        lists = [key for key, value in space.items() if isinstance(value, list | tuple)]
        example = lists[0] if lists else next(iter(space))
        raise ConfigError(
            f"search_space_config has no search domain: every value is a constant "
            f"({', '.join(repr(key) for key in space)}). Search at least one key, e.g. "
            f"{example!r}: tune.choice([...]) or tune.loguniform(...), or call run_single_trial "
            "for one fixed config."
        )
    _check_whole_number_keys(space)
    searched = tuple(sorted(_path_name(path) for path, _ in domain_vars + grid_vars))
    param_space = copy.deepcopy(dict(space))
    notes: list[str] = []
    if searcher == "hyperopt":
        _check_hyperopt(domain_vars)
        if grid_vars:
            param_space = _grid_to_choice(param_space, grid_vars)
            names = ", ".join(_path_name(path) for path, _ in grid_vars)
            notes.append(
                f"HyperOpt cannot enumerate a grid: grid values of {names} are sampled as "
                "tune.choice. Use searcher='grid' (or 'random') to run every grid point."
            )
            grid_vars = []
    if searcher == "grid" and not grid_vars:
        names = ", ".join(_path_name(path) for path, _ in domain_vars)
        raise ConfigError(
            f"searcher='grid' needs at least one tune.grid_search([...]) value, but the search "
            f"space has only sampled domains ({names}). Wrap the values to enumerate in "
            "tune.grid_search, or use searcher='hyperopt' or 'random'."
        )
    n_grid_points = math.prod(len(domain.categories) for _, domain in grid_vars)
    return PreparedSpace(param_space, tuple(notes), searched, n_grid_points)


def domain_text(domain: Any) -> str:
    """A domain as it is written: ``tune.uniform(2, 4)``, ``tune.choice([8, 16])``.

    >>> from ray import tune
    >>> domain_text(tune.uniform(2, 4))
    'tune.uniform(2, 4)'
    """
    described = describe_domain(domain)
    kind = described["type"]
    if kind in ("choice", "grid"):
        values = described.get("categories", described.get("values"))
        return f"tune.{'grid_search' if kind == 'grid' else 'choice'}({values!r})"
    if "lower" in described:
        return f"tune.{kind}({described['lower']!r}, {described['upper']!r})"
    return f"tune.{kind}(...)"


def _check_whole_number_keys(space: Mapping[str, Any]) -> None:
    """``max_epochs`` and ``batch_size`` searched with a float domain: name the domain written."""
    from pytorch_hyperlight.search.tune_internals import Float

    for key in ("max_epochs", "batch_size"):
        value = space.get(key)
        if isinstance(value, Float):
            lower, upper = int(value.lower), int(value.upper) + 1
            raise ConfigError(
                f"{key} must be a whole number, but the search space gives "
                f"{key}={domain_text(value)}, which samples floats. Use "
                f"tune.randint({lower}, {upper}) or tune.choice([...]) of ints."
            )


def _check_hyperopt(domain_vars: list[tuple[tuple, Any]]) -> None:
    from pytorch_hyperlight.search.tune_internals import Function

    functions = [_path_name(path) for path, domain in domain_vars if isinstance(domain, Function)]
    if functions:
        raise ConfigError(
            f"HyperOpt cannot sample tune.sample_from values ({', '.join(functions)}). Replace them "
            "with tune.uniform/choice/..., or use searcher='random'."
        )


def _grid_to_choice(space: dict[str, Any], grid_vars: list[tuple[tuple, Any]]) -> dict[str, Any]:
    from ray import tune

    from pytorch_hyperlight.search.tune_internals import assign_value

    for path, domain in grid_vars:
        assign_value(space, path, tune.choice(list(domain.categories)))
    return space


def with_sweep_strings(space: Mapping[str, Any]) -> dict[str, Any]:
    """The space with Hydra sweep strings turned into Ray Tune domains (the Python API's boundary).

    A string is a sweep only when it opens with a sweep function (``choice(``, ``range(``,
    ``interval(``, ``int(``, ``float(``, ``tag(``, ``shuffle(``); every other string, even one with
    commas, stays a constant. See :mod:`pytorch_hyperlight.config.sweeps` for the mapping. Needs
    hydra-core only when the space holds a sweep string.

    >>> space = with_sweep_strings({"lr": "tag(log, interval(1e-4, 1e-1))", "act": "relu"})
    >>> describe_search_space(space)["lr"], space["act"]
    ({'type': 'loguniform', 'lower': 0.0001, 'upper': 0.1}, 'relu')
    """
    from pytorch_hyperlight.config.sweeps import has_sweep_strings, translate_sweep_strings

    _check_mapping(space)
    if not has_sweep_strings(space):
        return dict(space)
    return translate_sweep_strings(space)


def constants_of(space: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level keys whose values hold no search domain (copied).

    Searchers may hand constants back changed (HyperOpt turns lists into tuples); trials get these
    originals instead.

    >>> from ray import tune
    >>> constants_of({"lr": tune.uniform(0, 1), "unfreeze_epochs": [0, 1], "opt": {"b": tune.choice([1])}})
    {'unfreeze_epochs': [0, 1]}
    """
    _check_mapping(space)
    domain_vars, grid_vars = _split(space)
    searched_roots = {path[0] for path, _ in domain_vars + grid_vars}
    return {k: copy.deepcopy(v) for k, v in space.items() if k not in searched_roots}


def default_epoch_upper_limit(space: Mapping[str, Any]) -> int:
    """The largest ``max_epochs`` the space can produce (ASHA's ``max_t`` when not set).

    Raises:
        ConfigError: ``max_epochs`` is missing or its largest value cannot be known.
    """
    from pytorch_hyperlight.search.tune_internals import Categorical, Domain, Integer, Quantized

    if "max_epochs" not in space and isinstance(space.get(VARIANTS_KEY), Mapping):
        variants = space[VARIANTS_KEY].values()
        return max(default_epoch_upper_limit({**space, **variant}) for variant in variants)
    if "max_epochs" not in space:
        raise ConfigError(
            "search_space_config has no 'max_epochs': add it as a constant (e.g. 10) or a domain "
            "(e.g. tune.choice([10, 20]))."
        )
    value = space["max_epochs"]
    if isinstance(value, Mapping) and set(value) == {"grid_search"}:
        candidates = list(value["grid_search"])
    elif isinstance(value, Categorical):
        candidates = list(value.categories)
    elif isinstance(value, Integer):
        inclusive = isinstance(value.get_sampler(), Quantized)
        candidates = [value.upper if inclusive else value.upper - 1]
    elif isinstance(value, Domain):
        raise ConfigError(
            f"Cannot tell the largest max_epochs of {describe_domain(value)['type']!r}: use "
            "tune.choice/randint/grid_search for max_epochs or set epoch_upper_limit explicitly."
        )
    else:
        candidates = [value]
    if not candidates or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in candidates
    ):
        raise ConfigError(f"max_epochs must be an int (or ints to choose from), got {value!r}.")
    return max(candidates)


def sample_config(space: Mapping[str, Any], seed: int | None = 0) -> dict[str, Any]:
    """One concrete config drawn from ``space`` (first grid point), for checks and the dry run."""
    from pytorch_hyperlight.search.tune_internals import generate_variants

    unresolved = {"config": copy.deepcopy(dict(space))}
    _, resolved = next(iter(generate_variants(unresolved, random_state=seed)))
    return resolve_variant(resolved["config"])
