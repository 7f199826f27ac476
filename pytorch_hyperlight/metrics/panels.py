"""The panels of the epoch-metric figures: a grid of panels, how a run's stages are drawn on one,
and the title and legend around them (used by :mod:`pytorch_hyperlight.metrics.plotting`).

Colours are fixed per stage (train blue, val orange, reval green, test red) in a one-trial figure
and per run in a multi-run figure, where the stage is told by line style and marker instead. The
re-validation (``reval``) and test markers both belong at the best epoch: they are drawn a few
points to its left and right, so that neither hides the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import offset_copy

from pytorch_hyperlight.metrics.columns import EPOCH, METRIC_PREFIXES, STAGE
from pytorch_hyperlight.metrics.figures import (
    add_legend,
    add_title,
    extent_height,
    integer_xaxis,
    new_figure,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

STAGE_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "reval": "#2ca02c", "test": "#d62728"}
#: Which columns each stage's rows hold (reval rows hold the best model's val_* values).
STAGE_PREFIX = {"train": "train_", "val": "val_", "reval": "val_", "test": "test_"}
LINE_STAGES = ("train", "val")
MARKER_STAGES = {"reval": ("*", 15), "test": ("D", 7)}
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
_LINE_STYLE: dict[str, Any] = {"marker": "o", "markersize": 3, "linewidth": 1.8}
_PANEL_SIZE = (4.8, 3.5)
_MAX_COLUMNS = 3
_LEGEND_FONT_SIZE = 9
_FIGURE_TITLE_SIZE = 13
_PANEL_TITLE_SIZE = 12
#: Space constrained layout keeps around a figure's title and legend, in inches.
_TEXT_PAD = 0.1

Stages = dict[str, pd.DataFrame]
Points = tuple[np.ndarray, np.ndarray]


def base_name(column: str) -> str:
    """The metric name without its stage prefix: ``val_f1`` -> ``f1``.

    >>> base_name("val_f1"), base_name("train_loss"), base_name("epoch")
    ('f1', 'loss', 'epoch')
    """
    for prefix in METRIC_PREFIXES:
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


def by_stage(frame: pd.DataFrame) -> Stages:
    """The rows of each stage (split once per run: a figure reads each stage many times)."""
    return {str(stage): rows for stage, rows in frame.groupby(STAGE, sort=False)}


def stage_points(stages: Stages, stage: str, column: str) -> Points:
    """Epochs and values of the rows of ``stage`` where ``column`` has a value."""
    rows = stages.get(stage)
    if rows is None or column not in rows.columns:
        return np.empty(0), np.empty(0)
    values = rows[column]
    present = values.notna().to_numpy()
    return rows[EPOCH].to_numpy()[present], values.to_numpy()[present]


def grid_shape(count: int) -> tuple[int, int]:
    """Rows and columns of a grid of ``count`` panels, at most three per row."""
    columns = min(max(count, 1), _MAX_COLUMNS)
    return math.ceil(max(count, 1) / columns), columns


def make_panels(count: int) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` panels with epochs on their x-axes, sized from the panels."""
    rows, columns = grid_shape(count)
    size = (_PANEL_SIZE[0] * columns, _PANEL_SIZE[1] * rows)
    figure, axes = new_figure(size, rows, columns, panels=count)
    for ax in axes:
        integer_xaxis(ax)
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=9)
        ax.set_xlabel("epoch", fontsize=10)
    return figure, axes


def title_panel(ax: Axes, text: str) -> None:
    """A panel's title, at a fixed height (no ticks on top to avoid: nothing to measure)."""
    ax.set_title(text, fontsize=_PANEL_TITLE_SIZE, y=1.0)


def finish(
    figure: Figure,
    axes: Sequence[Axes],
    legend: tuple[list[Any], list[str]],
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Add the title above and the legend (handles, labels) below the panels.

    Constrained layout places them and fits the margins to the text. Without ``figsize`` (width,
    height in inches) the figure grows by their height, so the panels keep their size, and widens
    for a title wider than the panels.
    """
    rows, _ = grid_shape(len(axes))
    if figsize:
        figure.set_size_inches(figsize)
    added_height = 0.0
    if title:
        text = add_title(figure, title, _FIGURE_TITLE_SIZE, widen=not figsize)
        added_height += extent_height(figure, text) + _TEXT_PAD
    handles, labels = legend
    if handles:
        drawn = add_legend(figure, handles, labels, size=_LEGEND_FONT_SIZE)
        added_height += extent_height(figure, drawn) + _TEXT_PAD
    if not figsize:
        figure.set_size_inches(figure.get_size_inches()[0], _PANEL_SIZE[1] * rows + added_height)
    return figure


def empty_figure(
    message: str, figsize: tuple[float, float] | None = None, title: str | None = None
) -> Figure:
    """A figure saying there is nothing to draw."""
    figure, (ax,) = make_panels(1)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=11)
    ax.set_axis_off()
    return finish(figure, [ax], ([], []), figsize, title)


def draw_line(ax: Axes, points: Points, *, label: str, color: str, linestyle: str) -> None:
    """One stage's values over the epochs, with a dot per epoch."""
    epochs, values = points
    if len(epochs):
        ax.plot(epochs, values, label=label, color=color, linestyle=linestyle, **_LINE_STYLE)


def draw_stages(ax: Axes, stages: Stages, base: str, *, run: str | None, color: str | None) -> None:
    """Lines for train/val, markers for reval/test and the best-epoch line of one trial."""
    prefix = "" if run is None else f"{run} "
    for stage in LINE_STAGES:
        points = stage_points(stages, stage, STAGE_PREFIX[stage] + base)
        linestyle = "-" if run is None else _RUN_LINESTYLE[stage]
        draw_line(ax, points, label=f"{prefix}{stage}", color=color or STAGE_COLORS[stage],
                  linestyle=linestyle)  # fmt: skip
    best_epochs = [stages[stage][EPOCH] for stage in MARKER_STAGES if stage in stages]
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
    for stage in MARKER_STAGES:
        points = stage_points(stages, stage, STAGE_PREFIX[stage] + base)
        plot_marker(ax, stage, points, f"{prefix}{stage}", color or STAGE_COLORS[stage])


def plot_marker(ax: Axes, stage: str, points: Points, label: str, color: str) -> None:
    """The stage's marker at its epochs, moved sideways by the stage's shift (in points, so the
    same at any scale); the axes' limits still take the values in."""
    epochs, values = points
    if not len(epochs):
        return
    marker, size = MARKER_STAGES[stage]
    figure = ax.get_figure(root=True)
    shifted = offset_copy(ax.transData, fig=figure, x=_MARKER_SHIFT[stage], y=0.0, units="points")
    ax.plot(epochs, values, label=label, color=color, marker=marker, markersize=size,
            transform=shifted, **_MARKER_STYLE)  # fmt: skip
    # Matplotlib leaves points drawn with another transform out of the automatic limits.
    ax.update_datalim(np.column_stack([epochs, values]))
    ax.autoscale_view()


def run_legend(runs: Sequence[str]) -> tuple[list[Any], list[str]]:
    """One entry per run, in the run's colour (``C0``, ``C1``, ...)."""
    handles: list[Any] = [Line2D([], [], color=f"C{i % 10}", linewidth=3) for i in range(len(runs))]
    return handles, [str(run) for run in runs]


def style_legend(*, lines: bool = True) -> tuple[list[Any], list[str]]:
    """Entries that explain line styles (``lines``) and markers in multi-run figures."""
    handles: list[Any] = []
    labels: list[str] = []
    if lines:
        handles += [Line2D([], [], color="0.3", linestyle=_RUN_LINESTYLE[s]) for s in LINE_STAGES]
        labels += list(LINE_STAGES)
        handles.append(Line2D([], [], color="0.3", linestyle=":"))
        labels.append("best epoch")
    for stage, (marker, size) in MARKER_STAGES.items():
        handles.append(
            Line2D([], [], color="0.3", linestyle="none", marker=marker, markersize=size * 0.7)
        )
        labels.append(stage)
    return handles, labels


def unique_legend_entries(axes: Sequence[Axes]) -> tuple[list[Any], list[str]]:
    """The labelled artists of all panels, each label once (first panel's handle)."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    return list(entries.values()), list(entries)
