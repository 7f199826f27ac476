"""Unit tests of the search's result tables and best-trial selection (plain records, no Ray)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pytorch_hyperlight.errors import SearchError
from pytorch_hyperlight.search import results
from pytorch_hyperlight.search.results import TrialRecord


def reports(val_acc: list[float], *, max_epochs: int | None = None, **extra: list) -> pd.DataFrame:
    """Per-epoch reports as the trainable sends them (with a few of Tune's own columns)."""
    n = len(val_acc)
    frame = pd.DataFrame(
        {
            "epoch": list(range(n)),
            "train_loss": [1.0 / (i + 1) for i in range(n)],
            "val_acc": val_acc,
            "training_iteration": list(range(1, n + 1)),
            "time_total_s": [float(i) for i in range(n)],
            "epoch_ended_at": [100.0 + i for i in range(n)],
            "training_time_s": [0.5 * (i + 1) for i in range(n)],
            "config/lr": [0.1] * n,
            **extra,
        }
    )
    if max_epochs is not None:
        frame["max_epochs"] = max_epochs
    return frame


def record(
    trial_id: str, val_acc: list[float], status: str = "TERMINATED", **kwargs
) -> TrialRecord:
    max_epochs = kwargs.pop("max_epochs", 3)
    return TrialRecord(
        trial_id=trial_id,
        status=status,
        config={"lr": kwargs.pop("lr", 0.1), "opt": {"beta": 0.9}, "max_epochs": max_epochs},
        reports=reports(val_acc, max_epochs=max_epochs, **kwargs.pop("extra", {})),
        **kwargs,
    )


def test_best_of_uses_the_best_epoch_not_the_last() -> None:
    frame = reports([0.5, 0.9, 0.7])
    assert results.best_of(frame, "val_acc", "max") == (1, 0.9)
    assert results.best_of(frame, "val_acc", "min") == (0, 0.5)


def test_best_of_skips_nan_and_reports_none_when_metric_missing() -> None:
    assert results.best_of(reports([math.nan, 0.4]), "val_acc", "max") == (1, 0.4)
    epoch, value = results.best_of(reports([0.4]), "val_f1", "max")
    assert epoch is None and math.isnan(value)
    epoch, value = results.best_of(pd.DataFrame(), "val_acc", "max")
    assert epoch is None and math.isnan(value)


def test_history_frame_splits_each_report_into_train_and_val_rows() -> None:
    history = results.history_frame(reports([0.5, 0.6]))
    assert history["stage"].tolist() == ["train", "val", "train", "val"]
    assert history["epoch"].tolist() == [0, 0, 1, 1]
    assert list(history.columns) == ["stage", "epoch", "train_loss", "val_acc"]
    assert math.isnan(history.loc[0, "val_acc"]) and history.loc[1, "val_acc"] == 0.5
    assert history.loc[2, "train_loss"] == 0.5


def test_history_frame_keeps_the_last_report_of_a_rerun_epoch() -> None:
    frame = pd.DataFrame({"epoch": [0, 1, 1, 2], "val_acc": [0.1, 0.2, 0.3, 0.4]})
    history = results.history_frame(frame)
    assert history["val_acc"].tolist() == [0.1, 0.3, 0.4]


def test_select_best_trial_compares_best_values_over_epochs() -> None:
    records = [
        record("a", [0.5, 0.95, 0.6]),  # best 0.95, last 0.6
        record("b", [0.7, 0.8, 0.9]),  # best 0.9, last 0.9
        record("c", [0.99], status="ERROR", error="ValueError: x"),
    ]
    # an errored trial's epochs still count: it reported 0.99 before failing
    assert results.select_best_trial(records, "val_acc", "max").trial_id == "c"
    # ... unless every trial failed
    with pytest.raises(SearchError, match="Every trial failed"):
        results.select_best_trial(records[2:], "val_acc", "max")
    assert results.select_best_trial(records[:2], "val_acc", "max").trial_id == "a"
    assert results.select_best_trial(records[:2], "val_acc", "min").trial_id == "a"


def test_best_trial_breaks_ties_by_trial_order_then_by_earliest_epoch() -> None:
    records = [record("a", [0.5, 0.9, 0.9]), record("b", [0.9, 0.2]), record("c", [0.95])]
    best = results.best_trial(records[:2], "val_acc", "max")
    assert best is not None
    assert (best.record.trial_id, best.epoch, best.value) == ("a", 1, 0.9)
    best = results.best_trial(records[1::-1], "val_acc", "max")  # b first now
    assert best is not None and (best.record.trial_id, best.epoch) == ("b", 0)
    assert results.select_best_trial(records, "val_acc", "max").trial_id == "c"
    assert results.best_trial([record("d", [math.nan])], "val_acc", "max") is None


def test_select_best_trial_raises_with_the_first_traceback_when_all_failed() -> None:
    failed = [
        TrialRecord("x1", "ERROR", {}, error="RuntimeError: boom", traceback="File t.py\nboom"),
        TrialRecord("x2", "ERROR", {}, error="RuntimeError: other"),
    ]
    with pytest.raises(SearchError, match=r"Every trial failed \(2 of 2") as caught:
        results.select_best_trial(failed, "val_acc", "max")
    assert "x1" in str(caught.value) and "File t.py" in str(caught.value)


def test_best_checkpoint_picks_the_kept_checkpoint_with_the_best_metric() -> None:
    rec = TrialRecord(
        "a",
        "TERMINATED",
        {},
        checkpoints=(
            ("/ckpt/0", {"val_acc": 0.7, "epoch": 0}),
            ("/ckpt/2", {"val_acc": 0.9, "epoch": 2}),
            ("/ckpt/1", {"val_acc": math.nan, "epoch": 1}),
        ),
    )
    assert results.best_checkpoint(rec, "val_acc", "max") == ("/ckpt/2", 2)
    assert results.best_checkpoint(rec, "val_acc", "min") == ("/ckpt/0", 0)
    with pytest.raises(SearchError, match="kept no checkpoint"):
        results.best_checkpoint(TrialRecord("b", "TERMINATED", {}), "val_acc", "max")


def test_best_checkpoint_breaks_a_tie_by_the_earliest_epoch_as_best_of_does() -> None:
    """Ray also keeps the latest checkpoint, which may tie the best value (the last epoch's)."""
    tied = (("/ckpt/5", {"val_acc": 0.9, "epoch": 5}), ("/ckpt/2", {"val_acc": 0.9, "epoch": 2}))
    rec = TrialRecord("a", "TERMINATED", {}, checkpoints=tied)
    assert results.best_checkpoint(rec, "val_acc", "max") == ("/ckpt/2", 2)
    assert results.best_checkpoint(rec, "val_acc", "min") == ("/ckpt/2", 2)


def test_trials_table_has_the_contract_columns_and_values() -> None:
    records = [
        # retried on another node after epoch 0: the node of its last epoch counts
        record(
            "a", [0.5, 0.9, 0.7], lr=0.01, extra={"node_ip": ["10.0.0.2", "10.0.0.3", "10.0.0.3"]}
        ),
        record("b", [0.3], lr=0.2),  # stopped by the scheduler after 1 of 3 epochs
        record("c", [0.4, 0.6], lr=0.05, extra={"should_stop": [False, True]}),  # early stopping
        TrialRecord("d", "ERROR", {"lr": 0.3, "opt": {"beta": 0.5}}, error="ValueError: bad"),
    ]
    table = results.trials_table(records, ["lr", "opt/beta"], "val_acc", "max")
    assert list(table.columns) == [
        "trial_id", "status", "config/lr", "config/opt/beta", "metric_best", "metric_last",
        "best_epoch", "epochs", "stopped_early", "error", "training_time_s", "completion_order",
        "node",
    ]  # fmt: skip
    rows = table.set_index("trial_id")
    assert rows.loc["a", "metric_best"] == 0.9 and rows.loc["a", "metric_last"] == 0.7
    assert rows.loc["a", "best_epoch"] == 1 and rows.loc["a", "epochs"] == 3
    assert rows.loc["a", "config/lr"] == 0.01 and rows.loc["d", "config/opt/beta"] == 0.5
    assert rows.loc["a", "training_time_s"] == 1.5
    assert rows["stopped_early"].to_dict() == {"a": False, "b": True, "c": False, "d": False}
    # one vocabulary with the progress view and the summary (Ray says TERMINATED for a, b and c)
    assert rows["status"].to_dict() == {"a": "done", "b": "stopped", "c": "done", "d": "error"}
    assert rows.loc["d", "error"] == "ValueError: bad" and rows.loc["a", "error"] == ""
    assert pd.isna(rows.loc["d", "best_epoch"]) and math.isnan(rows.loc["d", "metric_best"])
    # b ended at t=100, c at 101, a at 102; d has no report and comes last
    assert rows["completion_order"].to_dict() == {"b": 1, "c": 2, "a": 3, "d": 4}
    assert rows.loc["a", "node"] == "10.0.0.3" and pd.isna(rows.loc["d", "node"])


def test_unfinished_trials_have_no_completion_order() -> None:
    table = results.trials_table(
        [record("a", [0.5]), record("b", [0.6], status="RUNNING")], ["lr"], "val_acc", "max"
    )
    assert table["completion_order"].tolist()[0] == 1
    assert pd.isna(table["completion_order"].tolist()[1])


def test_trial_metrics_table_stacks_histories_with_a_leading_trial_id() -> None:
    histories = {
        "a": results.history_frame(reports([0.5])),
        "b": results.history_frame(reports([0.6, 0.7])),
    }
    table = results.trial_metrics_table(histories)
    assert list(table.columns[:3]) == ["trial_id", "stage", "epoch"]
    assert table["trial_id"].tolist() == ["a", "a", "b", "b", "b", "b"]


def test_errors_list_and_split_error_keep_the_exception_line_and_an_excerpt() -> None:
    text = (
        "ray::ImplicitFunc.train() (pid=1, ip=127.0.0.1)\n"
        "Traceback (most recent call last):\n"
        '  File "m.py", line 3, in training_step\n'
        "    raise RuntimeError('boom')\n"
        "RuntimeError: boom in training_step\n"
    )
    summary, excerpt = results.split_error(text)
    assert summary == "RuntimeError: boom in training_step"
    assert 'File "m.py"' in excerpt
    records = [
        TrialRecord("a", "TERMINATED", {}),
        TrialRecord("b", "ERROR", {}, error=summary, traceback=excerpt),
    ]
    assert results.errors_list(records) == [
        {"trial_id": "b", "error": summary, "traceback": excerpt}
    ]


def test_flatten_config_joins_nested_keys_with_slashes() -> None:
    assert results.flatten_config({"a": 1, "b": {"c": 2, "d": {"e": 3}}}) == {
        "a": 1,
        "b/c": 2,
        "b/d/e": 3,
    }


def test_a_record_puts_its_reports_in_epoch_order_once_for_every_table() -> None:
    rerun = record("a", [0.5, 0.9, 0.7])
    rerun = TrialRecord("a", "TERMINATED", rerun.config, rerun.reports.iloc[[0, 1, 2, 1]])
    assert rerun.epochs is rerun.epochs  # computed once, then shared
    assert rerun.epochs["epoch"].tolist() == [0, 1, 2]
    assert (
        rerun.best("val_acc", "max") == (1, 0.9) == results.best_of(rerun.reports, "val_acc", "max")
    )
    assert rerun.best("val_acc", "min") == (0, 0.5)
    row = results.trials_table([rerun], ["lr"], "val_acc", "max").iloc[0]
    assert (row["epochs"], row["best_epoch"], row["metric_best"]) == (3, 1, 0.9)
