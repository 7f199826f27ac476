"""Comparing runs: the last-value table across runs and the report the original Runner showed.

``runs`` is a mapping run name -> result dict, as kept by :class:`~pytorch_hyperlight.Runner`
(``runner.get_runs()``) or as returned by :func:`~pytorch_hyperlight.load_run`, so runs reopened
from disk compare the same way::

    runs = {name: load_run(path) for name, path in [("small", small_dir), ("large", large_dir)]}
    show_metric_report(runs, sort_by_metric_list=["val_f1"])

Sorting direction: each metric is sorted best first, in the direction that
:mod:`pytorch_hyperlight.metric_direction` resolves for it: the report's ``higher_is_better``
argument, then each run's ``Settings.higher_is_better`` and optimised metric with its
``metric_opt_mode``, then the documented default rule. A metric whose direction is unknown (or on
which the runs disagree) is not sorted by; the report warns and its footnote says so, as it says
the rule behind every other metric's direction.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from pytorch_hyperlight.errors import ConfigError, MetricError
from pytorch_hyperlight.metric_direction import (
    MetricDirection,
    agreed_direction,
    declared_direction,
    format_directions,
    higher_is_better_problems,
    metric_direction,
)

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


def metric_directions(
    runs: Mapping[str, Mapping[str, Any]],
    metrics: Iterable[str],
    *,
    higher_is_better: Mapping[str, bool] | None = None,
) -> dict[str, MetricDirection]:
    """Which way is better for each of ``metrics``, by the rules of
    :mod:`pytorch_hyperlight.metric_direction`, over all ``runs``.

    ``higher_is_better`` (the report's argument) comes first; then each run's own declarations
    (its settings' ``higher_is_better``, its ``metric`` and ``mode``) are resolved and combined
    with :func:`~pytorch_hyperlight.metric_direction.agreed_direction`.

    Raises:
        ConfigError: ``higher_is_better`` is not a dict of metric name -> True/False.
    """
    problems = higher_is_better_problems(higher_is_better)
    if problems:
        raise ConfigError("Invalid argument:\n  - " + "\n  - ".join(problems))
    declarations = [_declarations(result) for result in runs.values()]
    return {
        metric: declared_direction(metric, higher_is_better)
        or agreed_direction(metric, [metric_direction(metric, **d) for d in declarations])
        for metric in metrics
    }


def _declarations(result: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's result says about directions: its settings' ``higher_is_better`` and its
    optimised metric with its mode (``metric``/``mode``, else from the settings)."""
    settings = result.get("settings")

    def setting(name: str) -> Any:
        if isinstance(settings, Mapping):
            return settings.get(name)
        return getattr(settings, name, None)

    metric = result.get("metric") or setting("metric_to_optimize")
    mode = result.get("mode") or setting("metric_opt_mode")
    if metric is None or mode is None:  # a hand-made result: no run to consult
        metric = mode = None
    return {
        "higher_is_better": setting("higher_is_better"),
        "metric_to_optimize": metric,
        "metric_opt_mode": mode,
    }


def sort_runs(
    table: pd.DataFrame,
    sort_by_metric_list: Sequence[str] | None,
    directions: Mapping[str, MetricDirection] | None = None,
) -> pd.DataFrame:
    """``table`` sorted by the metrics in order (best first; NaN last), sort metrics first.

    A name may carry Lightning's ``_epoch`` suffix (``val_f1_epoch`` sorts by ``val_f1``).
    A metric whose direction is unknown is moved to the front but not sorted by (with a warning).

    Args:
        table: one row per run, indexed by run name.
        sort_by_metric_list: the metrics to sort by, most important first.
        directions: the direction of each column (:func:`metric_directions`); a column missing
            here gets :func:`~pytorch_hyperlight.metric_direction.metric_direction` alone.

    Raises:
        MetricError: a metric is not a column of the table; the message lists those that are.
    """
    columns = sort_columns(table, sort_by_metric_list)
    if not columns:
        return table.copy()
    ordered = table[columns + [c for c in table.columns if c not in columns]]
    resolved = {c: (directions or {}).get(c) or metric_direction(c) for c in columns}
    for column, direction in resolved.items():
        if not direction.known:
            warnings.warn(
                f"Not sorting by {column!r}: which way is better is unknown "
                f"({direction.detail}). Pass higher_is_better= to show_metric_report or set "
                "Settings.higher_is_better.",
                stacklevel=2,
            )
    known = {c: d.higher_is_better for c, d in resolved.items() if d.known}
    if not known:
        return ordered.copy()
    # Ties are broken by the run name, descending, as the original sorted by [*metrics, "run"].
    by_name = ordered.sort_index(ascending=False, kind="stable")
    return by_name.sort_values(
        by=list(known),
        ascending=[not higher for higher in known.values()],
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
    higher_is_better: Mapping[str, bool] | None = None,
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
        higher_is_better: which way is better, per metric, ahead of every other rule (e.g.
            ``{"perplexity": False}``; see :mod:`pytorch_hyperlight.metric_direction`).
        display: False only builds and returns the report.

    Returns:
        ``{"table": DataFrame indexed by run, "figure": matplotlib Figure, "directions":
        {column: MetricDirection}, "footnote": str}`` (the footnote is printed under the table:
        each metric's direction and the rule that gave it), or None without runs.

    Raises:
        ConfigError: ``higher_is_better`` is not a dict of metric name -> True/False.
        MetricError: a metric to sort by is not a column of the table.
    """
    from pytorch_hyperlight.metrics.plotting import plot_runs_comparison

    if not runs:
        return None
    collected = collect_metrics(runs)
    last = collected["run_metrics_last"]
    directions = metric_directions(runs, last.columns, higher_is_better=higher_is_better)
    table = sort_runs(last, sort_by_metric_list, directions)
    merged = collected["metrics"]
    if keep_train_val_only:
        merged = _train_val_only(merged)
        sorted_by = sort_columns(table, sort_by_metric_list)
        table = table[
            [c for c in table.columns if c in sorted_by or not c.startswith(_EVALUATION_PREFIXES)]
        ]
    directions = {column: directions[column] for column in table.columns}
    footnote = format_directions(list(directions.values()), width=_terminal_width())
    figure = plot_runs_comparison(merged, figsize=figsize)
    if display:
        _display(table, figure, footnote)
    return MetricReport(table=table, figure=figure, directions=directions, footnote=footnote)


class MetricReport(dict[str, Any]):
    """The comparison report's parts (``table``, ``figure``, ``directions``, ``footnote``).

    It was shown already, so as the value of a notebook cell it shows nothing more (the original's
    ``show_metric_report`` returned None there); in a terminal it prints one short line.
    """

    def _ipython_display_(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<metric report: {len(self['table'])} runs; keys {', '.join(self)}>"


def format_table(table: pd.DataFrame, width: int | None = None) -> str:
    """The table as text for a terminal (tabulate, 4 significant digits).

    When one row per run would be wider than the terminal (``width`` columns, default: the
    terminal's), the table is printed turned: one row per metric, one column per run (in the
    sorted order, best first).
    """
    from tabulate import tabulate

    def render(frame: pd.DataFrame) -> str:
        return tabulate(frame, headers="keys", tablefmt="simple", floatfmt=".4g", missingval="-")

    text = render(table)
    width = width or _terminal_width()
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


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def _display(table: pd.DataFrame, figure: Any, footnote: str) -> None:
    from pytorch_hyperlight.metrics.console import in_notebook

    if in_notebook():
        from IPython.display import display

        display(table)
        print(footnote)
        display(figure)
    else:
        print(format_table(table))
        print(footnote)
