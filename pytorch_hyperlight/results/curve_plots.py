"""The analysis plots of a search over time: every trial's learning curve, and the best metric
found so far in completion order (see :mod:`pytorch_hyperlight.results.analysis`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pytorch_hyperlight.metrics.figures import (
    add_title,
    integer_xaxis,
    new_figure,
    no_data,
    value_colours,
)
from pytorch_hyperlight.results import search_table as table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def plot_learning_curves(
    trials: pd.DataFrame, trial_metrics: Mapping[str, Any], metric: str, mode: str
) -> Figure:
    """The metric per epoch of every trial on one axis, coloured by the trial's best value.

    The best trial is drawn thick; a red cross marks the last epoch of each trial the scheduler
    stopped early (``stopped_early`` in the trials table).
    """
    table.check_mode(mode)
    fig, (ax,) = new_figure((8, 4.8))
    values = table.metric_values(trials).set_axis(trials["trial_id"].astype(str))
    stopped = table.bool_column(trials, "stopped_early").set_axis(values.index)
    best_id = table.best_id(values, mode)
    colour_of, _ = value_colours(fig, ax, values, f"best {metric}", mode)
    stop_x, stop_y = [], []
    for trial_id, history in trial_metrics.items():
        curve = table.metric_curve(history, metric)
        if curve.empty:
            continue
        trial_id = str(trial_id)
        _draw_curve(
            ax, curve, colour_of(values.get(trial_id, np.nan)), trial_id, trial_id == best_id
        )
        if bool(stopped.get(trial_id, False)):
            stop_x.append(curve.index[-1])
            stop_y.append(curve.iloc[-1])
    if stop_x:
        ax.scatter(
            stop_x,
            stop_y,
            marker="X",
            s=70,
            color="tab:red",
            edgecolors="white",
            zorder=4,
            label="stopped early by the scheduler",
        )
    if not ax.get_lines():
        no_data(ax, f"no trial logged {metric!r}")
    ax.set(xlabel="epoch", ylabel=metric)
    add_title(fig, f"Learning curves: {metric} of every trial")
    integer_xaxis(ax)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def _draw_curve(ax: Axes, curve: pd.Series, colour: Any, trial_id: str, is_best: bool) -> None:
    """One trial's metric per epoch: thick and on top for the best trial."""
    ax.plot(
        curve.index,
        curve.to_numpy(),
        color=colour,
        linewidth=2.8 if is_best else 1.2,
        alpha=1.0 if is_best else 0.75,
        zorder=3 if is_best else 2,
        marker="o" if len(curve) == 1 else None,
        label=f"best trial {trial_id}" if is_best else None,
        gid=trial_id,
    )


def plot_best_so_far(trials: pd.DataFrame, metric: str, mode: str) -> Figure:
    """Each trial's best metric in completion order (dots) and the best found so far (steps)."""
    table.check_mode(mode)
    fig, (ax,) = new_figure((7, 4.2))
    values = table.metric_values(trials)
    if "completion_order" in trials.columns:
        order = pd.to_numeric(trials["completion_order"], errors="coerce")
    else:
        order = pd.Series(np.nan, index=trials.index)
    order = order.fillna(pd.Series(np.arange(1, len(trials) + 1), index=trials.index))
    ranked = pd.DataFrame({"order": order, "value": values}).sort_values("order", kind="stable")
    accumulate = np.fmax.accumulate if mode == "max" else np.fmin.accumulate
    best = accumulate(ranked["value"].to_numpy(dtype=float))
    x = ranked["order"].to_numpy(dtype=float)
    shown = ranked["value"].notna().to_numpy()
    ax.scatter(
        x[shown], ranked["value"][shown], color="tab:gray", s=28, zorder=2,
        label=f"trial's best {metric}",
    )  # fmt: skip
    ax.step(x, best, where="post", color="tab:blue", linewidth=2.2, zorder=3,
            label=f"best so far ({mode})")  # fmt: skip
    if not shown.all():
        ax.scatter(
            x[~shown],
            np.full(int((~shown).sum()), 0.03),
            marker="x",
            color="tab:red",
            s=40,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            zorder=4,
            label="trial without a metric (failed)",
        )
    if not shown.any():
        no_data(ax, f"no trial has a finite {metric!r}")
    ax.set(xlabel="trial, in completion order", ylabel=metric)
    add_title(fig, "Best so far")
    integer_xaxis(ax)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return fig
