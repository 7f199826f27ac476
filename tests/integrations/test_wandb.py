"""``Runner(log2wandb=True)``: W&B runs per single trial, per search trial and for the best model.

Unit tests of :mod:`pytorch_hyperlight.integrations.wandb` (the key lookup, the online/offline
decision, the optional package), then real offline runs: what wandb wrote is read back from its
transaction logs (``tests/wandb_files.py``), and every file the runs wrote is scanned for fake API
keys. Nothing goes online: no test has network, so the online decision is tested as a function.
"""

from __future__ import annotations

import glob
import os
import pickle
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pytorch_hyperlight import Runner
from pytorch_hyperlight.integrations import wandb as hyperlight_wandb
from tests.conftest import _SESSION_TMP
from tests.models import TinyDigits, configure_dataloaders, tiny_config
from tests.wandb_files import OfflineRun, offline_runs

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "verbose": 0, "seed": 3}
SEARCH = {**SETTINGS, "n_samples": 2, "cpu_per_trial": 1, "scheduler": "fifo"}
# made-up 40-character keys; each appears nowhere but where a test puts it
ENV_KEY = "f4ke0env0key0b1c2d3e4f5a6b7c8d9e0f1a2b3c"
FILE_KEY = "f4ke0file0key0a1b2c3d4e5f6a7b8c9d0e1f2a3"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory without a key file or a ``wandb login``, and no key in the environment."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return path


def write_key_file(home: Path, key: str, mode: int = 0o600) -> Path:
    path = home / ".wandb_api_key"
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def sync_warnings(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in caught if "wandb sync" in str(w.message)]


def sync_pattern(message: str) -> str:
    """The path pattern of the ``wandb sync`` command a message gives."""
    found = re.search(r"wandb sync (\S+)$", message)
    assert found, message
    return found.group(1)


# --- unit: key, mode, package ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("wandb_mode", "has_key", "expected"),
    [
        (None, True, "online"),
        ("", True, "online"),
        ("online", True, "online"),
        (None, False, "offline"),
        ("online", False, "offline"),  # nothing to log in with
        ("offline", True, "offline"),
        ("OFFLINE", True, "offline"),
        ("dryrun", True, "offline"),  # the old name of offline
        ("disabled", True, "disabled"),
        ("disabled", False, "disabled"),
    ],
)
def test_runs_go_online_only_with_a_key_and_without_an_offline_wandb_mode(
    wandb_mode: str | None, has_key: bool, expected: str
) -> None:
    assert hyperlight_wandb.choose_mode(wandb_mode, has_key=has_key) == expected


def test_the_key_comes_from_the_environment_first_then_from_the_key_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hyperlight_wandb.find_api_key() is None
    write_key_file(home, FILE_KEY)
    assert hyperlight_wandb.find_api_key() == FILE_KEY
    monkeypatch.setenv("WANDB_API_KEY", ENV_KEY)
    assert hyperlight_wandb.find_api_key() == ENV_KEY


def test_with_a_key_and_no_wandb_mode_a_run_goes_online_and_says_so_once(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", ENV_KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        options = hyperlight_wandb.prepare_wandb("digits", "r", tmp_path / "r_1", verbose=1)
    assert (options.mode, options.project, options.group) == ("online", "digits", "r_1")
    assert capsys.readouterr().out.count("logging online to W&B project 'digits'") == 1
    assert ENV_KEY.encode() not in pickle.dumps(options)  # what travels to Ray workers


def test_a_wandb_login_in_netrc_counts_as_a_key(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    assert not hyperlight_wandb.has_netrc_login()
    netrc_file = home / ".netrc"
    netrc_file.write_text(f"machine api.wandb.ai\n  login user\n  password {FILE_KEY}\n")
    netrc_file.chmod(0o600)
    assert hyperlight_wandb.has_netrc_login()
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")  # another server
    assert not hyperlight_wandb.has_netrc_login()


def test_a_key_file_others_can_read_gets_a_warning_and_a_private_one_does_not(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    key_file = write_key_file(home, FILE_KEY, mode=0o644)
    with pytest.warns(UserWarning, match=r"other users can read it.*chmod 600") as caught:
        hyperlight_wandb.prepare_wandb(None, "r", tmp_path / "r_1", verbose=0)
    assert [w.filename for w in caught] == [__file__]  # it points at the caller's line
    key_file.chmod(0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        options = hyperlight_wandb.prepare_wandb(None, "r", tmp_path / "r_2", verbose=0)
    assert (options.mode, options.project) == ("offline", hyperlight_wandb.DEFAULT_PROJECT)


def test_an_explicit_offline_mode_prints_where_the_runs_go_and_how_to_sync_them(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_API_KEY", ENV_KEY)
    monkeypatch.delenv("WANDB_DIR")
    options = hyperlight_wandb.prepare_wandb("digits", "r", tmp_path / "r_1", verbose=1)
    printed = capsys.readouterr().out
    assert printed.count("wandb sync") == 1
    assert f"wandb sync {tmp_path / 'r_1' / 'wandb'}/offline-run-*-{options.id_prefix}-*" in printed
    hyperlight_wandb.prepare_wandb("digits", "r", tmp_path / "r_2", verbose=0)
    assert capsys.readouterr().out == ""


def test_the_wandb_init_arguments_hold_no_key_and_tell_the_runs_of_a_search_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", ENV_KEY)
    options = hyperlight_wandb.prepare_wandb("digits", "hyper-opt-Net", tmp_path / "h_1", verbose=0)
    trial = hyperlight_wandb.init_arguments(
        options, name_suffix="abc_00001", job_type="search-trial", config={"lr": 0.1}
    )
    best = hyperlight_wandb.init_arguments(
        options, name_suffix="best", job_type="best-model", config={"lr": 0.1}
    )
    assert ENV_KEY not in repr(trial) + repr(best)
    assert trial["group"] == best["group"] == "h_1"
    assert (trial["name"], best["name"]) == ("hyper-opt-Net-abc_00001", "hyper-opt-Net-best")
    assert trial["id"] != best["id"] and trial["config"] == {"lr": 0.1}


def test_without_the_wandb_package_the_runner_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` now fails
    with pytest.raises(ImportError, match=re.escape("pip install 'pytorch-hyperlight[wandb]'")):
        Runner(configure_dataloaders, log2wandb=True)
    Runner(configure_dataloaders)  # without log2wandb wandb is never needed
    with pytest.raises(ImportError, match=re.escape("pytorch-hyperlight[wandb]")):
        hyperlight_wandb._import_wandb()


def test_wandb_is_an_optional_extra_of_the_package() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [re.split(r"[<>=!~\[ ]", spec)[0] for spec in project["dependencies"]]
    assert "wandb" not in names
    extras = project["optional-dependencies"]
    assert [spec.startswith("wandb>=") for spec in extras["wandb"]] == [True]
    assert any(spec.startswith("wandb") for spec in extras["dev"])  # the tests need it


# --- a single trial -------------------------------------------------------------------------------
def check_epochs(run: OfflineRun, history: pd.DataFrame) -> None:
    """The W&B run holds every epoch's validation accuracy the trial recorded."""
    expected = history.loc[history["stage"] == "val", "val_acc"].to_list()
    assert len(expected) == tiny_config()["max_epochs"]
    assert run.series("val_acc") == pytest.approx(expected)


def check_evaluation(run: OfflineRun, metrics_last: pd.Series, best_epoch: int) -> None:
    """The W&B run holds the best model's re-validation and test."""
    for name in ("reval_acc", "reval_loss", "test_acc", "test_loss"):
        assert run.summary[name] == pytest.approx(metrics_last[name]), name
    assert run.summary["best_epoch"] == best_epoch


@pytest.mark.slow
def test_a_single_trial_is_one_offline_wandb_run_and_leaves_the_users_own_run_alone(
    home: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    wandb = pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline because there is no key
    monkeypatch.delenv("WANDB_DIR")  # files go into the run directory
    quiet = wandb.Settings(silent=True)  # so all wandb output would be the Runner's
    user_run = wandb.init(project="mine", mode="offline", dir=str(home), settings=quiet)
    try:
        runner = Runner(configure_dataloaders, log2wandb=True)  # no experiment_id
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = runner.run_single_trial(TinyDigits, tiny_config(), SETTINGS)
        assert wandb.run is user_run  # still open, still the global run
    finally:
        user_run.finish()

    run_dir = Path(result["run_dir"])
    (run,) = offline_runs(run_dir)
    assert (run.project, run.group, run.name) == (
        "pytorch_hyperlight",
        run_dir.name,
        result["run_name"],
    )
    assert run.job_type == "single-trial"
    assert {key: run.config[key] for key in tiny_config()} == tiny_config()
    check_epochs(run, result["metrics"].df)
    check_evaluation(run, result["metrics_last"], result["best_epoch"])

    (said,) = sync_warnings(caught)  # once, pointing at the user's line
    assert said.filename == __file__ and "no W&B API key found" in str(said.message)
    pattern = sync_pattern(str(said.message))
    assert glob.glob(pattern) == [str(run.directory)]
    assert "wandb:" not in "".join(capfd.readouterr())  # wandb itself stays quiet


# --- a search -------------------------------------------------------------------------------------
@pytest.mark.ray
@pytest.mark.slow
def test_a_search_logs_one_wandb_run_per_trial_and_one_for_the_best_model_in_one_group(
    ray_cluster: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ray import tune

    monkeypatch.delenv("WANDB_MODE", raising=False)
    wandb_dir = tmp_path / "wandb-files"
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    runner = Runner(configure_dataloaders, experiment_id="digits-wandb", log2wandb=True)
    space = {**tiny_config(), "lr": tune.loguniform(1e-3, 1e-1)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.run_hyper_opt(TinyDigits, space, SEARCH)

    trials = result["trials"].set_index("trial_id")
    assert len(trials) == 2 and set(trials["status"]) <= {"done", "stopped"}, result["errors"]
    runs = {run.name: run for run in offline_runs(wandb_dir)}
    name = result["run_name"]
    assert sorted(runs) == sorted(
        [f"{name}-{trial_id}" for trial_id in trials.index] + [f"{name}-best"]
    )
    assert {(run.project, run.group) for run in runs.values()} == {
        ("digits-wandb", Path(result["run_dir"]).name)
    }
    for trial_id, trial in trials.iterrows():
        run = runs[f"{name}-{trial_id}"]
        assert run.job_type == "search-trial"
        assert run.config["lr"] == pytest.approx(trial["config/lr"])
        check_epochs(run, result["trial_metrics"][trial_id].df)

    best = runs[f"{name}-best"]
    assert (
        best.job_type == "best-model" and best.summary["best_trial_id"] == result["best_trial_id"]
    )
    assert best.config["lr"] == pytest.approx(result["best_config"]["lr"])
    check_evaluation(best, result["metrics_last"], result["best_epoch"])

    (said,) = sync_warnings(caught)  # once for the search, not once per trial
    assert said.filename == __file__
    pattern = sync_pattern(str(said.message))
    assert sorted(glob.glob(pattern)) == sorted(str(run.directory) for run in runs.values())


# --- the API key stays out of every file ----------------------------------------------------------
def files_containing(root: Path, secrets: list[str], skip: Path | None = None) -> list[str]:
    """Every file under ``root`` (but ``skip``) holding one of ``secrets``."""
    found = []
    for path in root.rglob("*"):
        if path == skip or not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except OSError:  # gone, or a socket/pipe of a running Ray
            continue
        found += [f"{path}: {s[:8]}..." for s in secrets if s.encode() in data]
    return found


@pytest.mark.ray
@pytest.mark.slow
def test_the_api_key_is_in_no_file_a_single_trial_or_a_search_writes(
    ray_cluster: Any,
    home: Path,
    tmp_path: Path,
    results_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ray import tune

    session_wandb_dir = Path(os.environ["WANDB_DIR"])
    wandb_dir = tmp_path / "wandb-files"
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_MODE", "offline")  # keys, but no network in tests
    key_file = write_key_file(home, FILE_KEY)
    runner = Runner(configure_dataloaders, experiment_id="secrets", log2wandb=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="log2wandb")  # a private key: nothing to say
        single = runner.run_single_trial(TinyDigits, tiny_config(), SETTINGS)
        assert "WANDB_API_KEY" not in os.environ  # the key file's key is not exported
        monkeypatch.setenv("WANDB_API_KEY", ENV_KEY)
        space = {**tiny_config(), "lr": tune.loguniform(1e-3, 1e-1)}
        search = runner.run_hyper_opt(TinyDigits, space, SEARCH)
    assert os.environ["WANDB_API_KEY"] == ENV_KEY

    assert len(offline_runs(wandb_dir)) == 1 + 2 + 1  # the single trial, two trials, the best
    secrets = [ENV_KEY, FILE_KEY]
    assert len(files_containing(home, secrets)) == 1  # the scan does find a key where one is
    ray_dir = _SESSION_TMP / "ray"
    assert any(ray_dir.rglob("*.log")), ray_dir  # the Ray session's logs are there to scan
    for root in (results_dir, wandb_dir, session_wandb_dir, ray_dir, home):
        assert files_containing(root, secrets, skip=key_file) == [], root
    for result in (single, search):
        assert Path(result["run_dir"]).is_relative_to(results_dir)
        assert not any(
            s in repr(result.get("config")) + repr(result.get("best_config")) for s in secrets
        )
