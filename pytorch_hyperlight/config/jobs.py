"""A config directory plus overrides as runs: one trial (``run``), a search (``tune``), or, with
``--multirun``, one whole run or search per combination of the swept values (Hydra's outer loop).

Hydra composes; this module sorts the overrides (plain values, sweeps, config groups), builds the
job or the search, and hands plain data to the :class:`~pytorch_hyperlight.Runner`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytorch_hyperlight.config import compose as composing
from pytorch_hyperlight.config._hydra import config_groups, config_loader
from pytorch_hyperlight.config.schema import SEARCH, ConfigJob, job_from_config
from pytorch_hyperlight.config.search_space import (
    ConfigSearch,
    build_search,
    override_key,
    variant_names,
)
from pytorch_hyperlight.config.sweeps import parse_overrides
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.results.config_record import ConfigRecord


@dataclass(frozen=True)
class Source:
    """Where a config comes from: a config directory, its primary config and the command line.

    Attributes:
        config_dir: the config directory (absolute), or None for a config given as an object.
        config_name: the primary config's name (``config`` for ``config.yaml``).
        command: the command line, saved with the run (``sys.argv``).
    """

    config_dir: Path | None = None
    config_name: str = "config"
    command: tuple[str, ...] | None = None


@dataclass
class SortedOverrides:
    """Overrides sorted by what they do; a later override of the same key replaces an earlier one.

    Attributes:
        plain_by_key: overrides of one value or one option (Hydra composes with them), by key.
        value_sweeps: sweeps over values (``model.lr=interval(...)``), by key.
        group_sweeps: sweeps over config-group options (``model=mlp,cnn``), by key.
        texts: each sweep's value as written, by key.
    """

    plain_by_key: dict[str, str] = field(default_factory=dict)
    value_sweeps: dict[str, Any] = field(default_factory=dict)
    group_sweeps: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    @property
    def plain(self) -> list[str]:
        """The plain overrides in order."""
        return list(self.plain_by_key.values())

    @property
    def has_sweeps(self) -> bool:
        """Whether any override is a sweep."""
        return bool(self.value_sweeps or self.group_sweeps)

    def add(self, text: str, override: Any, groups: Any) -> None:
        """Add one parsed override (replacing any earlier one of the same key)."""
        key = override_key(override).lstrip("+")
        for collection in (self.plain_by_key, self.value_sweeps, self.group_sweeps, self.texts):
            collection.pop(key, None)
        if not override.is_sweep_override():
            self.plain_by_key[key] = text
            return
        self.texts[key] = override.get_value_string()
        target = self.group_sweeps if composing.is_group(override, groups) else self.value_sweeps
        target[key] = override


def sort_overrides(overrides: Sequence[str], groups: Any, *, where: str = "") -> SortedOverrides:
    """Parse (Hydra's parser) and sort overrides; a later override of the same key wins."""
    result = SortedOverrides()
    for text, override in zip(overrides, parse_overrides(overrides, where=where)):
        result.add(text, override, groups)
    return result


# --- --multirun: Hydra's outer loop ----------------------------------------------------------------
def expand_multirun(overrides: Sequence[str]) -> list[list[str]]:
    """One override list per combination of the swept values (the last sweep varies fastest).

    Must run inside a config-directory session when a sweep is a ``glob(...)`` of group options.

    Raises:
        ConfigError: an interval (it cannot be enumerated; search it with ``tune``).
    """
    from hydra.core.override_parser.types import ValueType

    parsed = parse_overrides(overrides)
    choices: list[list[str]] = []
    for text, override in zip(overrides, parsed):
        if not override.is_sweep_override():
            choices.append([text])
            continue
        if override.is_interval_sweep():
            raise ConfigError(
                f"--multirun cannot enumerate {text} (an interval). Search it with `hyperlight "
                "tune`: under --multirun, put it in the config's search.params."
            )
        if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
            override.config_loader = config_loader()  # a glob lists the group's options
        values = list(override.sweep_string_iterator())
        choices.append([f"{override.get_key_element()}={value}" for value in values])
    return [list(combo) for combo in itertools.product(*choices)]


def reject_sweeps_for_run(overrides: Sequence[str]) -> None:
    """``run`` trains one config: a sweep is an error that says what to use instead."""
    for text, override in zip(overrides, parse_overrides(overrides)):
        if override.is_sweep_override():
            raise ConfigError(
                f"`run` trains one config, but {text!r} is a sweep. Use `hyperlight tune` to "
                "search it (best trial re-validated and tested), or `hyperlight run --multirun` "
                "to train each value as its own run."
            )


# --- one run ---------------------------------------------------------------------------------------
def plan_run(overrides: Sequence[str], source: Source) -> tuple[ConfigJob, ConfigRecord]:
    """The job and record of one trial from a config directory (inside its session)."""
    reject_sweeps_for_run(overrides)
    from pytorch_hyperlight.trial.building import check_config

    config = composing.resolve(composing.compose(source.config_name, overrides))
    job = job_from_config(config)
    check_config(job.lmodule_class, job.module_config)
    return job, _record(config, overrides, source)


def _record(
    config: dict[str, Any], overrides: Sequence[str], source: Source, **extra: Any
) -> ConfigRecord:
    return ConfigRecord(
        config=config,
        overrides=tuple(overrides),
        command=source.command,
        config_dir=str(source.config_dir) if source.config_dir else None,
        config_name=source.config_name if source.config_dir else None,
        **extra,
    )


# --- one search ------------------------------------------------------------------------------------
def plan_search(
    overrides: Sequence[str], source: Source, *, outer_loop: bool = False
) -> tuple[ConfigSearch, ConfigRecord]:
    """The search and record from a config directory (inside its session).

    The search space is the config's ``search.params`` plus, unless ``outer_loop`` (a job of
    ``--multirun``, whose sweeps were expanded already), the sweeps on the command line; the
    command line wins for a key given in both.

    Raises:
        ConfigError: nothing to search, or a bad config or sweep.
    """
    groups = config_groups()
    command_line = sort_overrides(overrides, groups)
    if outer_loop and command_line.has_sweeps:
        raise AssertionError("--multirun expands the command line's sweeps before planning")
    base = composing.resolve(composing.compose(source.config_name, command_line.plain))
    params = list(job_from_config(base).search_params)
    merged = sort_overrides(params, groups, where="search.params")
    for text, override in zip(overrides, parse_overrides(overrides)):
        merged.add(text, override, groups)
    if not merged.has_sweeps:
        raise ConfigError(
            "`tune` found nothing to search: add sweeps on the command line (e.g. "
            "'model.lr=tag(log, interval(1e-4, 1e-1))' data.batch_size=32,64) or a search.params "
            "block in the config (e.g. +search=<your search config>). `run` trains one config."
        )
    group_sweeps = list(merged.group_sweeps.values())
    variants = {
        name: composing.compose(source.config_name, merged.plain + options)
        for name, options in variant_names(group_sweeps)
    }
    grid = all(getattr(o.value(), "simple_form", False) for o in group_sweeps)
    search = build_search(
        variants, list(merged.value_sweeps.values()), sweep_texts=merged.texts, grid_variants=grid
    )
    return search, search_record(search, overrides, source)


def search_record(search: ConfigSearch, overrides: Sequence[str], source: Source) -> ConfigRecord:
    """The record of a search: its config and, per option, the base of each trial's config."""
    bases = {
        name: {k: v for k, v in config.items() if k != SEARCH}
        for name, config in search.variants.items()
    }
    return _record(
        search.config, overrides, source, trial_bases=bases, searched=dict(search.searched)
    )


# --- running ---------------------------------------------------------------------------------------
def execute_run(job: ConfigJob, record: ConfigRecord | None) -> Any:
    """Train the job's one config with a Runner; returns the run's result dict."""
    from pytorch_hyperlight.runner import Runner

    runner = Runner(job.configure_dataloaders, **job.runner_options)
    return runner.run_single_trial(
        job.lmodule_class, job.module_config, job.settings, config_record=record
    )


def execute_search(search: ConfigSearch, record: ConfigRecord | None) -> Any:
    """Run the search with a Runner; returns the search's result dict."""
    from pytorch_hyperlight.runner import Runner

    job = search.job
    runner = Runner(job.configure_dataloaders, **job.runner_options)
    return runner.run_hyper_opt(
        job.lmodule_class, search.search_space, job.settings, config_record=record
    )


def best_value(result: Any) -> float:
    """The best value of the metric a run reached (what a Hydra sweeper optimises); NaN if none."""
    if result.get("best_metric_value") is not None:
        return float(result["best_metric_value"])
    from pytorch_hyperlight.metric_names import canonical_name

    wanted = result["settings"].metric_to_optimize
    metric = canonical_name(wanted) or wanted
    frame = result["metrics"].df
    epoch = result.get("best_epoch")
    if metric not in frame.columns or epoch is None:
        return math.nan
    rows = frame[(frame["epoch"] == epoch) & frame["stage"].isin(("train", "val"))]
    values = rows[metric].dropna()
    return float(values.iloc[0]) if len(values) else math.nan
