"""Unit tests of TrialMetrics: validation, copies, last values, best epoch, merging, CSV, reports."""

from __future__ import annotations

import math
import sys
import types
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest

from pytorch_hyperlight.errors import MetricError
from pytorch_hyperlight.metrics import console
from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

NAN = math.nan


def history_frame() -> pd.DataFrame:
    """Three epochs; the best epoch is 1, whose val_acc (0.8) differs from the last epoch's (0.7)."""
    return pd.DataFrame(
        {
            "stage": ["train", "val", "train", "val", "train", "val", "reval", "test"],
            "epoch": [0, 0, 1, 1, 2, 2, 1, 1],
            "val_acc": [NAN, 0.6, NAN, 0.8, NAN, 0.7, 0.8, NAN],
            "train_loss": [1.0, NAN, 0.6, NAN, 0.4, NAN, NAN, NAN],
            "test_acc": [NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0.75],
            "train_acc": [0.5, NAN, 0.7, NAN, 0.9, NAN, NAN, NAN],
        }
    )


def test_columns_are_stored_in_canonical_order_with_canonical_dtypes() -> None:
    frame = history_frame()
    frame["epoch"] = frame["epoch"].astype(float)  # whole floats are accepted as epochs
    metrics = TrialMetrics(
        frame[["train_loss", "epoch", "test_acc", "val_acc", "stage", "train_acc"]]
    )
    df = metrics.df
    assert list(df.columns) == ["stage", "epoch", "train_acc", "train_loss", "val_acc", "test_acc"]
    assert df["epoch"].dtype == "int64"
    assert all(df[c].dtype == "float64" for c in metrics.metric_names)
    assert df["stage"].tolist() == history_frame()["stage"].tolist()  # rows keep their order
    assert len(metrics) == 8


def test_run_column_is_moved_first() -> None:
    frame = history_frame().assign(run="a")
    assert TrialMetrics(frame).df.columns[:3].tolist() == ["run", "stage", "epoch"]


@pytest.mark.parametrize(
    ("data", "expected_in_message"),
    [
        ([{"stage": "train", "epoch": 0}], "received list"),
        (pd.DataFrame({"epoch": [0], "train_loss": [1.0]}), "missing ['stage']"),
        (pd.DataFrame({"stage": ["training"], "epoch": [0]}), "['training']"),
        (pd.DataFrame({"stage": ["train"], "epoch": [0], "loss": [1.0]}), "['loss']"),
        (pd.DataFrame({"stage": ["train"], "epoch": [0], "train_loss": ["high"]}), "'train_loss'"),
        (pd.DataFrame({"stage": ["test"], "epoch": [None]}), "whole numbers"),
        (pd.DataFrame({"stage": ["val"], "epoch": [1.5]}), "[1.5]"),
    ],
)
def test_bad_tables_raise_metric_error_naming_the_problem(
    data: object, expected_in_message: str
) -> None:
    with pytest.raises(MetricError) as caught:
        TrialMetrics(data)
    assert expected_in_message in str(caught.value)


def test_df_returns_copies_and_input_changes_do_not_leak_in() -> None:
    frame = history_frame()
    metrics = TrialMetrics(frame)
    frame.loc[0, "train_loss"] = 99.0
    copy = metrics.df
    copy.loc[0, "train_loss"] = 42.0
    copy["train_loss"] = 0.0
    assert metrics.df.loc[0, "train_loss"] == 1.0
    assert metrics.df is not metrics.df


def test_series_last_holds_the_last_epoch_then_reval_and_test_values() -> None:
    """As the original: val_* is the last epoch's value, reval_* the best model's re-validation."""
    last = TrialMetrics(history_frame()).series_last
    assert last.to_dict() == {
        "train_acc": 0.9,
        "train_loss": 0.4,
        "val_acc": 0.7,
        "reval_acc": 0.8,
        "test_acc": 0.75,
    }
    assert list(last.index) == ["train_acc", "train_loss", "val_acc", "reval_acc", "test_acc"]
    assert last.dtype == "float64"


def test_series_last_of_an_empty_table_is_all_nan() -> None:
    empty = TrialMetrics(pd.DataFrame({"stage": [], "epoch": [], "val_acc": []}))
    assert empty.series_last.index.tolist() == ["val_acc"]
    assert empty.series_last.isna().all()
    assert empty.best_epoch is None


def test_best_epoch_comes_from_reval_and_test_rows() -> None:
    assert TrialMetrics(history_frame()).best_epoch == 1
    without_evaluation = history_frame().query("stage in ['train', 'val']")
    assert TrialMetrics(without_evaluation).best_epoch is None


def test_merge_runs_adds_a_leading_run_column_and_unions_metrics() -> None:
    first = TrialMetrics(history_frame())
    second = TrialMetrics(history_frame().drop(columns="test_acc").query("stage != 'test'"))
    merged = TrialMetrics.merge_runs({"a": first, "b@2": second})
    df = merged.df
    assert df.columns[0] == "run"
    assert merged.runs == ["a", "b@2"]
    assert df.groupby("run").size().to_dict() == {"a": 8, "b@2": 7}
    assert df.loc[df["run"] == "b@2", "test_acc"].isna().all()
    assert merged.by_run()["a"].df.equals(first.df)
    assert merged.by_run()["b@2"].df.equals(second.df)


def test_merged_tables_refuse_single_trial_questions_with_a_pointer() -> None:
    merged = TrialMetrics.merge_runs({"a": TrialMetrics(history_frame())})
    with pytest.raises(MetricError, match="last_values_by_run"):
        _ = merged.series_last
    with pytest.raises(MetricError, match="by_run"):
        _ = merged.best_epoch


def test_last_values_by_run_has_one_row_per_run() -> None:
    second = history_frame()
    second.loc[second["stage"] == "reval", "val_acc"] = 0.95
    merged = TrialMetrics.merge_runs(
        {"a": TrialMetrics(history_frame()), "b": TrialMetrics(second)}
    )
    table = merged.last_values_by_run()
    assert table.index.tolist() == ["a", "b"]
    assert table.loc["a", "reval_acc"] == 0.8
    assert table.loc["b", "reval_acc"] == 0.95
    assert table.loc["b", "val_acc"] == 0.7  # the last epoch's


@pytest.mark.parametrize(
    "runs",
    [{}, {"a": history_frame()}, {1: "not metrics"}],
)
def test_merge_runs_rejects_bad_input(runs: dict) -> None:
    with pytest.raises(MetricError, match="merge_runs expects"):
        TrialMetrics.merge_runs(runs)


def test_merge_runs_rejects_already_merged_tables() -> None:
    merged = TrialMetrics.merge_runs({"a": TrialMetrics(history_frame())})
    with pytest.raises(MetricError, match="already a merged table"):
        TrialMetrics.merge_runs({"b": merged})


def test_csv_round_trip_is_exact(tmp_path: Path) -> None:
    frame = history_frame()
    frame.loc[0, "train_loss"] = 0.1 + 0.2  # not representable in few digits
    metrics = TrialMetrics(frame)
    path = tmp_path / "metrics.csv"
    metrics.to_csv(path)
    loaded = TrialMetrics.from_csv(path)
    pdt.assert_frame_equal(loaded.df, metrics.df)
    assert loaded.df.loc[0, "train_loss"] == 0.1 + 0.2


def test_csv_round_trip_of_merged_runs_keeps_numeric_looking_run_names(tmp_path: Path) -> None:
    merged = TrialMetrics.merge_runs(
        {"1": TrialMetrics(history_frame()), "2": TrialMetrics(history_frame())}
    )
    merged.to_csv(tmp_path / "m.csv")
    loaded = TrialMetrics.from_csv(tmp_path / "m.csv")
    pdt.assert_frame_equal(loaded.df, merged.df)
    assert loaded.runs == ["1", "2"]


def test_from_csv_of_another_table_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trials.csv"
    pd.DataFrame({"trial_id": ["t1"], "metric_best": [0.9]}).to_csv(path, index=False)
    with pytest.raises(MetricError, match=r"trials\.csv does not hold a TrialMetrics table"):
        TrialMetrics.from_csv(path)


def test_repr_and_html_show_summary_and_values() -> None:
    metrics = TrialMetrics(history_frame())
    text = repr(metrics)
    assert text.splitlines()[0] == "TrialMetrics: 8 rows, epochs 0-2, best epoch 1"
    assert "train_loss" in text and "0.75" in text and "nan" not in text.lower()
    html = metrics._repr_html_()
    assert "<table" in html and "best epoch 1" in html and "test_acc" in html


def test_show_report_in_a_terminal_prints_the_table_and_saves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(console, "in_notebook", lambda: False)
    figure = TrialMetrics(history_frame()).show_report()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("TrialMetrics: 8 rows")
    assert lines[1].split() == ["stage", "epoch", "train_acc", "train_loss", "val_acc", "test_acc"]
    assert lines[-1].split() == ["test", "1", "0.75"]
    assert figure is not None and len(figure.axes) == 2
    assert list(tmp_path.iterdir()) == []


def test_show_report_in_a_notebook_displays_table_and_figure_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("IPython")
    from matplotlib.figure import Figure

    shown: list[object] = []
    fake_display = types.SimpleNamespace(
        display=lambda obj, **kwargs: shown.append(obj), HTML=lambda html: ("html", html)
    )
    monkeypatch.setitem(sys.modules, "IPython.display", fake_display)
    monkeypatch.setattr(console, "in_notebook", lambda: True)
    assert TrialMetrics(history_frame()).show_report() is None
    assert len(shown) == 2
    assert shown[0][0] == "html" and "<table" in shown[0][1]  # type: ignore[index]
    assert isinstance(shown[1], Figure)


def test_module_docstring_examples_hold() -> None:
    import doctest

    from pytorch_hyperlight.metrics import trial_metrics

    assert doctest.testmod(trial_metrics).failed == 0
    assert doctest.testmod(console).failed == 0
