"""THE preparation of a trial: validate the config and the loaders, build the spec, dry run.

Both kinds of run prepare their trial here, before any training: ``run_single_trial`` with the
user's config, ``run_hyper_opt`` with a config drawn from the search space (before Ray starts).
:func:`prepare_trial` runs, in this order:

1. the config against the module class (:func:`~pytorch_hyperlight.trial.building.check_config`),
   the ``gpus`` setting against what this process sees, the user's callbacks (fresh copies);
2. the loaders, built once at the config's batch size (kept for the fit);
3. the :class:`~pytorch_hyperlight.trial.fit.TrialSpec`, which carries the settings: there is no
   second copy of them beside it;
4. the one-batch dry run (:func:`~pytorch_hyperlight.trial.dry_run.dry_run`), which resolves the
   metric to monitor;
5. the config keys the module never read: a warning, or an error for searched keys.

What comes out is one frozen :class:`PreparedTrial`; the spec in it already names the monitor.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

from pytorch_hyperlight.settings import Settings
from pytorch_hyperlight.trial.building import check_config
from pytorch_hyperlight.trial.callbacks import check_callbacks
from pytorch_hyperlight.trial.data import LoaderSet, load_dataloaders
from pytorch_hyperlight.trial.dry_run import DryRunReport, dry_run
from pytorch_hyperlight.trial.fit import TrialSpec
from pytorch_hyperlight.trial.hparam_reads import report_unread_keys
from pytorch_hyperlight.trial.lightning import accelerator_options


@dataclass(frozen=True)
class PreparedTrial:
    """A trial checked and dry-run, ready to train.

    Attributes:
        spec: what to train (module class, loader function, a copy of the config, the settings) with
            ``monitor`` set from the dry run.
        loaders: the loaders built at the config's batch size (the fit reuses them).
        dry_run: what the dry run learned: the metric, every logged metric, the keys read.
        user_callbacks: fresh copies of the user's callbacks, checked, for the fit.
    """

    spec: TrialSpec
    loaders: LoaderSet
    dry_run: DryRunReport
    user_callbacks: tuple[Any, ...]

    @property
    def metric(self) -> str:
        """The canonical name of the metric to optimise (``'val_f1'``)."""
        return self.dry_run.metric

    @property
    def settings(self) -> Settings:
        """The settings the trial trains with (those of :attr:`spec`)."""
        return self.spec.settings


def prepare_trial(
    lmodule_class: type,
    config: Mapping[str, Any],
    settings: Settings,
    *,
    configure_dataloaders: Callable[..., Any],
    callbacks: Sequence[Any] = (),
    with_logger: bool = False,
    is_debug: bool = False,
    reported_keys: Collection[str] | None = None,
    searched_keys: Collection[str] = (),
    dry_run_context: Callable[[], AbstractContextManager[Any]] | None = None,
    stacklevel: int = 1,
) -> PreparedTrial:
    """Validate, build the spec, dry run and report unread keys; raise before any training.

    Args:
        lmodule_class: a LightningModule class (either namespace).
        config: hyper-parameters plus ``max_epochs`` and ``batch_size``; copied, never modified.
        settings: how to train; carried by the spec.
        configure_dataloaders: ``f(batch_size, n_workers=...) -> dict`` of DataLoaders.
        callbacks: the user's callbacks; the given objects are never used, only fresh copies.
        with_logger: the real fit has loggers (the dry run puts a throwaway one in their place).
        is_debug: a fast smoke run.
        reported_keys: the keys whose reads are checked; None: every key of ``config``.
        searched_keys: keys whose values are searched: one the module never reads is an error; any
            other unread key is a warning.
        dry_run_context: wraps building the loaders and the dry run (the search names plain
            lists when they fail).
        stacklevel: where the unread-key warning points, counted from the caller (1: its line).

    Returns:
        A :class:`PreparedTrial`.

    Raises:
        ConfigError: bad module class, config keys, ``gpus``, callbacks, or a searched key the
            module never reads.
        DataLoaderError: bad loader function or loaders.
        MetricError: ``metric_to_optimize`` not logged at epoch level, or a name without stage
            prefix.
        Exception: whatever the module or a callback raises in the dry run (with a note).
    """
    check_config(lmodule_class, config)
    config = copy.deepcopy(dict(config))
    accelerator_options(settings.gpus)  # fails early when GPUs are asked for but unusable
    user_callbacks = tuple(copy.deepcopy(callback) for callback in callbacks)
    check_callbacks(user_callbacks)
    spec = TrialSpec(
        lmodule_class=lmodule_class,
        configure_dataloaders=configure_dataloaders,
        config=config,
        settings=settings,
        is_debug=is_debug,
    )
    guard = dry_run_context() if dry_run_context is not None else contextlib.nullcontext()
    with guard:
        loaders = load_dataloaders(configure_dataloaders, int(config["batch_size"]), settings)
        report = dry_run(spec, loaders=loaders, callbacks=user_callbacks, with_logger=with_logger)
    # a warning, not an error, for keys not searched: a callback may read the key (the seed's
    # 'unfreeze_epochs')
    report_unread_keys(
        config if reported_keys is None else reported_keys,
        report.read_keys,
        class_name=lmodule_class.__qualname__,
        searched=searched_keys,
        stacklevel=stacklevel + 2,  # report_unread_keys, this function, then the caller's frames
    )
    return PreparedTrial(
        spec=replace(spec, monitor=report.monitor),
        loaders=loaders,
        dry_run=report,
        user_callbacks=user_callbacks,
    )
