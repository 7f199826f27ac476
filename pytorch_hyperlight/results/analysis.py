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
that need the metric. The figures are :class:`matplotlib.figure.Figure` objects made without pyplot
and laid out by matplotlib's constrained layout (:mod:`pytorch_hyperlight.metrics.figures`): in a
notebook a figure displays inline when it is a cell's value; elsewhere call ``fig.savefig``. The
plots over time are drawn in :mod:`~pytorch_hyperlight.results.curve_plots`, those across the
hyper-parameters in :mod:`~pytorch_hyperlight.results.parameter_plots`; this module gathers them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pytorch_hyperlight.metrics.figures import save_figure
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.curve_plots import plot_best_so_far, plot_learning_curves
from pytorch_hyperlight.results.parameter_plots import (
    plot_metric_vs_params,
    plot_parallel_coordinates,
    plot_param_importance,
)
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
    from matplotlib.figure import Figure


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
