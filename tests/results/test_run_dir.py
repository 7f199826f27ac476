"""Run names and run directories (pure helpers)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pytorch_hyperlight import files
from pytorch_hyperlight.results import run_dir


def test_default_results_dir_prefers_argument_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERLIGHT_RESULTS_DIR", str(tmp_path / "env"))
    assert run_dir.default_results_dir(tmp_path / "arg") == tmp_path / "arg"
    assert run_dir.default_results_dir() == tmp_path / "env"
    monkeypatch.delenv("HYPERLIGHT_RESULTS_DIR")
    assert run_dir.default_results_dir() == Path.home() / "hyperlight_runs"


def test_create_run_dir_never_reuses_an_existing_directory(tmp_path: Path) -> None:
    now = dt.datetime(2026, 1, 2, 3, 4, 5)
    first = run_dir.create_run_dir(tmp_path, "exp", "single-trial-Net", now=now)
    second = run_dir.create_run_dir(tmp_path, "exp", "single-trial-Net", now=now)
    assert first.name == "single-trial-Net_20260102-030405"
    assert second.name == "single-trial-Net_20260102-030405-2"
    assert first.parent == tmp_path / "exp"


def test_latest_run_dir_finds_the_newest_run_of_that_name(tmp_path: Path) -> None:
    old = run_dir.create_run_dir(tmp_path, None, "hyper-opt-Net", now=dt.datetime(2026, 1, 1))
    new = run_dir.create_run_dir(tmp_path, None, "hyper-opt-Net", now=dt.datetime(2026, 1, 2))
    run_dir.create_run_dir(tmp_path, None, "hyper-opt-Other", now=dt.datetime(2026, 1, 3))
    import os

    os.utime(old, (1, 1))
    assert run_dir.latest_run_dir(tmp_path, None, "hyper-opt-Net") == new
    assert run_dir.latest_run_dir(tmp_path, "missing", "hyper-opt-Net") is None


def test_atomic_json_write_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "run.json"
    files.write_json_atomic(target, {"a": 1})
    files.write_json_atomic(target, {"b": float("nan"), "c": object})
    data = files.read_json(target)
    assert set(data) == {"b", "c"}
    assert list(target.parent.iterdir()) == [target]


def test_atomic_writes_honour_the_umask_not_mkstemps_0600(tmp_path: Path) -> None:
    import os

    previous = os.umask(0o022)
    try:
        target = tmp_path / "metrics.csv"
        files.write_text_atomic(target, "a,b\n")
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o644
