"""The one per-epoch recorder of a trial: one read per epoch, complete rows, sinks in order."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as lightning_pytorch
import pytest

from pytorch_hyperlight.errors import NonFiniteMetricError
from pytorch_hyperlight.trial import epoch_recorder as recorder_module
from pytorch_hyperlight.trial.epoch_recorder import (
    DisplaySink,
    EpochRow,
    EpochSink,
    NonFiniteGuard,
    epoch_recorder,
)
from pytorch_hyperlight.trial.lightning import namespace_of
from tests.models import LogsInEpochEndHook, NaNAfterEpochs, configure_dataloaders


class RecordingSink(EpochSink):
    """Remembers what it was handed, with a state that a checkpoint keeps."""

    def __init__(self) -> None:
        self.ending: list[tuple[int, float | None]] = []
        self.rows: list[EpochRow] = []
        self.abandoned_rows: list[EpochRow | None] = []
        self.restored: Mapping[str, Any] | None = None

    def epoch_ending(self, trainer: Any, epoch: int, metric_value: float | None) -> None:
        self.ending.append((epoch, metric_value))

    def epoch_recorded(self, trainer: Any, row: EpochRow) -> None:
        self.rows.append(row)

    def abandoned(self, row: EpochRow | None) -> None:
        self.abandoned_rows.append(row)

    def state_dict(self) -> dict[str, Any]:
        return {"epochs_seen": len(self.rows)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.restored = state


class Shown:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def show(self, row: dict[str, Any]) -> None:
        self.rows.append(row)


def fit(module: Any, sinks: list[EpochSink], monitor: str, max_epochs: int = 3) -> Any:
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    loaders = configure_dataloaders(256)
    recorder = epoch_recorder(namespace_of(type(module)), monitor, sinks)
    trainer = lightning_pytorch.Trainer(
        max_epochs=max_epochs,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[recorder],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, loaders["train_loader"], loaders["val_loader"])
    return recorder


def test_each_epoch_is_read_once_and_its_row_holds_what_the_module_logs_in_its_own_hook(
    monkeypatch,
) -> None:
    """``train_epoch_number`` is logged in the module's on_train_epoch_end, after the callbacks'."""
    reads: list[int] = []
    read = recorder_module.current_epoch_metrics

    def counted(trainer: Any) -> dict[str, float]:
        reads.append(1)
        return read(trainer)

    monkeypatch.setattr(recorder_module, "current_epoch_metrics", counted)
    sink = RecordingSink()
    recorder = fit(LogsInEpochEndHook(lr=0.05), [sink], "val_acc")
    assert len(reads) == 3  # one read per epoch
    assert [row.epoch for row in sink.rows] == [0, 1, 2]
    assert [row.values["train_epoch_number"] for row in sink.rows] == [0.0, 1.0, 2.0]
    assert [row.last for row in sink.rows] == [False, False, True]
    assert all(row.max_epochs == 3 and not row.should_stop for row in sink.rows)
    assert all(row.started_at <= row.ended_at for row in sink.rows)
    # epoch_ending sees the monitored metric of the epoch that is ending
    assert [epoch for epoch, _ in sink.ending] == [0, 1, 2]
    assert [value for _, value in sink.ending] == [row.values["val_acc"] for row in sink.rows]
    history = recorder.history()
    assert history["stage"].tolist() == ["train", "val"] * 3
    assert history.query("stage == 'train'")["train_epoch_number"].tolist() == [0.0, 1.0, 2.0]


def test_a_nan_loss_stops_training_before_later_sinks_see_the_epoch() -> None:
    """Sinks run in order: the display shows the diverged epoch, the guard raises, the Tune-like
    sink after it never gets the row."""
    shown, after_guard = Shown(), RecordingSink()
    sinks = [DisplaySink(shown), NonFiniteGuard("val_acc"), after_guard]
    with pytest.raises(NonFiniteMetricError, match=r"train_loss=nan.* at epoch 1"):
        fit(NaNAfterEpochs(lr=0.05, nan_after_epoch=1), sinks, "val_acc")
    assert [row["epoch"] for row in shown.rows] == [0, 1]
    assert math.isnan(shown.rows[1]["train_loss"])
    assert [row.epoch for row in after_guard.rows] == [0]
    assert after_guard.abandoned_rows == [None]  # told, so it can drop a pending checkpoint


def test_the_guard_watches_the_metric_and_losses_or_what_it_is_told() -> None:
    values = {"val_acc": 0.5, "train_loss": 0.1, "val_f1": math.nan}
    assert NonFiniteGuard("val_acc").watched(values) == ["val_acc", "train_loss"]
    assert NonFiniteGuard("val_acc", watch=["val_f1"]).watched(values) == ["val_f1"]


def test_the_recorder_keeps_its_sinks_state_in_checkpoints_by_sink_class() -> None:
    sink = RecordingSink()
    recorder = recorder_module.EpochRecorder("val_acc", [DisplaySink(Shown()), sink])
    sink.rows.append(EpochRow(0, {}, 0.0, 1.0, 3, False, False))
    assert recorder.state_dict() == {"RecordingSink": {"epochs_seen": 1}}  # stateless sinks: none
    recorder.load_state_dict({"RecordingSink": {"epochs_seen": 4}, "Gone": {"x": 1}})
    assert sink.restored == {"epochs_seen": 4}
    assert recorder_module.EpochRecorder("val_acc", [DisplaySink(Shown())]).state_dict() == {}
