"""Integration tests of Runner.run_single_trial: real Lightning training on the bundled digits data."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as lightning_pytorch
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from matplotlib.figure import Figure

from pytorch_hyperlight import Runner, TrialMetrics
from tests.models import (
    CONFIG,
    EXTRA_CONFIG,
    ConstantValMetric,
    EpochStartRecorder,
    LitDigits,
    LogsInEpochEndHook,
    TinyDigits,
    configure_dataloaders,
    loaders_without_val,
    tiny_config,
)


@pytest.fixture(autouse=True)
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run each test from an empty directory and check that nothing was written into it."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    assert sorted(p.name for p in cwd.iterdir()) == []


def _test_accuracy(module: Any, loader: Any) -> float:
    module.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, target in loader:
            correct += int((module(inputs).argmax(dim=1) == target).sum())
            total += len(target)
    return correct / total


def test_seed_readme_steps_1_to_6_on_digits(results_dir: Path) -> None:
    """Loaders fn + module + callback + CONFIG/EXTRA_CONFIG -> best model, plot, df, series_last."""
    config = {**CONFIG, "max_epochs": 3}
    extra_config = {**EXTRA_CONFIG, "ptl_early_stopping_patience": 5}
    callback = EpochStartRecorder(unfreeze_epoch=1)
    snapshots = copy.deepcopy((config, extra_config))
    runner = Runner(configure_dataloaders, pl_callbacks=[callback], experiment_id="digits-test")

    best_result = runner.run_single_trial(LitDigits, config, extra_config)

    assert (config, extra_config) == snapshots  # the caller's dicts are untouched
    assert callback.epochs_started == []  # ...and so is the caller's callback: a copy ran
    (ran,) = [cb for cb in best_result["trainer"].callbacks if isinstance(cb, EpochStartRecorder)]
    assert ran.epochs_started == [0, 1, 2]
    assert isinstance(best_result["trainer"], pl.Trainer)

    lmodule_best = best_result["lmodule_best"]
    assert isinstance(lmodule_best, LitDigits)
    assert lmodule_best.hparams.n_steps_per_epoch == 17  # 1,079 training digits / 64
    assert lmodule_best.hparams.n_train_steps == 17 * 3

    metrics = best_result["metrics"]
    assert isinstance(metrics, TrialMetrics)
    df = metrics.df
    best_epoch = best_result["best_epoch"]
    assert list(df["stage"]) == ["train", "val"] * 3 + ["reval", "test"]
    assert list(df["epoch"]) == [0, 0, 1, 1, 2, 2, best_epoch, best_epoch]
    for stage in ("train", "val", "test"):
        assert {f"{stage}_{m}" for m in ("acc", "f1", "prec", "rec", "loss")} <= set(df.columns)
    val = df[df["stage"] == "val"].set_index("epoch")
    assert best_epoch == int(val["val_f1"].idxmax())  # the best epoch by metric_to_optimize, max
    reval = df[df["stage"] == "reval"].iloc[0]
    assert reval["val_f1"] == pytest.approx(val.loc[best_epoch, "val_f1"], abs=1e-6)

    series_last = best_result["metrics_last"]
    pd.testing.assert_series_equal(series_last, metrics.series_last)
    assert series_last["test_acc"] > 0.8  # it really learned
    loaders = configure_dataloaders(64)
    assert _test_accuracy(lmodule_best, loaders["test_loader"]) == pytest.approx(
        series_last["test_acc"], abs=1e-6
    )

    figure = metrics.plot()
    assert isinstance(figure, Figure) and len(figure.axes) >= 5

    run_dir = best_result["run_dir"]
    assert run_dir.parent == results_dir / "digits-test"
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoints", "metrics.csv", "metrics.png", "report.html", "run.json", "versions.json"
    ]  # fmt: skip
    assert best_result["best_checkpoint_path"] == str(run_dir / "checkpoints" / "best.ckpt")
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.ckpt"]
    pd.testing.assert_frame_equal(TrialMetrics.from_csv(run_dir / "metrics.csv").df, df)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["kind"] == "single_trial" and run["run_name"] == "single-trial-LitDigits"
    assert run["lmodule_class"] == "examples.digits:LitDigits"
    assert (run["metric"], run["monitor"], run["mode"]) == ("val_f1", "val_f1_epoch", "max")
    assert run["best_epoch"] == best_epoch
    assert run["best_metric_value"] == pytest.approx(val.loc[best_epoch, "val_f1"])
    assert run["best_checkpoint_path"] == "checkpoints/best.ckpt"
    assert run["config"] == config and run["settings"]["seed"] == 16
    assert run["metrics_last"]["test_acc"] == pytest.approx(series_last["test_acc"])
    assert dt.datetime.fromisoformat(run["created"]).tzinfo is not None


def test_early_stopping_checks_start_after_the_grace_period() -> None:
    """A metric that never improves: grace_period + patience + 1 epochs, capped by max_epochs.

    The original's grace period: the first ``grace_period`` epochs are not checked at all.
    """
    runner = Runner(configure_dataloaders)

    def epochs_run(patience: int, grace_period: int) -> int:
        result = runner.run_single_trial(
            ConstantValMetric,
            tiny_config(max_epochs=8),
            {
                "metric_to_optimize": "val_const",
                "metric_opt_mode": "max",
                "ptl_early_stopping_patience": patience,
                "ptl_early_stopping_grace_period": grace_period,
                "test_loader_name": None,
                "verbose": 0,
            },
        )
        df = result["metrics"].df
        assert result["best_epoch"] == 0  # never improved after the first epoch
        return int((df["stage"] == "train").sum())

    assert epochs_run(patience=2, grace_period=0) == 3
    assert epochs_run(patience=2, grace_period=3) == 6
    assert epochs_run(patience=1, grace_period=20) == 8


def test_same_seed_twice_gives_identical_metrics() -> None:
    runner = Runner(configure_dataloaders)
    settings = {"metric_to_optimize": "val_loss", "seed": 7, "verbose": 0}
    first = runner.run_single_trial(TinyDigits, tiny_config(max_epochs=3), settings)
    second = runner.run_single_trial(TinyDigits, tiny_config(max_epochs=3), settings)
    pd.testing.assert_frame_equal(first["metrics"].df, second["metrics"].df)
    assert not torch.are_deterministic_algorithms_enabled()  # Lightning's global switch undone
    assert second["run_name"] == "single-trial-TinyDigits@2"
    assert first["run_dir"] != second["run_dir"]
    other = runner.run_single_trial(TinyDigits, tiny_config(max_epochs=3), {**settings, "seed": 8})
    assert not first["metrics"].df.equals(other["metrics"].df)


@pytest.mark.parametrize(
    ("loaders_fn", "settings"),
    [
        (configure_dataloaders, {"val_loader_name": None}),
        (loaders_without_val, {}),
    ],
    ids=["val_loader_name_none", "no_val_in_loaders_dict"],
)
def test_retrain_without_validation_loader_optimising_a_train_metric(
    loaders_fn: Any, settings: dict
) -> None:
    runner = Runner(loaders_fn)
    result = runner.run_single_trial(
        TinyDigits,
        tiny_config(max_epochs=3),
        {"metric_to_optimize": "train_loss_epoch", "metric_opt_mode": "min", "verbose": 0,
         **settings},
    )  # fmt: skip
    df = result["metrics"].df
    assert list(df["stage"]) == ["train"] * 3 + ["test"]
    assert not any(column.startswith("val_") for column in df.columns)
    train = df[df["stage"] == "train"].set_index("epoch")
    assert result["best_epoch"] == int(train["train_loss"].idxmin())
    assert result["metrics_last"]["test_acc"] > 0.5


def test_run_without_test_loader_skips_the_test_stage() -> None:
    logging.getLogger("pytorch_lightning").setLevel(logging.DEBUG)
    runner = Runner(configure_dataloaders, is_debug=True)
    result = runner.run_single_trial(
        TinyDigits, tiny_config(), {"test_loader_name": None, "metric_to_optimize": "val_acc",
                                    "metric_opt_mode": "max", "verbose": 0}
    )  # fmt: skip
    df = result["metrics"].df
    assert list(df["stage"]) == ["train", "val", "train", "val", "reval"]
    assert not any(column.startswith("test_") for column in df.columns)
    assert logging.getLogger("pytorch_lightning").level == logging.DEBUG  # silenced, then restored
    logging.getLogger("pytorch_lightning").setLevel(logging.NOTSET)


def test_keyword_module_in_lightning_pytorch_namespace_with_derived_steps() -> None:
    runner = Runner(configure_dataloaders, is_debug=True)
    result = runner.run_single_trial(
        TinyDigits, tiny_config(max_epochs=30), {"metric_to_optimize": "val_loss", "verbose": 0}
    )
    assert isinstance(result["trainer"], lightning_pytorch.Trainer)
    assert isinstance(result["lmodule_best"], TinyDigits)
    # debug mode: at most 2 epochs of 3 batches, and n_train_steps follows
    assert result["trainer"].current_epoch == 2
    assert result["lmodule_best"].n_train_steps == 3 * 2
    assert result["lmodule_best"].hparams["n_hidden"] == 16


@pytest.mark.parametrize("metric", ["val_f1_epoch", "val_f1"])
def test_metric_to_optimize_with_or_without_epoch_suffix(metric: str) -> None:
    runner = Runner(configure_dataloaders, is_debug=True)
    result = runner.run_single_trial(
        LitDigits, {**CONFIG, "max_epochs": 2}, {**EXTRA_CONFIG, "metric_to_optimize": metric,
                                                  "verbose": 0}
    )  # fmt: skip
    run = json.loads((result["run_dir"] / "run.json").read_text())
    assert (run["metric"], run["monitor"]) == ("val_f1", "val_f1_epoch")
    val = result["metrics"].df.query("stage == 'val'").set_index("epoch")
    assert result["best_epoch"] == int(val["val_f1"].idxmax())


def test_metric_logged_in_the_module_epoch_end_hook_is_collected_and_optimisable() -> None:
    runner = Runner(configure_dataloaders, is_debug=True)
    result = runner.run_single_trial(
        LogsInEpochEndHook,
        tiny_config(),
        {"metric_to_optimize": "train_epoch_number", "metric_opt_mode": "max", "verbose": 0},
    )
    train = result["metrics"].df.query("stage == 'train'")
    assert list(train["train_epoch_number"]) == [0.0, 1.0]
    assert result["best_epoch"] == 1
