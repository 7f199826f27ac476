"""Comparing runs: the last-value table across runs and the report the original Runner showed.

``runs`` is a mapping run name -> result dict, as kept by :class:`~pytorch_hyperlight.Runner`
(``runner.get_runs()``) or as returned by :func:`~pytorch_hyperlight.load_run`, so runs reopened
from disk compare the same way::

    runs = {name: load_run(path) for name, path in [("small", small_dir), ("large", large_dir)]}
    show_metric_report(runs, sort_by_metric_list=["val_f1"])

Sorting direction: a metric whose name contains one of :data:`LOWER_IS_BETTER` (``loss``,
``error``, ``mse``, ``mae``) is sorted ascending (smallest first); every other metric (accuracy,
F1, ...) descending, so the best run is always the first row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pytorch_hyperlight.errors import MetricError

#: Parts of a metric name that mean "smaller is better".
LOWER_IS_BETTER = ("loss", "error", "mse", "mae")
#: Prefixes of the last values that come from evaluating the best model, not from training.
_EVALUATION_PREFIXES = ("reval_", "test_")


def collect_metrics(
    runs: Mapping[str, Mapping[str, Any]], *, keep_train_val_only: bool = False
) -> dict[str, Any]:
    """The last value of every metric per run, and every run's epoch metrics merged.

    Args:
        runs: run name -> result dict (with ``metrics``, a TrialMetrics). Empty: empty tables.
        keep_train_val_only: leave out the ``reval_*``/``test_*`` last values and the ``reval``
            and ``test`` rows (and ``test_*`` columns) of the merged table.

    Returns:
        The original's keys: ``run_x_last_metric_df``, a DataFrame with one row per run (in the
        order of ``runs``) of its :attr:`~pytorch_hyperlight.TrialMetrics.series_last` (train/val
        of the last epoch, ``reval_*``, ``test_*``) and a last column ``run``;
        ``epoch_x_stage_run_metric``, a TrialMetrics of all runs' rows with a leading ``run``
        column. Also, as before: ``run_metrics_last``, the same last values indexed by run name,
        and ``metrics``, the same TrialMetrics.

    Raises:
        MetricError: a result has no metrics.
    """
    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

    for name, result in runs.items():
        if not isinstance(result, Mapping) or result.get("metrics") is None:
            raise MetricError(
                f"Run {name!r} has no 'metrics': expected the result dict of run_single_trial, "
                "run_hyper_opt or load_run."
            )
    if runs:
        table = pd.DataFrame([last_values(result).rename(name) for name, result in runs.items()])
        merged = TrialMetrics.merge_runs({name: result["metrics"] for name, result in runs.items()})
    else:
        table, merged = pd.DataFrame(), TrialMetrics.create_empty()
    table.index.name = "run"
    if keep_train_val_only:
        table = table[[c for c in table.columns if not c.startswith(_EVALUATION_PREFIXES)]]
        merged = _train_val_only(merged)
    by_row = table.reset_index(drop=True).assign(run=list(table.index))
    return {
        "run_x_last_metric_df": by_row,
        "epoch_x_stage_run_metric": merged,
        "run_metrics_last": table,
        "metrics": merged,
    }


def last_values(result: Mapping[str, Any]) -> pd.Series:
    """A run's last observed value of each metric (``result["metrics"].series_last``)."""
    return result["metrics"].series_last.astype(float)


def _train_val_only(metrics: Any) -> Any:
    from pytorch_hyperlight.metrics.trial_metrics import STAGE, TrialMetrics

    frame = metrics.df
    frame = frame[frame[STAGE].isin(("train", "val"))]
    return TrialMetrics(frame[[c for c in frame.columns if not c.startswith("test_")]])


def is_lower_better(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better (decides the sort direction).

    >>> is_lower_better("val_loss"), is_lower_better("test_error_rate"), is_lower_better("val_f1")
    (True, True, False)
    """
    name = metric.lower()
    return any(part in name for part in LOWER_IS_BETTER)


def sort_runs(table: pd.DataFrame, sort_by_metric_list: Sequence[str] | None) -> pd.DataFrame:
    """``table`` sorted by the metrics in order (best first; NaN last), sort metrics first.

    A name may carry Lightning's ``_epoch`` suffix (``val_f1_epoch`` sorts by ``val_f1``).

    Raises:
        MetricError: a metric is not a column of the table; the message lists those that are.
    """
    columns = sort_columns(table, sort_by_metric_list)
    if not columns:
        return table.copy()
    ordered = table[columns + [c for c in table.columns if c not in columns]]
    # Ties are broken by the run name, descending, as the original sorted by [*metrics, "run"].
    by_name = ordered.sort_index(ascending=False, kind="stable")
    return by_name.sort_values(
        by=columns,
        ascending=[is_lower_better(c) for c in columns],
        na_position="last",
        kind="stable",
    )


def sort_columns(table: pd.DataFrame, sort_by_metric_list: Sequence[str] | None) -> list[str]:
    """The columns of ``table`` that ``sort_by_metric_list`` names, in order, without repeats.

    ``"run"`` is skipped: the run name always breaks ties (the original's users listed it).

    Raises:
        MetricError: a metric is not a column of the table; the message lists those that are.
    """
    if not sort_by_metric_list:
        return []
    if isinstance(sort_by_metric_list, str):
        sort_by_metric_list = [sort_by_metric_list]
    names = [metric for metric in sort_by_metric_list if metric != "run"]
    return list(dict.fromkeys(_resolve_column(table, metric) for metric in names))


def show_metric_report(
    runs: Mapping[str, Mapping[str, Any]],
    sort_by_metric_list: Sequence[str] | None = None,
    *,
    figsize: tuple[float, float] | None = None,
    keep_train_val_only: bool = False,
    display: bool = True,
) -> dict[str, Any] | None:
    """Show the runs' last-value table sorted by ``sort_by_metric_list`` and a comparison figure.

    In a notebook the table renders as HTML and the figure inline; in a terminal the table is
    printed with tabulate (the figure is returned: ``report["figure"].savefig("runs.png")``).
    Without runs there is nothing to show: nothing is shown and None is returned.

    Args:
        runs: run name -> result dict.
        sort_by_metric_list: metrics to sort by, most important first, then the run name (as the
            original); see the module docstring for the direction each one is sorted in. None
            keeps the runs' order.
        figsize: the figure's (width, height) in inches; default: sized from its panels.
        keep_train_val_only: leave the ``reval``/``test`` values out of the figure and of the
            table (except the metrics sorted by).
        display: False only builds and returns the report.

    Returns:
        ``{"table": DataFrame indexed by run, "figure": matplotlib Figure}``, or None without runs.
    """
    from pytorch_hyperlight.metrics.plotting import plot_runs_comparison

    if not runs:
        return None
    collected = collect_metrics(runs)
    table = sort_runs(collected["run_metrics_last"], sort_by_metric_list)
    merged = collected["metrics"]
    if keep_train_val_only:
        merged = _train_val_only(merged)
        sorted_by = sort_columns(table, sort_by_metric_list)
        table = table[
            [c for c in table.columns if c in sorted_by or not c.startswith(_EVALUATION_PREFIXES)]
        ]
    figure = plot_runs_comparison(merged, figsize=figsize)
    if display:
        _display(table, figure)
    return {"table": table, "figure": figure}


def format_table(table: pd.DataFrame, width: int | None = None) -> str:
    """The table as text for a terminal (tabulate, 4 significant digits).

    When one row per run would be wider than the terminal (``width`` columns, default: the
    terminal's), the table is printed turned: one row per metric, one column per run (in the
    sorted order, best first).
    """
    import shutil

    from tabulate import tabulate

    def render(frame: pd.DataFrame) -> str:
        return tabulate(frame, headers="keys", tablefmt="simple", floatfmt=".4g", missingval="-")

    text = render(table)
    width = width or shutil.get_terminal_size((120, 24)).columns
    if max(map(len, text.splitlines()), default=0) > width and len(table) < len(table.columns):
        turned = table.T
        turned.index.name = "metric"
        return render(turned)
    return text


def _resolve_column(table: pd.DataFrame, metric: str) -> str:
    if not isinstance(metric, str):
        raise MetricError(f"sort_by_metric_list must hold metric names, got {metric!r}.")
    if metric in table.columns:
        return metric
    if metric.endswith("_epoch") and metric[: -len("_epoch")] in table.columns:
        return metric[: -len("_epoch")]
    raise MetricError(
        f"Cannot sort by {metric!r}: no run has that metric. Available metrics: "
        f"{', '.join(map(str, table.columns))}."
    )


def _display(table: pd.DataFrame, figure: Any) -> None:
    from pytorch_hyperlight.metrics.console import in_notebook

    if in_notebook():
        from IPython.display import display

        display(table)
        display(figure)
    else:
        print(format_table(table))
