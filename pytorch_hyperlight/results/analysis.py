"""Analysis plots of a hyper-parameter search: matplotlib only, offline, one Figure each.

Every function reads the search's trials table (``result["trials"]`` of ``run_hyper_opt`` or a run
directory's ``trials.csv``: one row per trial with ``trial_id``, ``config/<param>``, ``metric_best``,
``stopped_early``, ``completion_order``, ...) and the description of the search space
(``run.json``'s ``search_space``: ``{"lr": {"type": "loguniform", "lower": 1e-4, "upper": 0.1}}``).

- :func:`plot_learning_curves`: the metric per epoch of every trial on one axis; a cross where the
  scheduler stopped a trial early.
- :func:`plot_metric_vs_params`: the trial's best metric against each hyper-parameter (log axis for
  log-sampled parameters, one column per category for choices).
- :func:`plot_parallel_coordinates`: every trial as a line across normalised parameter axes,
  coloured by the metric.
- :func:`plot_param_importance`: the share of the metric's variation explained by each parameter
  (:func:`param_importance` documents the method).
- :func:`plot_best_so_far`: the best metric found so far, trial after trial, in completion order.
- :func:`save_search_plots`: all of the above, written into ``<run_dir>/plots/``.

Trials without a finite metric (errored, or stopped before reporting) are left out of the plots
that need the metric. The figures are :class:`matplotlib.figure.Figure` objects made without pyplot:
in a notebook a figure displays inline when it is a cell's value; elsewhere call ``fig.savefig``.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pytorch_hyperlight import files
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results import search_table as table
from pytorch_hyperlight.results.search_table import (
    CATEGORICAL_TYPES,
    LOG_SCALE_TYPES,
    SearchParameter,
    category_label,
    metric_curve,
    metric_values,
    param_importance,
    search_parameters,
)

__all__ = [
    "CATEGORICAL_TYPES",
    "LOG_SCALE_TYPES",
    "SearchParameter",
    "category_label",
    "metric_curve",
    "metric_values",
    "param_importance",
    "plot_best_so_far",
    "plot_learning_curves",
    "plot_metric_vs_params",
    "plot_parallel_coordinates",
    "plot_param_importance",
    "save_figure",
    "save_search_plots",
    "search_parameters",
]

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colorbar import Colorbar
    from matplotlib.figure import Figure

_DPI = 100
_COLORBAR_WIDTH = 0.22  # inches
_COLORBAR_PAD = 0.2  # inches between the plot and its colour bar
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


def plot_learning_curves(
    trials: pd.DataFrame, trial_metrics: Mapping[str, Any], metric: str, mode: str
) -> Figure:
    """The metric per epoch of every trial on one axis, coloured by the trial's best value.

    The best trial is drawn thick; a red cross marks the last epoch of each trial the scheduler
    stopped early (``stopped_early`` in the trials table).
    """
    _check_mode(mode)
    fig, (ax,) = _figure((8, 4.8))
    values = table.metric_values(trials).set_axis(trials["trial_id"].astype(str))
    stopped = table.bool_column(trials, "stopped_early").set_axis(values.index)
    best_id = table.best_id(values, mode)
    color_of, colorbar = _colour_scale(fig, ax, values, metric, mode)
    stop_x, stop_y = [], []
    for trial_id, history in trial_metrics.items():
        curve = table.metric_curve(history, metric)
        if curve.empty:
            continue
        trial_id = str(trial_id)
        is_best = trial_id == best_id
        ax.plot(
            curve.index,
            curve.to_numpy(),
            color=color_of(values.get(trial_id, np.nan)),
            linewidth=2.8 if is_best else 1.2,
            alpha=1.0 if is_best else 0.75,
            zorder=3 if is_best else 2,
            marker="o" if len(curve) == 1 else None,
            label=f"best trial {trial_id}" if is_best else None,
            gid=trial_id,
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
        _no_data(ax, f"no trial logged {metric!r}")
    ax.set(xlabel="epoch", ylabel=metric)
    _title(ax, f"Learning curves: {metric} of every trial")
    _integer_xaxis(ax)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return _fit(fig, [ax], colorbar=colorbar)


def plot_metric_vs_params(
    trials: pd.DataFrame,
    search_space: Mapping[str, Mapping[str, Any]] | None,
    metric: str,
    mode: str,
) -> Figure:
    """One panel per searched parameter: each trial's best metric against the parameter's value.

    Log-sampled parameters get a log x-axis; choices get one column per category (points are
    spread a little sideways so that equal values stay visible). A star marks the best trial.
    """
    _check_mode(mode)
    parameters = table.search_parameters(trials, search_space)
    n_cols = max(1, min(3, len(parameters)))
    n_rows = max(1, math.ceil(len(parameters) / n_cols))
    fig, axes = _figure((4.2 * n_cols, 3.4 * n_rows), n_rows, n_cols)  # always a list of axes
    values = table.metric_values(trials)
    finite = values.notna()
    best = table.best_id(values, mode)
    for ax, parameter in zip(axes, parameters):
        x = table.positions(trials[parameter.column], parameter, jitter=True)
        ax.scatter(x[finite], values[finite], s=36, alpha=0.8, color="tab:blue", zorder=2)
        if best is not None:
            ax.scatter(
                [x[best]],
                [values[best]],
                marker="*",
                s=260,
                color="gold",
                edgecolors="black",
                zorder=3,
                label="best trial",
            )
        _style_parameter_axis(ax, parameter)
        ax.set(ylabel=f"best {metric}")
        _title(ax, parameter.name)
        ax.grid(alpha=0.3)
    for ax in axes[len(parameters) :]:
        ax.set_axis_off()
    if not parameters:
        _no_data(axes[0], "no searched parameters")
    title = f"{metric} ({mode}) against each hyper-parameter ({int(finite.sum())} trials)"
    return _fit(fig, axes, n_rows, n_cols, suptitle=title)


def plot_parallel_coordinates(
    trials: pd.DataFrame,
    search_space: Mapping[str, Mapping[str, Any]] | None,
    metric: str,
    mode: str,
) -> Figure:
    """Every trial with a finite metric as one line across the parameter axes and the metric axis.

    Each axis is scaled to [0, 1]: numeric parameters between the search space's bounds (or the
    values seen), log-sampled ones in log space, categories at evenly spaced positions. Lines are
    coloured by the metric (the colour bar is oriented so that the best trials are darkest) and the
    best trials are drawn on top.
    """
    _check_mode(mode)
    from pytorch_hyperlight.metrics.figure_layout import text_width

    parameters = table.search_parameters(trials, search_space)
    labels = [p.name + (" (log)" if p.scale == "log" else "") for p in parameters] + [metric]
    # Room between the axes for the widest axis name, so that neighbouring names do not overlap.
    spacing = max(1.9, max(text_width(label, "medium") for label in labels) + 0.4)
    fig, (ax,) = _figure((max(6.0, spacing * len(labels)), 4.8))
    values = table.metric_values(trials)
    finite = values[values.notna()]
    columns = {p.name: table.normalised(trials[p.column], p) for p in parameters}
    metric_axis = table.unit_scale(values, values.min(), values.max())
    color_of, colorbar = _colour_scale(fig, ax, values, metric, mode)
    order = finite.sort_values(ascending=(mode == "max")).index  # best last, on top
    positions = np.arange(len(parameters) + 1)
    for row in order:
        ys = [columns[p.name][row] for p in parameters] + [metric_axis[row]]
        ax.plot(positions, ys, color=color_of(values[row]), linewidth=1.6, alpha=0.85)
    ax.vlines(positions, 0, 1, colors="black", linewidth=1)
    for index, parameter in enumerate(parameters):
        _axis_annotations(ax, index, parameter, trials[parameter.column])
    _annotate_range(ax, len(parameters), values.min(), values.max())
    ax.set_xticks(positions, labels=labels)
    ax.set(ylim=(-0.08, 1.08), xlim=(-0.3, len(parameters) + 0.3), yticks=[])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if finite.empty:
        _no_data(ax, f"no trial has a finite {metric!r}")
    _title(ax, f"Parallel coordinates: {len(finite)} trials coloured by {metric}")
    return _fit(fig, [ax], colorbar=colorbar)


def plot_param_importance(
    trials: pd.DataFrame,
    search_space: Mapping[str, Mapping[str, Any]] | None,
    metric: str,
) -> Figure:
    """Horizontal bars of :func:`param_importance` (they add up to 1), the largest on top."""
    importance = table.param_importance(trials, search_space)
    fig, (ax,) = _figure((7, 1.2 + 0.55 * max(1, len(importance))))
    if importance.isna().all():
        _no_data(ax, "importance needs at least 3 trials with differing metric values")
        ax.set_yticks([])
    else:
        shown = importance.iloc[::-1]
        bars = ax.barh(shown.index, shown.to_numpy(), color="tab:blue")
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in shown], padding=3)
        ax.set_xlim(0, min(1.15, shown.max() * 1.2 + 0.05))
    ax.set(xlabel=f"share of {metric}'s variation explained")
    _title(ax, "Hyper-parameter importance (squared Spearman / eta², normalised)")
    ax.grid(axis="x", alpha=0.3)
    return _fit(fig, [ax])


def plot_best_so_far(trials: pd.DataFrame, metric: str, mode: str) -> Figure:
    """Each trial's best metric in completion order (dots) and the best found so far (steps)."""
    _check_mode(mode)
    fig, (ax,) = _figure((7, 4.2))
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
    shown = ranked["value"].notna()
    ax.scatter(
        x[shown.to_numpy()],
        ranked["value"][shown],
        color="tab:gray",
        s=28,
        zorder=2,
        label=f"trial's best {metric}",
    )
    ax.step(
        x,
        best,
        where="post",
        color="tab:blue",
        linewidth=2.2,
        zorder=3,
        label=f"best so far ({mode})",
    )
    failed = ~shown.to_numpy()
    if failed.any():
        ax.scatter(
            x[failed],
            np.full(int(failed.sum()), 0.03),
            marker="x",
            color="tab:red",
            s=40,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            zorder=4,
            label="trial without a metric (failed)",
        )
    if not shown.any():
        _no_data(ax, f"no trial has a finite {metric!r}")
    ax.set(xlabel="trial, in completion order", ylabel=metric)
    _title(ax, "Best so far")
    _integer_xaxis(ax)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return _fit(fig, [ax])


def save_search_plots(
    run_dir: str | Path,
    trials: pd.DataFrame,
    trial_metrics: Mapping[str, Any],
    search_space: Mapping[str, Mapping[str, Any]] | None,
    metric: str,
    mode: str,
) -> dict[str, Path]:
    """Draw every analysis plot and write each as a PNG into ``<run_dir>/plots/``.

    A plot that cannot be drawn is skipped with a warning instead of failing the search that
    called this.

    Returns:
        the written files by plot name (``learning_curves``, ``metric_vs_params``,
        ``parallel_coordinates``, ``param_importance``, ``best_so_far``).
    """
    drawers: dict[str, Callable[[], Figure]] = {
        "learning_curves": lambda: plot_learning_curves(trials, trial_metrics, metric, mode),
        "metric_vs_params": lambda: plot_metric_vs_params(trials, search_space, metric, mode),
        "parallel_coordinates": lambda: plot_parallel_coordinates(
            trials, search_space, metric, mode
        ),
        "param_importance": lambda: plot_param_importance(trials, search_space, metric),
        "best_so_far": lambda: plot_best_so_far(trials, metric, mode),
    }
    plots_dir = Path(run_dir) / run_dirs.PLOTS_DIR
    written = {}
    for name, draw in drawers.items():
        try:
            figure = draw()
        except Exception as error:  # a broken plot must not lose a finished search
            warnings.warn(f"could not draw the {name} plot: {error!r}", stacklevel=2)
            continue
        written[name] = save_figure(figure, plots_dir / f"{name}.png")
    return written


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG atomically; returns ``path``."""
    from pytorch_hyperlight.metrics.figure_layout import PNG_COMPRESS_LEVEL

    buffer = io.BytesIO()
    figure.savefig(
        buffer, format="png", dpi=_DPI, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL}
    )
    files.write_bytes_atomic(path, buffer.getvalue())
    return path


# --- helpers -------------------------------------------------------------------------------------
def _check_mode(mode: str) -> None:
    if mode not in ("min", "max"):
        raise ConfigError(f"mode must be 'min' or 'max', got {mode!r}.")


def _figure(
    size: tuple[float, float], n_rows: int = 1, n_cols: int = 1
) -> tuple[Figure, list[Axes]]:
    """A figure without layout engine (see ``_fit``) and its panels, always as a list."""
    from pytorch_hyperlight.metrics.figure_layout import MetricsFigure

    fig = MetricsFigure(figsize=size, dpi=_DPI)
    grid = fig.add_gridspec(n_rows, n_cols)
    return fig, [fig.add_subplot(grid[i // n_cols, i % n_cols]) for i in range(n_rows * n_cols)]


def _fit(
    fig: Figure,
    axes: list[Axes],
    n_rows: int = 1,
    n_cols: int = 1,
    *,
    colorbar: Colorbar | None = None,
    suptitle: str | None = None,
) -> Figure:
    """Fit the margins to the figure's text once: a layout engine would make savefig draw twice."""
    from matplotlib import rcParams

    from pytorch_hyperlight.metrics import figure_layout as layout

    top = 0.0
    if suptitle is not None:
        width, height = fig.get_size_inches()
        size = rcParams["figure.titlesize"]
        needed = layout.text_width(suptitle, size) + 2 * layout.EDGE
        if needed > width:
            fig.set_size_inches(needed, height)
        fig.suptitle(suptitle, y=1 - layout.EDGE / height, va="top", fontsize=size)
        top = layout.line_height(size) + 0.05
    right = layout.colorbar_block(colorbar) if colorbar is not None else 0.0
    layout.fit_grid(fig, axes, n_rows, n_cols, top=top, right=right)
    return fig


def _title(ax: Axes, text: str) -> None:
    # A fixed height (y=1): matplotlib's automatic one measures every tick label again at each draw
    # to avoid ticks on top, which these plots do not have.
    ax.set_title(text, y=1.0)


def _colour_scale(
    fig: Figure, ax: Axes, values: pd.Series, metric: str, mode: str
) -> tuple[Callable[[float], Any], Colorbar | None]:
    """A function value -> colour (grey for NaN), with its colour bar (None without values).

    Best values are dark purple, worst light green: the trials that matter stand out on white
    (viridis without its palest yellow end).
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    finite = values.dropna()
    colours = colormaps["viridis"](np.linspace(0.0, 0.85, 256))
    cmap = ListedColormap(colours[::-1] if mode == "max" else colours)
    low, high = (finite.min(), finite.max()) if not finite.empty else (0.0, 1.0)
    norm = Normalize(low, high if high > low else low + 1e-12)
    colorbar = None
    if not finite.empty:
        # A bar of fixed width in inches, close to the plot, however wide the figure is.
        panel_width = 0.8 * fig.get_size_inches()[0]
        colorbar = fig.colorbar(
            ScalarMappable(norm, cmap),
            ax=ax,
            label=f"best {metric}",
            fraction=_COLORBAR_WIDTH / panel_width,
            pad=_COLORBAR_PAD / panel_width,
        )

    def color_of(value: float) -> Any:
        return "tab:gray" if pd.isna(value) else cmap(norm(value))

    return color_of, colorbar


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


def _integer_xaxis(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="gray")
