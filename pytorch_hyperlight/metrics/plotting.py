"""Figures of epoch metrics: one trial's panels (``TrialMetrics.plot``) and multi-run comparisons.

Figures are :class:`~pytorch_hyperlight.metrics.figures.MetricsFigure` objects, made directly
rather than through pyplot and laid out by matplotlib's constrained layout: nothing is registered
globally (nothing to close, no second copy drawn in a notebook). Save them with
``fig.savefig(path)``; in a notebook they display as PNG even when pyplot was never imported. This
module imports matplotlib, so the package imports it only when a figure is asked for.

Panels are named by the metric without its stage prefix (``acc``, ``f1``, ``loss``); how a run's
stages are drawn on a panel is :mod:`pytorch_hyperlight.metrics.panels`. A figure of one run can
carry a title naming the run and its best epoch (:func:`run_title`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from pytorch_hyperlight.errors import MetricError
from pytorch_hyperlight.metrics import panels
from pytorch_hyperlight.metrics.columns import EPOCH, RUN, STAGE, canonical_frame
from pytorch_hyperlight.metrics.panels import STAGE_PREFIX, base_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

__all__ = ["base_name", "plot_runs_comparison", "plot_trial_metrics", "run_title"]


def run_title(
    run_name: str,
    metric: str,
    best_epoch: int | None,
    best_value: float | None,
    *,
    trial_id: str | None = None,
) -> str:
    """The title of a run's metrics figure: the run, then where its best value was reached.

    >>> run_title("hyper-opt-LitDigits", "val_f1", 6, 0.964912, trial_id="34f2e663")
    'hyper-opt-LitDigits: best val_f1=0.9649 at epoch 6 (trial 34f2e663)'
    >>> run_title("single-trial-Net", "val_loss", None, None)
    'single-trial-Net: no best epoch'
    """
    if best_epoch is None or best_value is None or not math.isfinite(best_value):
        return f"{run_name}: no best epoch"
    where = f" (trial {trial_id})" if trial_id else ""
    return f"{run_name}: best {metric}={best_value:.4g} at epoch {best_epoch}{where}"


def _resolve(requested: Sequence[str] | None, available: Sequence[str]) -> list[str]:
    """Requested names (with or without stage prefix) as base names, in the requested order."""
    if requested is None:
        return list(available)
    if isinstance(requested, str) or not requested:
        raise MetricError(
            f"metrics must be a non-empty list of metric names; received {requested!r}. "
            f"Available: {list(available)}."
        )
    bases = [base_name(str(name)) for name in requested]
    unknown = [name for name, base in zip(requested, bases) if base not in available]
    if unknown:
        raise MetricError(
            f"No metric named {unknown} in this table; available metrics: {list(available)} "
            "(with or without a 'train_'/'val_'/'test_' prefix)."
        )
    return list(dict.fromkeys(bases))


def _frame(metrics: TrialMetrics | pd.DataFrame) -> pd.DataFrame:
    """The canonical frame of a DataFrame, or a TrialMetrics' own (read as ``.df``: this module
    sits below :mod:`~pytorch_hyperlight.metrics.trial_metrics`, whose ``plot`` calls it)."""
    if isinstance(metrics, pd.DataFrame):
        return canonical_frame(metrics)
    frame = getattr(metrics, "df", None)  # a TrialMetrics: canonical already
    return frame if isinstance(frame, pd.DataFrame) else canonical_frame(metrics)


def _metric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in (RUN, STAGE, EPOCH)]


def _check_figsize(figsize: Any) -> None:
    valid = (
        isinstance(figsize, Sequence)
        and len(figsize) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in figsize)
    )
    if figsize is not None and not valid:
        raise MetricError(
            f"figsize must be (width, height) in inches, both > 0, e.g. (15, 10); got {figsize!r}."
        )


def plot_trial_metrics(
    metrics: TrialMetrics | pd.DataFrame,
    names: Sequence[str] | None = None,
    *,
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """One panel per metric with lines per stage, reval/test markers and the best epoch marked.

    Args:
        metrics: a TrialMetrics or a DataFrame of the same shape; with a ``run`` column there is
            a line per run and stage (colour per run, dashed train, solid val).
        names: metrics to draw, with or without stage prefix; default: all, sorted by name.
        figsize: the figure's (width, height) in inches; default: sized from the panels.
        title: the figure's title (e.g. :func:`run_title`); None: none.

    Returns:
        The figure (not shown, not saved, not registered with pyplot).

    Raises:
        MetricError: a requested metric is not in the table.
    """
    frame = _frame(metrics)
    available = sorted({base_name(c) for c in _metric_columns(frame)})
    bases = _resolve(names, available)
    _check_figsize(figsize)
    if not bases:
        return panels.empty_figure("no epoch metrics recorded", figsize, title)
    runs: list[str | None] = list(dict.fromkeys(frame[RUN])) if RUN in frame.columns else [None]
    parts = [panels.by_stage(frame if run is None else frame[frame[RUN] == run]) for run in runs]
    figure, axes = panels.make_panels(len(bases))
    for ax, base in zip(axes, bases):
        for index, (run, stages) in enumerate(zip(runs, parts)):
            color = None if run is None else f"C{index % 10}"
            panels.draw_stages(ax, stages, base, run=run, color=color)
        panels.title_panel(ax, base)
    if runs == [None]:
        legend = panels.unique_legend_entries(axes)
    else:
        handles, labels = panels.run_legend([str(run) for run in runs])
        style_handles, style_labels = panels.style_legend()
        legend = (handles + style_handles, labels + style_labels)
    return panels.finish(figure, axes, legend, figsize, title)


def _comparison_column(frame: pd.DataFrame, name: str) -> str:
    """The column a comparison panel draws: canonical names as given, base names val-first."""
    columns = _metric_columns(frame)
    if name in columns:
        return name
    for prefix in ("val_", "train_", "test_"):
        column = prefix + name
        if column in columns and frame[column].notna().any():
            return column
    raise MetricError(
        f"No metric named {name!r} in these runs; available: {columns} "
        f"(or without prefix: {sorted({base_name(c) for c in columns})})."
    )


def plot_runs_comparison(
    metrics: TrialMetrics,
    metric_names: Sequence[str] | None = None,
    *,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Compare runs of a merged table (:meth:`TrialMetrics.merge_runs`) panel by panel.

    Each panel draws one metric with a line per run over the epochs: the ``val_`` values (or
    ``train_`` when a run has no validation), plus each run's ``reval`` (star) and ``test``
    (diamond) values at its best epoch, in the run's colour.

    Args:
        metrics: a TrialMetrics with a ``run`` column.
        metric_names: panels to draw: base names (``"f1"``, val preferred) or canonical names
            (``"train_loss"``); default: every base metric, sorted.
        figsize: the figure's (width, height) in inches; default: sized from the panels.

    Raises:
        MetricError: the table has no ``run`` column, or a requested metric is not in it.
    """
    frame = _frame(metrics)
    if RUN not in frame.columns:
        raise MetricError(
            "plot_runs_comparison needs a merged table with a 'run' column; build one with "
            "TrialMetrics.merge_runs({run_name: metrics, ...})."
        )
    if metric_names is not None and (isinstance(metric_names, str) or not metric_names):
        raise MetricError(f"metric_names must be a non-empty list; received {metric_names!r}.")
    names = metric_names or sorted({base_name(c) for c in _metric_columns(frame)})
    columns = list(dict.fromkeys(_comparison_column(frame, str(name)) for name in names))
    _check_figsize(figsize)
    if not columns:
        return panels.empty_figure("no epoch metrics recorded", figsize)
    runs = [str(run) for run in dict.fromkeys(frame[RUN])]
    parts = [panels.by_stage(frame[frame[RUN] == run]) for run in runs]
    figure, axes = panels.make_panels(len(columns))
    for ax, column in zip(axes, columns):
        _draw_comparison_panel(ax, column, runs, parts)
    handles, labels = panels.run_legend(runs)
    # Only the reval/test marker entries apply here (one line style per panel).
    style_handles, style_labels = panels.style_legend(lines=False)
    legend = (handles + style_handles, labels + style_labels)
    return panels.finish(figure, axes, legend, figsize)


def _draw_comparison_panel(
    ax: Axes, column: str, runs: Sequence[str], parts: Sequence[panels.Stages]
) -> None:
    """One metric of every run: its line over the epochs, its reval/test markers."""
    line_stage = next(
        s for s in (*panels.LINE_STAGES, "test") if column.startswith(STAGE_PREFIX[s])
    )
    base = base_name(column)
    for index, (run, stages) in enumerate(zip(runs, parts)):
        color = f"C{index % 10}"
        points = panels.stage_points(stages, line_stage, column)
        label, linestyle = run, "-"
        if not len(points[0]) and line_stage == "val":
            # A run trained without validation (e.g. on the full data): show its train curve.
            points = panels.stage_points(stages, "train", "train_" + base)
            label, linestyle = f"{run} (train)", "--"
        panels.draw_line(ax, points, label=label, color=color, linestyle=linestyle)
        for stage in panels.MARKER_STAGES:
            if stage == "reval" and line_stage != "val":
                continue  # reval values are validation values: not on a train/test panel
            marker_points = panels.stage_points(stages, stage, STAGE_PREFIX[stage] + base)
            panels.plot_marker(ax, stage, marker_points, f"{run} {stage}", color)
    panels.title_panel(ax, column)
