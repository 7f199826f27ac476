"""hydra-zen and @hydra.main drive `hyperlight_task`; it returns the best metric value."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytorch_hyperlight.config import hyperlight_task, make_experiment_config, run_config
from pytorch_hyperlight.errors import ConfigError


def tiny_config(**search: Any) -> Any:
    from hydra_zen import builds

    from examples.digits import configure_dataloaders
    from tests.models import TinyDigits

    return make_experiment_config(
        model=builds(TinyDigits, lr=0.05, n_hidden=16),
        data=builds(configure_dataloaders, batch_size=256),
        trainer={"max_epochs": 1},
        hyperlight={"seed": 0, "verbose": 0, "searcher": "random", "n_samples": 2},
        runner={"is_debug": True, "experiment_id": "zen"},
        search=search or None,
    )


def run_dirs_under(directory: Path) -> list[Path]:
    return sorted(path.parent for path in directory.rglob("run.json"))


def test_launch_drives_the_task_over_two_values_each_job_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra_zen import launch

    monkeypatch.chdir(tmp_path)  # Hydra writes its job directories under the working directory
    (jobs,) = launch(
        tiny_config(),
        hyperlight_task,
        overrides=["model.n_hidden=8,32"],
        multirun=True,
        version_base="1.3",
    )
    assert [job.overrides for job in jobs] == [["model.n_hidden=8"], ["model.n_hidden=32"]]
    for job, n_hidden in zip(jobs, (8, 32)):
        assert isinstance(job.return_value, float) and math.isfinite(job.return_value)
        # The run directory lives in the Hydra job's own directory, with the config it ran with.
        (run_dir,) = run_dirs_under(Path(job.hydra_cfg.hydra.runtime.output_dir))
        saved = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert saved["model"]["n_hidden"] == n_hidden
        assert yaml.safe_load((run_dir / "overrides.yaml").read_text()) == [
            f"model.n_hidden={n_hidden}"
        ]


def test_zen_wraps_the_task_and_the_result_is_the_runs_best_metric(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra_zen import launch, zen

    from pytorch_hyperlight import load_run

    monkeypatch.chdir(tmp_path)
    job = launch(tiny_config(), zen(hyperlight_task), version_base="1.3")
    (run_dir,) = run_dirs_under(tmp_path)
    assert job.return_value == pytest.approx(load_run(run_dir)["best_metric_value"])


def test_hydra_main_drives_the_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hydra
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="hyperlight_main_test", node=tiny_config())
    main = hydra.main(version_base="1.3", config_path=None, config_name="hyperlight_main_test")(
        hyperlight_task
    )
    monkeypatch.setattr(sys, "argv", ["train.py", f"hydra.run.dir={tmp_path}", "hyperlight.seed=5"])
    main()
    (run_dir,) = run_dirs_under(tmp_path)
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["hyperlight"]["seed"] == 5


def test_the_config_builder_checks_setting_names() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'seed'"):
        make_experiment_config(model={"_target_": "x.Y"}, data={}, hyperlight={"seedd": 1})


@pytest.mark.ray
def test_a_task_config_with_search_params_runs_a_search(ray_cluster: object) -> None:
    result = run_config(tiny_config(params={"model.lr": "tag(log, interval(0.01, 0.1))"}))
    assert result["kind"] == "search"
    assert len(result["trials"]) == 2
    assert 0.01 <= result["best_config"]["lr"] <= 0.1
    run_dir = Path(result["run_dir"])
    trial_configs = sorted(run_dir.glob("tune/trial_*/config.yaml"))
    assert len(trial_configs) == 2
    lrs = {yaml.safe_load(path.read_text())["model"]["lr"] for path in trial_configs}
    assert set(result["trials"]["config/lr"]) == lrs
