"""Searches on the session's Ray (2 CPUs, one logical GPU): the seed README's steps 7-8, fractional
GPUs, failing trials, grid search and resume.

The modules defined here live in a test module that Ray workers cannot import: the search must
ship them by value, which these tests exercise too.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from ray import tune

from examples.digits import N_CLASSES, LitDigits, configure_dataloaders
from pytorch_hyperlight import Runner, SearchError, TrialMetrics, load_run
from pytorch_hyperlight.errors import UnreadConfigKeyWarning
from pytorch_hyperlight.results.run_record import LIVE_ONLY_KEYS, result_keys
from tests.models import TinyDigits, tiny_config

pytestmark = [pytest.mark.ray, pytest.mark.slow]


class ResourceRecordingDigits(TinyDigits):
    """Records, in each trial, what Ray reserved for it and what the trial saw."""

    def __init__(self, lr: float, record_dir: str, driver_pid: int, n_hidden: int = 16) -> None:
        super().__init__(lr=lr, n_hidden=n_hidden)
        self.record_dir = record_dir
        self.driver_pid = driver_pid

    def on_fit_start(self) -> None:
        import ray

        if os.getpid() == self.driver_pid:
            return  # the one-batch dry run before the search
        seen = {
            "reserved": ray.get_runtime_context().get_assigned_resources(),
            "accelerator": type(self.trainer.accelerator).__name__,
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "threads": torch.get_num_threads(),
        }
        Path(self.record_dir, f"{os.getpid()}-{time.time_ns()}.json").write_text(json.dumps(seen))


class FlakyDigits(TinyDigits):
    """``failure``: 'none' trains normally, 'raise' raises in epoch 1, 'nan' has a NaN loss from
    epoch 1. Every fit start is appended to ``log_file`` (to count retries)."""

    def __init__(self, lr: float, failure: str, log_file: str, n_hidden: int = 16) -> None:
        super().__init__(lr=lr, n_hidden=n_hidden)
        self.failure = failure
        self.log_file = log_file

    def on_fit_start(self) -> None:
        with open(self.log_file, "a") as handle:
            handle.write(f"{self.failure}\n")

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.current_epoch >= 1 and self.failure == "raise":
            raise RuntimeError("boom in training_step")
        loss = super().training_step(batch, batch_idx)
        if self.current_epoch >= 1 and self.failure == "nan":
            loss = loss * float("nan")
            self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss


class InterruptingDigits(TinyDigits):
    """Logs trial fit starts/ends to ``log_file``; the trial with ``n_hidden == interrupt_n_hidden``
    sends SIGINT (Ctrl-C) to the driver at the end of its second epoch, once."""

    def __init__(
        self,
        lr: float,
        n_hidden: int,
        log_file: str,
        driver_pid: int,
        interrupt_n_hidden: int,
    ) -> None:
        super().__init__(lr=lr, n_hidden=n_hidden)
        self.n_hidden = n_hidden
        self.log_file = log_file
        self.driver_pid = driver_pid
        self.interrupt_n_hidden = interrupt_n_hidden

    def _log(self, event: str) -> None:
        if os.getpid() == self.driver_pid:
            return  # the one-batch dry run before the search
        with open(self.log_file, "a") as handle:
            handle.write(f"{self.n_hidden} {event} {self.current_epoch}\n")

    def on_fit_start(self) -> None:
        self._log("start")

    def on_fit_end(self) -> None:
        self._log("end")

    def on_train_epoch_end(self) -> None:
        marker = Path(self.log_file + ".interrupted")
        interrupt = self.n_hidden == self.interrupt_n_hidden and self.current_epoch == 1
        if interrupt and not marker.exists():
            marker.touch()
            self._log("interrupt")
            os.kill(self.driver_pid, signal.SIGINT)


class EpochEndLogger(pl.Callback):
    """A user callback: appends one line per finished epoch; counts its own calls."""

    def __init__(self, log_file: str) -> None:
        super().__init__()
        self.log_file = log_file
        self.calls = 0

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.calls += 1
        with open(self.log_file, "a") as handle:
            handle.write(f"{os.getpid()} {trainer.current_epoch}\n")


def seed_search_space() -> dict[str, Any]:
    """The seed README's SEARCH_SPACE_CONFIG, on digits."""
    return {
        "unfreeze_epochs": [0, 1],
        "lr": tune.uniform(1e-3, 1e-1),
        "n_hidden": tune.choice([16, 32]),
        "gradient_clip_val": 0,
        "max_epochs": tune.choice([2, 3]),
        "batch_size": tune.choice([64, 128]),
        "n_classes": N_CLASSES,
    }


TUNE_CONFIG = {
    "seed": 16,
    "metric_to_optimize": "val_f1_epoch",
    "metric_opt_mode": "max",
    "ray_metrics_to_show": ["val_loss_epoch", "val_f1_epoch"],
    "cpu_per_trial": 1,
    "n_checkpoints_to_keep": 1,
    "grace_period": 1,
    "n_samples": 3,
    "hyperopt_n_initial_points": 2,
    "batch_size_main": 256,
}


# --- the seed README ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed_search(ray_cluster, tmp_path_factory) -> dict[str, Any]:
    space = seed_search_space()
    tune_config = {**TUNE_CONFIG, "results_dir": str(tmp_path_factory.mktemp("runs"))}
    given = (copy.copy(space), copy.deepcopy(tune_config))
    callback = EpochEndLogger(str(tmp_path_factory.mktemp("callbacks") / "epochs.log"))
    runner = Runner(configure_dataloaders, pl_callbacks=[callback], experiment_id="boring-digits")
    with pytest.warns(UnreadConfigKeyWarning, match="'unfreeze_epochs'"):  # read by no module
        result = runner.run_hyper_opt(LitDigits, space, tune_config)
    return {
        "result": result,
        "space": space,
        "tune_config": tune_config,
        "given": given,
        "callback": callback,
    }


def test_seed_steps_7_8_return_the_best_model_its_metrics_and_the_analysis(seed_search) -> None:
    result = seed_search["result"]
    assert isinstance(result["lmodule_best"], LitDigits)
    assert not result["lmodule_best"].training  # loaded for use, in eval mode
    last = result["metrics_last"]
    assert isinstance(last, pd.Series)
    assert {"val_f1", "test_f1", "test_acc", "train_loss"} <= set(last.index)
    assert 0.0 < last["test_acc"] <= 1.0
    result_grid = result["result_grid"]
    assert len(result_grid) == 3
    assert {r.metrics["trial_id"] for r in result_grid} == set(result["trials"]["trial_id"])
    analysis = result["analysis"]  # the original's: Ray Tune's ExperimentAnalysis
    assert isinstance(analysis, tune.ExperimentAnalysis)
    assert {t.trial_id for t in analysis.trials} == set(result["trials"]["trial_id"])
    assert analysis.best_trial.trial_id == result["best_trial_id"]


def test_best_trial_and_epoch_are_the_best_values_over_all_epochs(seed_search) -> None:
    result = seed_search["result"]
    trials = result["trials"]
    assert trials["metric_best"].max() == pytest.approx(result["best_metric_value"])
    best_row = trials.loc[trials["metric_best"].idxmax()]
    assert best_row["trial_id"] == result["best_trial_id"]
    history = result["trial_metrics"][result["best_trial_id"]].df
    val = history[history["stage"] == "val"].set_index("epoch")["val_f1"]
    assert int(val.idxmax()) == result["best_epoch"] == best_row["best_epoch"]
    for trial_id, metrics in result["trial_metrics"].items():
        row = trials.set_index("trial_id").loc[trial_id]
        vals = metrics.df.query("stage == 'val'")["val_f1"]
        assert row["metric_best"] == pytest.approx(vals.max())
        assert row["metric_last"] == pytest.approx(vals.iloc[-1])
        assert row["epochs"] == len(vals)


def test_best_checkpoint_is_reloaded_revalidated_and_tested(seed_search) -> None:
    result = seed_search["result"]
    metrics: TrialMetrics = result["metrics"]
    frame = metrics.df
    reval = frame[frame["stage"] == "reval"].iloc[0]
    test = frame[frame["stage"] == "test"].iloc[0]
    assert reval["epoch"] == test["epoch"] == result["best_epoch"]
    # the same weights on the same validation data: the best epoch's value comes back
    assert reval["val_f1"] == pytest.approx(result["best_metric_value"], abs=1e-5)
    checkpoint = torch.load(result["best_checkpoint_path"], map_location="cpu", weights_only=False)
    for name, tensor in result["lmodule_best"].state_dict().items():
        assert torch.equal(tensor, checkpoint["state_dict"][name]), name
    assert Path(result["best_checkpoint_path"]).parent == result["run_dir"] / "checkpoints"


def test_trials_table_has_one_row_per_trial_with_searched_config_columns(seed_search) -> None:
    trials = seed_search["result"]["trials"]
    assert len(trials) == 3
    assert set(trials["status"]) <= {"done", "stopped"}
    config_columns = [c for c in trials.columns if c.startswith("config/")]
    assert config_columns == [
        "config/batch_size",
        "config/lr",
        "config/max_epochs",
        "config/n_hidden",
    ]
    assert trials["config/lr"].between(1e-3, 1e-1).all()
    assert sorted(trials["completion_order"].tolist()) == [1, 2, 3]
    assert (trials["training_time_s"] > 0).all()
    for _, row in trials.iterrows():  # epochs run never exceed the trial's max_epochs
        assert 1 <= row["epochs"] <= row["config/max_epochs"]
        assert row["stopped_early"] == (row["epochs"] < row["config/max_epochs"])
        assert row["status"] == ("stopped" if row["stopped_early"] else "done")


def test_run_directory_holds_every_result_file(seed_search) -> None:
    result = seed_search["result"]
    run_dir: Path = result["run_dir"]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["kind"] == "search" and info["metric"] == "val_f1" and info["mode"] == "max"
    assert info["best_epoch"] == result["best_epoch"]
    assert info["best_checkpoint_path"] == "checkpoints/best.ckpt"
    assert info["best_config"] == json.loads(json.dumps(result["best_config"]))
    assert info["search_space"]["lr"] == {"type": "uniform", "lower": 1e-3, "upper": 1e-1}
    assert info["search_space"]["unfreeze_epochs"] == {"type": "constant", "value": [0, 1]}
    assert info["lmodule_class"] == "examples.digits:LitDigits"
    assert info["metrics_last"]["test_f1"] == pytest.approx(result["metrics_last"]["test_f1"])
    trials_csv = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    assert trials_csv["trial_id"].tolist() == result["trials"]["trial_id"].tolist()
    histories = pd.read_csv(run_dir / "trial_metrics.csv", dtype={"trial_id": str})
    assert set(histories["trial_id"]) == set(result["trials"]["trial_id"])
    assert json.loads((run_dir / "errors.json").read_text()) == []
    saved = TrialMetrics.from_csv(run_dir / "metrics.csv").df
    assert saved["stage"].tolist() == result["metrics"].df["stage"].tolist()
    assert (run_dir / "metrics.png").stat().st_size > 0
    assert (run_dir / "tune").is_dir()
    assert (run_dir / "report.html").stat().st_size > 0 and (run_dir / "versions.json").is_file()
    assert dt.datetime.fromisoformat(info["created"]).tzinfo is not None
    # the same keys, declared once: the run's result less the live objects
    assert list(result) == list(result_keys("search"))
    assert set(load_run(run_dir)) == set(result) - set(LIVE_ONLY_KEYS)


def test_tune_writes_the_result_files_that_are_read_and_no_tensorboard_files(seed_search) -> None:
    """Each trial's result.json and progress.csv; Tune's own TensorBoard files are not written."""
    result = seed_search["result"]
    trial_dirs = sorted((result["run_dir"] / "tune").glob("trial_*"))
    assert len(trial_dirs) == len(result["trials"])
    for trial_dir in trial_dirs:
        assert (trial_dir / "result.json").stat().st_size > 0
        assert (trial_dir / "progress.csv").stat().st_size > 0
        assert not list(trial_dir.glob("events.out.tfevents.*"))
    frame = result["result_grid"][0].metrics_dataframe
    assert frame is not None and "epoch" in frame.columns and len(frame) >= 1
    assert "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS" not in os.environ  # set only while Tune ran


def test_search_does_not_change_the_callers_dicts(seed_search) -> None:
    space, tune_config = seed_search["space"], seed_search["tune_config"]
    given_space, given_config = seed_search["given"]
    assert tune_config == given_config
    assert space.keys() == given_space.keys()
    assert all(space[key] is given_space[key] for key in space)
    assert space["unfreeze_epochs"] == [0, 1]
    best_config = seed_search["result"]["best_config"]
    assert best_config["unfreeze_epochs"] == [0, 1] and best_config["n_classes"] == N_CLASSES


def test_user_callbacks_run_in_every_trial_on_fresh_copies(seed_search) -> None:
    callback = seed_search["callback"]
    assert callback.calls == 0  # the caller's object was copied, never used
    lines = Path(callback.log_file).read_text().splitlines()
    in_driver = [line for line in lines if int(line.split()[0]) == os.getpid()]
    assert in_driver == [f"{os.getpid()} 0"]  # a copy ran in the one-batch dry run, before Ray
    assert len(lines) - 1 == seed_search["result"]["trials"]["epochs"].sum()  # then in the workers


# --- fractional GPUs -------------------------------------------------------------------------------
def test_four_trials_share_one_logical_gpu_at_a_quarter_each(ray_cluster, tmp_path, capsys) -> None:
    """What Ray is asked for and gives each trial; no timing (a busy machine runs them late)."""
    record_dir = tmp_path / "seen"
    record_dir.mkdir()
    runner = Runner(configure_dataloaders)
    space = tiny_config(
        lr=tune.uniform(0.01, 0.05), record_dir=str(record_dir), driver_pid=os.getpid()
    )
    result = runner.run_hyper_opt(
        ResourceRecordingDigits,
        space,
        {
            "metric_to_optimize": "val_acc",
            "metric_opt_mode": "max",
            "n_samples": 4,
            "cpu_per_trial": 0.5,
            "gpu_per_trial": 0.25,
            "searcher": "random",
            "scheduler": "fifo",
        },
    )
    assert result["trials"]["status"].tolist() == ["done"] * 4, result["errors"]
    # 2 CPUs and 1 GPU hold four trials of half a CPU and a quarter GPU: all four may run at once
    assert "4 trials, random + fifo, 4 at a time" in capsys.readouterr().out
    seen = [json.loads(path.read_text()) for path in record_dir.glob("*.json")]
    assert len(seen) == 4
    for trial in seen:
        assert trial["reserved"] == {"CPU": 0.5, "GPU": 0.25}
        assert trial["cuda_visible_devices"] == "0"  # Ray gave each a share of the logical GPU
        assert trial["threads"] == 1  # half a CPU: one torch thread
        # CUDA is not usable here, so Lightning trains on the CPU, never on a fraction of a GPU
        assert trial["accelerator"] == (
            "CUDAAccelerator" if torch.cuda.is_available() else "CPUAccelerator"
        )


# --- failures, retries and grid search -------------------------------------------------------------
@pytest.fixture(scope="module")
def failing_search(ray_cluster, tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("flaky")
    log_file = folder / "fits.log"
    space = tiny_config(
        failure=tune.grid_search(["none", "raise", "nan"]), log_file=str(log_file), max_epochs=3
    )
    runner = Runner(configure_dataloaders)
    result = runner.run_hyper_opt(
        FlakyDigits,
        space,
        {
            "metric_to_optimize": "val_acc",
            "metric_opt_mode": "max",
            "n_samples": 1,
            "searcher": "grid",
            "scheduler": "fifo",
            "max_failures": 1,
            "verbose": 0,
            "results_dir": str(folder / "runs"),
        },
    )
    return {"result": result, "fits": log_file.read_text().split()}


def _row(result: dict[str, Any], failure: str) -> pd.Series:
    trials = result["trials"]
    return trials[trials["config/failure"] == failure].iloc[0]


def test_grid_search_runs_every_grid_point_once(failing_search) -> None:
    trials = failing_search["result"]["trials"]
    assert sorted(trials["config/failure"]) == ["nan", "none", "raise"]


def test_a_trial_that_raises_is_recorded_and_the_others_are_kept(failing_search) -> None:
    result = failing_search["result"]
    raised = _row(result, "raise")
    assert raised["status"] == "error"
    assert raised["error"] == "RuntimeError: boom in training_step"
    assert raised["epochs"] == 1  # its first epoch was reported before the failure
    errors = {e["trial_id"]: e for e in result["errors"]}
    assert "boom in training_step" in errors[raised["trial_id"]]["traceback"]
    assert "training_step" in errors[raised["trial_id"]]["traceback"]
    good = _row(result, "none")
    assert good["status"] == "done" and good["epochs"] == 3
    assert result["best_trial_id"] == good["trial_id"]
    saved = json.loads((result["run_dir"] / "errors.json").read_text())
    assert sorted(e["trial_id"] for e in saved) == sorted(errors)


def test_nan_loss_stops_only_that_trial_with_an_error_naming_nan(failing_search) -> None:
    result = failing_search["result"]
    nan_trial = _row(result, "nan")
    assert nan_trial["status"] == "error"
    assert "NonFiniteMetricError" in nan_trial["error"] and "nan" in nan_trial["error"]
    assert nan_trial["epochs"] == 1
    assert math.isfinite(nan_trial["metric_best"])  # epoch 0 was fine and is kept


def test_max_failures_retries_a_failing_trial(failing_search) -> None:
    fits = failing_search["fits"]
    assert fits.count("none") == 2  # the dry run (first grid point) + its trial
    assert fits.count("raise") == 2  # first attempt + one retry (max_failures=1)
    assert fits.count("nan") == 2


def test_every_trial_failing_is_one_search_error_with_the_first_traceback(
    ray_cluster, tmp_path
) -> None:
    # fails in epoch 1 of every trial (the one-batch dry run before the search passes)
    space = tiny_config(
        lr=tune.uniform(0.01, 0.05), failure="raise", log_file=str(tmp_path / "fits.log")
    )
    runner = Runner(configure_dataloaders)
    with pytest.raises(SearchError, match=r"Every trial failed \(2 of 2") as caught:
        runner.run_hyper_opt(
            FlakyDigits,
            space,
            {
                "metric_to_optimize": "val_loss",
                "n_samples": 2,
                "searcher": "random",
                "scheduler": "fifo",
                "verbose": 0,
            },
        )
    message = str(caught.value)
    assert "RuntimeError: boom in training_step" in message
    assert "in training_step" in message  # the traceback excerpt, not only the last line
    run_dir = next((tmp_path / "runs" / "default").iterdir())
    trials = pd.read_csv(run_dir / "trials.csv")
    assert trials["status"].tolist() == ["error", "error"]
    assert not (run_dir / "run.json").exists()  # no best model: the run is not complete


# --- resume ----------------------------------------------------------------------------------------
def test_interrupted_search_resumes_without_rerunning_finished_trials(
    ray_cluster, tmp_path, capsys
) -> None:
    log_file = tmp_path / "fits.log"
    space = tiny_config(
        n_hidden=tune.grid_search([8, 12, 16]),
        log_file=str(log_file),
        driver_pid=os.getpid(),
        interrupt_n_hidden=16,
        max_epochs=3,
    )
    settings = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "n_samples": 1,
                "searcher": "grid", "scheduler": "fifo", "verbose": 1}  # fmt: skip
    runner = Runner(configure_dataloaders, experiment_id="resume")
    with pytest.raises(KeyboardInterrupt, match="resume=") as interrupted:
        runner.run_hyper_opt(InterruptingDigits, space, settings)
    before = log_file.read_text().splitlines()
    assert "16 interrupt 1" in before
    finished_before = {line.split()[0] for line in before if " end " in line}
    assert finished_before  # 8 or 12 finished before trial 16 started
    printed = capsys.readouterr().out.splitlines()
    # one truthful message: the KeyboardInterrupt's; no summary of a search that did not end
    assert not any(line.startswith(("search done", "search finished")) for line in printed)
    assert 1 <= sum(line.startswith("[") for line in printed) <= len(finished_before)

    result = runner.run_hyper_opt(InterruptingDigits, space, settings, resume=True)

    printed = capsys.readouterr().out.splitlines()
    resumed = next(line for line in printed if "trials finished before" in line)
    # the best of the trials finished before the interruption, with its epoch
    assert re.fullmatch(r"[12] of 3 trials finished before; best so far: val_acc=\S+ "
                        r"\(\w+, epoch \d\)", resumed), resumed  # fmt: skip
    assert printed[-2].startswith("search done in ") and printed[-2].endswith("(3 trials: 3 done)")

    assert str(result["run_dir"]) in str(interrupted.value)
    log = log_file.read_text().splitlines()
    starts = {n: sum(1 for line in log if line.startswith(f"{n} start")) for n in ("8", "12", "16")}
    for n_hidden in finished_before:
        assert starts[n_hidden] == 1, log  # finished trials are not re-run
    assert starts["16"] == 2  # the interrupted trial was continued
    trials = result["trials"]
    assert sorted(trials["config/n_hidden"]) == [8, 12, 16]
    assert set(trials["status"]) == {"done"}
    assert (trials["epochs"] == 3).all()
    trial_16 = trials.loc[trials["config/n_hidden"] == 16, "trial_id"].iloc[0]
    reports = next(r for r in result["result_grid"] if r.metrics["trial_id"] == trial_16)
    # continued from its last checkpoint, not restarted: epoch 0 was trained once (an epoch
    # reported after Tune's last state snapshot may be trained again, its last report counts)
    epochs = reports.metrics_dataframe["epoch"].tolist()
    assert epochs.count(0) == 1 and sorted(set(epochs)) == [0, 1, 2], epochs
    assert trial_16 in result["trial_metrics"]
