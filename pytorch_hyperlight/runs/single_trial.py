"""run_single_trial: validate -> dry run -> fit -> re-validate -> test -> save.

Every check runs before training: the module class, the config keys, the ``gpus`` setting, the user's
callbacks, the loaders and, through a one-batch dry run of the first epoch (with the user's
callbacks), the metric names and the config keys the module never reads (a warning). Then one fit
with the best epoch checkpointed into the run directory, and the best checkpoint re-validated and
tested.

Files written into ``context.run_dir`` (see :mod:`pytorch_hyperlight.results.run_dir`)::

    checkpoints/best.ckpt   the best epoch (Lightning's ModelCheckpoint)
    metrics.csv             TrialMetrics.to_csv: train/val rows per epoch, reval and test rows
    metrics.png             TrialMetrics.plot
    run.json                what was run and what came out of it
    versions.json, report.html   the versions used; the whole run on one page
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytorch_hyperlight import files
from pytorch_hyperlight.context import RunContext
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.config_record import save_config_record
from pytorch_hyperlight.results.load import plot_values
from pytorch_hyperlight.results.report import write_run_report
from pytorch_hyperlight.results.run_record import SINGLE_TRIAL, RunRecord, class_path
from pytorch_hyperlight.results.run_result import RunResult
from pytorch_hyperlight.settings import Settings
from pytorch_hyperlight.trial.fit import (
    FitOutcome,
    TrialSpec,
    evaluate_checkpoint,
    fit_trial,
    require_checkpoint,
)
from pytorch_hyperlight.trial.lightning import namespace_of
from pytorch_hyperlight.trial.loggers import fresh_loggers
from pytorch_hyperlight.trial.prepare import prepare_trial


def run_single_trial(
    lmodule_class: type, config: dict[str, Any], settings: Settings, context: RunContext
) -> RunResult:
    """Train one configuration, then re-validate and test its best checkpoint.

    Args:
        lmodule_class: a LightningModule class (``pytorch_lightning`` or ``lightning.pytorch``).
        config: hyper-parameters plus ``max_epochs``, ``batch_size`` (and ``gradient_clip_val``);
            never modified.
        settings: how to train and evaluate.
        context: the Runner's part: loader function, callbacks, loggers, run name and directory.

    Returns:
        A :class:`~pytorch_hyperlight.results.run_result.RunResult` (a dict) with the run record's
        fields and ``lmodule_best`` (the best epoch's model, loaded from its checkpoint),
        ``best_epoch``, ``best_checkpoint_path`` (absolute, inside ``run_dir/checkpoints``),
        ``trainer`` (the one that fitted), ``metrics`` (TrialMetrics), ``metrics_last`` (pandas
        Series), ``run_dir``, ``run_name``, ``config`` and ``best_config`` (copies),
        ``settings``, ``plots`` and ``redraw_plots``.

    Raises:
        ConfigError, DataLoaderError, MetricError: bad input, before any training.
        NonFiniteMetricError: the loss or the metric became NaN/infinite during training.
    """
    prepared = prepare_trial(
        lmodule_class,
        config,
        settings,
        configure_dataloaders=context.configure_dataloaders,
        callbacks=context.pl_callbacks,
        with_logger=bool(context.pl_loggers) or context.log2wandb,
        is_debug=context.is_debug,
        stacklevel=3,  # run_single_trial, Runner.run_single_trial, the user's call
    )
    spec, loaders, report = prepared.spec, prepared.loaders, prepared.dry_run
    config, user_callbacks = dict(spec.config), list(prepared.user_callbacks)
    save_config_record(context.run_dir, context.config_record)

    with _wandb_loggers(lmodule_class, spec, context) as wandb_loggers:
        fitted = _fit(spec, loaders, user_callbacks, [*wandb_loggers], context)
        best_path = require_checkpoint(fitted, report.metric)
        evaluation = evaluate_checkpoint(
            spec,
            best_path,
            batch_size=settings.batch_size_main,
            best_epoch=fitted.best_epoch,
            loaders=loaders,
        )
        metrics = _trial_metrics(fitted, evaluation.rows)
        metrics_last = metrics.series_last
        _log_evaluation_to_wandb(wandb_loggers, metrics_last, fitted.best_epoch)
    record = _save(context, lmodule_class, spec, report.metric, fitted, metrics)
    write_run_report(context.run_dir)
    if settings.verbose >= 1:
        print("\n".join(record.summary_lines(context.run_dir)), flush=True)
    return RunResult.from_record(
        record,
        context.run_dir,
        live=True,
        lmodule_best=evaluation.lmodule,
        best_checkpoint_path=best_path,
        trainer=fitted.trainer,
        metrics=metrics,
        metrics_last=metrics_last,
        config=copy.deepcopy(config),
        best_config=copy.deepcopy(config),
        settings=settings,
        **plot_values(context.run_dir),
    )


def _fit(
    spec: TrialSpec,
    loaders: Any,
    user_callbacks: list[Any],
    wandb_loggers: list[Any],
    context: RunContext,
) -> FitOutcome:
    """The fit, with the per-epoch table and the batch progress bar shown as ``verbose`` says."""
    from pytorch_hyperlight.metrics.console import make_epoch_display

    verbose = spec.settings.verbose
    display = make_epoch_display(verbose)
    try:
        return fit_trial(
            spec,
            checkpoint_dir=context.run_dir / run_dirs.CHECKPOINTS_DIR,
            extra_callbacks=_progress_bar(spec.lmodule_class, verbose, user_callbacks),
            user_callbacks=user_callbacks,
            loggers=[*fresh_loggers(context.pl_loggers, context.run_dir), *wandb_loggers],
            epoch_display=display,
            loaders=loaders,
        )
    finally:
        if display is not None:
            display.close()


@contextlib.contextmanager
def _wandb_loggers(
    lmodule_class: type, spec: TrialSpec, context: RunContext
) -> Iterator[list[Any]]:
    """The W&B logger of this run (one W&B run) when the Runner logs to W&B, else none."""
    if not context.log2wandb:
        yield []
        return
    from pytorch_hyperlight.integrations import wandb

    options = wandb.prepare_wandb(
        context.experiment_id, context.run_name, context.run_dir, verbose=spec.settings.verbose
    )
    with wandb.wandb_loggers(
        namespace_of(lmodule_class),
        options,
        name_suffix="",
        job_type=wandb.JOB_SINGLE_TRIAL,
        config=spec.config,
    ) as loggers:
        yield loggers


def _progress_bar(lmodule_class: type, verbose: int, user_callbacks: list[Any]) -> list[Any]:
    """The batch progress bar within each epoch, unless not shown or the user brings their own."""
    from pytorch_hyperlight.trial.progress_bar import make_progress_bar

    namespace = namespace_of(lmodule_class)
    if any(isinstance(callback, namespace.ProgressBar) for callback in user_callbacks):
        return []
    bar = make_progress_bar(namespace, verbose)
    return [] if bar is None else [bar]


def _log_evaluation_to_wandb(loggers: list[Any], metrics_last: Any, best_epoch: int | None) -> None:
    """The best checkpoint's re-validation and test, logged to the single trial's W&B run."""
    if not loggers:
        return
    from pytorch_hyperlight.integrations import wandb

    wandb.log_evaluation(loggers, wandb.evaluation_values(metrics_last, best_epoch))


def _trial_metrics(fitted: FitOutcome, evaluation_rows: Any) -> Any:
    import pandas as pd

    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

    frames = [frame for frame in (fitted.history, evaluation_rows) if not frame.empty]
    table = pd.concat(frames, ignore_index=True, sort=False) if frames else fitted.history
    return TrialMetrics(table)


def _best_metric_value(fitted: FitOutcome, metric: str) -> float | None:
    history = fitted.history
    if fitted.best_epoch is None or metric not in history.columns:
        return None
    values = history.loc[history["epoch"] == fitted.best_epoch, metric].dropna()
    return float(values.iloc[0]) if not values.empty else None


def _save(
    context: RunContext,
    lmodule_class: type,
    spec: TrialSpec,
    metric: str,
    fitted: FitOutcome,
    metrics: Any,
) -> RunRecord:
    """Write metrics.csv, metrics.png and, last, run.json (each atomically); return the record."""
    from pytorch_hyperlight.metrics.plotting import plot_trial_metrics, run_title

    run_dir = Path(context.run_dir)
    metrics.to_csv(run_dir / run_dirs.METRICS_FILE)
    best_value = _best_metric_value(fitted, metric)
    title = run_title(context.run_name, metric, fitted.best_epoch, best_value)
    figure = plot_trial_metrics(metrics, title=title)
    files.write_figure_atomic(run_dir / run_dirs.METRICS_PLOT_FILE, figure)
    best_path = fitted.best_checkpoint_path
    record = RunRecord(
        kind=SINGLE_TRIAL,
        run_name=context.run_name,
        experiment_id=context.experiment_id,
        lmodule_class=class_path(lmodule_class),
        settings=spec.settings.to_dict(),
        config=dict(spec.config),
        best_config=dict(spec.config),
        is_debug=spec.is_debug,
        metric=metric,
        monitor=spec.monitor,
        mode=spec.settings.metric_opt_mode,
        best_epoch=fitted.best_epoch,
        best_metric_value=best_value,
        best_checkpoint_path=os.path.relpath(best_path, run_dir) if best_path else None,
        metrics_last=metrics.series_last.to_dict(),
    )
    return record.save(run_dir)
