"""hydra-zen and ``@hydra.main``: a task function and a config builder.

:func:`hyperlight_task` takes a composed config (what ``@hydra.main``, ``hydra_zen.launch`` and
``hydra_zen.zen`` hand a task) and trains it with the Runner: one trial, or a search when its
``search.params`` holds sweeps. It returns the best value of the metric, so Hydra's own sweepers
(``--multirun``, Optuna, ...) can drive it. :func:`make_experiment_config` builds such a config
with hydra-zen, with every framework node and default in place.

Example (seed 000's experiment, four single trials under Hydra's basic sweeper)::

    from hydra_zen import builds, launch
    from pytorch_hyperlight.config import hyperlight_task, make_experiment_config

    Config = make_experiment_config(
        model=builds(UniversalFuncModule, num_neurons=10),
        data=builds(configure_dataloaders, batch_size=25),
        trainer={"max_epochs": 20},
        hyperlight={"metric_to_optimize": "val_loss", "seed": 0},
    )
    (jobs,) = launch(Config, hyperlight_task, multirun=True, version_base="1.3",
                     overrides=["data.batch_size=20,200", "model.num_neurons=10,100"])
    [job.return_value for job in jobs]   # the best val_loss of each run
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytorch_hyperlight.config import compose as composing
from pytorch_hyperlight.config._imports import require, require_hydra
from pytorch_hyperlight.config.jobs import (
    Source,
    best_value,
    execute_run,
    execute_search,
    search_record,
    sort_overrides,
)
from pytorch_hyperlight.config.schema import (
    HYPERLIGHT,
    RUNNER,
    SEARCH,
    TRAINER,
    framework_defaults,
    job_from_config,
)
from pytorch_hyperlight.config.search_space import build_search
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.results.config_record import ConfigRecord
from pytorch_hyperlight.settings import Settings


def _hydra_job() -> Any:
    """Hydra's config of the running job, or None outside ``@hydra.main`` / ``launch``."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def run_config(
    config: Any,
    *,
    overrides: Sequence[str] | None = None,
    command: Sequence[str] | None = None,
) -> Any:
    """Train a composed config with the Runner: one trial, or a search if ``search.params`` sweeps.

    Under Hydra (``@hydra.main``, ``hydra_zen.launch``) the run directory goes into the job's output
    directory unless ``hyperlight.results_dir`` is set, and the job's overrides are saved with it.

    Args:
        config: a DictConfig, a dict, or a hydra-zen/dataclass config (type or instance).
        overrides: the overrides to save with the run; default: the Hydra job's.
        command: the command line to save; default: ``sys.argv``.

    Returns:
        The run's result dict (see :meth:`Runner.run_single_trial` / :meth:`Runner.run_hyper_opt`).

    Raises:
        ConfigError: see :func:`pytorch_hyperlight.config.schema.job_from_config`.
    """
    import sys

    require_hydra()
    dict_config = composing.to_config(config)
    plain = composing.resolve(dict_config)
    job = job_from_config(plain)
    hydra_job = _hydra_job()
    if overrides is None:
        overrides = list(hydra_job.overrides.task) if hydra_job is not None else []
    source = Source(command=tuple(command if command is not None else sys.argv))
    if hydra_job is not None and job.settings.results_dir is None:
        output_dir = str(hydra_job.runtime.output_dir)
        dict_config = composing.set_values(
            dict_config, [(_force(f"{HYPERLIGHT}.results_dir"), output_dir)]
        )
        plain = composing.resolve(dict_config)
        job = job_from_config(plain)
    if not job.search_params:
        record = ConfigRecord(config=plain, overrides=tuple(overrides), command=source.command)
        return execute_run(job, record)
    search = _search(dict_config, job.search_params)
    return execute_search(search, search_record(search, overrides, source))


def _force(key: str) -> Any:
    from pytorch_hyperlight.config.sweeps import parse_override

    return parse_override(f"++{key}=x")


def _search(config: Any, params: Sequence[str]) -> Any:
    sorted_params = sort_overrides(params, {}, where="search.params")
    for key in sorted_params.value_sweeps:
        if "." not in key:
            raise ConfigError(
                f"search.params.{key}: a sweep over a config group needs a config directory "
                "(hyperlight tune --config-dir DIR ...). In a task, sweep values such as model.lr."
            )
    if sorted_params.plain:
        from pytorch_hyperlight.config.sweeps import parse_overrides

        fixed = parse_overrides(sorted_params.plain, where="search.params")
        config = composing.set_values(config, [(o, o.value()) for o in fixed])
    if not sorted_params.value_sweeps:
        raise ConfigError("search.params holds no sweep: nothing to search.")
    return build_search(
        {"": config}, list(sorted_params.value_sweeps.values()), sweep_texts=sorted_params.texts
    )


def hyperlight_task(zen_cfg: Any) -> float:
    """Train (or search) a composed config and return the best value of its metric.

    A plain task function: ``@hydra.main(...)(hyperlight_task)``, ``hydra_zen.zen(hyperlight_task)``
    and ``hydra_zen.launch(Config, hyperlight_task, ...)`` all drive it (the parameter is named
    ``zen_cfg`` so that ``zen`` passes the whole config). The value returned is what Hydra's
    sweepers optimise; the run's files are in its run directory (see :func:`run_config`).
    """
    return best_value(run_config(zen_cfg))


def make_experiment_config(
    *,
    model: Any,
    data: Any,
    trainer: Mapping[str, Any] | None = None,
    hyperlight: Mapping[str, Any] | Settings | None = None,
    runner: Mapping[str, Any] | None = None,
    search: Mapping[str, Any] | None = None,
    name: str = "ExperimentConfig",
) -> Any:
    """A hydra-zen config for :func:`hyperlight_task`, with every framework node and default.

    Args:
        model: the module's config: ``hydra_zen.builds(MyModule, lr=0.01)`` or a dict with
            ``_target_``.
        data: the loaders' config: ``builds(configure_dataloaders, batch_size=64)`` or a dict.
        trainer: ``max_epochs`` (required) and ``gradient_clip_val``.
        hyperlight: settings keys (checked now: a misspelled key gets "did you mean").
        runner: ``experiment_id``, ``run_name_prefix``, ``is_debug``.
        search: ``{"params": {"model.lr": "tag(log, interval(1e-4, 1e-1))"}}`` for a search.
        name: the config class's name.

    Returns:
        A dataclass type made by ``hydra_zen.make_config``.
    """
    hydra_zen = require("hydra_zen", feature="make_experiment_config")
    defaults = framework_defaults()
    settings = Settings.from_any(hyperlight).to_dict()
    given = dict(hyperlight) if isinstance(hyperlight, Mapping) else settings
    nodes = {
        "model": model,
        "data": data,
        TRAINER: {**defaults[TRAINER], **dict(trainer or {})},
        HYPERLIGHT: {**defaults[HYPERLIGHT], **given},
        RUNNER: {**defaults[RUNNER], **dict(runner or {})},
        SEARCH: {**defaults[SEARCH], **dict(search or {})},
    }
    return hydra_zen.make_config(**nodes, zen_dataclass={"cls_name": name})
