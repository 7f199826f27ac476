"""The files a config-driven run leaves in its run directory (plain YAML and JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from pytorch_hyperlight.results.config_record import ConfigRecord, save_config_record, trial_config
from pytorch_hyperlight.search.space import VARIANT_KEY


def test_a_run_directory_gets_config_overrides_command_and_versions(tmp_path: Path) -> None:
    config = {
        "model": {"_target_": "a.B", "lr": 1e-5},
        "hyperlight": {"seed": 3, "results_dir": None},
    }
    record = ConfigRecord(
        config=config,
        overrides=("model.lr=1e-5", "+experiment=good_run"),
        command=("hyperlight", "run", "model.lr=1e-5"),
        config_dir="/configs",
        config_name="config",
    )
    save_config_record(tmp_path, record)
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == config
    assert yaml.safe_load((tmp_path / "overrides.yaml").read_text()) == list(record.overrides)
    command = json.loads((tmp_path / "command.json").read_text())
    assert command["command"] == ["hyperlight", "run", "model.lr=1e-5"]
    assert command["config_dir"] == "/configs" and command["config_name"] == "config"
    assert command["versions"]["hydra-core"] and command["versions"]["torch"]
    assert command["versions"]["python"].count(".") == 2


def test_each_trial_directory_gets_its_own_resolved_config(tmp_path: Path) -> None:
    record = ConfigRecord(
        config={"search": {"params": {"model": "a,b"}}},
        trial_bases={
            "model=a": {"model": {"kind": "a", "lr": 0.0}, "data": {"batch_size": 8}},
            "model=b": {"model": {"kind": "b", "lr": 0.0}, "data": {"batch_size": 8}},
        },
        searched={"model.lr": ("lr",), "data.batch_size": ("batch_size",)},
    )
    (tmp_path / "tune" / "trial_1").mkdir(parents=True)
    (tmp_path / "tune" / "trial_2").mkdir(parents=True)
    trials = {
        "1": {"lr": 0.1, "batch_size": 16, VARIANT_KEY: "model=a"},
        "2": {"lr": 0.2, "batch_size": 32, VARIANT_KEY: "model=b"},
        "3": {"lr": 0.3, "batch_size": 64, VARIANT_KEY: "model=b"},  # its directory is gone
    }
    save_config_record(tmp_path, record, trials)
    first = yaml.safe_load((tmp_path / "tune" / "trial_1" / "config.yaml").read_text())
    second = yaml.safe_load((tmp_path / "tune" / "trial_2" / "config.yaml").read_text())
    assert first == {"model": {"kind": "a", "lr": 0.1}, "data": {"batch_size": 16}}
    assert second == {"model": {"kind": "b", "lr": 0.2}, "data": {"batch_size": 32}}
    assert not (tmp_path / "tune" / "trial_3").exists()
    assert not (tmp_path / "config.yaml").exists()  # the run's own files are written at the start


def test_no_record_writes_nothing(tmp_path: Path) -> None:
    save_config_record(tmp_path, None)
    assert list(tmp_path.iterdir()) == []


def test_trial_config_sets_nested_and_added_keys() -> None:
    record = ConfigRecord(
        config={},
        trial_bases={"": {"model": {"net": {"width": 1}}}},
        searched={"model.net.width": ("net", "width"), "model.extra": ("extra",)},
    )
    assert trial_config(record, {"net": {"width": 4}, "extra": True}) == {
        "model": {"net": {"width": 4}, "extra": True}
    }
