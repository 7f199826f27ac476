"""Unit tests of the metric figures: panels, titles, line labels and data, best-epoch markers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib.axes import Axes

from pytorch_hyperlight.errors import MetricError
from pytorch_hyperlight.metrics import TrialMetrics, plot_runs_comparison, plot_trial_metrics
from pytorch_hyperlight.metrics.plotting import run_title
from tests.figure_checks import assert_labels_readable

NAN = math.nan


def trial(best_epoch: int = 1, *, offset: float = 0.0, epochs: int = 3) -> TrialMetrics:
    """Epoch metrics of a digits-like trial: train/val acc and loss, reval and test at the best."""
    rows: list[dict[str, object]] = []
    for epoch in range(epochs):
        rows.append(
            {
                "stage": "train",
                "epoch": epoch,
                "train_acc": 0.5 + 0.1 * epoch + offset,
                "train_loss": 1.0 - 0.2 * epoch,
            }
        )
        rows.append(
            {"stage": "val", "epoch": epoch, "val_acc": 0.4 + 0.1 * epoch + offset,
             "val_loss": 1.1 - 0.2 * epoch}
        )  # fmt: skip
    rows.append({"stage": "reval", "epoch": best_epoch, "val_acc": 0.77 + offset, "val_loss": 0.8})
    rows.append({"stage": "test", "epoch": best_epoch, "test_acc": 0.66 + offset, "test_loss": 0.9})
    return TrialMetrics(pd.DataFrame(rows))


def lines_by_label(ax: Axes) -> dict[str, Any]:
    """The lines of a panel by label (typed Any: matplotlib types get_xdata() as ArrayLike)."""
    return {str(line.get_label()): line for line in ax.get_lines()}


def test_plot_has_one_panel_per_base_metric_titled_without_prefix() -> None:
    figure = trial().plot()
    assert [ax.get_title() for ax in figure.axes] == ["acc", "loss"]
    assert all(ax.get_xlabel() == "epoch" for ax in figure.axes)


def test_plot_draws_train_and_val_lines_with_epoch_data() -> None:
    acc_panel = trial().plot().axes[0]
    lines = lines_by_label(acc_panel)
    assert set(lines) == {"train", "val", "reval", "test", "best epoch (1)"}
    assert lines["train"].get_xdata().tolist() == [0, 1, 2]
    assert lines["train"].get_ydata().tolist() == pytest.approx([0.5, 0.6, 0.7])
    assert lines["val"].get_ydata().tolist() == pytest.approx([0.4, 0.5, 0.6])
    assert lines["train"].get_color() != lines["val"].get_color()


def test_plot_marks_reval_and_test_at_the_best_epoch() -> None:
    acc_panel = trial(best_epoch=2).plot().axes[0]
    lines = lines_by_label(acc_panel)
    assert lines["reval"].get_xdata().tolist() == [2]
    assert lines["reval"].get_ydata().tolist() == pytest.approx([0.77])
    assert lines["reval"].get_linestyle() == "None"
    assert lines["test"].get_ydata().tolist() == pytest.approx([0.66])
    assert lines["reval"].get_marker() != lines["test"].get_marker()
    best_line = lines["best epoch (2)"]
    assert best_line.get_xdata() == [2, 2] and best_line.get_linestyle() == "--"


def test_reval_and_test_markers_at_the_same_epoch_are_drawn_apart_around_it() -> None:
    figure = trial(best_epoch=2).plot()
    figure.canvas.draw()
    lines = lines_by_label(figure.axes[0])

    def drawn_x(label: str) -> float:  # where the marker lands on the canvas, in pixels
        line = lines[label]
        return float(line.get_transform().transform([(2, line.get_ydata()[0])])[0][0])

    best_x = float(figure.axes[0].transData.transform([(2, 0.0)])[0][0])
    assert drawn_x("reval") < best_x < drawn_x("test")
    assert drawn_x("test") - drawn_x("reval") >= 10  # pixels: more than a marker's half-width
    low, high = figure.axes[0].get_ylim()
    assert low < 0.66 and high > 0.77  # the moved markers still count for the limits


def test_figure_title_names_the_run_and_its_best_epoch() -> None:
    title = run_title("single-trial-Net", "val_acc", 1, 0.7712345)
    assert title == "single-trial-Net: best val_acc=0.7712 at epoch 1"
    figure = plot_trial_metrics(trial(), title=title)
    assert figure.get_suptitle() == title
    assert_labels_readable(figure)  # inside the picture, clear of the panels' titles
    one_panel = plot_trial_metrics(trial(), ["acc"], title=title + " " + "x" * 60)
    assert_labels_readable(one_panel)  # the figure widens for a long title
    assert trial().plot().get_suptitle() == ""  # TrialMetrics.plot: no run, no title


def test_plot_has_one_figure_legend_naming_the_stages() -> None:
    figure = trial().plot()
    assert len(figure.legends) == 1
    texts = [text.get_text() for text in figure.legends[0].get_texts()]
    assert texts == ["train", "val", "best epoch (1)", "reval", "test"]


def test_plot_selects_metrics_with_or_without_prefix_in_the_given_order() -> None:
    figure = trial().plot(["val_loss", "acc", "train_loss"])
    assert [ax.get_title() for ax in figure.axes] == ["loss", "acc"]


def test_plot_rejects_unknown_metric_listing_available_ones() -> None:
    with pytest.raises(MetricError, match=r"\['f1'\].*available metrics: \['acc', 'loss'\]"):
        trial().plot(["f1"])


def test_plot_skips_missing_values_and_has_no_best_line_without_evaluation() -> None:
    frame = trial().df.query("stage in ['train', 'val']").reset_index(drop=True)
    frame.loc[frame["epoch"] == 1, "val_acc"] = NAN
    lines = lines_by_label(TrialMetrics(frame).plot(["acc"]).axes[0])
    assert set(lines) == {"train", "val"}
    assert lines["val"].get_xdata().tolist() == [0, 2]


def test_plot_of_a_train_only_trial_draws_train_lines_only() -> None:
    frame = trial().df.query("stage == 'train'")[["stage", "epoch", "train_acc", "train_loss"]]
    figure = TrialMetrics(frame).plot()
    assert [set(lines_by_label(ax)) for ax in figure.axes] == [{"train"}, {"train"}]


def test_plot_of_an_empty_table_says_so_instead_of_failing() -> None:
    figure = TrialMetrics(pd.DataFrame({"stage": [], "epoch": []})).plot()
    assert [text.get_text() for text in figure.axes[0].texts] == ["no epoch metrics recorded"]


def test_plot_of_merged_runs_draws_a_line_per_run_and_stage_in_the_run_colour() -> None:
    merged = TrialMetrics.merge_runs({"a": trial(1), "b": trial(2, offset=0.1)})
    figure = merged.plot(["acc"])
    lines = lines_by_label(figure.axes[0])
    expected = {f"{run} {what}" for run in "ab" for what in ("train", "val", "reval", "test")}
    assert expected | {"a best epoch (1)", "b best epoch (2)"} == set(lines)
    assert lines["b val"].get_ydata().tolist() == pytest.approx([0.5, 0.6, 0.7])
    assert lines["b reval"].get_xdata().tolist() == [2]
    assert lines["a train"].get_color() == lines["a val"].get_color()
    assert lines["a val"].get_color() != lines["b val"].get_color()
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend[:2] == ["a", "b"] and "best epoch" in legend


def test_figures_are_not_registered_with_pyplot(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    figure = trial().plot()
    plot_runs_comparison(TrialMetrics.merge_runs({"a": trial()}))
    assert plt.get_fignums() == before  # nothing for the caller to close
    figure.savefig(tmp_path / "metrics.png")
    assert (tmp_path / "metrics.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_comparison_has_a_val_line_per_run_and_evaluation_markers() -> None:
    merged = TrialMetrics.merge_runs({"a": trial(1), "b": trial(2, offset=0.1)})
    figure = plot_runs_comparison(merged)
    assert [ax.get_title() for ax in figure.axes] == ["val_acc", "val_loss"]
    lines = lines_by_label(figure.axes[0])
    assert set(lines) == {"a", "b", "a reval", "b reval", "a test", "b test"}
    assert lines["a"].get_xdata().tolist() == [0, 1, 2]
    assert lines["b"].get_ydata().tolist() == pytest.approx([0.5, 0.6, 0.7])
    assert (lines["b test"].get_xdata().tolist(), lines["b test"].get_ydata().tolist()) == (
        [2],
        pytest.approx([0.76]),
    )
    assert lines["a"].get_color() == lines["a test"].get_color()
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["a", "b", "reval", "test"]


def test_runs_comparison_uses_train_for_a_run_without_validation() -> None:
    train_only = TrialMetrics(trial().df.query("stage == 'train'").dropna(axis=1, how="all"))
    merged = TrialMetrics.merge_runs({"with-val": trial(), "full-data": train_only})
    lines = lines_by_label(plot_runs_comparison(merged, ["acc"]).axes[0])
    assert {"with-val", "full-data (train)"} <= set(lines)
    assert lines["full-data (train)"].get_ydata().tolist() == pytest.approx([0.5, 0.6, 0.7])


def test_runs_comparison_accepts_canonical_names() -> None:
    merged = TrialMetrics.merge_runs({"a": trial(), "b": trial()})
    figure = plot_runs_comparison(merged, ["train_loss", "val_acc"])
    assert [ax.get_title() for ax in figure.axes] == ["train_loss", "val_acc"]
    assert set(lines_by_label(figure.axes[0])) == {"a", "b", "a test", "b test"}


def test_runs_comparison_needs_merged_runs_and_known_metrics() -> None:
    with pytest.raises(MetricError, match="merge_runs"):
        plot_runs_comparison(trial())
    merged = TrialMetrics.merge_runs({"a": trial()})
    with pytest.raises(MetricError, match="No metric named 'f1'"):
        plot_runs_comparison(merged, ["f1"])


def test_many_panels_wrap_into_rows_of_three() -> None:
    frame = trial().df
    for name in ("f1", "precision", "recall"):
        frame[f"val_{name}"] = frame["val_acc"]
    figure = TrialMetrics(frame).plot()
    assert len(figure.axes) == 5
    positions = {ax.get_subplotspec().rowspan.start for ax in figure.axes}  # type: ignore[union-attr]
    assert positions == {0, 1}


def test_figures_render_as_png_in_ipython_without_the_inline_backend() -> None:
    formatters = pytest.importorskip("IPython.core.formatters")
    data, _ = formatters.DisplayFormatter().format(trial().plot())
    assert data["image/png"][:4] == b"\x89PNG"


def test_trial_figure_labels_are_inside_the_picture_and_apart() -> None:
    frame = trial(epochs=12).df
    for name in ("f1", "precision", "recall"):
        frame[f"val_{name}"] = frame["val_acc"] * 1e-4  # long tick labels: 0.000045
    assert_labels_readable(TrialMetrics(frame).plot())


def test_a_legend_too_wide_for_the_figure_wraps_into_rows_inside_it() -> None:
    runs = {"lr=0.001 batch_size=32": trial(1), "full data, final retraining": trial(2)}
    figure = TrialMetrics.merge_runs(runs).plot(["acc"])
    assert_labels_readable(figure)
    (legend,) = figure.legends
    rows = {round(text.get_window_extent().y0) for text in legend.get_texts()}
    assert len(rows) > 1


def test_figures_are_laid_out_by_matplotlib_s_constrained_layout() -> None:
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    single = trial().plot()
    merged = TrialMetrics.merge_runs({"a": trial(1), "b": trial(2)}).plot()
    comparison = plot_runs_comparison(TrialMetrics.merge_runs({"a": trial(1), "b": trial(2)}))
    for figure in (single, merged, comparison):
        assert isinstance(figure.get_layout_engine(), ConstrainedLayoutEngine)


@pytest.mark.parametrize(
    ("name", "options", "magic"),
    [("m.png", {}, b"\x89PNG"), ("m.pdf", {}, b"%PDF"), ("m", {"format": "svg"}, b"<?xml")],
)
def test_figures_save_as_any_format_matplotlib_writes(
    tmp_path: Path, name: str, options: dict[str, str], magic: bytes
) -> None:
    trial().plot().savefig(tmp_path / name, **options)
    assert (tmp_path / name).read_bytes().startswith(magic)
