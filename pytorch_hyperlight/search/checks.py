"""Checks before a search: everything that can be found out without Ray, found out first.

:func:`plan_search` checks the settings against the search space and the searcher, a config drawn
from the space against the module's constructor, runs the one-batch dry run that finds the metric
and any searched key the module never reads, makes sure the user's code can reach Ray workers and
(for a local Ray) that one trial fits this machine. Every failure is raised before Ray starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytorch_hyperlight.context import RunContext
from pytorch_hyperlight.errors import ConfigError, DataLoaderError, MetricError
from pytorch_hyperlight.metric_names import canonical_name
from pytorch_hyperlight.search.space import (
    VARIANT_KEY,
    VARIANTS_KEY,
    PreparedSpace,
    constants_of,
    default_epoch_upper_limit,
    prepare_search_space,
    sample_config,
)
from pytorch_hyperlight.settings import Settings


@dataclass(frozen=True)
class SearchPlan:
    """Everything checked before Ray starts.

    Attributes:
        space: the prepared search space.
        spec: the trial template (module class, loaders, settings, monitor from the dry run).
        metric: the canonical metric name.
        n_trials: total trials.
        epoch_upper_limit: ASHA's ``max_t``.
        metrics_to_show: canonical metrics for the progress view.
        constants: the space's constants as the user wrote them.
    """

    space: PreparedSpace
    spec: Any
    metric: str
    n_trials: int
    epoch_upper_limit: int
    metrics_to_show: tuple[str, ...]
    constants: dict[str, Any]


def plan_search(
    lmodule_class: type, search_space: Mapping[str, Any], settings: Settings, context: RunContext
) -> SearchPlan:
    """Validate the search and run the one-batch dry run; raise before any Ray work.

    The dry run runs the first epoch of training with the user's callbacks (fresh copies) on one
    batch per stage, and watches which hyper-parameter keys the module reads: a searched key it
    never reads is an error (a misspelt key), an unread constant a warning (a callback may read it).

    Raises:
        ConfigError: bad search space for the searcher, bad config keys, a searched key the module
            never reads, grace period beyond the epoch limit, code that cannot reach the workers,
            resources this machine lacks.
        MetricError: ``metric_to_optimize`` (or a ``ray_metrics_to_show`` entry) is not logged.
    """
    from pytorch_hyperlight.search import ray_session
    from pytorch_hyperlight.trial.building import check_config
    from pytorch_hyperlight.trial.callbacks import check_callbacks
    from pytorch_hyperlight.trial.fit import TrialSpec, dry_run
    from pytorch_hyperlight.trial.hparam_reads import report_unread_keys

    address = ray_session.resolve_address(settings.ray_address)
    if address is not None:
        ray_session.check_reachable(address)
    space = prepare_search_space(search_space, settings.searcher)
    epoch_limit = settings.epoch_upper_limit or default_epoch_upper_limit(search_space)
    if settings.scheduler == "asha" and settings.asha_grace_period > epoch_limit:
        raise ConfigError(
            f"grace_period={settings.asha_grace_period} is beyond ASHA's epoch limit "
            f"(epoch_upper_limit={epoch_limit}): no trial could ever be stopped early. Lower "
            "grace_period or raise epoch_upper_limit / max_epochs."
        )
    sample = sample_config(space.param_space, seed=settings.seed or 0)
    check_config(lmodule_class, sample)
    check_callbacks(context.pl_callbacks)
    spec = TrialSpec(
        lmodule_class=lmodule_class,
        configure_dataloaders=context.configure_dataloaders,
        config=sample,
        settings=settings,
        is_debug=context.is_debug,
    )
    constants = constants_of(search_space)
    with _list_constants_named(constants):
        report = dry_run(spec, callbacks=context.pl_callbacks)
    # the config-variant keys are the framework's: each trial's chosen variant is merged into its
    # config before the module is built (search/space.py resolve_variant)
    module_keys = [key for key in search_space if key not in (VARIANT_KEY, VARIANTS_KEY)]
    report_unread_keys(
        module_keys,
        report.read_keys,
        class_name=lmodule_class.__qualname__,
        searched=[key for key in module_keys if key not in constants],
        stacklevel=5,
    )
    shown = _metrics_to_show(settings, report.metric, report.logged)
    spec = dataclasses.replace(spec, monitor=report.monitor)
    _prepare_code(spec, context)
    _check_local_resources(settings)
    return SearchPlan(
        space=space,
        spec=spec,
        metric=report.metric,
        n_trials=space.n_trials(settings.n_samples),
        epoch_upper_limit=epoch_limit,
        metrics_to_show=shown,
        constants=constants,
    )


@contextlib.contextmanager
def _list_constants_named(constants: Mapping[str, Any]) -> Iterator[None]:
    """A dry run that fails while the space holds plain lists: say they are constants."""
    lists = {key: value for key, value in constants.items() if isinstance(value, list | tuple)}
    try:
        yield
    except (MetricError, DataLoaderError):
        raise
    except Exception as error:
        if not lists:
            raise
        key, value = next(iter(lists.items()))
        cause = error.__cause__ if isinstance(error, ConfigError) and error.__cause__ else error
        first_line = (str(cause).strip().splitlines() or [""])[0][:200]
        raise ConfigError(
            f"The dry run failed ({type(cause).__name__}: {first_line}) and the "
            f"search space holds plain lists, which are constants, not search domains: "
            f"{', '.join(f'{k!r}: {v!r}' for k, v in lists.items())}. Every trial gets the whole "
            f"list. To search its values write {key!r}: tune.choice({list(value)!r})."
        ) from error


def _metrics_to_show(settings: Settings, metric: str, logged: Sequence[str]) -> tuple[str, ...]:
    if not settings.ray_metrics_to_show:
        return (metric,)
    shown = tuple(canonical_name(name) or name for name in settings.ray_metrics_to_show)
    unknown = [name for name in shown if name not in logged]
    if unknown:
        raise MetricError(
            f"ray_metrics_to_show lists {unknown}, which the module does not log at epoch level. "
            f"Logged: {sorted(logged)}."
        )
    return shown


def _prepare_code(spec: Any, context: RunContext) -> None:
    from pytorch_hyperlight.search.trainable import prepare_for_workers
    from pytorch_hyperlight.trial.loggers import logger_specs

    callbacks = tuple(context.pl_callbacks)
    code = [spec.lmodule_class, spec.configure_dataloaders, *callbacks, *context.pl_loggers]
    prepare_for_workers((spec, callbacks, logger_specs(context.pl_loggers)), code)


def _check_local_resources(settings: Settings) -> None:
    """For a local Ray that this search will start, check a trial fits this machine first."""
    from pytorch_hyperlight.search import ray_session
    from pytorch_hyperlight.search.tuner import check_trial_fits

    ray_session.configure_environment()
    import ray

    if ray.is_initialized() or ray_session.resolve_address(settings.ray_address) is not None:
        return
    check_trial_fits(
        settings.cpu_per_trial, settings.gpu_per_trial, [ray_session.local_resources()]
    )
