"""RunRecord: one record of a run, round-tripped through run.json without Ray or Lightning."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pytest

from pytorch_hyperlight import RunDirError, load_run
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.run_record import (
    FORMAT_VERSION,
    LIVE_ONLY_KEYS,
    RunRecord,
    plain_value,
    result_keys,
)
from pytorch_hyperlight.results.run_result import RunResult
from tests.results_fakes import write_run_dir


def search_record(**changes: object) -> RunRecord:
    values: dict[str, object] = {
        "kind": "search",
        "run_name": "hyper-opt-Net",
        "experiment_id": "digits",
        "created": "2025-03-01T12:30:00+01:00",
        "lmodule_class": "examples.digits:LitDigits",
        "settings": {"metric_to_optimize": "val_acc", "n_samples": 4},
        "config": {"lr": 0.01, "sizes": [8, 16]},
        "search_space": {"lr": {"type": "loguniform", "lower": 1e-4, "upper": 0.1}},
        "best_config": {"lr": 0.01, "sizes": [8, 16]},
        "is_debug": False,
        "metric": "val_acc",
        "monitor": "val_acc_epoch",
        "mode": "max",
        "best_epoch": 2,
        "best_metric_value": 0.93,
        "best_checkpoint_path": "checkpoints/best.ckpt",
        "metrics_last": {"val_acc": 0.9, "reval_acc": 0.93, "test_acc": 0.91},
        "best_trial_id": "a1b2",
    }
    return RunRecord(**{**values, **changes})  # type: ignore[arg-type]


def write_data_files(run_dir: Path) -> None:
    (run_dir / run_dirs.METRICS_FILE).write_text("stage,epoch,val_acc\nval,0,0.5\nval,1,0.9\n")
    (run_dir / run_dirs.TRIALS_FILE).write_text("trial_id,status\na1b2,done\n")
    (run_dir / run_dirs.ERRORS_FILE).write_text("[]")


# --- record -> files -> record -------------------------------------------------------------------
def test_a_record_round_trips_through_run_json_unchanged(tmp_path: Path) -> None:
    write_data_files(tmp_path)
    record = search_record()
    saved = record.save(tmp_path)
    assert RunRecord.load(tmp_path) == saved
    assert saved == RunRecord.from_json(json.loads((tmp_path / "run.json").read_text()))
    assert {name: value for name, value in vars(saved).items() if name != "files"} == {
        name: value for name, value in vars(record).items() if name != "files"
    }


def test_save_records_each_data_file_present_with_rows_and_checksum(tmp_path: Path) -> None:
    write_data_files(tmp_path)
    saved = search_record().save(tmp_path)
    assert saved.files is not None
    assert set(saved.files) == {"metrics.csv", "trials.csv", "errors.json"}  # no trial_metrics
    assert saved.files["metrics.csv"]["rows"] == 2
    assert saved.files["trials.csv"] == run_dirs.file_record(tmp_path / "trials.csv")
    assert search_record().files is None  # only a saved record knows its files


def test_nan_and_infinity_are_none_in_the_record_and_in_the_file(tmp_path: Path) -> None:
    record = search_record(
        best_metric_value=float("nan"),
        metrics_last={"val_acc": float("inf"), "val_loss": np.float32("nan"), "test_acc": 0.5},
    )
    assert record.best_metric_value is None
    assert record.metrics_last == {"val_acc": None, "val_loss": None, "test_acc": 0.5}
    record.save(tmp_path)

    def reject(constant: str) -> None:
        raise AssertionError(f"run.json holds {constant}")

    info = json.loads((tmp_path / "run.json").read_text(), parse_constant=reject)
    assert info["best_metric_value"] is None and info["metrics_last"]["val_acc"] is None


def test_values_become_plain_json_values() -> None:
    record = search_record(best_epoch=np.int64(4), best_config={"sizes": (8, 16), 3: Path("x")})
    assert record.best_epoch == 4 and type(record.best_epoch) is int
    assert record.best_config == {"sizes": [8, 16], "3": "x"}
    assert plain_value({"a": np.array([1.5, np.nan]), "b": np.bool_(True)}) == {
        "a": [1.5, None],
        "b": True,
    }


def test_created_is_always_timezone_aware() -> None:
    assert dt.datetime.fromisoformat(search_record(created="2024-01-01T00:00:00").created).tzinfo
    assert search_record(created="2025-03-01T12:30:00+01:00").created.endswith("+01:00")
    default = RunRecord(kind="single_trial", run_name="r", metric="val_acc", mode="max")
    assert dt.datetime.fromisoformat(default.created).tzinfo is not None


def test_the_format_version_is_written_from_one_constant(tmp_path: Path) -> None:
    search_record().save(tmp_path)
    assert json.loads((tmp_path / "run.json").read_text())["format_version"] == FORMAT_VERSION


def test_a_single_trial_has_no_search_fields_a_search_always_has_a_space() -> None:
    single = RunRecord(kind="single_trial", run_name="r", metric="m", mode="min", best_trial_id="x")
    assert single.best_trial_id is None
    assert {"search_space", "best_trial_id"}.isdisjoint(single.to_json())
    assert search_record(search_space=None).search_space == {}


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        search_record(kind="benchmark")


# --- reading run.json ----------------------------------------------------------------------------
def test_from_json_ignores_keys_of_a_later_version_of_the_same_format() -> None:
    data = {**search_record().to_json(), "a_future_field": 1}
    assert RunRecord.from_json(data) == search_record()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "must hold a JSON object, got list"),
        ({"format_version": FORMAT_VERSION + 1}, f"format_version {FORMAT_VERSION + 1}"),
        ({"kind": "search"}, r"lacks the keys \['run_name', 'metric', 'mode'\]"),
        ({"kind": "x", "run_name": "r", "metric": "m", "mode": "min"}, "kind must be one of"),
        (
            {"kind": "search", "run_name": "r", "metric": "m", "mode": "min", "created": "soon"},
            "cannot read",
        ),
    ],
)
def test_from_json_names_the_file_it_cannot_read(data: object, message: str) -> None:
    with pytest.raises(RunDirError, match=message) as caught:
        RunRecord.from_json(data, source="/runs/r/run.json")
    assert "/runs/r/run.json" in str(caught.value)


def test_load_without_run_json_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match=r"run\.json is missing"):
        RunRecord.load(tmp_path)


# --- the summary ---------------------------------------------------------------------------------
def test_a_single_trial_summary_names_the_best_epoch_and_its_evaluation() -> None:
    record = RunRecord(
        kind="single_trial",
        run_name="single-trial-Net",
        metric="val_f1",
        mode="max",
        best_epoch=4,
        best_metric_value=0.912345,
        metrics_last={"train_f1": 0.99, "val_f1": 0.9, "reval_f1": 0.912345, "reval_loss": 0.3,
                      "test_f1": 0.88},
    )  # fmt: skip
    assert record.summary_lines("/runs/x") == [
        "best epoch 4: val_f1=0.9123; its checkpoint re-validated and tested:",
        "  reval: val_f1=0.9123, val_loss=0.3",
        "  test: test_f1=0.88",
        "results in /runs/x",
    ]


def test_a_summary_without_a_best_value_or_a_test_says_so() -> None:
    record = RunRecord(
        kind="single_trial",
        run_name="r",
        metric="val_f1",
        mode="max",
        best_epoch=0,
        metrics_last={"reval_f1": 0.5},
    )
    assert record.summary_lines("d") == [
        "best epoch 0: val_f1=n/a; its checkpoint re-validated and tested:",
        "  reval: val_f1=0.5",
        "results in d",
    ]


# --- the result keys, declared once --------------------------------------------------------------
def test_result_keys_are_the_records_fields_plus_files_and_live_objects() -> None:
    single, search = set(result_keys("single_trial")), set(result_keys("search"))
    assert search - single == {
        "search_space", "best_trial_id", "trials", "trial_metrics", "errors", "analysis",
        "result_grid",
    }  # fmt: skip
    assert single >= {"lmodule_best", "trainer", "metrics", "metrics_last", "config", "run_dir"}
    assert {"format_version", "files"}.isdisjoint(search)  # about the file, not the run


def test_a_result_with_an_undeclared_or_missing_key_is_a_bug_caught_at_once() -> None:
    record = search_record()
    values = {k: None for k in result_keys("search") if k not in {*vars(record), "run_dir"}}
    assert RunResult.from_record(record, "/runs/r", live=True, **values)["best_trial_id"] == "a1b2"
    with pytest.raises(ValueError, match=r"undeclared \['extra'\]"):
        RunResult.from_record(record, "/runs/r", live=True, **values, extra=1)
    del values["trainer"]
    with pytest.raises(ValueError, match=r"missing \['trainer'\]"):
        RunResult.from_record(record, "/runs/r", live=True, **values)
    assert "trainer" not in RunResult.from_record(record, "/runs/r", live=False, **values)


@pytest.mark.parametrize("kind", ["single_trial", "search"])
def test_load_run_returns_the_declared_keys_less_the_live_ones(tmp_path: Path, kind: str) -> None:
    write_run_dir(tmp_path / "run", kind=kind)
    run = load_run(tmp_path / "run")
    assert list(run) == [key for key in result_keys(kind) if key not in LIVE_ONLY_KEYS]


@pytest.mark.parametrize(
    ("kind", "page"), [("single_trial", "single-trial.md"), ("search", "search.md")]
)
def test_the_user_guide_lists_every_result_key(kind: str, page: str) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "user-guide" / page).read_text()
    section = text.split("## What you get back", 1)[1].split("\n## ", 1)[0]
    table = section.split("| key |", 1)[1].split("\n\n", 1)[0]  # the section's first table
    first_cells = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `")]
    documented = set(re.findall(r"`(\w+)`", " ".join(first_cells)))
    assert set(result_keys(kind)) - documented == set()
