"""Hydra's sweep grammar read by Hydra's own parser and mapped to Ray Tune domains.

The same strings work on the command line, in a config's ``search.params`` block and as values of
the Python API's search space. Bounds follow Hydra's basic sweeper (``range`` stops before ``stop``)
and its sweeper plugins (``interval`` includes both ends):

=================================  ==========================================================
written                            Ray Tune domain
=================================  ==========================================================
``a,b,c``                          ``tune.grid_search([a, b, c])``: every value, like Hydra's
                                   basic sweeper
``range(1, 4)``                    ``tune.grid_search([1, 2, 3])`` (``range(0, 1, 0.25)``: floats)
``choice(a, b, c)``                ``tune.choice([a, b, c])``: sampled
``interval(0.1, 0.5)``             ``tune.uniform(0.1, 0.5)``
``tag(log, interval(1e-5, 1e-3))`` ``tune.loguniform(1e-5, 1e-3)``
``int(interval(1, 8))``            ``tune.randint(1, 9)``: 1 to 8, both included
``tag(log, int(interval(1, 64)))`` ``tune.lograndint(1, 65)``
=================================  ==========================================================

Grid values need a searcher that enumerates them (``searcher='grid'`` or ``'random'``); HyperOpt
samples them as ``tune.choice`` instead, with a note (see :mod:`pytorch_hyperlight.search.space`).

Example:
    >>> domain_from_string("tag(log, interval(1e-5, 1e-3))")
    <ray.tune.search.sample.Float object at ...>
    >>> domain_from_string("range(1, 4)")
    {'grid_search': [1, 2, 3]}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pytorch_hyperlight.config._imports import require_hydra
from pytorch_hyperlight.errors import ConfigError

#: Hydra grammar functions that start a sweep when they open a string value.
SWEEP_FUNCTIONS = ("choice", "range", "interval", "int", "float", "tag", "shuffle")
_SWEEP_START = re.compile(r"^\s*(" + "|".join(SWEEP_FUNCTIONS) + r")\s*\(")
_LOG_TAG = "log"
_FORMS = (
    "a,b,c | choice(a, b) | range(start, stop[, step]) | interval(low, high) | "
    "int(interval(low, high)) | tag(log, interval(low, high))"
)


# --- parsing ---------------------------------------------------------------------------------------
def parse_override(text: str, *, where: str = "") -> Any:
    """One ``key=value`` override parsed by Hydra, or a :class:`ConfigError` showing where it fails.

    Args:
        text: the override as typed (``"model.lr=tag(log, interval(1e-5, 1e-3))"``).
        where: where it came from, for the message (``"search.params"``, ...).

    Returns:
        Hydra's ``Override``.
    """
    require_hydra()
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides([text])[0]
    except HydraException as error:
        raise ConfigError(_syntax_message(text, error, where)) from None


def parse_overrides(texts: Iterable[str], *, where: str = "") -> list[Any]:
    """Every override parsed (see :func:`parse_override`)."""
    return [parse_override(text, where=where) for text in texts]


def _syntax_message(text: str, error: Exception, where: str) -> str:
    from pytorch_hyperlight.config._hydra import syntax_error_column

    reason = str(error).split("\nSee https://", 1)[0].strip()
    reason = reason.removeprefix(f"Error parsing override '{text}'").strip()
    column = syntax_error_column(text)
    source = f" in {where}" if where else ""
    lines = [f"Bad override syntax{source}: {text!r}"]
    if column is not None:
        lines += [f"    {text}", "    " + " " * column + f"^ here (character {column + 1})"]
    lines.append(f"Hydra says: {reason}")
    lines.append(f"Sweeps are written {_FORMS}; quote values with spaces or commas: key='a, b'.")
    return "\n".join(lines)


# --- sweeps to domains -----------------------------------------------------------------------------
def _tags(override: Any) -> set[str]:
    return set(getattr(override.value(), "tags", set()) or set())


def _check_tags(override: Any) -> None:
    tags = _tags(override)
    key = override.get_key_element()
    unknown = sorted(tags - {_LOG_TAG})
    if unknown:
        raise ConfigError(
            f"{key}: unknown tag {unknown[0]!r} in {override.get_value_string()!r}. The only tag "
            f"with a meaning in a search is 'log', on an interval: tag(log, interval(1e-5, 1e-3))."
        )
    if tags and not override.is_interval_sweep():
        raise ConfigError(
            f"{key}: tag(log, ...) applies to interval(...), not to {override.get_value_string()!r}. "
            "Write tag(log, interval(low, high)) for a log-uniform range."
        )


def sweep_values(override: Any) -> list[Any]:
    """The values of a choice or range sweep, in order (``range`` stops before ``stop``).

    Raises:
        ConfigError: an interval (it has no list of values) or an empty range.
    """
    from pytorch_hyperlight.config._hydra import plain_value

    key = override.get_key_element()
    if not override.is_discrete_sweep():
        raise ConfigError(
            f"{key}={override.get_value_string()} is an interval: it has no list of values to run "
            "one by one. Search it with `hyperlight tune` (in search.params under --multirun)."
        )
    values = [plain_value(value) for value in override.sweep_iterator()]
    if not values:
        raise ConfigError(f"{key}={override.get_value_string()} has no values.")
    return values


def domain_of(override: Any) -> Any:
    """The Ray Tune domain of a sweep override (see the module's table).

    Raises:
        ConfigError: a glob (only config groups take one), bad bounds, or a tag other than log.
    """
    from ray import tune

    key = override.get_key_element()
    if not override.is_sweep_override():
        raise ConfigError(f"{override.input_line!r} is not a sweep.")
    from hydra.core.override_parser.types import ValueType

    if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
        raise ConfigError(
            f"{key}={override.get_value_string()}: glob(...) selects config group options; "
            f"{override.key_or_group!r} is a value, not a config group."
        )
    _check_tags(override)
    if override.is_interval_sweep():
        return _interval_domain(override)
    values = sweep_values(override)
    simple = bool(getattr(override.value(), "simple_form", False))
    if override.is_range_sweep() or simple:
        return tune.grid_search(values)
    return tune.choice(values)


def _interval_domain(override: Any) -> Any:
    from ray import tune

    sweep = override.value()
    low, high = sweep.start, sweep.end
    key, text = override.get_key_element(), override.get_value_string()
    if not low < high:
        raise ConfigError(
            f"{key}={text}: the lower bound {low} must be below the upper bound {high}."
        )
    log = _LOG_TAG in _tags(override)
    if log and low <= 0:
        raise ConfigError(
            f"{key}={text}: a log scale needs bounds above 0, got {low}. Use interval(...) "
            "without tag(log, ...), or a positive lower bound."
        )
    if isinstance(low, int) and isinstance(high, int):
        # Hydra's interval includes its upper end; Ray's randint excludes it.
        return tune.lograndint(low, high + 1) if log else tune.randint(low, high + 1)
    return tune.loguniform(low, high) if log else tune.uniform(low, high)


def representative_values(override: Any) -> tuple[Any, Any]:
    """Two values the sweep can take, different where it can: first and second value, or both ends.

    Used to compose a config with the searched keys set, and to find values that depend on them.
    """
    if override.is_interval_sweep():
        sweep = override.value()
        return sweep.start, sweep.end
    values = sweep_values(override)
    return values[0], values[1 % len(values)]


# --- the Python API --------------------------------------------------------------------------------
def is_sweep_string(value: Any) -> bool:
    """Whether a value of a Python search space is written as a Hydra sweep.

    Only strings that open with a sweep function count; any other string (even ``"a,b"``) stays a
    constant, so existing string constants never change meaning.

    >>> is_sweep_string("choice(16, 32)"), is_sweep_string("relu"), is_sweep_string("64,64")
    (True, False, False)
    """
    return isinstance(value, str) and bool(_SWEEP_START.match(value))


def domain_from_string(value: str, *, name: str = "value") -> Any:
    """The Ray Tune domain of a sweep string (``"tag(log, interval(1e-5, 1e-3))"``).

    Raises:
        ConfigError: the string does not parse, or parses to something that is not a sweep.
    """
    override = parse_override(f"{_safe_key(name)}={value}", where=f"search space value {name!r}")
    if not override.is_sweep_override():
        raise ConfigError(
            f"Search space value {name!r} = {value!r} starts like a Hydra sweep but is not one. "
            f"Write a sweep ({_FORMS}) or the constant itself."
        )
    return domain_of(override)


def _safe_key(name: str) -> str:
    # The key only labels the message; a key Hydra's grammar rejects must not mask the value's error.
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "value"


def translate_sweep_strings(space: Mapping[str, Any], _prefix: str = "") -> dict[str, Any]:
    """A copy of ``space`` with every sweep string (nested dicts too) replaced by its Ray domain.

    >>> translate_sweep_strings({"lr": "interval(0, 1)", "act": "relu", "opt": {"b": "choice(1, 2)"}})
    {'lr': <ray.tune.search.sample.Float object at ...>, 'act': 'relu', 'opt': {'b': <ray.tune.search.sample.Categorical object at ...>}}
    """
    result: dict[str, Any] = {}
    for key, value in space.items():
        name = f"{_prefix}{key}"
        if isinstance(value, Mapping) and not _is_grid(value):
            result[key] = translate_sweep_strings(value, f"{name}/")
        elif is_sweep_string(value):
            result[key] = domain_from_string(value, name=name)
        else:
            result[key] = value
    return result


def _is_grid(value: Mapping[str, Any]) -> bool:
    return set(value) == {"grid_search"}


def has_sweep_strings(space: Mapping[str, Any]) -> bool:
    """Whether any value (nested dicts too) is a sweep string; False never imports Hydra.

    >>> has_sweep_strings({"lr": 0.1, "opt": {"b": "choice(1, 2)"}}), has_sweep_strings({"a": "x"})
    (True, False)
    """
    for value in space.values():
        if isinstance(value, Mapping):
            if has_sweep_strings(value):
                return True
        elif is_sweep_string(value):
            return True
    return False
