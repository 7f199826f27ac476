"""Lightning loggers given to the Runner: made fresh per run, writing into the run or trial directory.

Unit tests of :mod:`pytorch_hyperlight.trial.loggers` (no training), a single trial, and a 2-trial
search on the session's Ray.
"""

from __future__ import annotations

import pickle
import threading
from pathlib import Path
from typing import Any

import lightning.pytorch as lightning_pytorch
import pandas as pd
import pytest
import pytorch_lightning as pl
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from ray import tune

from pytorch_hyperlight import ConfigError, Runner
from pytorch_hyperlight.trial.loggers import LoggerSpec, build_loggers, is_file_logger
from tests.models import TinyDigits, configure_dataloaders, tiny_config

SETTINGS = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "verbose": 0, "seed": 1}


class RecordingLogger(lightning_pytorch.loggers.Logger):
    """A logger that keeps what it was given in memory (not a file logger)."""

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag
        self.logged: list[dict[str, float]] = []

    @property
    def name(self) -> str:
        return "recording"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.logged.append(dict(metrics))


def _csv_rows(log_dir: Path) -> pd.DataFrame:
    (metrics_file,) = log_dir.rglob("metrics.csv")
    return pd.read_csv(metrics_file)


# --- unit: specs ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "logger_class",
    [
        lightning_pytorch.loggers.CSVLogger,
        lightning_pytorch.loggers.TensorBoardLogger,
        pl.loggers.CSVLogger,
        pl.loggers.TensorBoardLogger,
    ],
)
def test_file_loggers_of_both_namespaces_are_rebuilt_inside_the_given_root(
    logger_class: type, tmp_path: Path
) -> None:
    """Fails loudly if Lightning renames the attributes the redirection relies on."""
    given = logger_class("logs", name="digits", version="v1")
    before = dict(vars(given))
    fresh = LoggerSpec.from_logger(given).build(tmp_path / "run")
    assert type(fresh) is logger_class and fresh is not given
    assert Path(fresh.save_dir) == tmp_path / "run" / "logs"
    assert Path(fresh.log_dir) == tmp_path / "run" / "logs" / "digits" / "v1"
    assert vars(given).keys() == before.keys() and given.save_dir == "logs"
    assert is_file_logger(logger_class)


def test_an_absolute_save_dir_keeps_only_its_last_part_inside_the_run(tmp_path: Path) -> None:
    given = CSVLogger(tmp_path / "elsewhere" / "csv_logs")
    (fresh,) = build_loggers([LoggerSpec.from_logger(given)], tmp_path / "run")
    assert Path(fresh.log_dir) == tmp_path / "run" / "csv_logs" / "lightning_logs" / "version_0"


def test_a_used_logger_gives_an_unused_picklable_spec_and_stays_as_it_was(tmp_path: Path) -> None:
    given = TensorBoardLogger(tmp_path / "user_tb")
    writer = given.experiment  # a live SummaryWriter: it cannot be pickled
    spec = LoggerSpec.from_logger(given)
    assert given.experiment is writer
    restored = pickle.loads(pickle.dumps(spec))
    fresh = restored.build(tmp_path / "run")
    assert vars(fresh)["_experiment"] is None
    fresh.log_metrics({"val_acc": 0.5}, step=0)
    fresh.finalize("success")
    assert list((tmp_path / "run" / "user_tb").rglob("events.out.tfevents.*"))
    writer.close()


def test_other_loggers_are_fresh_copies_that_share_no_state() -> None:
    given = RecordingLogger("mine")
    spec = LoggerSpec.from_logger(given)
    first, second = build_loggers([spec, spec], Path("/unused"))
    first.log_metrics({"val_acc": 1.0})
    assert first.tag == second.tag == "mine"
    assert first.logged == [{"val_acc": 1.0}] and second.logged == [] and given.logged == []
    assert not is_file_logger(RecordingLogger)


def test_a_logger_holding_something_uncopyable_is_a_config_error_naming_it() -> None:
    given = RecordingLogger("mine")
    given.lock = threading.Lock()  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="RecordingLogger cannot be copied for each run"):
        LoggerSpec.from_logger(given)


def test_a_wandb_logger_spec_does_not_start_a_wandb_run(tmp_path: Path) -> None:
    """Lightning's WandbLogger starts its run when pickled or copied; a spec must not."""
    wandb = pytest.importorskip("wandb")
    given = lightning_pytorch.loggers.WandbLogger(offline=True, save_dir=str(tmp_path))
    spec = LoggerSpec.from_logger(given)
    pickle.dumps(spec)
    assert wandb.run is None and vars(given)["_experiment"] is None


# --- a single trial -------------------------------------------------------------------------------
def test_single_trial_logs_every_epoch_into_its_run_dir_and_leaves_the_users_logger_unused(
    tmp_path: Path,
) -> None:
    user_dir = tmp_path / "user_logs"
    given = CSVLogger(user_dir, name="digits")
    memory = RecordingLogger("mine")
    runner = Runner(configure_dataloaders, pl_loggers=[given, memory])
    result = runner.run_single_trial(TinyDigits, tiny_config(max_epochs=3), SETTINGS)

    run_dir = Path(result["run_dir"])
    rows = _csv_rows(run_dir / "user_logs" / "digits")
    assert sorted(rows.dropna(subset=["val_acc"])["epoch"]) == [0, 1, 2]
    used_csv, used_memory = result["trainer"].loggers
    assert used_csv is not given and used_memory is not memory
    assert len(used_memory.logged) >= 3 and memory.logged == []
    assert not user_dir.exists() and vars(given)["_experiment"] is None


def test_two_runs_get_their_own_loggers_and_log_dirs() -> None:
    runner = Runner(configure_dataloaders, pl_loggers=[CSVLogger("logs")])
    first = runner.run_single_trial(TinyDigits, tiny_config(), SETTINGS)
    second = runner.run_single_trial(TinyDigits, tiny_config(lr=0.01), SETTINGS)
    first_logger, second_logger = first["trainer"].logger, second["trainer"].logger
    assert first_logger is not second_logger
    assert Path(first_logger.log_dir).is_relative_to(first["run_dir"])
    assert Path(second_logger.log_dir).is_relative_to(second["run_dir"])
    for result in (first, second):
        rows = _csv_rows(Path(result["run_dir"]) / "logs")
        assert sorted(rows.dropna(subset=["val_acc"])["epoch"]) == [0, 1]


# --- a search -------------------------------------------------------------------------------------
@pytest.mark.ray
@pytest.mark.slow
def test_each_search_trial_logs_its_epochs_into_its_own_trial_dir(ray_cluster, tmp_path) -> None:
    user_dir = tmp_path / "user_logs"
    runner = Runner(configure_dataloaders, pl_loggers=[CSVLogger(user_dir)])
    space = {"lr": tune.loguniform(1e-3, 1e-1), "n_hidden": 16, "max_epochs": 2, "batch_size": 256}
    settings = {**SETTINGS, "n_samples": 2, "cpu_per_trial": 1, "scheduler": "fifo"}
    result = runner.run_hyper_opt(TinyDigits, space, settings)

    trials = result["trials"].set_index("trial_id")
    assert len(trials) == 2
    log_dirs = set()
    for trial_id, trial in trials.iterrows():
        trial_dir = Path(result["run_dir"]) / "tune" / f"trial_{trial_id}"
        rows = _csv_rows(trial_dir / "user_logs").dropna(subset=["val_acc"])
        assert list(rows["epoch"]) == list(range(trial["epochs"]))
        history = result["trial_metrics"][trial_id].df
        expected = history.loc[history["stage"] == "val", "val_acc"].to_list()
        assert rows["val_acc"].to_list() == pytest.approx(expected)
        log_dirs.add(trial_dir)
    assert len(log_dirs) == 2 and not user_dir.exists()
