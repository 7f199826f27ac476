"""Checks before a search: everything that can be found out without Ray, found out first.

:func:`plan_search` resolves where Ray runs and whether a trial fits a local Ray
(:func:`~pytorch_hyperlight.search.preflight.plan_ray`), checks the settings against the search
space and the searcher, prepares the trial with a config drawn from the space exactly as a single
trial is prepared (:func:`~pytorch_hyperlight.trial.prepare.prepare_trial`: config, loaders, dry
run; a searched key the module never reads is an error, an unread constant a warning) and makes
sure the user's code can reach Ray workers. Every failure is raised before Ray starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytorch_hyperlight.context import RunContext
from pytorch_hyperlight.errors import ConfigError, DataLoaderError, MetricError
from pytorch_hyperlight.metric_names import canonical_name
from pytorch_hyperlight.search.preflight import RayPlan, plan_ray
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
        spec: the trial template (module class, loaders, settings, monitor from the dry run); its
            settings are the search's (the one place they are carried).
        metric: the canonical metric name.
        n_trials: total trials.
        epoch_upper_limit: ASHA's ``max_t``.
        metrics_to_show: canonical metrics for the progress view.
        constants: the space's constants as the user wrote them.
        user_callbacks: the user's callbacks (checked copies) that every trial runs.
        ray: where Ray runs and whether a trial was found to fit it.
    """

    space: PreparedSpace
    spec: Any
    metric: str
    n_trials: int
    epoch_upper_limit: int
    metrics_to_show: tuple[str, ...]
    constants: dict[str, Any]
    user_callbacks: tuple[Any, ...]
    ray: RayPlan

    @property
    def settings(self) -> Settings:
        """The search's settings (those of :attr:`spec`)."""
        return self.spec.settings


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
        RayConnectionError: nothing listens at ``ray_address``.
    """
    from pytorch_hyperlight.trial.prepare import prepare_trial

    ray = plan_ray(settings)
    space = prepare_search_space(search_space, settings.searcher)
    epoch_limit = settings.epoch_upper_limit or default_epoch_upper_limit(search_space)
    if settings.scheduler == "asha" and settings.asha_grace_period > epoch_limit:
        raise ConfigError(
            f"grace_period={settings.asha_grace_period} is beyond ASHA's epoch limit "
            f"(epoch_upper_limit={epoch_limit}): no trial could ever be stopped early. Lower "
            "grace_period or raise epoch_upper_limit / max_epochs."
        )
    constants = constants_of(search_space)
    # the config-variant keys are the framework's: each trial's chosen variant is merged into its
    # config before the module is built (search/space.py resolve_variant)
    module_keys = [key for key in search_space if key not in (VARIANT_KEY, VARIANTS_KEY)]
    prepared = prepare_trial(
        lmodule_class,
        sample_config(space.param_space, seed=settings.seed or 0),
        settings,
        configure_dataloaders=context.configure_dataloaders,
        callbacks=context.pl_callbacks,
        is_debug=context.is_debug,
        reported_keys=module_keys,
        searched_keys=[key for key in module_keys if key not in constants],
        dry_run_context=lambda: _list_constants_named(constants),
        stacklevel=4,  # plan_search, run_hyper_opt, Runner.run_hyper_opt, the user's call
    )
    shown = _metrics_to_show(settings, prepared.metric, prepared.dry_run.logged)
    _prepare_code(prepared.spec, prepared.user_callbacks, context)
    return SearchPlan(
        space=space,
        spec=prepared.spec,
        metric=prepared.metric,
        n_trials=space.n_trials(settings.n_samples),
        epoch_upper_limit=epoch_limit,
        metrics_to_show=shown,
        constants=constants,
        user_callbacks=prepared.user_callbacks,
        ray=ray,
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


def _prepare_code(spec: Any, callbacks: tuple[Any, ...], context: RunContext) -> None:
    from pytorch_hyperlight.search.trainable import prepare_for_workers
    from pytorch_hyperlight.trial.loggers import logger_specs

    code = [spec.lmodule_class, spec.configure_dataloaders, *callbacks, *context.pl_loggers]
    prepare_for_workers((spec, callbacks, logger_specs(context.pl_loggers)), code)
