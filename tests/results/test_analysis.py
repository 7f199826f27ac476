"""Unit tests of the search analysis plots (synthetic trials; no Lightning, no Ray)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.results import analysis
from tests.figure_checks import assert_labels_readable
from tests.results_fakes import SEARCH_SPACE, make_search


def _scatter_offsets(ax, label=None):
    collections = [c for c in ax.collections if isinstance(c, PathCollection)]
    if label is not None:
        collections = [c for c in collections if c.get_label() == label]
    return [c.get_offsets() for c in collections]


# --- learning curves -----------------------------------------------------------------------------
def test_learning_curves_draw_one_line_per_trial_with_a_history():
    search = make_search(6, errored=(5,))
    fig = analysis.plot_learning_curves(search["trials"], search["trial_metrics"], "val_f1", "max")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert sorted(line.get_gid() for line in lines) == ["t00", "t01", "t02", "t03", "t04"]
    t02 = next(line for line in lines if line.get_gid() == "t02")
    expected = search["trial_metrics"]["t02"].dropna(subset=["val_f1"])
    np.testing.assert_allclose(t02.get_xdata(), expected["epoch"])
    np.testing.assert_allclose(t02.get_ydata(), expected["val_f1"])


def test_learning_curves_mark_the_stop_epoch_of_trials_stopped_early():
    search = make_search(6)
    fig = analysis.plot_learning_curves(search["trials"], search["trial_metrics"], "val_f1", "max")
    (offsets,) = _scatter_offsets(fig.axes[0], "stopped early by the scheduler")
    expected = []
    for trial_id in ("t01", "t03"):  # stopped after 2 epochs (0 and 1)
        history = search["trial_metrics"][trial_id].dropna(subset=["val_f1"])
        expected.append([1, history["val_f1"].iloc[-1]])
    np.testing.assert_allclose(offsets, expected)


def test_learning_curves_draw_the_best_trial_thickest():
    search = make_search(6)
    by_metric = search["trials"].set_index("trial_id")["metric_best"]
    for mode, best in (("max", by_metric.idxmax()), ("min", by_metric.idxmin())):
        fig = analysis.plot_learning_curves(
            search["trials"], search["trial_metrics"], "val_f1", mode
        )
        thickest = max(fig.axes[0].get_lines(), key=lambda line: line.get_linewidth())
        assert thickest.get_gid() == best
        assert thickest.get_label() == f"best trial {best}"


# --- metric against each parameter --------------------------------------------------------------
def test_metric_vs_params_has_a_log_axis_for_loguniform_and_categories_for_choice():
    search = make_search(6)
    fig = analysis.plot_metric_vs_params(search["trials"], SEARCH_SPACE, "val_f1", "max")
    panels = {ax.get_title(): ax for ax in fig.axes if ax.axison}
    assert list(panels) == ["lr", "batch_size", "n_hidden"]  # the constant n_classes is left out
    assert panels["lr"].get_xscale() == "log"
    assert panels["n_hidden"].get_xscale() == "linear"
    labels = [t.get_text() for t in panels["batch_size"].get_xticklabels()]
    assert labels == ["32", "64", "128"]
    points = _scatter_offsets(panels["batch_size"])[0]
    expected_index = search["trials"]["config/batch_size"].map({32: 0, 64: 1, 128: 2})
    np.testing.assert_allclose(points[:, 0], expected_index, atol=0.13)  # sideways spread only


def test_metric_vs_params_leaves_out_trials_without_a_metric_and_stars_the_best():
    search = make_search(6, errored=(2, 4))
    fig = analysis.plot_metric_vs_params(search["trials"], SEARCH_SPACE, "val_f1", "min")
    lr_panel = fig.axes[0]
    points, star = _scatter_offsets(lr_panel)
    assert len(points) == 4
    best = search["trials"].loc[search["trials"]["metric_best"].idxmin()]
    np.testing.assert_allclose(star, [[best["config/lr"], best["metric_best"]]])


def test_metric_vs_params_with_a_single_searched_parameter_draws_one_panel():
    search = make_search(6)
    trials = search["trials"].drop(columns=["config/batch_size", "config/n_hidden"])
    fig = analysis.plot_metric_vs_params(trials, {"lr": SEARCH_SPACE["lr"]}, "val_f1", "max")
    (panel,) = fig.axes
    assert (panel.get_title(), panel.get_xscale()) == ("lr", "log")
    points, star = _scatter_offsets(panel)
    np.testing.assert_allclose(points[:, 0], trials["config/lr"])
    best = trials.loc[trials["metric_best"].idxmax()]
    np.testing.assert_allclose(star, [[best["config/lr"], best["metric_best"]]])


# --- parallel coordinates ------------------------------------------------------------------------
def test_parallel_coordinates_draw_one_normalised_line_per_trial_with_a_metric():
    search = make_search(6, errored=(3,))
    fig = analysis.plot_parallel_coordinates(search["trials"], SEARCH_SPACE, "val_f1", "max")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 5
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "lr (log)",
        "batch_size",
        "n_hidden",
        "val_f1",
    ]
    ys = np.array([line.get_ydata() for line in lines])
    assert ys.min() >= 0 and ys.max() <= 1
    # lr spans the whole loguniform range [1e-4, 1e-1] in log space: 1e-4 -> 0, 1e-1 -> 1.
    trials = search["trials"].drop(index=3)
    expected_lr = (np.log10(trials["config/lr"]) + 4) / 3
    assert sorted(ys[:, 0]) == pytest.approx(sorted(expected_lr))
    # categories at evenly spaced positions: 32 -> 0, 64 -> 0.5, 128 -> 1
    assert set(np.round(ys[:, 1], 6)) <= {0.0, 0.5, 1.0}
    # the best trial (highest val_f1) is drawn last, on top, at the top of the metric axis
    assert lines[-1].get_ydata()[-1] == pytest.approx(1.0)


def test_parallel_coordinates_put_a_constant_parameter_in_the_middle():
    search = make_search(4)
    trials = search["trials"].assign(**{"config/n_hidden": 64})
    fig = analysis.plot_parallel_coordinates(trials, {}, "val_f1", "max")
    ys = np.array([line.get_ydata() for line in fig.axes[0].get_lines()])
    assert np.all(ys[:, 2] == 0.5)


# --- importance ----------------------------------------------------------------------------------
def test_param_importance_adds_up_to_one_and_ranks_the_driving_parameter_first():
    search = make_search(9)
    importance = analysis.param_importance(search["trials"], SEARCH_SPACE)
    assert importance.sum() == pytest.approx(1.0)
    assert importance.index[0] == "lr"  # val_f1 rises with log(lr) by construction
    assert set(importance.index) == {"lr", "batch_size", "n_hidden"}


def test_param_importance_uses_eta_squared_for_categories_and_zero_for_constants():
    trials = pd.DataFrame(
        {
            "trial_id": ["a", "b", "c", "d"],
            "config/act": ["relu", "relu", "tanh", "tanh"],
            "config/width": [8, 8, 8, 8],
            "config/lr": [0.1, 0.2, 0.3, 0.4],
            "metric_best": [1.0, 3.0, 5.0, 7.0],
        }
    )
    space = {"act": {"type": "choice", "categories": ["relu", "tanh"]}}
    # act: group means 2 and 6 around 4 -> between SS 16, total SS 20 -> eta^2 = 0.8;
    # lr: perfectly monotone -> rho^2 = 1; width: constant -> 0. Normalised by 1.8.
    importance = analysis.param_importance(trials, space)
    assert importance.to_dict() == pytest.approx({"lr": 1 / 1.8, "act": 0.8 / 1.8, "width": 0.0})


def test_param_importance_is_undefined_with_fewer_than_three_trials_with_a_metric():
    search = make_search(4, errored=(0, 1))
    importance = analysis.param_importance(search["trials"], SEARCH_SPACE)
    assert importance.isna().all()
    fig = analysis.plot_param_importance(search["trials"], SEARCH_SPACE, "val_f1")
    assert not fig.axes[0].patches
    assert "at least 3 trials" in fig.axes[0].texts[0].get_text()


def test_importance_bars_add_up_to_one_largest_on_top():
    search = make_search(9)
    fig = analysis.plot_param_importance(search["trials"], SEARCH_SPACE, "val_f1")
    bars = fig.axes[0].patches
    widths = [bar.get_width() for bar in bars]
    assert sum(widths) == pytest.approx(1.0)
    top = max(bars, key=lambda bar: bar.get_y())
    assert top.get_width() == max(widths)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][-1] == "lr"


# --- best so far ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["max", "min"])
def test_best_so_far_is_monotone_in_completion_order(mode):
    search = make_search(8, errored=(4,))
    trials = search["trials"]
    fig = analysis.plot_best_so_far(trials, "val_f1", mode)
    (line,) = fig.axes[0].get_lines()
    best = np.asarray(line.get_ydata(), dtype=float)
    steps = np.diff(best)
    assert np.all(steps >= 0) if mode == "max" else np.all(steps <= 0)
    ordered = trials.sort_values("completion_order")["metric_best"]
    expected = ordered.cummax() if mode == "max" else ordered.cummin()
    np.testing.assert_allclose(best, expected.ffill())
    np.testing.assert_allclose(line.get_xdata(), np.arange(1, 9))
    (failed,) = _scatter_offsets(fig.axes[0], "trial without a metric (failed)")
    assert failed[:, 0].tolist() == [trials.loc[4, "completion_order"]]


# --- saving, robustness ----------------------------------------------------------------------------
PLOT_NAMES = [
    "learning_curves",
    "metric_vs_params",
    "parallel_coordinates",
    "param_importance",
    "best_so_far",
]


@pytest.mark.parametrize(
    "case",
    ["several trials", "one trial", "all trials failed", "constant parameters", "one parameter"],
)
def test_save_search_plots_writes_every_plot_as_png(tmp_path, case, recwarn):
    search = {
        "several trials": lambda: make_search(6, errored=(2,)),
        "one trial": lambda: make_search(1),
        "all trials failed": lambda: make_search(3, errored=(0, 1, 2)),
        "constant parameters": lambda: make_search(4),
        "one parameter": lambda: make_search(5),
    }[case]()
    trials = search["trials"]
    if case == "one parameter":
        trials = trials.drop(columns=["config/batch_size", "config/n_hidden"])
    if case == "constant parameters":
        trials = trials.assign(**{"config/lr": 0.01, "config/batch_size": 64})
    written = analysis.save_search_plots(
        tmp_path, trials, search["trial_metrics"], SEARCH_SPACE, "val_f1", "max"
    )
    assert list(written) == PLOT_NAMES
    for name, path in written.items():
        assert path == tmp_path / "plots" / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [w for w in recwarn if "could not draw" in str(w.message)]


def test_plots_reject_an_unknown_mode():
    search = make_search(3)
    with pytest.raises(ConfigError, match="'min' or 'max'"):
        analysis.plot_best_so_far(search["trials"], "val_f1", "maximise")


def test_category_labels_match_between_json_and_csv_values():
    assert analysis.category_label(64) == analysis.category_label(64.0) == "64"
    assert analysis.category_label(0.5) == "0.5"
    assert analysis.category_label(math.nan) == "nan"


def test_best_so_far_places_a_trial_without_completion_order_after_the_others():
    search = make_search(4)
    trials = search["trials"].copy()
    trials.loc[2, "completion_order"] = pd.NA  # e.g. still running when the search was interrupted
    fig = analysis.plot_best_so_far(trials, "val_f1", "max")
    (line,) = fig.axes[0].get_lines()
    assert sorted(line.get_xdata()) == sorted([*trials["completion_order"].dropna().astype(int), 3])


def test_string_choices_grid_values_and_nested_names_are_plotted_as_described():
    search = make_search(6)
    trials = search["trials"].assign(
        **{
            "config/activation": ["relu", "tanh", "gelu"] * 2,
            "config/optimizer/momentum": [0.9, 0.99] * 3,
        }
    )
    space = {
        "activation": {"type": "choice", "categories": ["tanh", "relu", "gelu"]},
        "optimizer/momentum": {"type": "grid", "values": [0.9, 0.99]},
    }
    fig = analysis.plot_metric_vs_params(trials, space, "val_f1", "max")
    panels = {ax.get_title(): ax for ax in fig.axes if ax.axison}
    assert list(panels)[:2] == ["activation", "optimizer/momentum"]
    ticks = {name: [t.get_text() for t in panels[name].get_xticklabels()] for name in panels}
    assert ticks["activation"] == ["tanh", "relu", "gelu"]  # the search space's order
    assert ticks["optimizer/momentum"] == ["0.9", "0.99"]


def _demanding_search():
    """Long parameter and metric names, string categories, tiny metric values, five parameters."""
    search = make_search(6)
    trials = search["trials"].assign(
        **{
            "config/optimizer/momentum_of_the_first_moment": [0.9, 0.99] * 3,
            "config/activation_function": ["leaky_relu", "tanh", "gelu_approximate"] * 2,
            "metric_best": search["trials"]["metric_best"] * 1e-4,
        }
    )
    space = {
        **SEARCH_SPACE,
        "activation_function": {"type": "choice", "categories": ["tanh", "leaky_relu", "gelu"]},
    }
    histories = {
        trial_id: history.rename(columns={"val_f1": "val_weighted_f1_score"})
        for trial_id, history in search["trial_metrics"].items()
    }
    return trials, histories, space


@pytest.mark.parametrize("name", PLOT_NAMES)
def test_analysis_plot_labels_are_inside_the_picture_and_apart(name):
    trials, histories, space = _demanding_search()
    metric = "val_weighted_f1_score"
    figure = {
        "learning_curves": lambda: analysis.plot_learning_curves(trials, histories, metric, "min"),
        "metric_vs_params": lambda: analysis.plot_metric_vs_params(trials, space, metric, "min"),
        "parallel_coordinates": lambda: analysis.plot_parallel_coordinates(
            trials, space, metric, "min"
        ),
        "param_importance": lambda: analysis.plot_param_importance(trials, space, metric),
        "best_so_far": lambda: analysis.plot_best_so_far(trials, metric, "min"),
    }[name]()
    assert_labels_readable(figure)


def test_param_importance_ranks_like_spearman_with_ties_and_missing_values():
    trials = pd.DataFrame(
        {
            "trial_id": list("abcdefg"),
            "config/width": [8, 8, 16, np.nan, 32, 16, 64],
            "config/depth": [1, 2, 3, 4, 5, 6, 7],
            "metric_best": [0.1, 0.3, 0.2, 0.5, 0.4, 0.4, 0.9],
        }
    )
    width, depth, metric = trials["config/width"], trials["config/depth"], trials["metric_best"]
    rho_width = width.corr(metric, method="spearman") ** 2
    rho_depth = depth.corr(metric, method="spearman") ** 2
    importance = analysis.param_importance(trials)
    total = rho_width + rho_depth
    assert importance.to_dict() == pytest.approx(
        {"width": rho_width / total, "depth": rho_depth / total}
    )
