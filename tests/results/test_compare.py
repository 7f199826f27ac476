"""Comparing runs: the last-value table, its sorting, the report, and the Runner's run names.

Unit tests on fake result dicts (TrialMetrics built from tiny tables); the Runner tests replace the
training functions with fakes, so no Lightning or Ray runs here.
"""

from __future__ import annotations

import sys
import types

import pandas as pd
import pytest

from pytorch_hyperlight import MetricError, RunDirError, Runner, TrialMetrics
from pytorch_hyperlight.results import compare


def fake_result(val_loss: list[float], val_f1: list[float], test_f1: float) -> dict:
    """A run's result dict: a train/val history, then reval and test rows at the best epoch."""
    rows = []
    for epoch, (loss, f1) in enumerate(zip(val_loss, val_f1)):
        rows.append({"stage": "train", "epoch": epoch, "train_loss": loss + 0.1})
        rows.append({"stage": "val", "epoch": epoch, "val_loss": loss, "val_f1": f1})
    best = max(range(len(val_f1)), key=val_f1.__getitem__)
    rows.append(
        {"stage": "reval", "epoch": best, "val_loss": val_loss[best], "val_f1": val_f1[best]}
    )
    rows.append({"stage": "test", "epoch": best, "test_f1": test_f1})
    metrics = TrialMetrics(pd.DataFrame(rows))
    return {"metrics": metrics, "metrics_last": metrics.series_last, "best_epoch": best}


@pytest.fixture
def three_runs() -> dict:
    return {
        "single-trial-Net": fake_result([0.9, 0.6], [0.70, 0.80], test_f1=0.78),
        "single-trial-Net@2": fake_result([0.8, 0.4, 0.3], [0.75, 0.90, 0.88], test_f1=0.87),
        "hyper-opt-Net": fake_result([0.7, 0.5], [0.80, 0.85], test_f1=0.91),
    }


# --- the table -----------------------------------------------------------------------------------
def test_collect_metrics_has_one_row_of_last_values_per_run(three_runs):
    collected = compare.collect_metrics(three_runs)
    table = collected["run_metrics_last"]
    assert list(table.index) == ["single-trial-Net", "single-trial-Net@2", "hyper-opt-Net"]
    assert table.index.name == "run"
    # val_* are the last epoch's values, reval_* the best model's, test_f1 the test row's
    assert table.loc["single-trial-Net@2", "val_f1"] == pytest.approx(0.88)
    assert table.loc["single-trial-Net@2", "reval_f1"] == pytest.approx(0.90)
    assert table.loc["single-trial-Net@2", "val_loss"] == pytest.approx(0.3)
    assert table.loc["single-trial-Net@2", "reval_loss"] == pytest.approx(0.4)
    assert table.loc["hyper-opt-Net", "test_f1"] == pytest.approx(0.91)
    assert table.loc["single-trial-Net", "train_loss"] == pytest.approx(0.7)


def test_collect_metrics_merges_every_run_epoch_metrics(three_runs):
    merged = compare.collect_metrics(three_runs)["metrics"]
    assert merged.runs == list(three_runs)
    frame = merged.df
    assert len(frame) == sum(len(r["metrics"]) for r in three_runs.values())
    second = frame[(frame["run"] == "single-trial-Net@2") & (frame["stage"] == "val")]
    assert second["val_f1"].tolist() == pytest.approx([0.75, 0.90, 0.88])


def test_show_metric_report_sorts_f1_descending_and_loss_ascending(three_runs):
    by_f1 = compare.show_metric_report(three_runs, ["test_f1"], display=False)["table"]
    assert list(by_f1.index) == ["hyper-opt-Net", "single-trial-Net@2", "single-trial-Net"]
    by_loss = compare.show_metric_report(three_runs, ["val_loss"], display=False)["table"]
    assert list(by_loss.index) == ["single-trial-Net@2", "hyper-opt-Net", "single-trial-Net"]
    assert by_loss["val_loss"].is_monotonic_increasing
    assert next(iter(by_loss.columns)) == "val_loss"  # the sort metric comes first


def test_sorting_by_several_metrics_breaks_ties_with_the_next_one():
    table = pd.DataFrame(
        {"val_acc": [0.9, 0.9, 0.8], "val_loss": [0.3, 0.2, 0.1]}, index=["a", "b", "c"]
    )
    ordered = compare.sort_runs(table, ["val_acc", "val_loss"])
    assert list(ordered.index) == ["b", "a", "c"]


def test_sorting_puts_runs_without_the_metric_last():
    table = pd.DataFrame({"val_f1": [float("nan"), 0.5, 0.7]}, index=["a", "b", "c"])
    assert list(compare.sort_runs(table, ["val_f1"]).index) == ["c", "b", "a"]


def test_sorting_accepts_the_logged_epoch_suffix(three_runs):
    table = compare.collect_metrics(three_runs)["run_metrics_last"]
    assert next(iter(compare.sort_runs(table, ["test_f1_epoch"]).index)) == "hyper-opt-Net"


def test_sorting_by_an_unknown_metric_lists_the_available_ones(three_runs):
    with pytest.raises(MetricError, match=r"'val_auc'.*Available metrics: train_loss, val_f1"):
        compare.show_metric_report(three_runs, ["val_auc"], display=False)


def test_no_runs_give_empty_tables_and_no_report():
    collected = compare.collect_metrics({})
    assert collected["run_x_last_metric_df"].empty
    assert len(collected["epoch_x_stage_run_metric"]) == 0
    assert compare.show_metric_report({}) is None


def test_report_figure_has_a_panel_per_metric_and_a_line_per_run(three_runs):
    figure = compare.show_metric_report(three_runs, display=False)["figure"]
    panels = {ax.get_title(): ax for ax in figure.axes if ax.get_title()}
    assert set(panels) >= {"val_f1", "val_loss"}
    run_lines = [line for line in panels["val_f1"].get_lines() if line.get_label() in three_runs]
    assert sorted(line.get_label() for line in run_lines) == sorted(three_runs)


def test_report_prints_the_sorted_table_in_a_terminal(three_runs, capsys):
    compare.show_metric_report(three_runs, ["test_f1"])
    printed = capsys.readouterr().out
    positions = [printed.index(name + " ") for name in ("hyper-opt-Net", "single-trial-Net@2")]
    assert positions == sorted(positions)
    assert "test_f1" in printed.splitlines()[0]
    assert "0.91" in printed


# --- the Runner's run names ----------------------------------------------------------------------
class Net:
    """Stands in for a LightningModule class (the fake trainers never build it)."""


@pytest.fixture
def fake_training(monkeypatch):
    """Replace the single trial and the search by fakes that return canned results."""
    calls = []
    results = iter(
        [
            fake_result([0.9, 0.6], [0.70, 0.80], 0.78),
            fake_result([0.8, 0.4], [0.75, 0.90], 0.87),
            fake_result([0.7, 0.5], [0.80, 0.85], 0.91),
            fake_result([0.6, 0.5], [0.60, 0.65], 0.60),
        ]
    )

    def run(lmodule_class, config, settings, context, **kwargs):
        calls.append(context.run_name)
        return {**next(results), "run_name": context.run_name, "run_dir": context.run_dir}

    for module_name, function in (
        ("pytorch_hyperlight.runs.single_trial", "run_single_trial"),
        ("pytorch_hyperlight.runs.search", "run_hyper_opt"),
    ):
        fake = types.ModuleType(module_name)
        setattr(fake, function, run)
        monkeypatch.setitem(sys.modules, module_name, fake)
    return calls


def test_runner_names_runs_like_the_original(fake_training):
    runner = Runner(lambda batch_size, n_workers=0: {})
    runner.run_single_trial(Net, {})
    runner.run_single_trial(Net, {})
    runner.run_hyper_opt(Net, {})
    runner.run_single_trial(Net, {})
    assert runner.run_names == [
        "single-trial-Net",
        "single-trial-Net@2",
        "hyper-opt-Net",
        "single-trial-Net@3",
    ]
    assert fake_training == runner.run_names


def test_runner_puts_the_prefix_in_front_of_generated_names(fake_training):
    runner = Runner(lambda batch_size, n_workers=0: {}, run_name_prefix="baseline")
    runner.run_single_trial(Net, {})
    runner.run_hyper_opt(Net, {})
    assert runner.run_names == ["baseline-single-trial-Net", "baseline-hyper-opt-Net"]


def test_an_explicit_run_name_alone_is_used_as_given(fake_training):
    runner = Runner(lambda batch_size, n_workers=0: {}, run_name_prefix="baseline")
    result = runner.run_single_trial(Net, {}, run_name="small-lr")
    assert runner.run_names == ["small-lr"]
    assert result["run_dir"].name.startswith("small-lr_")


def test_a_generated_name_skips_an_explicit_name_already_taken(fake_training):
    runner = Runner(lambda batch_size, n_workers=0: {})
    runner.run_single_trial(Net, {}, run_name="single-trial-Net")
    runner.run_single_trial(Net, {})
    assert runner.run_names == ["single-trial-Net", "single-trial-Net@2"]


def test_a_duplicate_explicit_run_name_fails_before_training(fake_training):
    runner = Runner(lambda batch_size, n_workers=0: {})
    runner.run_single_trial(Net, {}, run_name="mine")
    with pytest.raises(RunDirError, match="'mine' is already used"):
        runner.run_hyper_opt(Net, {}, run_name="mine")
    assert fake_training == ["mine"]


def test_runner_compares_its_three_runs_sorted(fake_training, capsys):
    runner = Runner(lambda batch_size, n_workers=0: {})
    runner.run_single_trial(Net, {})
    runner.run_single_trial(Net, {})
    runner.run_hyper_opt(Net, {})
    metrics = runner.get_metrics()
    assert list(metrics["run_metrics_last"].index) == runner.run_names
    assert metrics["metrics"].runs == runner.run_names
    report = runner.show_metric_report(sort_by_metric_list=["test_f1"])
    assert list(report["table"].index) == [
        "hyper-opt-Net",
        "single-trial-Net@2",
        "single-trial-Net",
    ]
    assert "hyper-opt-Net" in capsys.readouterr().out


def test_a_table_wider_than_the_terminal_is_printed_one_row_per_metric(three_runs):
    table = compare.sort_runs(compare.collect_metrics(three_runs)["run_metrics_last"], ["test_f1"])
    wide = compare.format_table(table, width=200)
    assert wide.splitlines()[0].split()[:2] == ["run", "test_f1"]
    narrow = compare.format_table(table.assign(val_acc=0.5, val_prec=0.5), width=40)
    header = narrow.splitlines()[0].split()
    assert header == ["metric", "hyper-opt-Net", "single-trial-Net@2", "single-trial-Net"]
    assert narrow.splitlines()[2].split()[:2] == ["test_f1", "0.91"]
