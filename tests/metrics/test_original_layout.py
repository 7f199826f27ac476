"""The original 0.3.0's TrialMetrics and Runner-report usage, without training (unit tests).

The table below is the one the original's ``trial_metrics_happy_path`` notebook builds with
``pd.read_json``; the expected ``series_last`` is what that notebook displayed for it.
"""

from __future__ import annotations

import math
import sys
import types

import pandas as pd
import pytest

from pytorch_hyperlight import ConfigError, MetricError, RunDirError, Runner, TrialMetrics

NOTEBOOK_JSON = (
    '{"stage":{"0":"Train\\/Val","1":"Train\\/Val","2":"Train\\/Val","3":"Train\\/Val",'
    '"4":"Train\\/Val","5":"Train\\/Val","6":"Reval","7":"Test"},'
    '"epoch":{"0":0,"1":1,"2":2,"3":3,"4":4,"5":5,"6":5,"7":5},'
    '"stage-list":{"0":["train","val"],"1":["train","val"],"2":["train","val"],'
    '"3":["train","val"],"4":["train","val"],"5":["train","val"],"6":["reval"],"7":["test"]},'
    '"val_f1":{"0":0.1747,"1":0.7387,"2":0.9646,"3":0.9759,"4":0.9795,"5":0.9815,"6":null,"7":null},'
    '"train_f1":{"0":0.0951,"1":0.5947,"2":0.9305,"3":0.974,"4":0.983,"5":0.9872,"6":null,"7":null},'
    '"val_acc":{"0":0.2534,"1":0.7512,"2":0.9649,"3":0.9762,"4":0.9797,"5":0.9817,"6":null,"7":null},'
    '"train_acc":{"0":0.1639,"1":0.6287,"2":0.9311,"3":0.9742,"4":0.9831,"5":0.9873,"6":null,"7":null},'
    '"val_loss":{"0":2.2725,"1":1.0247,"2":0.1152,"3":0.0759,"4":0.0668,"5":0.061,"6":null,"7":null},'
    '"train_loss":{"0":2.2897,"1":1.5376,"2":0.2273,"3":0.0841,"4":0.0566,"5":0.042,"6":null,"7":null},'
    '"reval_f1":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":0.9815,"7":null},'
    '"reval_acc":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":0.9817,"7":null},'
    '"reval_loss":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":0.061,"7":null},'
    '"test_f1":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":null,"7":0.9854},'
    '"test_acc":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":null,"7":0.9855},'
    '"test_loss":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":null,"7":0.0457}}'
)
#: What the original notebook displayed as ``best_result["metrics"].series_last``.
NOTEBOOK_SERIES_LAST = {
    "val_f1": 0.9815, "train_f1": 0.9872, "val_acc": 0.9817, "train_acc": 0.9873,
    "val_loss": 0.0610, "train_loss": 0.0420, "reval_f1": 0.9815, "reval_acc": 0.9817,
    "reval_loss": 0.0610, "test_f1": 0.9854, "test_acc": 0.9855, "test_loss": 0.0457,
}  # fmt: skip


def notebook_frame() -> pd.DataFrame:
    from io import StringIO

    return pd.read_json(StringIO(NOTEBOOK_JSON))


def test_the_notebooks_table_converts_without_losing_a_value() -> None:
    original = notebook_frame()
    metrics = TrialMetrics(original)
    df = metrics.df
    assert list(df["stage"]) == ["train", "val"] * 6 + ["reval", "test"]
    assert list(df["epoch"]) == [e for e in range(6) for _ in range(2)] + [5, 5]
    assert "stage-list" not in df.columns
    # every value of the original table is in exactly one cell of the converted one
    values = original.drop(columns=["stage", "epoch", "stage-list"])
    assert int(values.notna().sum().sum()) == int(df[metrics.metric_names].notna().sum().sum())
    train = df[df["stage"] == "train"]
    assert train["train_f1"].tolist() == original["train_f1"].iloc[:6].tolist()
    assert (
        df.loc[df["stage"] == "val", "val_loss"].tolist() == original["val_loss"].iloc[:6].tolist()
    )
    reval = df[df["stage"] == "reval"].iloc[0]
    assert (reval["val_f1"], reval["val_acc"], reval["val_loss"]) == (0.9815, 0.9817, 0.061)
    assert df.loc[df["stage"] == "test", "test_acc"].tolist() == [0.9855]
    assert metrics.best_epoch == 5


def test_series_last_of_the_notebooks_table_is_what_the_original_showed() -> None:
    last = TrialMetrics(notebook_frame()).series_last
    assert last.to_dict() == pytest.approx(NOTEBOOK_SERIES_LAST)
    assert list(last.index[-3:]) == ["test_acc", "test_f1", "test_loss"]


def test_original_stage_names_without_a_stage_list_and_in_lower_case() -> None:
    frame = pd.DataFrame(
        {
            "stage": ["train/val", "Train", "Reval", "TEST"],
            "epoch": [0, 1, 1, 1],
            "train_loss": [0.9, 0.5, None, None],
            "val_loss": [0.8, None, None, None],
            "reval_loss": [None, None, 0.7, None],
            "test_loss": [None, None, None, 0.6],
        }
    )
    df = TrialMetrics(frame).df
    assert list(df["stage"]) == ["train", "val", "train", "reval", "test"]
    assert df["val_loss"].tolist()[1] == 0.8 and df["val_loss"].tolist()[3] == 0.7
    # a canonical table whose reval row already holds val_* values, with title-case stages
    canonical = pd.DataFrame({"stage": ["Val", "Reval"], "epoch": [0, 0], "val_acc": [0.5, 0.6]})
    assert TrialMetrics(canonical).df["val_acc"].tolist() == [0.5, 0.6]


def test_a_value_on_a_row_of_another_stage_is_an_error_not_dropped() -> None:
    frame = notebook_frame()
    frame.loc[7, "val_f1"] = 0.5  # a val value on the Test row
    with pytest.raises(MetricError, match=r"'val_f1' has the value 0.5 on a row of stage 'Test'"):
        TrialMetrics(frame)
    with pytest.raises(MetricError, match="Unknown stage 'Training'"):
        TrialMetrics(pd.DataFrame({"stage": ["Training"], "epoch": [0], "reval_f1": [0.5]}))


def test_dunder_dict_shows_the_table() -> None:
    metrics = TrialMetrics(notebook_frame())
    state = vars(metrics)
    assert list(state) == ["_df"]
    pd.testing.assert_frame_equal(state["_df"], metrics.df)
    assert len(repr(state)) < 10_000


def test_plot_and_show_report_honour_figsize(capsys) -> None:
    metrics = TrialMetrics(notebook_frame())
    figure = metrics.plot(figsize=(15, 10))
    assert tuple(figure.get_size_inches()) == (15, 10)
    assert {ax.get_title() for ax in figure.axes} == {"acc", "f1", "loss"}
    shown = metrics.show_report(figsize=(10, 10))  # in a terminal: printed, figure returned
    assert tuple(shown.get_size_inches()) == (10, 10)
    assert "reval" in capsys.readouterr().out
    with pytest.raises(MetricError, match=r"figsize must be \(width, height\)"):
        metrics.plot(figsize=(10,))
    with pytest.raises(MetricError, match=r"plot\(figsize=\(30, 20\)\)"):
        metrics.plot((30, 20))  # type: ignore[arg-type]  # the original's positional figsize


def test_an_empty_trial_metrics_reports_without_error(capsys) -> None:
    empty = TrialMetrics.create_empty()
    assert len(empty) == 0 and empty.metric_names == [] and empty.df.empty
    assert empty.series_last.empty
    empty.show_report()
    assert "0 rows" in capsys.readouterr().out


def test_a_runner_without_runs_reports_nothing_and_returns_empty_tables(capsys) -> None:
    runner = Runner(lambda batch_size, n_workers=0: {}, experiment_id="nothing-yet")
    assert runner.show_metric_report() is None
    assert runner.show_metric_report(figsize=(15, 10), keep_train_val_only=True) is None
    assert capsys.readouterr().out == ""
    metrics = runner.get_metrics()
    assert isinstance(metrics["run_x_last_metric_df"], pd.DataFrame)
    assert metrics["run_x_last_metric_df"].empty
    assert isinstance(metrics["epoch_x_stage_run_metric"], TrialMetrics)
    assert len(metrics["epoch_x_stage_run_metric"]) == 0


# --- the Runner's names and reports on canned results ------------------------------------------------
def canned_result(last_val_f1: float, reval_f1: float, test_f1: float) -> dict:
    frame = pd.DataFrame(
        [
            {"stage": "train", "epoch": 0, "train_f1": 0.5},
            {"stage": "val", "epoch": 0, "val_f1": reval_f1},
            {"stage": "train", "epoch": 1, "train_f1": 0.6},
            {"stage": "val", "epoch": 1, "val_f1": last_val_f1},
            {"stage": "reval", "epoch": 0, "val_f1": reval_f1},
            {"stage": "test", "epoch": 0, "test_f1": test_f1},
        ]
    )
    metrics = TrialMetrics(frame)
    return {"metrics": metrics, "metrics_last": metrics.series_last, "best_epoch": 0}


class Net:
    """Stands in for a LightningModule class (the canned runs never build it)."""


@pytest.fixture
def canned_runs(monkeypatch):
    """Replace the single trial and the search with functions returning canned results."""
    results = iter(
        [
            canned_result(0.70, 0.80, test_f1=0.78),
            canned_result(0.85, 0.90, test_f1=0.87),
            canned_result(0.60, 0.65, test_f1=0.87),
            canned_result(0.50, 0.55, test_f1=0.50),
        ]
    )

    def run(lmodule_class, config, settings, context, **kwargs):
        return {**next(results), "run_name": context.run_name, "run_dir": context.run_dir}

    for module_name, function in (
        ("pytorch_hyperlight.runs.single_trial", "run_single_trial"),
        ("pytorch_hyperlight.runs.search", "run_hyper_opt"),
    ):
        fake = types.ModuleType(module_name)
        setattr(fake, function, run)
        monkeypatch.setitem(sys.modules, module_name, fake)


def test_extra_run_name_prefix_goes_in_front_of_the_default_name(canned_runs) -> None:
    runner = Runner(lambda batch_size, n_workers=0: {})
    runner.run_single_trial(Net, {})
    runner.run_single_trial(Net, {}, extra_run_name_prefix="full-train-")
    runner.run_hyper_opt(Net, {}, extra_run_name_prefix="full-train-")
    runner.run_single_trial(Net, {}, extra_run_name_prefix="full-train-")
    assert runner.run_names == [
        "single-trial-Net",
        "full-train-single-trial-Net",
        "full-train-hyper-opt-Net",
        "full-train-single-trial-Net@2",
    ]
    run_dirs = [run["run_dir"].name for run in runner.get_runs().values()]
    assert run_dirs[3].startswith("full-train-single-trial-Net@2_")


def test_run_name_with_a_prefix_or_used_twice_fails_before_training(canned_runs) -> None:
    runner = Runner(lambda batch_size, n_workers=0: {})
    with pytest.raises(ConfigError, match="cannot be combined with extra_run_name_prefix"):
        runner.run_single_trial(Net, {}, run_name="mine", extra_run_name_prefix="ft-")
    runner.run_single_trial(Net, {}, run_name="my run/1")
    assert runner.get_runs()["my run/1"]["run_dir"].name.startswith("my_run_1_")  # a safe dir
    with pytest.raises(RunDirError, match="'my run/1' is already used"):
        runner.run_hyper_opt(Net, {}, run_name="my run/1")
    with pytest.raises(ConfigError, match="extra_run_name_prefix must be a string"):
        runner.run_single_trial(Net, {}, extra_run_name_prefix=None)  # type: ignore[arg-type]
    assert runner.run_names == ["my run/1"]


def test_get_metrics_has_the_originals_keys_and_drops_reval_test_on_request(canned_runs) -> None:
    runner = Runner(lambda batch_size, n_workers=0: {})
    runner.run_single_trial(Net, {})
    runner.run_single_trial(Net, {})
    metrics = runner.get_metrics()
    last = metrics["run_x_last_metric_df"]
    assert list(last["run"]) == ["single-trial-Net", "single-trial-Net@2"]
    assert list(last.columns) == ["train_f1", "val_f1", "reval_f1", "test_f1", "run"]
    assert last.loc[1, ["val_f1", "reval_f1", "test_f1"]].tolist() == [0.85, 0.90, 0.87]
    merged = metrics["epoch_x_stage_run_metric"]
    assert merged.runs == runner.run_names and merged is metrics["metrics"]
    assert metrics["run_metrics_last"].loc["single-trial-Net@2", "reval_f1"] == 0.90

    train_val = runner.get_metrics(keep_train_val_only=True)
    assert list(train_val["run_x_last_metric_df"].columns) == ["train_f1", "val_f1", "run"]
    kept = train_val["epoch_x_stage_run_metric"].df
    assert set(kept["stage"]) == {"train", "val"} and "test_f1" not in kept.columns


def test_show_metric_report_sorts_by_the_metrics_then_the_run(canned_runs, capsys) -> None:
    runner = Runner(lambda batch_size, n_workers=0: {})
    for _ in range(3):
        runner.run_single_trial(Net, {})
    report = runner.show_metric_report(sort_by_metric_list=["test_f1"], figsize=(15, 10))
    assert report is not None
    # @2 and @3 tie on test_f1 (0.87): the run name breaks the tie, descending as the original
    assert list(report["table"].index) == [
        "single-trial-Net@3",
        "single-trial-Net@2",
        "single-trial-Net",
    ]
    assert tuple(report["figure"].get_size_inches()) == (15, 10)
    assert "single-trial-Net@3" in capsys.readouterr().out
    # the original notebook sorted by test metrics while keeping train/val only
    kept = runner.show_metric_report(
        sort_by_metric_list=["test_f1", "run"], keep_train_val_only=True
    )
    assert kept is not None
    assert list(kept["table"].columns) == ["test_f1", "train_f1", "val_f1"]
    plotted = {line.get_label() for ax in kept["figure"].axes for line in ax.get_lines()}
    assert not any(label.endswith((" reval", " test")) for label in plotted)


def test_nan_free_last_values_for_a_run_without_reval() -> None:
    frame = pd.DataFrame(
        [
            {"stage": "train", "epoch": 0, "train_f1": 0.5},
            {"stage": "test", "epoch": 0, "test_f1": 0.4},
        ]
    )
    last = TrialMetrics(frame).series_last
    assert last.to_dict() == {"train_f1": 0.5, "test_f1": 0.4}  # no reval_* without a reval row
    assert not any(math.isnan(v) for v in last)


def test_the_originals_tune_configs_are_accepted_with_their_meaning() -> None:
    """test_runner's TUNE_CONFIG (no GPU: ``-1 * IS_CUDA`` is 0) and one without the deleted keys."""
    from pytorch_hyperlight import Settings

    is_cuda = False
    tune_config = {
        "seed": 16, "metric_to_optimize": "val_f1_epoch",
        "ray_metrics_to_show": ["val_loss_epoch", "val_f1_epoch", "val_acc_epoch"],
        "metric_opt_mode": "max", "cpu_per_trial": 3, "gpu_per_trial": 0.3 * is_cuda,
        "n_checkpoints_to_keep": 1, "grace_period": 3, "epoch_upper_limit": 45, "n_samples": 3,
        "ptl_early_stopping_patience": 2, "ptl_precision": 32, "train_loader_name": "train_loader",
        "val_loader_name": "val_loader", "test_loader_name": "test_loader",
        "batch_size_main": 64, "gpus": -1 * is_cuda,
    }  # fmt: skip
    settings = Settings.from_any(tune_config)
    assert settings.asha_grace_period == settings.early_stopping_grace_period == 3
    assert (settings.gpus, settings.gpu_per_trial, settings.n_checkpoints_to_keep) == (0, 0.0, 1)
    reduced = {k: v for k, v in tune_config.items() if not k.endswith("_loader_name")}
    del reduced["grace_period"]
    settings = Settings.from_any(reduced)
    assert settings.asha_grace_period == 1 and settings.early_stopping_grace_period == 0
    assert (settings.val_loader_name, settings.test_loader_name) == ("val_loader", "test_loader")
