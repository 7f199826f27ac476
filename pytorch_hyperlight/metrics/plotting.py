"""Figures of epoch metrics: one trial's panels (``TrialMetrics.plot``) and multi-run comparisons.

Figures are :class:`MetricsFigure` objects, made directly rather than through pyplot: nothing is
registered globally (nothing to close, no second copy drawn in a notebook). Save them with
``fig.savefig(path)``; in a notebook they display as PNG even when pyplot was never imported. This
module imports matplotlib, so the package imports it only when a figure is asked for.

Panels are named by the metric without its stage prefix (``acc``, ``f1``, ``loss``). Colours are
fixed per stage (train blue, val orange, reval green, test red) in a one-trial figure and per run
in a multi-run figure, where the stage is told by line style and marker instead. The re-validation
(``reval``) and test markers both belong at the best epoch: they are drawn a few points to its left
and right, so that neither hides the other. A figure of one run can carry a title naming the run
and its best epoch (:func:`run_title`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import offset_copy

from pytorch_hyperlight.errors import MetricError
from pytorch_hyperlight.metrics.columns import (
    EPOCH,
    METRIC_PREFIXES,
    RUN,
    STAGE,
    canonical_frame,
)
from pytorch_hyperlight.metrics.figure_layout import (
    EDGE,
    MetricsFigure,
    fit_grid,
    legend_columns,
    legend_height,
    line_height,
    text_width,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

STAGE_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "reval": "#2ca02c", "test": "#d62728"}
#: Which columns each stage's rows hold (reval rows hold the best model's val_* values).
STAGE_PREFIX = {"train": "train_", "val": "val_", "reval": "val_", "test": "test_"}
_LINE_STAGES = ("train", "val")
_MARKER_STAGES = {"reval": ("*", 15), "test": ("D", 7)}
#: Horizontal shift of each marker from its epoch, in points: apart, either side of the best epoch.
_MARKER_SHIFT = {"reval": -8.0, "test": 7.0}
#: How reval/test markers stand apart from the lines they sit on.
_MARKER_STYLE: dict[str, Any] = {
    "linestyle": "none",
    "markeredgecolor": "black",
    "markeredgewidth": 0.6,
    "zorder": 3,
}
_RUN_LINESTYLE: dict[str, Any] = {"train": "--", "val": "-"}
_PANEL_SIZE = (4.8, 3.5)
_MAX_COLUMNS = 3
_LEGEND_FONT_SIZE = 9
_FIGURE_TITLE_SIZE = 13
#: A fixed title height: matplotlib's automatic one measures every tick label again at each draw
#: (to avoid ticks on top, which these panels do not have).
_TITLE_Y = 1.0


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


def base_name(column: str) -> str:
    """The metric name without its stage prefix: ``val_f1`` -> ``f1``."""
    for prefix in METRIC_PREFIXES:
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


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


_Stages = dict[str, pd.DataFrame]
_Points = tuple[np.ndarray, np.ndarray]


def _by_stage(frame: pd.DataFrame) -> _Stages:
    """The rows of each stage (split once per run: a figure reads each stage many times)."""
    return {str(stage): rows for stage, rows in frame.groupby(STAGE, sort=False)}


def _stage_points(stages: _Stages, stage: str, column: str) -> _Points:
    """Epochs and values of the rows of ``stage`` where ``column`` has a value."""
    rows = stages.get(stage)
    if rows is None or column not in rows.columns:
        return np.empty(0), np.empty(0)
    values = rows[column]
    present = values.notna().to_numpy()
    return rows[EPOCH].to_numpy()[present], values.to_numpy()[present]


def _grid_shape(count: int) -> tuple[int, int]:
    columns = min(max(count, 1), _MAX_COLUMNS)
    return math.ceil(max(count, 1) / columns), columns


def _make_panels(count: int) -> tuple[Figure, list[Axes]]:
    rows, columns = _grid_shape(count)
    figure = MetricsFigure(figsize=(_PANEL_SIZE[0] * columns, _PANEL_SIZE[1] * rows), dpi=100)
    grid = figure.add_gridspec(rows, columns)
    axes = [figure.add_subplot(grid[index // columns, index % columns]) for index in range(count)]
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=9)
        ax.set_xlabel("epoch", fontsize=10)
    return figure, axes


def _finish(
    figure: Figure,
    axes: list[Axes],
    handles: list[Any],
    labels: list[str],
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Add the title above and the legend below the panels; fit the margins to the text.

    ``figsize`` (width, height in inches) replaces the size made from the panels when given.
    There is no layout engine: it would make ``savefig`` draw the figure twice; see
    :mod:`pytorch_hyperlight.metrics.figure_layout`.
    """
    rows, columns = _grid_shape(len(axes))
    width = _PANEL_SIZE[0] * columns
    if title:  # a title wider than the panels widens the figure
        width = max(width, text_width(title, _FIGURE_TITLE_SIZE) + 2 * EDGE)
    if figsize:
        width = float(figsize[0])
    legend_rows, below = 0, 0.0
    if handles:
        ncols = legend_columns(labels, width - 2 * EDGE, _LEGEND_FONT_SIZE)
        legend_rows = math.ceil(len(handles) / ncols)
        below = legend_height(legend_rows, _LEGEND_FONT_SIZE)
    above = line_height(_FIGURE_TITLE_SIZE) + 0.1 if title else 0.0
    height = float(figsize[1]) if figsize else _PANEL_SIZE[1] * rows + below + above
    figure.set_size_inches(width, height)
    if title:
        figure.suptitle(title, y=1 - EDGE / height, va="top", fontsize=_FIGURE_TITLE_SIZE)
    if handles:
        figure.legend(
            handles,
            labels,
            loc="lower center",
            bbox_to_anchor=(0.5, EDGE / height),
            ncols=ncols,
            fontsize=_LEGEND_FONT_SIZE,
            frameon=False,
        )
    fit_grid(figure, axes, rows, columns, top=above, bottom=below)
    return figure


def _empty_figure(
    message: str, figsize: tuple[float, float] | None = None, title: str | None = None
) -> Figure:
    figure, (ax,) = _make_panels(1)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=11)
    ax.set_axis_off()
    return _finish(figure, [ax], [], [], figsize, title)


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


def _draw_stages(
    ax: Axes, stages: _Stages, base: str, *, run: str | None, color: str | None
) -> None:
    """Lines for train/val, markers for reval/test and the best-epoch line of one trial."""
    prefix = "" if run is None else f"{run} "

    for stage in _LINE_STAGES:
        epochs, values = _stage_points(stages, stage, STAGE_PREFIX[stage] + base)
        if len(epochs):
            linestyle = "-" if run is None else _RUN_LINESTYLE[stage]
            ax.plot(epochs, values, label=f"{prefix}{stage}", color=color or STAGE_COLORS[stage],
                    linestyle=linestyle, marker="o", markersize=3, linewidth=1.8)  # fmt: skip
    best_epochs = [stages[stage][EPOCH] for stage in _MARKER_STAGES if stage in stages]
    if best_epochs:
        best = int(best_epochs[-1].iloc[-1])
        ax.axvline(
            best,
            linestyle="--" if run is None else ":",
            color=color or "0.45",
            linewidth=1.2,
            label=f"{prefix}best epoch ({best})",
            zorder=1,
        )
    for stage in _MARKER_STAGES:
        epochs, values = _stage_points(stages, stage, STAGE_PREFIX[stage] + base)
        _plot_marker(ax, stage, (epochs, values), f"{prefix}{stage}", color or STAGE_COLORS[stage])


def _plot_marker(ax: Axes, stage: str, points: _Points, label: str, color: str) -> None:
    """The stage's marker at its epochs, moved sideways by the stage's shift (in points, so the
    same at any scale); the axes' limits still take the values in."""
    epochs, values = points
    if not len(epochs):
        return
    marker, size = _MARKER_STAGES[stage]
    figure = ax.get_figure(root=True)
    shifted = offset_copy(ax.transData, fig=figure, x=_MARKER_SHIFT[stage], y=0.0, units="points")
    ax.plot(epochs, values, label=label, color=color, marker=marker, markersize=size,
            transform=shifted, **_MARKER_STYLE)  # fmt: skip
    # Matplotlib leaves points drawn with another transform out of the automatic limits.
    ax.update_datalim(np.column_stack([epochs, values]))
    ax.autoscale_view()


def _style_proxies() -> tuple[list[Any], list[str]]:
    """Legend entries that explain line styles and markers in multi-run figures."""
    handles: list[Any] = [
        Line2D([], [], color="0.3", linestyle=_RUN_LINESTYLE[stage]) for stage in _LINE_STAGES
    ]
    labels = list(_LINE_STAGES)
    handles.append(Line2D([], [], color="0.3", linestyle=":"))
    labels.append("best epoch")
    for stage, (marker, size) in _MARKER_STAGES.items():
        handles.append(
            Line2D([], [], color="0.3", linestyle="none", marker=marker, markersize=size * 0.7)
        )
        labels.append(stage)
    return handles, labels


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
        return _empty_figure("no epoch metrics recorded", figsize, title)
    runs: list[str | None] = list(dict.fromkeys(frame[RUN])) if RUN in frame.columns else [None]
    parts = [_by_stage(frame if run is None else frame[frame[RUN] == run]) for run in runs]
    figure, axes = _make_panels(len(bases))
    for ax, base in zip(axes, bases):
        for index, (run, stages) in enumerate(zip(runs, parts)):
            color = None if run is None else f"C{index % 10}"
            _draw_stages(ax, stages, base, run=run, color=color)
        ax.set_title(base, fontsize=12, y=_TITLE_Y)
    if runs == [None]:
        handles, labels = _unique_legend_entries(axes)
    else:
        handles = [Line2D([], [], color=f"C{i % 10}", linewidth=3) for i in range(len(runs))]
        labels = [str(run) for run in runs]
        style_handles, style_labels = _style_proxies()
        handles += style_handles
        labels += style_labels
    return _finish(figure, axes, handles, labels, figsize, title)


def _unique_legend_entries(axes: Sequence[Axes]) -> tuple[list[Any], list[str]]:
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    return list(entries.values()), list(entries)


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
        return _empty_figure("no epoch metrics recorded", figsize)
    runs = list(dict.fromkeys(frame[RUN]))
    parts = [_by_stage(frame[frame[RUN] == run]) for run in runs]
    figure, axes = _make_panels(len(columns))
    for ax, column in zip(axes, columns):
        line_stage = next(s for s in (*_LINE_STAGES, "test") if column.startswith(STAGE_PREFIX[s]))
        base = base_name(column)
        for index, (run, stages) in enumerate(zip(runs, parts)):
            color = f"C{index % 10}"
            epochs, values = _stage_points(stages, line_stage, column)
            label, linestyle = str(run), "-"
            if not len(epochs) and line_stage == "val":
                # A run trained without validation (e.g. on the full data): show its train curve.
                epochs, values = _stage_points(stages, "train", "train_" + base)
                label, linestyle = f"{run} (train)", "--"
            if len(epochs):
                ax.plot(
                    epochs,
                    values,
                    label=label,
                    color=color,
                    linestyle=linestyle,
                    marker="o",
                    markersize=3,
                    linewidth=1.8,
                )
            for stage in _MARKER_STAGES:
                if stage == "reval" and line_stage != "val":
                    continue  # reval values are validation values: not on a train/test panel
                points = _stage_points(stages, stage, STAGE_PREFIX[stage] + base)
                _plot_marker(ax, stage, points, f"{run} {stage}", color)
        ax.set_title(column, fontsize=12, y=_TITLE_Y)
    handles: list[Any] = [Line2D([], [], color=f"C{i % 10}", linewidth=3) for i in range(len(runs))]
    labels = [str(run) for run in runs]
    proxies, proxy_labels = _style_proxies()
    # Only the reval/test marker entries apply here (one line style per panel).
    return _finish(figure, axes, handles + proxies[3:], labels + proxy_labels[3:], figsize)
