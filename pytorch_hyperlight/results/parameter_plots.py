"""The analysis plots of a search across its hyper-parameters: the metric against each parameter,
parallel coordinates, and each parameter's importance (see
:mod:`pytorch_hyperlight.results.analysis`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pytorch_hyperlight.metrics.figures import (
    add_title,
    new_figure,
    no_data,
    text_width,
    value_colours,
)
from pytorch_hyperlight.results import search_table as table
from pytorch_hyperlight.results.search_table import SearchParameter

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}
_SearchSpace = Mapping[str, Mapping[str, Any]] | None


def plot_metric_vs_params(
    trials: pd.DataFrame, search_space: _SearchSpace, metric: str, mode: str
) -> Figure:
    """One panel per searched parameter: each trial's best metric against the parameter's value.

    Log-sampled parameters get a log x-axis; choices get one column per category (points are
    spread a little sideways so that equal values stay visible). A star marks the best trial.
    """
    table.check_mode(mode)
    parameters = table.search_parameters(trials, search_space)
    n_cols = max(1, min(3, len(parameters)))
    n_rows = max(1, math.ceil(len(parameters) / n_cols))
    fig, axes = new_figure((4.2 * n_cols, 3.4 * n_rows), n_rows, n_cols)  # always a list
    values = table.metric_values(trials)
    finite = values.notna()
    best = table.best_id(values, mode)
    for ax, parameter in zip(axes, parameters):
        x = table.positions(trials[parameter.column], parameter, jitter=True)
        ax.scatter(x[finite], values[finite], s=36, alpha=0.8, color="tab:blue", zorder=2)
        if best is not None:
            ax.scatter([x[best]], [values[best]], marker="*", s=260, color="gold",
                       edgecolors="black", zorder=3, label="best trial")  # fmt: skip
        _style_parameter_axis(ax, parameter)
        ax.set(ylabel=f"best {metric}")
        ax.set_title(parameter.name, y=1.0)
        ax.grid(alpha=0.3)
    for ax in axes[len(parameters) :]:
        ax.set_axis_off()
    if not parameters:
        no_data(axes[0], "no searched parameters")
    title = f"{metric} ({mode}) against each hyper-parameter ({int(finite.sum())} trials)"
    add_title(fig, title)
    return fig


def plot_parallel_coordinates(
    trials: pd.DataFrame, search_space: _SearchSpace, metric: str, mode: str
) -> Figure:
    """Every trial with a finite metric as one line across the parameter axes and the metric axis.

    Each axis is scaled to [0, 1]: numeric parameters between the search space's bounds (or the
    values seen), log-sampled ones in log space, categories at evenly spaced positions. Lines are
    coloured by the metric (the colour bar is oriented so that the best trials are darkest) and the
    best trials are drawn on top.
    """
    table.check_mode(mode)
    parameters = table.search_parameters(trials, search_space)
    labels = [p.name + (" (log)" if p.scale == "log" else "") for p in parameters] + [metric]
    fig, (ax,) = new_figure((6.0, 4.8))
    # Room between the axes for the widest axis name, so that neighbouring names do not overlap.
    spacing = max(1.9, max(text_width(fig, label, "medium") for label in labels) + 0.4)
    fig.set_size_inches(max(6.0, spacing * len(labels)), 4.8)
    values = table.metric_values(trials)
    finite = values[values.notna()]
    columns = {p.name: table.normalised(trials[p.column], p) for p in parameters}
    metric_axis = table.unit_scale(values, values.min(), values.max())
    colour_of, _ = value_colours(fig, ax, values, f"best {metric}", mode)
    order = finite.sort_values(ascending=(mode == "max")).index  # best last, on top
    positions = np.arange(len(parameters) + 1)
    for row in order:
        ys = [columns[p.name][row] for p in parameters] + [metric_axis[row]]
        ax.plot(positions, ys, color=colour_of(values[row]), linewidth=1.6, alpha=0.85)
    ax.vlines(positions, 0, 1, colors="black", linewidth=1)
    for index, parameter in enumerate(parameters):
        _axis_annotations(ax, index, parameter, trials[parameter.column])
    _annotate_range(ax, len(parameters), values.min(), values.max())
    ax.set_xticks(positions, labels=labels)
    ax.set(ylim=(-0.08, 1.08), xlim=(-0.3, len(parameters) + 0.3), yticks=[])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if finite.empty:
        no_data(ax, f"no trial has a finite {metric!r}")
    add_title(fig, f"Parallel coordinates: {len(finite)} trials coloured by {metric}")
    return fig


def plot_param_importance(trials: pd.DataFrame, search_space: _SearchSpace, metric: str) -> Figure:
    """Horizontal bars of :func:`~pytorch_hyperlight.results.search_table.param_importance` (they
    add up to 1), the largest on top."""
    importance = table.param_importance(trials, search_space)
    fig, (ax,) = new_figure((7, 1.2 + 0.55 * max(1, len(importance))))
    if importance.isna().all():
        no_data(ax, "importance needs at least 3 trials with differing metric values")
        ax.set_yticks([])
    else:
        shown = importance.iloc[::-1]
        bars = ax.barh(shown.index, shown.to_numpy(), color="tab:blue")
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in shown], padding=3)
        ax.set_xlim(0, min(1.15, shown.max() * 1.2 + 0.05))
    ax.set(xlabel=f"share of {metric}'s variation explained")
    add_title(fig, "Hyper-parameter importance (squared Spearman / eta², normalised)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _style_parameter_axis(ax: Axes, parameter: SearchParameter) -> None:
    if parameter.scale == "log":
        ax.set_xscale("log")
    elif parameter.scale == "categorical":
        ax.set_xticks(range(len(parameter.categories)), labels=list(parameter.categories))
        ax.set_xlim(-0.5, len(parameter.categories) - 0.5)
        if max((len(c) for c in parameter.categories), default=0) > 6:
            ax.tick_params(axis="x", labelrotation=30)


def _axis_annotations(ax: Axes, index: int, parameter: SearchParameter, values: pd.Series) -> None:
    if parameter.scale == "categorical":
        count = len(parameter.categories)
        for position, label in enumerate(parameter.categories):
            y = position / (count - 1) if count > 1 else 0.5
            ax.text(
                index + 0.04, y, label, fontsize="small", va="center", ha="left", bbox=_LABEL_BOX
            )
        return
    low, high = table.numeric_range(pd.to_numeric(values, errors="coerce"), parameter)
    _annotate_range(ax, index, low, high)


def _annotate_range(ax: Axes, index: int, low: float, high: float) -> None:
    if not (np.isfinite(low) and np.isfinite(high)):
        return
    ax.text(index, 1.02, f"{high:.3g}", ha="center", va="bottom", fontsize="small")
    ax.text(index, -0.02, f"{low:.3g}", ha="center", va="top", fontsize="small")
