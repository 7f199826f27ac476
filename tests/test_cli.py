"""The command line end to end, as users run it (`python -m pytorch_hyperlight ...` in a subprocess,
on the digits config directory of the examples), and its bad-input errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pytorch_hyperlight import cli
from pytorch_hyperlight.config.schema import framework_descriptions

ROOT = Path(__file__).resolve().parent.parent
CONF = "examples/conf"
FAST = ["trainer.max_epochs=1", "runner.is_debug=true"]


def hyperlight(*args: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "pytorch_hyperlight", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def run_dirs(results_dir: Path) -> list[Path]:
    return sorted(path.parent for path in results_dir.rglob("run.json"))


def test_help_lists_the_config_groups_the_config_and_every_framework_setting() -> None:
    out = hyperlight("--help", "--config-dir", CONF).stdout
    assert "== Configuration groups ==" in out
    assert "model: cnn, mlp" in out and "experiment: good_run" in out and "search: mlp_width" in out
    assert "== Config ==" in out and "_target_: examples.digits_hydra.LitDigitsNet" in out
    table = out.split("== Framework settings ==", 1)[1].splitlines()
    for key, (_, description) in framework_descriptions().items():
        line = next((row for row in table if row.startswith(f"{key} ")), None)
        assert line is not None and line.endswith(description), key
    assert any(row.split()[:2] == ["hyperlight.n_samples", "10"] for row in table)


def test_show_prints_the_resolved_config_and_the_parsed_search_space(results_dir: Path) -> None:
    out = hyperlight(
        "show",
        "--config-dir",
        CONF,
        "+experiment=good_run",
        "model.lr=tag(log, interval(1e-5,1e-3))",
        "data.batch_size=16,32,64",
    ).stdout
    config_text, search_text = out.split("\nSearch space", 1)
    config = yaml.safe_load(config_text)
    assert config["model"]["net"] == {"_target_": "examples.digits_hydra.CNN", "n_channels": 16}
    assert config["data"]["val_size"] == 0.2 and config["hyperlight"]["seed"] == 1
    assert config["search"]["params"] == {
        "model.lr": "tag(log, interval(1e-5,1e-3))",
        "data.batch_size": "16,32,64",
    }
    assert "-> loguniform(lower=1e-05, upper=0.001)" in search_text
    assert "-> grid [16, 32, 64]" in search_text
    assert "note: HyperOpt cannot enumerate a grid" in search_text
    assert not results_dir.exists()  # nothing ran


@pytest.mark.slow
def test_run_multirun_over_seeds_and_a_saved_config_reproduces_the_run(
    results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    completed = hyperlight("run", "--config-dir", CONF, "--multirun", "hyperlight.seed=1,2", *FAST)
    assert "[hyperlight] Launching 2 jobs" in completed.stdout
    assert "#1 : hyperlight.seed=2 trainer.max_epochs=1 runner.is_debug=true" in completed.stdout
    first, second = run_dirs(results_dir)
    for run_dir, seed in ((first, 1), (second, 2)):
        assert yaml.safe_load((run_dir / "config.yaml").read_text())["hyperlight"]["seed"] == seed
        assert (
            yaml.safe_load((run_dir / "overrides.yaml").read_text())[0] == f"hyperlight.seed={seed}"
        )
        command = yaml.safe_load((run_dir / "command.json").read_text())
        assert "--multirun" in command["command"] and command["versions"]["hydra-core"]

    assert cli.main(["run", "--config-dir", str(first)]) == 0
    capsys.readouterr()
    (rerun,) = [d for d in run_dirs(results_dir) if d not in (first, second)]
    original = pd.read_csv(first / "metrics.csv")
    pd.testing.assert_frame_equal(pd.read_csv(rerun / "metrics.csv"), original, rtol=1e-5)
    assert not original.equals(pd.read_csv(second / "metrics.csv"))  # another seed, other metrics


@pytest.mark.slow
@pytest.mark.ray
def test_tune_sweeps_a_config_group_composing_each_trial_anew(
    ray_cluster: object, results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process, on the session's Ray (the subprocess tests above cover the entry point)."""
    status = cli.main(
        [
            "tune",
            "--config-dir",
            CONF,
            "model=mlp,cnn",
            "model.lr=tag(log, interval(1e-3,1e-1))",
            "hyperlight.searcher=random",
            "hyperlight.n_samples=1",
            *FAST,
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out[-3000:]
    assert "best trial" in out and "tune/trial_<id>/config.yaml" in out
    (run_dir,) = run_dirs(results_dir)
    trials = pd.read_csv(run_dir / "trials.csv")
    assert sorted(trials["config/config_variant"]) == ["model=cnn", "model=mlp"]
    nets = {}
    for trial_id, variant, lr in trials[["trial_id", "config/config_variant", "config/lr"]].values:
        saved = yaml.safe_load((run_dir / "tune" / f"trial_{trial_id}" / "config.yaml").read_text())
        nets[variant] = saved["model"]["net"]
        assert saved["model"]["lr"] == pytest.approx(lr) and 1e-3 <= lr <= 1e-1
    assert nets == {
        "model=mlp": {"_target_": "examples.digits_hydra.MLP", "n_hidden": 64},
        "model=cnn": {"_target_": "examples.digits_hydra.CNN", "n_channels": 8},
    }
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["search"]["params"] == {
        "model": "mlp,cnn",
        "model.lr": "tag(log, interval(1e-3,1e-1))",
    }


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ["run", "data.batch_size=16,32"],
            "`run` trains one config, but 'data.batch_size=16,32' is a sweep. Use `hyperlight tune`",
        ),
        (["tune", "model.lr=interval(1e-5,"], "^ here (character 24)"),
        (["run", "model.net.n_hiden=3"], "(did you mean 'model.net.n_hidden'?)"),
        (
            ["run", "model._target_=examples.digits_hydra.Net"],
            "module 'examples.digits_hydra' has no attribute 'Net'",
        ),
        (["run", "hyperlight.metric_opt_mode=maximum"], "metric_opt_mode: expected 'min' or 'max'"),
        (["run", "--config-dir", "no/such/dir"], "--config-dir no/such/dir: no such directory"),
    ],
)
def test_bad_input_is_one_clear_error_before_any_training(
    arguments: list[str], expected: str, results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--config-dir" not in arguments:
        arguments = [*arguments, "--config-dir", str(ROOT / CONF)]
    assert cli.main(arguments) == 1
    err = capsys.readouterr().err
    assert err.startswith("hyperlight: error: ") and expected in err
    assert not results_dir.exists()


def test_bad_yaml_is_reported_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.yaml").write_text("model:\n  lr: 0.1\n   n: 2\n")
    assert cli.main(["show", "--config-dir", str(tmp_path)]) == 1
    assert f"Bad YAML in {tmp_path / 'config.yaml'}, line 3" in capsys.readouterr().err


def test_a_usage_error_exits_2_with_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fit", "--config-dir", CONF]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: hyperlight {run,tune,show}") and "unknown command 'fit'" in err


def _readme_commands() -> list[list[str]]:
    import shlex

    section = (ROOT / "README.md").read_text().split("## Config files and the command line", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line.split("#", 1)[0]) for line in block.splitlines() if line.strip()]


def test_the_readmes_commands_compose_and_plan(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the repository root
    commands = _readme_commands()
    assert {command[1] for command in commands} == {"run", "tune", "show"}
    for command in commands:
        assert command[0] == "hyperlight"
        # `show` plans exactly what `run` and `tune` would (every check), without running.
        assert cli.main(["show", *command[2:]]) == 0, capsys.readouterr().err
    assert "Search space" in capsys.readouterr().out
