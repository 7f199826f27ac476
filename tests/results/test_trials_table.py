"""Unit tests of TrialsTable: the trials DataFrame of a search prints short and stays a DataFrame."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pytorch_hyperlight.results.run_result import RunResult
from pytorch_hyperlight.results.trials_table import WIDTH, TrialsTable, as_trials_table
from pytorch_hyperlight.search import results
from pytorch_hyperlight.search.results import TrialRecord


def digits_like_trials(n: int = 8, *, error: str = "") -> TrialsTable:
    """A trials table shaped like the demo's: four searched parameters."""
    records = []
    for index in range(n):
        epochs = 8 if index % 2 else 2
        reports = pd.DataFrame(
            {
                "epoch": list(range(epochs)),
                "val_f1": [0.123456789 + 0.1 * e + 0.001 * index for e in range(epochs)],
                "max_epochs": 8,
                "training_time_s": 1.23456 * (index + 1),
                "epoch_ended_at": [100.0 + index] * epochs,
            }
        )
        config = {"batch_size": 64, "lr": 0.00123456789 * (index + 1), "max_epochs": 8,
                  "n_hidden": 128}  # fmt: skip
        status, message = ("ERROR", error) if error and index == 0 else ("TERMINATED", "")
        records.append(TrialRecord(f"{index:08x}", status, config, reports, error=message))
    searched = ["batch_size", "lr", "max_epochs", "n_hidden"]
    return results.trials_table(records, searched, "val_f1", "max")


def test_printed_trials_show_configs_and_metric_with_short_names_within_100_columns() -> None:
    trials = digits_like_trials()
    text = str(trials)
    lines = text.splitlines()
    assert "..." not in text  # nothing hidden behind pandas' ellipsis
    assert max(len(line) for line in lines) <= WIDTH
    header = lines[0].split()
    assert header[:6] == ["trial", "status", "batch_size", "lr", "max_epochs", "n_hidden"]
    assert "val_f1" in lines[0] and "config/" not in lines[0]
    assert len(lines) == 1 + len(trials) + 1  # header, one line per trial, what was left out
    first = lines[1].split()
    assert first[:2] == ["00000000", "stopped"] and "0.001235" in first  # lr, 4 digits
    assert "0.2235" in first  # best val_f1 of its 2 epochs: 0.123456789 + 0.1, rounded
    assert lines[-1].startswith("[not shown: ") and "stopped_early" in lines[-1]
    assert repr(trials) == text


def test_trials_table_is_still_a_dataframe_with_the_real_columns_and_values() -> None:
    trials = digits_like_trials()
    assert isinstance(trials, pd.DataFrame)
    assert "config/lr" in trials.columns and trials["metric_best"].iloc[0] == pytest.approx(
        0.223456789
    )
    assert trials.to_string().splitlines()[0].split()[:2] == ["trial_id", "status"]
    ordered = trials.sort_values("metric_best", ascending=False)
    assert isinstance(ordered, TrialsTable) and "best val_f1" in str(ordered)
    selected = trials[["trial_id", "metric_last"]]
    assert str(selected).splitlines()[0].split() == ["trial", "last", "val_f1"]


def test_error_text_is_shortened_and_shown_when_it_fits() -> None:
    long_error = "RuntimeError: " + "x" * 80
    trials = digits_like_trials(2, error=long_error)[["trial_id", "status", "error"]]
    lines = str(trials).splitlines()
    assert lines[1].split()[:2] == ["00000000", "error"]
    assert "RuntimeError: xxx" in lines[1] and lines[1].endswith("...")
    assert len(lines[1]) < len(long_error)


def test_long_tables_print_their_first_and_last_rows() -> None:
    trials = digits_like_trials(10)
    lines = trials.to_text(max_rows=4).splitlines()
    ids = [line.split()[0] for line in lines[1:6]]
    assert ids == ["00000000", "00000001", "...", "00000008", "00000009"]


def test_without_a_metric_name_the_metric_columns_are_best_and_last() -> None:
    frame = pd.DataFrame({"trial_id": ["a"], "metric_best": [0.5], "metric_last": [math.nan]})
    text = str(as_trials_table(frame, metric=None, mode=None))
    assert text.splitlines() == ["trial  best", "a       0.5"]  # an empty column is left out


def test_run_result_html_shows_the_short_trials_view() -> None:
    html = RunResult({"run_name": "r", "trials": digits_like_trials(2)})._repr_html_()
    assert "best val_f1" in html and "config/lr" not in html and "0.001235" in html
