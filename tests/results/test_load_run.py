"""Reopening run directories with load_run: synthetic run directories (unit) and a real search (Ray)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from pytorch_hyperlight import RunDirError, Settings, TrialMetrics, files, load_run
from pytorch_hyperlight.results.run_record import result_keys
from tests.results_fakes import write_run_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
PLOT_NAMES = {
    "metrics",
    "learning_curves",
    "metric_vs_params",
    "parallel_coordinates",
    "param_importance",
    "best_so_far",
}

# Runs in a fresh interpreter: load a run directory and print what it holds as JSON.
_RELOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import pytorch_hyperlight as ph

    run = ph.load_run(sys.argv[1])
    print(json.dumps({
        "metrics": run["metrics"].df.to_json(orient="split"),
        "metrics_last": run["metrics_last"].to_dict(),
        "trials": run["trials"].to_json(orient="split"),
        "trial_metrics": {k: v.df.to_json(orient="split") for k, v in run["trial_metrics"].items()},
        "best_config": run["best_config"],
        "best_epoch": run["best_epoch"],
        "ray_imported": "ray" in sys.modules,
    }))
    """
)


def reload_in_fresh_process(run_dir: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", _RELOAD_SCRIPT, str(run_dir)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,  # a hang guard only: a busy machine starts processes slowly
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    for key in ("metrics", "trials"):
        loaded[key] = _from_split(loaded[key])
    loaded["trial_metrics"] = {k: _from_split(v) for k, v in loaded["trial_metrics"].items()}
    return loaded


def _from_split(text: str) -> pd.DataFrame:
    data = json.loads(text)
    return pd.DataFrame(data["data"], columns=data["columns"])


def assert_same_metrics(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )


# --- synthetic run directories -------------------------------------------------------------------
def test_a_search_reopened_in_a_fresh_process_has_the_metrics_the_run_returned(tmp_path):
    written = write_run_dir(tmp_path / "run")
    loaded = reload_in_fresh_process(tmp_path / "run")
    assert loaded["ray_imported"] is False
    assert_same_metrics(loaded["metrics"], written["metrics"].df)
    assert loaded["metrics_last"] == pytest.approx(written["metrics"].series_last.to_dict())
    assert_same_metrics(loaded["trials"], written["trials"].fillna({"error": ""}))
    assert list(loaded["trial_metrics"]) == written["trials"]["trial_id"].tolist()
    for trial_id, history in written["trial_metrics"].items():
        assert_same_metrics(loaded["trial_metrics"][trial_id], TrialMetrics(history).df)
    assert loaded["trial_metrics"]["t03"].empty  # failed before its first epoch: no history
    assert loaded["best_config"] == written["best_config"]
    assert loaded["best_epoch"] == written["metrics"].best_epoch


def test_load_run_returns_the_search_result_structure(tmp_path):
    written = write_run_dir(tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run["kind"] == "search"
    assert run["run_name"] == "hyper-opt-LitDigits"
    assert run["run_dir"] == (tmp_path / "run").resolve()
    assert run["best_checkpoint_path"] == str((tmp_path / "run/checkpoints/best.ckpt").resolve())
    assert isinstance(run["settings"], Settings) and run["settings"].metric_opt_mode == "max"
    assert (run["metric"], run["mode"]) == ("val_f1", "max")
    assert isinstance(run["metrics"], TrialMetrics)
    assert run["trials"]["trial_id"].tolist() == written["trials"]["trial_id"].tolist()
    assert run["trials"]["error"].tolist() == ["", "", "", "ValueError: boom", ""]
    assert run["errors"] == written["errors"]
    assert run["search_space"]["lr"]["type"] == "loguniform"
    assert run["analysis"] is None
    assert "lmodule_best" not in run


def test_load_run_reads_a_single_trial(tmp_path):
    written = write_run_dir(tmp_path / "run", kind="single", with_checkpoint=False)
    with pytest.warns(UserWarning, match="best checkpoint .* was removed"):
        run = load_run(str(tmp_path / "run" / "run.json"))
    assert run["kind"] == "single_trial"
    assert run["best_checkpoint_path"] is None
    assert "trials" not in run
    assert run["metrics_last"]["test_f1"] == pytest.approx(0.8)
    assert_same_metrics(run["metrics"].df, written["metrics"].df)


def test_load_run_builds_the_best_model_with_the_checkpoint_weights(tmp_path):
    torch = pytest.importorskip("torch")
    from examples.digits import LitDigits
    from pytorch_hyperlight.trial import building

    written = write_run_dir(tmp_path / "run", kind="single")
    trained = building.build_module(
        LitDigits, written["best_config"], building.derived_values(5, 4)
    )
    torch.save(
        {"state_dict": trained.state_dict(), "hyper_parameters": dict(trained.hparams)},
        tmp_path / "run" / "checkpoints" / "best.ckpt",
    )
    run = load_run(tmp_path / "run", LitDigits)
    model = run["lmodule_best"]
    assert isinstance(model, LitDigits) and not model.training
    assert model.hparams.n_train_steps == 20  # the derived keys the checkpoint saved
    for name, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def test_load_run_says_when_the_checkpoint_does_not_fit_the_module(tmp_path):
    torch = pytest.importorskip("torch")
    from examples.digits import LitDigits

    write_run_dir(tmp_path / "run", kind="single")
    torch.save(
        {"state_dict": {"model.l0.weight": torch.zeros(2, 2)}},
        tmp_path / "run" / "checkpoints" / "best.ckpt",
    )
    with pytest.raises(RunDirError, match="do not fit LitDigits"):
        load_run(tmp_path / "run", LitDigits)


def test_redraw_plots_draws_every_plot_of_a_search(tmp_path):
    write_run_dir(tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run["plots"] == {}
    written = run["redraw_plots"]()
    assert set(written) == PLOT_NAMES
    assert written["metrics"] == run["run_dir"] / "metrics.png"
    assert written["best_so_far"] == run["run_dir"] / "plots" / "best_so_far.png"
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in written.values())
    assert load_run(tmp_path / "run")["plots"] == written


def test_unknown_settings_of_another_version_are_ignored_with_a_warning(tmp_path):
    write_run_dir(tmp_path / "run")
    info = files.read_json(tmp_path / "run" / "run.json")
    info["settings"]["a_future_key"] = 1
    files.write_json_atomic(tmp_path / "run" / "run.json", info)
    with pytest.warns(UserWarning, match="a_future_key"):
        assert load_run(tmp_path / "run")["settings"].metric_to_optimize == "val_f1"


# --- incomplete run directories ------------------------------------------------------------------
def test_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(RunDirError, match=r"No run directory at .*nowhere"):
        load_run(tmp_path / "nowhere")


def test_a_directory_without_run_json_is_a_clear_error(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(RunDirError, match=r"run.json is missing"):
        load_run(tmp_path / "half")


def test_a_search_without_its_trial_files_names_each_missing_file(tmp_path):
    write_run_dir(tmp_path / "run")
    (tmp_path / "run" / "trials.csv").unlink()
    (tmp_path / "run" / "trial_metrics.csv").unlink()
    with pytest.raises(RunDirError, match=r"incomplete: missing trials\.csv, trial_metrics\.csv"):
        load_run(tmp_path / "run")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 2}, "format_version 2"),
        ({"kind": "benchmark"}, "kind must be one of"),
        ({"metric": None, "mode": None, "kind": None, "run_name": None}, None),
    ],
)
def test_a_run_json_this_version_cannot_read_is_a_clear_error(tmp_path, change, message):
    write_run_dir(tmp_path / "run")
    info = files.read_json(tmp_path / "run" / "run.json")
    for key, value in change.items():
        if value is None:
            del info[key]
        else:
            info[key] = value
    files.write_json_atomic(tmp_path / "run" / "run.json", info)
    with pytest.raises(RunDirError, match=message or r"lacks the keys \['kind', 'run_name'"):
        load_run(tmp_path / "run")


def test_load_run_rejects_something_that_is_not_a_path():
    with pytest.raises(RunDirError, match="expects the path of a run directory"):
        load_run({"run_dir": "x"})  # type: ignore[arg-type]


# --- real runs -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_real_single_trial_reopens_with_the_same_metrics_and_weights():
    torch = pytest.importorskip("torch")
    from examples.digits import CONFIG, LitDigits, configure_dataloaders
    from pytorch_hyperlight import Runner

    runner = Runner(configure_dataloaders, experiment_id="digits")
    settings = {"metric_to_optimize": "val_f1_epoch", "metric_opt_mode": "max", "verbose": 0}
    result = runner.run_single_trial(LitDigits, {**CONFIG, "max_epochs": 2}, settings)
    run = load_run(result["run_dir"], LitDigits)
    pd.testing.assert_frame_equal(run["metrics"].df, result["metrics"].df)
    pd.testing.assert_series_equal(run["metrics_last"], result["metrics_last"])
    assert run["best_checkpoint_path"] == result["best_checkpoint_path"]
    assert (run["best_epoch"], run["run_name"]) == (result["best_epoch"], "single-trial-LitDigits")
    assert run["config"] == result["config"] and run["settings"] == result["settings"]
    loaded, trained = run["lmodule_best"].state_dict(), result["lmodule_best"].state_dict()
    assert loaded.keys() == trained.keys()
    assert all(torch.equal(loaded[name], trained[name]) for name in trained)
    assert set(run["plots"]) == {"metrics"}
    # the same keys, declared once: the run's result less its live Trainer
    assert list(result) == list(result_keys("single_trial"))
    assert set(run) == set(result) - {"trainer"}


@pytest.mark.ray
def test_a_real_search_reopened_in_a_fresh_process_has_the_metrics_the_run_returned(ray_cluster):
    from ray import tune

    from examples.digits import CONFIG, LitDigits, configure_dataloaders
    from pytorch_hyperlight import Runner

    space = {
        **CONFIG,
        "max_epochs": 3,
        "lr": tune.loguniform(1e-3, 1e-1),
        "n_hidden": tune.choice([16, 32]),
    }
    settings = {
        "metric_to_optimize": "val_f1_epoch",
        "metric_opt_mode": "max",
        "n_samples": 4,
        "grace_period": 1,
        "seed": 3,
        "verbose": 0,
    }
    result = Runner(configure_dataloaders).run_hyper_opt(LitDigits, space, settings)
    loaded = reload_in_fresh_process(result["run_dir"])
    assert loaded["ray_imported"] is False
    assert_same_metrics(loaded["metrics"], result["metrics"].df)
    assert loaded["metrics_last"] == pytest.approx(result["metrics_last"].to_dict())
    assert loaded["best_config"] == result["best_config"]
    assert loaded["best_epoch"] == result["best_epoch"]
    trials = pd.DataFrame(result["trials"])  # a TrialsTable: compared as the plain DataFrame
    assert_same_metrics(loaded["trials"], trials.astype({"best_epoch": float}))
    assert list(loaded["trial_metrics"]) == list(result["trial_metrics"])
    for trial_id, history in result["trial_metrics"].items():
        assert_same_metrics(loaded["trial_metrics"][trial_id], history.df)
    # the search drew every plot into its run directory; load_run lists them
    run = load_run(result["run_dir"])
    assert set(run["plots"]) == PLOT_NAMES
    assert run["trials"]["trial_id"].tolist() == trials["trial_id"].tolist()


def test_a_reopened_run_is_a_dict_that_renders_as_html_tables(tmp_path):
    write_run_dir(tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert isinstance(run, dict)
    page = run._repr_html_()
    assert "hyper-opt-LitDigits" in page
    assert page.count("<table") == 4  # summary, best config, last values, trials
    assert "trials (5)" in page and "t03" in page
