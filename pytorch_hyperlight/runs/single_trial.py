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
import dataclasses
import datetime as _dt
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytorch_hyperlight import files
from pytorch_hyperlight.context import RunContext
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.config_record import save_config_record
from pytorch_hyperlight.results.report import write_run_report
from pytorch_hyperlight.settings import Settings
from pytorch_hyperlight.trial.building import check_config
from pytorch_hyperlight.trial.callbacks import check_callbacks
from pytorch_hyperlight.trial.data import load_dataloaders
from pytorch_hyperlight.trial.fit import (
    FitOutcome,
    TrialSpec,
    dry_run,
    evaluate_checkpoint,
    fit_trial,
    require_checkpoint,
)
from pytorch_hyperlight.trial.hparam_reads import report_unread_keys
from pytorch_hyperlight.trial.lightning import accelerator_options, namespace_of
from pytorch_hyperlight.trial.loggers import fresh_loggers

RUN_FORMAT_VERSION = 1


def run_single_trial(
    lmodule_class: type, config: dict[str, Any], settings: Settings, context: RunContext
) -> dict[str, Any]:
    """Train one configuration, then re-validate and test its best checkpoint.

    Args:
        lmodule_class: a LightningModule class (``pytorch_lightning`` or ``lightning.pytorch``).
        config: hyper-parameters plus ``max_epochs``, ``batch_size`` (and ``gradient_clip_val``);
            never modified.
        settings: how to train and evaluate.
        context: the Runner's part: loader function, callbacks, loggers, run name and directory.

    Returns:
        A dict with ``lmodule_best`` (the best epoch's model, loaded from its checkpoint),
        ``best_epoch``, ``best_checkpoint_path`` (absolute, inside ``run_dir/checkpoints``),
        ``trainer`` (the one that fitted), ``metrics`` (TrialMetrics), ``metrics_last`` (pandas
        Series), ``run_dir``, ``run_name``, ``config`` (a copy) and ``settings``.

    Raises:
        ConfigError, DataLoaderError, MetricError: bad input, before any training.
        NonFiniteMetricError: the loss or the metric became NaN/infinite during training.
    """
    from pytorch_hyperlight.metrics.console import make_epoch_display

    check_config(lmodule_class, config)
    config = copy.deepcopy(dict(config))
    accelerator_options(settings.gpus)  # fails early when GPUs are asked for but unusable
    user_callbacks = context.fresh_callbacks()
    check_callbacks(user_callbacks)
    loaders = load_dataloaders(context.configure_dataloaders, int(config["batch_size"]), settings)
    spec = TrialSpec(
        lmodule_class=lmodule_class,
        configure_dataloaders=context.configure_dataloaders,
        config=config,
        settings=settings,
        is_debug=context.is_debug,
    )
    with_logger = bool(context.pl_loggers) or context.log2wandb
    report = dry_run(spec, loaders=loaders, callbacks=user_callbacks, with_logger=with_logger)
    # a warning, not an error: a callback may read the key (the seed's 'unfreeze_epochs')
    report_unread_keys(
        config, report.read_keys, class_name=lmodule_class.__qualname__, stacklevel=4
    )
    spec = dataclasses.replace(spec, monitor=report.monitor)
    save_config_record(context.run_dir, context.config_record)

    display = make_epoch_display(settings.verbose)
    with _wandb_loggers(lmodule_class, spec, context) as wandb_loggers:
        try:
            fitted = fit_trial(
                spec,
                checkpoint_dir=context.run_dir / run_dirs.CHECKPOINTS_DIR,
                extra_callbacks=_progress_bar(lmodule_class, settings.verbose, user_callbacks),
                user_callbacks=user_callbacks,
                loggers=[*fresh_loggers(context.pl_loggers, context.run_dir), *wandb_loggers],
                epoch_display=display,
                loaders=loaders,
            )
        finally:
            if display is not None:
                display.close()
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
    _save(context, lmodule_class, spec, report.metric, fitted, metrics, metrics_last)
    write_run_report(context.run_dir)
    if settings.verbose >= 1:
        _print_summary(report.metric, fitted, evaluation.rows, context.run_dir)
    return {
        "lmodule_best": evaluation.lmodule,
        "best_epoch": fitted.best_epoch,
        "best_checkpoint_path": best_path,
        "trainer": fitted.trainer,
        "metrics": metrics,
        "metrics_last": metrics_last,
        "run_dir": context.run_dir,
        "run_name": context.run_name,
        "config": copy.deepcopy(config),
        "settings": settings,
    }


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


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _save(
    context: RunContext,
    lmodule_class: type,
    spec: TrialSpec,
    metric: str,
    fitted: FitOutcome,
    metrics: Any,
    metrics_last: Any,
) -> None:
    """Write metrics.csv, metrics.png and run.json (each atomically) into the run directory."""
    from pytorch_hyperlight.metrics.plotting import plot_trial_metrics, run_title

    run_dir = Path(context.run_dir)
    metrics.to_csv(run_dir / run_dirs.METRICS_FILE)
    best_value = _best_metric_value(fitted, metric)
    title = run_title(context.run_name, metric, fitted.best_epoch, best_value)
    figure = plot_trial_metrics(metrics, title=title)
    files.write_figure_atomic(run_dir / run_dirs.METRICS_PLOT_FILE, figure)
    best_path = fitted.best_checkpoint_path
    relative = os.path.relpath(best_path, run_dir) if best_path else None
    run_dirs.write_run_json(
        run_dir,
        {
            "format_version": RUN_FORMAT_VERSION,
            "kind": "single_trial",
            "run_name": context.run_name,
            "experiment_id": context.experiment_id,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "lmodule_class": f"{lmodule_class.__module__}:{lmodule_class.__qualname__}",
            "settings": spec.settings.to_dict(),
            "config": dict(spec.config),
            "best_config": dict(spec.config),
            "is_debug": spec.is_debug,
            "metric": metric,
            "monitor": spec.monitor,
            "mode": spec.settings.metric_opt_mode,
            "best_epoch": fitted.best_epoch,
            "best_metric_value": _json_number(best_value),
            "best_checkpoint_path": relative,
            "metrics_last": {
                str(name): _json_number(float(value)) for name, value in metrics_last.items()
            },
        },
    )


def _print_summary(metric: str, fitted: FitOutcome, rows: Any, run_dir: Path) -> None:
    from pytorch_hyperlight.metrics.console import format_stage_rows, format_value

    value = _best_metric_value(fitted, metric)
    shown = format_value(value) if value is not None else "n/a"
    print(
        f"best epoch {fitted.best_epoch}: {metric}={shown}; its checkpoint re-validated and "
        "tested:\n" + "\n".join(format_stage_rows(rows)) + f"\nresults in {run_dir}",
        flush=True,
    )
