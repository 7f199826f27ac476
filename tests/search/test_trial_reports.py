"""Unit tests of a trial's reports per epoch (``search/trial_reports.py``; plain frames, no Ray)."""

from __future__ import annotations

import math

import pandas as pd

from pytorch_hyperlight.search import trial_reports


def test_epoch_reports_keep_the_last_report_of_each_epoch_in_epoch_order() -> None:
    frame = pd.DataFrame(
        {"epoch": [1.0, 0.0, None, 1.0, 2.0], "val_acc": [0.1, 0.2, 0.3, 0.4, 0.5], "pid": [7] * 5}
    )
    epochs = trial_reports.epoch_reports(frame)
    assert epochs.to_dict("list") == {
        "epoch": [0, 1, 2],
        "val_acc": [0.2, 0.4, 0.5],
        "pid": [7] * 3,
    }
    assert str(epochs["epoch"].dtype) == "int64"
    assert frame["epoch"].tolist()[:2] == [1.0, 0.0]  # the caller's frame is left as it was


def test_history_has_a_train_and_a_val_row_per_epoch_leaving_out_empty_stages() -> None:
    frame = pd.DataFrame(
        {
            "epoch": [0, 1],
            "train_loss": [0.9, math.nan],
            "val_acc": [0.5, 0.6],
            "val_f1": [math.nan, 0.7],
            "time_total_s": [1.0, 2.0],
        }
    )
    history = trial_reports.history_frame(frame)
    assert history[["stage", "epoch"]].values.tolist() == [["train", 0], ["val", 0], ["val", 1]]
    assert list(history.columns) == ["stage", "epoch", "train_loss", "val_acc", "val_f1"]
    assert history["val_f1"].iloc[2] == 0.7 and math.isnan(history["val_f1"].iloc[1])
    assert history.dtypes[["train_loss", "val_acc", "val_f1"]].eq("float64").all()


def test_history_of_a_trial_without_metric_reports_is_empty_with_its_columns() -> None:
    history = trial_reports.history_frame(pd.DataFrame({"epoch": [0], "val_acc": [math.nan]}))
    assert history.empty and list(history.columns) == ["stage", "epoch", "val_acc"]
    assert trial_reports.history_frame(pd.DataFrame()).empty


def test_best_of_skips_non_finite_values_and_takes_the_earliest_epoch_on_a_tie() -> None:
    frame = pd.DataFrame({"epoch": [0, 1, 2, 3], "val_loss": [math.inf, 0.3, 0.2, 0.2]})
    assert trial_reports.best_of(frame, "val_loss", "min") == (2, 0.2)
    assert trial_reports.best_of(frame, "val_loss", "max") == (1, 0.3)
    epoch, value = trial_reports.best_of(frame, "val_acc", "max")
    assert epoch is None and math.isnan(value)
