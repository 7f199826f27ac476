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


def collect_metrics(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The last value of every metric per run, and every run's epoch metrics merged.

    Args:
        runs: run name -> result dict (with ``metrics``, a TrialMetrics, and ``metrics_last``).

    Returns:
        ``{"run_metrics_last": DataFrame, "metrics": TrialMetrics}``: the DataFrame has one row
        per run (index: run name, in the order of ``runs``) and one column per metric; the
        TrialMetrics holds all runs' rows with a leading ``run`` column.

    Raises:
        MetricError: there are no runs yet, or a result has no metrics.
    """
    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

    if not runs:
        raise MetricError(
            "There are no runs to compare yet: call runner.run_single_trial(...) or "
            "runner.run_hyper_opt(...) first (or pass results reopened with load_run)."
        )
    for name, result in runs.items():
        if not isinstance(result, Mapping) or result.get("metrics") is None:
            raise MetricError(
                f"Run {name!r} has no 'metrics': expected the result dict of run_single_trial, "
                "run_hyper_opt or load_run."
            )
    rows = [last_values(result).rename(name) for name, result in runs.items()]
    table = pd.DataFrame(rows)
    table.index.name = "run"
    merged = TrialMetrics.merge_runs({name: result["metrics"] for name, result in runs.items()})
    return {"run_metrics_last": table, "metrics": merged}


def last_values(result: Mapping[str, Any]) -> pd.Series:
    """A run's last observed value of each metric (its ``metrics_last``, as a float Series)."""
    last = result.get("metrics_last")
    if last is None:
        last = result["metrics"].series_last
    series = pd.Series(last)
    return pd.to_numeric(series, errors="coerce").astype(float)


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
    if not sort_by_metric_list:
        return table.copy()
    if isinstance(sort_by_metric_list, str):
        sort_by_metric_list = [sort_by_metric_list]
    columns = [_resolve_column(table, metric) for metric in sort_by_metric_list]
    columns = list(dict.fromkeys(columns))
    ordered = table[columns + [c for c in table.columns if c not in columns]]
    return ordered.sort_values(
        by=columns,
        ascending=[is_lower_better(c) for c in columns],
        na_position="last",
        kind="stable",
    )


def show_metric_report(
    runs: Mapping[str, Mapping[str, Any]],
    sort_by_metric_list: Sequence[str] | None = None,
    *,
    display: bool = True,
) -> dict[str, Any]:
    """Show the runs' last-value table sorted by ``sort_by_metric_list`` and a comparison figure.

    In a notebook the table renders as HTML and the figure inline; in a terminal the table is
    printed with tabulate (the figure is returned: ``report["figure"].savefig("runs.png")``).

    Args:
        runs: run name -> result dict.
        sort_by_metric_list: metrics to sort by, most important first; see the module docstring
            for the direction each one is sorted in. None keeps the runs' order.
        display: False only builds and returns the report.

    Returns:
        ``{"table": DataFrame, "figure": matplotlib Figure}``.
    """
    from pytorch_hyperlight.metrics.plotting import plot_runs_comparison

    collected = collect_metrics(runs)
    table = sort_runs(collected["run_metrics_last"], sort_by_metric_list)
    figure = plot_runs_comparison(collected["metrics"])
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
