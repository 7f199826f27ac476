"""From a composed config and its sweeps to the Runner's search space.

Each searched key (``model.lr``) becomes a Ray Tune domain at its place in the module's config
(``lr``; see :func:`~pytorch_hyperlight.config.schema.module_path`). A sweep over a config group
(``model=mlp,cnn``) composes each option anew; the options become named variants of the module's
config, chosen per trial (:data:`pytorch_hyperlight.search.space.VARIANT_KEY`). Everything handed
to the Runner is plain data: no Hydra or OmegaConf type reaches a Ray worker.

Checked before anything runs: searched keys exist in every option (or are added with ``+``); no
other value is computed from a searched one (an interpolation would keep its composed value in
every trial); the options agree on the module class, the loaders, the settings and the runner.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytorch_hyperlight.config import compose as composing
from pytorch_hyperlight.config.schema import SEARCH, ConfigJob, job_from_config, module_path
from pytorch_hyperlight.config.sweeps import domain_of, representative_values
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.search.space import VARIANT_KEY, VARIANTS_KEY
from pytorch_hyperlight.trial.building import check_config


@dataclass(frozen=True)
class ConfigSearch:
    """A search built from a config.

    Attributes:
        job: the first option's job (module class, loaders, settings, runner options).
        search_space: the Runner's search space (plain values and Ray Tune domains).
        searched: each searched config key and its path in the module's config.
        sweeps: each sweep as written (``{"model.lr": "tag(log, interval(1e-5,1e-3))"}``).
        variants: each config-group option's resolved config (key ``""`` without a group sweep).
        config: the first option's resolved config, with ``search.params`` set to ``sweeps``.
    """

    job: ConfigJob
    search_space: dict[str, Any]
    searched: dict[str, tuple[str, ...]]
    sweeps: dict[str, str]
    variants: dict[str, dict[str, Any]]
    config: dict[str, Any]


def override_key(override: Any) -> str:
    """The config key (or group) an override sets, with its ``+`` if it adds one (``"+model.x"``)."""
    return str(override.get_key_element()).removeprefix("++").removeprefix("~")


def variant_names(group_sweeps: Sequence[Any]) -> list[tuple[str, list[str]]]:
    """Every combination of the options of the group sweeps: ``(name, overrides)``.

    >>> from pytorch_hyperlight.config.sweeps import parse_overrides
    >>> variant_names(parse_overrides(["model=mlp,cnn"]))
    [('model=mlp', ['model=mlp']), ('model=cnn', ['model=cnn'])]
    """
    per_sweep = [
        [f"{override.get_key_element()}={value}" for value in override.sweep_string_iterator()]
        for override in group_sweeps
    ]
    combos = itertools.product(*per_sweep) if per_sweep else iter([()])
    return [(" ".join(c.lstrip("+") for c in combo), list(combo)) for combo in combos]


def _leaves(values: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(values, Mapping) and values:
        leaves: dict[str, Any] = {}
        for key, value in values.items():
            leaves.update(_leaves(value, f"{prefix}{key}."))
        return leaves
    return {prefix.rstrip("."): values}


def _check_no_dependents(config: Any, sweeps: Sequence[Any], where: str) -> dict[str, Any]:
    """Resolve with the first values; fail if any other value follows a searched one."""
    first = [(o, representative_values(o)[0]) for o in sweeps]
    base = composing.resolve(composing.set_values(config, first), where=where)
    base_leaves = _leaves(base)
    searched = {override_key(o).lstrip("+") for o in sweeps}
    for index, override in enumerate(sweeps):
        low, high = representative_values(override)
        if low == high:
            continue
        moved = list(first)
        moved[index] = (override, high)
        other = _leaves(composing.resolve(composing.set_values(config, moved), where=where))
        followers = sorted(
            key
            for key in set(base_leaves) | set(other)
            if key not in searched
            and not key.startswith(f"{SEARCH}.")
            and base_leaves.get(key) != other.get(key)
        )
        if followers:
            raise ConfigError(
                f"{', '.join(followers)} follows the searched {override_key(override)} (an "
                "interpolation ${...}) in " + where + ". A search sets the searched values per "
                "trial but does not re-resolve interpolations, so it would keep its composed value. "
                "Search it too, or compute it inside the module from the searched value."
            )
    return base


def _assign(space: dict[str, Any], path: Sequence[str], value: Any) -> None:
    node = space
    for part in path[:-1]:
        child = node.get(part)
        node[part] = child = dict(child) if isinstance(child, Mapping) else {}
        node = child
    node[path[-1]] = value


def _check_same(jobs: Mapping[str, ConfigJob]) -> None:
    def identity(job: ConfigJob) -> dict[str, Any]:
        loader = job.configure_dataloaders
        return {
            "the module class (model._target_)": job.lmodule_class,
            "the loader function and its data.* arguments": (
                getattr(loader, "func", loader),
                dict(getattr(loader, "keywords", {}) or {}),
            ),
            "the settings (hyperlight.*)": job.settings,
            "the runner options (runner.*)": job.runner_options,
        }

    names = list(jobs)
    first = identity(jobs[names[0]])
    for name in names[1:]:
        for what, value in identity(jobs[name]).items():
            if value != first[what]:
                raise ConfigError(
                    f"The swept config-group options {names[0]!r} and {name!r} differ in {what}; "
                    "one search trains one module class on one set of loaders with one set of "
                    "settings. Make the options differ only in model.*, data.batch_size and "
                    "trainer.*, or run one search per option with --multirun."
                )


def build_search(
    variants: Mapping[str, Any],
    value_sweeps: Sequence[Any],
    *,
    sweep_texts: Mapping[str, str],
    grid_variants: bool = True,
) -> ConfigSearch:
    """The Runner's search space from each option's composed config and the value sweeps.

    Args:
        variants: each config-group option's composed config (OmegaConf), by variant name
            (one entry named ``""`` without a group sweep).
        value_sweeps: Hydra overrides whose values are sweeps (``model.lr=interval(...)``).
        sweep_texts: every sweep as written, for ``search.params`` in the saved config.
        grid_variants: enumerate the options (``model=mlp,cnn``) rather than sample them
            (``model=choice(mlp,cnn)``).

    Raises:
        ConfigError: see the module docs.
    """
    searched = {override_key(o).lstrip("+"): module_path(override_key(o)) for o in value_sweeps}
    domains = {override_key(o).lstrip("+"): domain_of(o) for o in value_sweeps}
    plain: dict[str, dict[str, Any]] = {}
    jobs: dict[str, ConfigJob] = {}
    for name, config in variants.items():
        where = f"the config with {name}" if name else "the config"
        try:
            plain[name] = _check_no_dependents(config, value_sweeps, where)
            jobs[name] = job_from_config(plain[name])
            check_config(jobs[name].lmodule_class, jobs[name].module_config)
        except ConfigError as error:
            if not name:
                raise
            raise ConfigError(f"With the swept option {name}: {error}") from None
    _check_same(jobs)
    space = runner_space(
        {name: job.module_config for name, job in jobs.items()},
        {key: (path, domains[key]) for key, path in searched.items()},
        grid_variants=grid_variants,
    )
    first_name = next(iter(plain))
    saved = _as_composed(variants[first_name], plain[first_name], searched)
    saved[SEARCH] = {"params": dict(sweep_texts)}
    return ConfigSearch(
        job=jobs[first_name],
        search_space=space,
        searched=searched,
        sweeps=dict(sweep_texts),
        variants=plain,
        config=saved,
    )


_MISSING = object()


def runner_space(
    configs: Mapping[str, Mapping[str, Any]],
    domains: Mapping[str, tuple[tuple[str, ...], Any]],
    *,
    grid_variants: bool = True,
) -> dict[str, Any]:
    """The Runner's search space from each option's module config and the searched domains.

    Keys equal in every option stay plain; keys that differ go into the variants; each domain
    replaces the value at its path (a partial dict under a key that differs, merged per trial).

    >>> runner_space({"": {"lr": 0.1, "max_epochs": 3}}, {"model.lr": (("lr",), "<domain>")})
    {'lr': '<domain>', 'max_epochs': 3}
    """
    first = next(iter(configs.values()))
    same = {k for k in first if all(c.get(k, _MISSING) == first[k] for c in configs.values())}
    differing = sorted({key for config in configs.values() for key in config} - same)
    space = {key: copy.deepcopy(value) for key, value in first.items() if key not in differing}
    for path, _ in domains.values():
        if path[0] in differing:
            space.setdefault(path[0], {})
    for path, domain in domains.values():
        _assign(space, path, domain)
    if len(configs) > 1:
        from ray import tune

        names = list(configs)
        space[VARIANT_KEY] = tune.grid_search(names) if grid_variants else tune.choice(names)
        space[VARIANTS_KEY] = {
            name: {key: copy.deepcopy(config[key]) for key in differing if key in config}
            for name, config in configs.items()
        }
    return space


def _as_composed(
    config: Any, with_first_values: dict[str, Any], searched: Mapping[str, Any]
) -> dict[str, Any]:
    """The config as composed (searched keys keep their composed values), for saving and showing;
    a searched key that the composed config lacks (``+key``) or leaves ``???`` gets the first value."""
    try:
        composed = composing.resolve(config)
    except ConfigError:
        return copy.deepcopy(with_first_values)
    first_leaves = _leaves(with_first_values)
    for key in searched:
        node: Any = composed
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if last not in node:
            node[last] = copy.deepcopy(first_leaves[key])
    return composed
