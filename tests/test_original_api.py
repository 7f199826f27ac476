"""The original 0.3.0's Runner, as its tests and notebooks call it, on real training (integration).

Written from the original's ``tests/test_runner.py`` (grace period, repeated runs),
``tests/test_happy_path_usage.py`` (its TUNE_CONFIG, loaders disabled by deleting their keys, the
result keys, ``log2wandb=True``) and the ``boring_mnist*`` notebooks (``extra_run_name_prefix``,
``show_metric_report``, ``get_metrics``), on the bundled digits data.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as lightning_pytorch
import pandas as pd
import pytest
import pytorch_lightning as pl

from pytorch_hyperlight import Runner, TrialMetrics, load_run
from tests.models import (
    CONFIG,
    ConstantValMetric,
    LitDigits,
    configure_dataloaders,
    loaders_named_ldr,
    tiny_config,
)

#: The original test_runner's TUNE_CONFIG (no GPU here: gpu_per_trial 0, gpus 0).
ORIGINAL_TUNE_CONFIG: dict[str, Any] = {
    "seed": 16,
    "metric_to_optimize": "val_f1_epoch",
    "ray_metrics_to_show": ["val_loss_epoch", "val_f1_epoch", "val_acc_epoch"],
    "metric_opt_mode": "max",
    "cpu_per_trial": 1,
    "gpu_per_trial": 0.3 * False,
    "n_checkpoints_to_keep": 1,
    "grace_period": 3,
    "epoch_upper_limit": 45,
    "n_samples": 3,
    "ptl_early_stopping_patience": 2,
    "ptl_precision": 32,
    "train_loader_name": "train_ldr",
    "val_loader_name": "val_ldr",
    "test_loader_name": "test_ldr",
    "batch_size_main": 64,
    "gpus": -1 * False,
    "verbose": 0,
}


def check_result_common(result: dict[str, Any], namespace: Any = pl) -> None:
    """The original's __check_result_common."""
    assert isinstance(result["lmodule_best"], namespace.LightningModule)
    assert isinstance(result["best_epoch"], int)
    metrics = result["metrics"]
    assert isinstance(metrics, TrialMetrics)
    assert isinstance(metrics.df, pd.DataFrame)
    assert isinstance(metrics.series_last, pd.Series)
    assert isinstance(result["trainer"], namespace.Trainer)
    metrics.plot()
    metrics.show_report(figsize=(15, 10))


def check_runner(runner: Runner) -> None:
    """The original's __check_runner."""
    runner.show_metric_report()
    runner.show_metric_report(figsize=(15, 10))
    _ = runner.get_metrics(keep_train_val_only=True)
    metric_dict = runner.get_metrics()
    assert isinstance(metric_dict["run_x_last_metric_df"], pd.DataFrame)
    assert isinstance(metric_dict["epoch_x_stage_run_metric"], TrialMetrics)
    assert isinstance(metric_dict["epoch_x_stage_run_metric"].df, pd.DataFrame)
    metric_dict["epoch_x_stage_run_metric"].show_report()


def constant_metric_settings(**changes: Any) -> dict[str, Any]:
    settings = {
        **ORIGINAL_TUNE_CONFIG,
        "metric_to_optimize": "val_const",
        "ray_metrics_to_show": ["val_const"],
        "train_loader_name": "train_loader",
        "val_loader_name": "val_loader",
        "test_loader_name": None,
    }
    return {**settings, **changes}


def test_grace_period_delays_early_stopping_as_the_originals_test() -> None:
    """grace_period=3, patience=2, a metric that never improves: epochs 0..5 (3 + 2)."""
    runner = Runner(configure_dataloaders, experiment_id="test_grace_period")
    runner.show_metric_report()
    runner.get_metrics()
    settings = constant_metric_settings()
    result = runner.run_single_trial(ConstantValMetric, tiny_config(max_epochs=100), settings)
    df = result["metrics"].df
    assert max(df.epoch) == settings["grace_period"] + settings["ptl_early_stopping_patience"]
    assert result["best_epoch"] == 0
    check_result_common(result, namespace=lightning_pytorch)
    # the dedicated key wins over grace_period; 0: plain early stopping, epochs 0..2
    without = runner.run_single_trial(
        ConstantValMetric,
        tiny_config(max_epochs=100),
        {**settings, "ptl_early_stopping_grace_period": 0},
    )
    assert max(without["metrics"].df.epoch) == 2


def test_repeated_runs_of_one_class_are_compared_row_by_row() -> None:
    """The original's test_duplicate_subsequent_runs_same_class_happy_path, and the notebooks'
    full-train run with extra_run_name_prefix, compared by show_metric_report."""
    runner = Runner(configure_dataloaders, experiment_id="duplicates", is_debug=True)
    config = tiny_config(max_epochs=2)
    settings = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "verbose": 0}
    for _ in range(3):
        runner.run_single_trial(ConstantValMetric, config, settings)
    full_train = runner.run_single_trial(
        ConstantValMetric,
        config,
        {**settings, "val_loader_name": None, "train_loader_name": "full_train_loader",
         "metric_to_optimize": "train_acc"},
        extra_run_name_prefix="full-train-",
    )  # fmt: skip
    names = ["single-trial-ConstantValMetric", "single-trial-ConstantValMetric@2",
             "single-trial-ConstantValMetric@3", "full-train-single-trial-ConstantValMetric"]  # fmt: skip
    assert runner.run_names == names
    assert full_train["run_dir"].name.startswith(names[3] + "_")

    metrics = runner.get_metrics()
    last = metrics["run_x_last_metric_df"]
    assert last.shape[0] == 4 and list(last["run"]) == names
    assert {"reval_acc", "test_acc", "val_acc", "train_loss"} <= set(last.columns)
    assert pd.isna(last.loc[3, "reval_acc"])  # the full-train run has no validation
    for row, result in zip(last.itertuples(index=False), runner.get_runs().values()):
        expected = result["metrics"].series_last
        assert row.test_acc == pytest.approx(expected["test_acc"])
    assert metrics["epoch_x_stage_run_metric"].runs == names
    check_runner(runner)

    report = runner.show_metric_report(
        sort_by_metric_list=["test_acc", "test_loss"], figsize=(20, 12), keep_train_val_only=True
    )
    assert report is not None
    table = report["table"]
    assert list(table.columns[:2]) == ["test_acc", "test_loss"]
    assert table["test_acc"].is_monotonic_decreasing
    assert not any(c.startswith("reval_") for c in table.columns)
    assert tuple(report["figure"].get_size_inches()) == (20, 12)


def test_series_last_metrics_last_run_json_and_load_run_agree() -> None:
    """val_*/train_*: the last epoch's values; reval_*: the best model's; test_*: the test's."""
    runner = Runner(configure_dataloaders, is_debug=True)
    result = runner.run_single_trial(
        LitDigits,
        {**CONFIG, "max_epochs": 2},
        {"metric_to_optimize": "val_loss", "seed": 3, "verbose": 0},
    )
    df = result["metrics"].df
    last = result["metrics"].series_last
    last_val = df[df["stage"] == "val"].iloc[-1]
    reval = df[df["stage"] == "reval"].iloc[0]
    test = df[df["stage"] == "test"].iloc[0]
    assert last["val_loss"] == pytest.approx(last_val["val_loss"])
    assert last["train_loss"] == pytest.approx(df[df["stage"] == "train"].iloc[-1]["train_loss"])
    assert last["reval_loss"] == pytest.approx(reval["val_loss"])
    assert last["reval_f1"] == pytest.approx(reval["val_f1"])
    assert last["test_f1"] == pytest.approx(test["test_f1"])
    pd.testing.assert_series_equal(result["metrics_last"], last)
    run_json = json.loads((result["run_dir"] / "run.json").read_text())
    assert run_json["metrics_last"] == pytest.approx(last.to_dict())
    loaded = load_run(result["run_dir"])
    pd.testing.assert_series_equal(loaded["metrics_last"], last)
    compared = runner.get_metrics()["run_metrics_last"].iloc[0]
    assert compared.to_dict() == pytest.approx(last.to_dict())


@pytest.mark.parametrize(
    ("is_val", "is_test"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_the_original_tune_config_with_loaders_disabled_by_deleting_keys(
    is_val: bool, is_test: bool
) -> None:
    """The original happy-path test's disable_loaders_in_tune_config, on its *_ldr loaders."""
    tune_config = copy.deepcopy({**ORIGINAL_TUNE_CONFIG, "grace_period": 7})
    if not is_val and is_test:
        del tune_config["val_loader_name"]
        tune_config["metric_to_optimize"] = "train_f1_epoch"
        tune_config["ray_metrics_to_show"] = ["train_loss_epoch", "train_f1_epoch"]
    if not is_test:
        del tune_config["test_loader_name"]
        del tune_config["grace_period"]
    runner = Runner(loaders_named_ldr, experiment_id="boring-digits", is_debug=True)
    result = runner.run_single_trial(LitDigits, {**CONFIG, "max_epochs": 2}, tune_config)
    check_result_common(result)
    check_runner(runner)
    stages = set(result["metrics"].df["stage"])
    # a deleted key means the default name, which these loaders do not have: the stage is skipped
    assert ("reval" in stages) == (is_val or not is_test)
    assert ("test" in stages) == is_test
    last = result["metrics_last"]
    assert ("reval_f1" in last.index) == ("reval" in stages)
    assert ("test_f1" in last.index) == is_test


def files_containing(root: Path, text: str) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and text.encode() in path.read_bytes():
            found.append(path)
    return found


@pytest.mark.slow
def test_log2wandb_single_trial_logs_one_offline_run_and_never_writes_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    key = "0123456789abcdef0123456789abcdef01234567"  # a made-up key, read from ~/.wandb_api_key
    (home / ".wandb_api_key").write_text(key + "\n")
    (home / ".wandb_api_key").chmod(0o600)  # readable by others would be warned about
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")  # a key, but no network in tests
    wandb_dir = tmp_path / "wandb-files"
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    runner = Runner(configure_dataloaders, experiment_id="wandb-test", log2wandb=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="log2wandb")  # a key: no "offline" warning
        result = runner.run_single_trial(
            LitDigits, {**CONFIG, "max_epochs": 2}, {"metric_to_optimize": "val_f1",
                                                      "metric_opt_mode": "max", "verbose": 0}
        )  # fmt: skip
    check_result_common(result)
    offline_runs = list((wandb_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1
    assert list(offline_runs[0].glob("*.wandb"))  # the run's logged data
    for root in (wandb_dir, result["run_dir"], home / ".cache", home / ".config"):
        if root.exists():
            assert files_containing(root, key) == [], root


@pytest.mark.ray
@pytest.mark.slow
def test_hyper_opt_returns_the_originals_keys_and_logs_trials_to_wandb_offline(
    ray_cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ray import tune

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.wandb_api_key here
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    wandb_dir = tmp_path / "wandb-files"
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    runner = Runner(loaders_named_ldr, experiment_id="boring-digits", is_debug=True,
                    log2wandb=True)  # fmt: skip
    space = {**CONFIG, "lr": tune.uniform(1e-3, 1e-1), "max_epochs": 2, "batch_size": 64}
    with pytest.warns(UserWarning, match="logged offline .* wandb sync"):
        result = runner.run_hyper_opt(
            LitDigits, space, {**ORIGINAL_TUNE_CONFIG, "n_samples": 2, "grace_period": 1}
        )
    check_result_common(result)
    check_runner(runner)
    analysis = result["analysis"]
    assert isinstance(analysis, tune.ExperimentAnalysis)
    assert len(analysis.trials) == 2
    assert analysis.best_trial.trial_id == result["best_trial_id"]
    assert analysis.best_config["lr"] == pytest.approx(result["best_config"]["lr"])
    assert isinstance(result["result_grid"], tune.ResultGrid)
    statuses = result["trials"]["status"].tolist()
    assert len(statuses) == 2 and set(statuses) <= {"done", "stopped"}, result["errors"]
    offline_runs = list((wandb_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 3  # one W&B run per trial, one for the best model
    assert runner.run_names == ["hyper-opt-LitDigits"]
