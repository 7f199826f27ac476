"""``run_hyper_opt``: checks -> Ray -> search -> the best model re-validated and tested.

1. Before Ray starts (:mod:`~pytorch_hyperlight.search.checks`): the search space against the
   searcher, a sampled config against the module's constructor, a one-batch dry run that finds the
   metric, the user's code pickled for the workers, and the resources per trial; on a cluster, the
   pre-flight (:mod:`~pytorch_hyperlight.search.cluster`): every node loads the code and shares
   the storage.
2. The search (:mod:`~pytorch_hyperlight.search.tuner`), or its continuation with ``resume``.
3. In the calling process: the best trial (by the best value of the metric over its epochs), its
   best checkpoint copied into ``run_dir/checkpoints/``, re-validated and tested with loaders built
   at ``batch_size_main``, and every result file written into the run directory.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pytorch_hyperlight import files
from pytorch_hyperlight.context import RunContext
from pytorch_hyperlight.errors import ConfigError, SearchError
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.config_record import save_config_record
from pytorch_hyperlight.results.load import plot_values
from pytorch_hyperlight.results.report import write_run_report
from pytorch_hyperlight.results.run_record import SEARCH, RunRecord, class_path
from pytorch_hyperlight.results.run_result import RunResult
from pytorch_hyperlight.search import results as search_results
from pytorch_hyperlight.search.checks import SearchPlan, plan_search
from pytorch_hyperlight.search.space import (
    describe_search_space,
    resolve_variant,
    with_sweep_strings,
)
from pytorch_hyperlight.settings import Settings
from pytorch_hyperlight.trial.loggers import logger_specs

BEST_CHECKPOINT_FILE = "best.ckpt"


# --- the search ------------------------------------------------------------------------------------
def _search(plan: SearchPlan, context: RunContext, resume: bool, wandb_options: Any) -> Any:
    from pytorch_hyperlight.search.preflight import ray_preflight
    from pytorch_hyperlight.search.trainable import make_trainable
    from pytorch_hyperlight.search.tuner import (
        TUNE_EXPERIMENT_NAME,
        build_tuner,
        fit,
        restore_tuner,
        restored_objective,
        unfinished_trials,
    )

    settings = plan.settings
    payload = (plan.spec, plan.constants, plan.user_callbacks)
    with ray_preflight(plan, context.run_dir, payload=payload) as preflight:
        concurrency = preflight.concurrency
        progress = _progress_view(plan, context, resume, concurrency)
        trainable = make_trainable(
            plan.spec,
            settings,
            constants=plan.constants,
            user_callbacks=plan.user_callbacks,
            user_loggers=logger_specs(context.pl_loggers),
            wandb_options=wandb_options,
        )
        if resume:
            tuner = restore_tuner(
                context.run_dir / TUNE_EXPERIMENT_NAME,
                trainable,
                [progress],
                n_trials=plan.n_trials,
                n_samples=settings.n_samples,
            )
            _check_same_objective(restored_objective(tuner), plan.metric, settings)
        else:
            tuner = build_tuner(
                trainable,
                plan.space.param_space,
                settings,
                metric=plan.metric,
                n_trials=plan.n_trials,
                max_concurrent_trials=concurrency,
                epoch_upper_limit=plan.epoch_upper_limit,
                storage_path=context.run_dir,
                callbacks=[progress],
            )
        result_grid = fit(tuner, settings.verbose)
        unfinished = unfinished_trials(context.run_dir / TUNE_EXPERIMENT_NAME, plan.n_trials)
        return result_grid, search_results.records_from_result_grid(result_grid), unfinished


def _progress_view(plan: SearchPlan, context: RunContext, resume: bool, concurrency: int) -> Any:
    """The live progress view (a Tune callback), headed by what the search will do."""
    from pytorch_hyperlight.search.progress import SearchProgress

    settings = plan.settings
    return SearchProgress(
        plan.metric,
        settings.metric_opt_mode,
        plan.n_trials,
        searched=plan.space.searched,
        metrics_to_show=plan.metrics_to_show,
        verbose=settings.verbose,
        header=(
            f"{'resuming ' if resume else ''}search {context.run_name}: {plan.n_trials} trials, "
            f"{settings.searcher} + {settings.scheduler}, {concurrency} at a time, optimising "
            f"{plan.metric} ({settings.metric_opt_mode})\nresults in {context.run_dir}"
        ),
        concurrency=concurrency,
    )


def _wandb_options(settings: Settings, context: RunContext) -> Any:
    """W&B options for the trials (the key stays out: workers look it up themselves), or None."""
    if not context.log2wandb:
        return None
    from pytorch_hyperlight.integrations import wandb

    return wandb.prepare_wandb(
        context.experiment_id, context.run_name, context.run_dir, verbose=settings.verbose
    )


def _log_best_to_wandb(
    options: Any,
    best_config: dict[str, Any],
    metrics_last: Any,
    best_epoch: int | None,
    trial_id: str,
) -> None:
    """The search's ``<run name>-best`` W&B run: the best model's re-validation and test."""
    if options is None:
        return
    from pytorch_hyperlight.integrations import wandb

    wandb.log_best_model(
        options,
        config=best_config,
        values=wandb.evaluation_values(metrics_last, best_epoch),
        best_trial_id=trial_id,
    )


def _check_same_objective(
    restored: tuple[str | None, str | None], metric: str, s: Settings
) -> None:
    old_metric, old_mode = restored
    if old_metric is not None and (old_metric, old_mode) != (metric, s.metric_opt_mode):
        raise ConfigError(
            f"resume continues a search that optimised {old_metric!r} ({old_mode}), but the settings "
            f"now say {metric!r} ({s.metric_opt_mode}). Resume with the original metric_to_optimize "
            "and metric_opt_mode, or start a new search."
        )


# --- after the search ------------------------------------------------------------------------------
def _check_complete(unfinished: int, n_trials: int, context: RunContext) -> None:
    if unfinished:
        raise KeyboardInterrupt(
            f"The search was interrupted with {n_trials - unfinished} of {n_trials} trials "
            "finished; its state "
            f"is saved. Continue it with runner.run_hyper_opt(..., resume={str(context.run_dir)!r}) "
            "(or resume=True for this experiment's latest search)."
        )


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    files.write_text_atomic(path, frame.to_csv(index=False))


def run_hyper_opt(
    lmodule_class: type,
    search_space: dict[str, Any],
    settings: Settings,
    context: RunContext,
    resume: bool = False,
) -> RunResult:
    """Search, then load, re-validate and test the best model (see :meth:`Runner.run_hyper_opt`).

    Raises:
        ConfigError, MetricError, DataLoaderError: bad input, found before Ray starts.
        RayConnectionError: nothing listens at ``ray_address``.
        SearchError: every trial failed (the first traceback is in the message).
        KeyboardInterrupt: the search was interrupted; it can be continued with ``resume``.
    """
    created = _dt.datetime.now().isoformat(timespec="seconds")
    started = time.monotonic()
    search_space = with_sweep_strings(search_space)
    plan = plan_search(lmodule_class, search_space, settings, context)
    save_config_record(context.run_dir, context.config_record)
    if settings.verbose >= 1:
        for note in plan.space.notes:
            print(f"note: {note}")
    wandb_options = _wandb_options(settings, context)
    result_grid, records, unfinished = _search(plan, context, resume, wandb_options)
    _check_complete(unfinished, plan.n_trials, context)
    finished = _finish(plan, settings, context, records)
    description = describe_search_space(search_space)
    record = _save(finished, plan, settings, context, lmodule_class, description, created)
    run_dir = context.run_dir
    write_run_report(run_dir)
    metrics_last = finished.metrics.series_last
    _log_best_to_wandb(
        wandb_options, finished.config, metrics_last, finished.epoch, finished.trial_id
    )
    if settings.verbose >= 1:
        _print_summary(record, finished.trials, run_dir, time.monotonic() - started)
    return RunResult.from_record(
        record,
        run_dir,
        live=True,
        lmodule_best=finished.evaluation.lmodule,
        config=dict(finished.config),
        best_config=finished.config,
        best_checkpoint_path=str(finished.checkpoint),
        search_space=description,
        settings=settings,
        metrics=finished.metrics,
        metrics_last=metrics_last,
        trials=finished.trials,
        trial_metrics=finished.trial_metrics(),
        errors=finished.errors,
        analysis=_experiment_analysis(run_dir, plan.metric, settings.metric_opt_mode),
        result_grid=result_grid,
        trainer=finished.evaluation.trainer,
        **plot_values(run_dir),
    )


@dataclasses.dataclass(frozen=True)
class _Finished:
    """A search back in the calling process: its tables; the best trial (``trial_id``, best
    ``epoch`` and ``value``, ``config``), its checkpoint copied into the run directory, re-validated
    and tested (``evaluation``), and its ``metrics`` (epochs, then the reval and test rows)."""

    trials: pd.DataFrame
    histories: dict[str, pd.DataFrame]
    errors: list[dict[str, Any]]
    trial_id: str
    epoch: int | None
    value: float
    config: dict[str, Any]
    checkpoint: Path
    evaluation: Any
    metrics: Any

    def trial_metrics(self) -> dict[str, Any]:
        """Each trial's epoch history as a TrialMetrics, by trial id."""
        from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

        return {trial_id: TrialMetrics(frame) for trial_id, frame in self.histories.items()}


def _finish(
    plan: SearchPlan, settings: Settings, context: RunContext, records: list[Any]
) -> _Finished:
    """Write the trials' files, then pick the best trial and re-validate and test its checkpoint."""
    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

    mode = settings.metric_opt_mode
    trials = search_results.trials_table(records, plan.space.searched, plan.metric, mode)
    histories = {r.trial_id: search_results.history_frame(r.reports) for r in records}
    errors = search_results.errors_list(records)
    run_dir = context.run_dir
    save_config_record(run_dir, context.config_record, {r.trial_id: r.config for r in records})
    _write_csv(trials, run_dir / run_dirs.TRIALS_FILE)
    _write_csv(search_results.trial_metrics_table(histories), run_dir / run_dirs.TRIAL_METRICS_FILE)
    files.write_json_atomic(run_dir / run_dirs.ERRORS_FILE, errors)

    best = search_results.select_best_trial(records, plan.metric, mode)  # SearchError if none
    best_epoch, best_value = search_results.best_of(best.reports, plan.metric, mode)
    checkpoint_dir, _ = search_results.best_checkpoint(best, plan.metric, mode)
    checkpoint = _copy_checkpoint(Path(checkpoint_dir), run_dir)
    best_config = resolve_variant({**best.config, **plan.constants})
    evaluation = _evaluate(plan, settings, best_config, checkpoint, best_epoch)
    frames = [histories[best.trial_id], evaluation.rows]
    metrics = TrialMetrics(pd.concat([f for f in frames if not f.empty], ignore_index=True))
    return _Finished(
        trials=trials,
        histories=histories,
        errors=errors,
        trial_id=best.trial_id,
        epoch=best_epoch,
        value=best_value,
        config=best_config,
        checkpoint=checkpoint,
        evaluation=evaluation,
        metrics=metrics,
    )


def _save(
    finished: _Finished,
    plan: SearchPlan,
    settings: Settings,
    context: RunContext,
    lmodule_class: type,
    description: dict[str, Any],
    created: str,
) -> RunRecord:
    """Write metrics.csv, the plots and, last, run.json (each atomically); return the record."""
    run_dir = context.run_dir
    mode = settings.metric_opt_mode
    finished.metrics.to_csv(run_dir / run_dirs.METRICS_FILE)
    _save_plots(finished, context.run_name, description, plan.metric, mode, run_dir)
    record = RunRecord(
        kind=SEARCH,
        run_name=context.run_name,
        experiment_id=context.experiment_id,
        created=created,
        lmodule_class=class_path(lmodule_class),
        settings=settings.to_dict(),
        config=finished.config,
        search_space=description,
        best_config=finished.config,
        is_debug=context.is_debug,
        metric=plan.metric,
        monitor=plan.spec.monitor,
        mode=mode,
        best_epoch=finished.epoch,
        best_metric_value=finished.value,
        best_checkpoint_path=str(finished.checkpoint.relative_to(run_dir)),
        metrics_last=finished.metrics.series_last.to_dict(),
        best_trial_id=finished.trial_id,
    )
    return record.save(run_dir)


def _experiment_analysis(run_dir: Path, metric: str, mode: str) -> Any:
    """Ray Tune's ``ExperimentAnalysis`` of the search, read from its experiment directory.

    The original returned one (from ``tune.run``); it is built with its public constructor, with
    the search's metric and mode as defaults (``analysis.best_config`` works as it did).
    """
    from ray.tune import ExperimentAnalysis

    from pytorch_hyperlight.search.tuner import TUNE_EXPERIMENT_NAME

    return ExperimentAnalysis(
        str(run_dir / TUNE_EXPERIMENT_NAME), default_metric=metric, default_mode=mode
    )


def _copy_checkpoint(checkpoint_dir: Path, run_dir: Path) -> Path:
    from pytorch_hyperlight.search.trainable import CHECKPOINT_FILE

    source = checkpoint_dir / CHECKPOINT_FILE
    if not source.is_file():
        raise SearchError(
            f"The best trial's checkpoint {source} is missing; was the run directory changed "
            "while the search ran?"
        )
    target = run_dir / run_dirs.CHECKPOINTS_DIR / BEST_CHECKPOINT_FILE
    files.copy_file_atomic(source, target)
    return target


def _evaluate(
    plan: SearchPlan,
    settings: Settings,
    best_config: dict[str, Any],
    checkpoint: Path,
    best_epoch: int | None,
) -> Any:
    from pytorch_hyperlight.trial.fit import evaluate_checkpoint

    spec = dataclasses.replace(plan.spec, config=best_config, settings=settings)
    return evaluate_checkpoint(
        spec, checkpoint, batch_size=settings.batch_size_main, best_epoch=best_epoch
    )


def _save_plots(
    finished: _Finished,
    run_name: str,
    description: Mapping[str, Any],
    metric: str,
    mode: str,
    run_dir: Path,
) -> None:
    from pytorch_hyperlight.metrics.plotting import plot_trial_metrics, run_title
    from pytorch_hyperlight.results.analysis import save_search_plots

    title = run_title(run_name, metric, finished.epoch, finished.value, trial_id=finished.trial_id)
    figure = plot_trial_metrics(finished.metrics, title=title)
    files.write_figure_atomic(run_dir / run_dirs.METRICS_PLOT_FILE, figure)
    trial_metrics = finished.trial_metrics()
    trial_metrics = {k: v for k, v in trial_metrics.items() if not finished.histories[k].empty}
    save_search_plots(run_dir, finished.trials, trial_metrics, description, metric, mode)


def outcome_counts(statuses: pd.Series) -> str:
    """``"10 trials: 6 done, 4 stopped"`` from the trials table's ``status`` column.

    >>> outcome_counts(pd.Series(["done", "stopped", "done", "error"]))
    '4 trials: 2 done, 1 stopped, 1 error'
    """
    counts = statuses.value_counts(sort=False)
    order = [search_results.DONE, search_results.STOPPED, search_results.FAILED]
    order += sorted(str(status) for status in counts.index if status not in order)
    shown = ", ".join(f"{counts[status]} {status}" for status in order if status in counts)
    return f"{len(statuses)} trial{'s' if len(statuses) != 1 else ''}: {shown}"


def _print_summary(record: RunRecord, trials: pd.DataFrame, run_dir: Path, elapsed: float) -> None:
    """The one closing message: the best trial, its re-validation and test, time and counts."""
    lines = record.summary_lines(
        run_dir, elapsed_s=elapsed, outcome=outcome_counts(trials["status"])
    )
    print("\n".join(lines), flush=True)
