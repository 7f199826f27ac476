"""The config examples as users run them, in a fast mode: seed 000's cos(x) fit three ways, each
finding what the seed found (batch size 20 with 100 neurons fits best) and saving the fit plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BEST = {"batch_size": 20, "num_neurons": 100}


@pytest.mark.ray
def test_cos_fit_with_the_runners_grid_search(
    ray_cluster: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from examples.cos_fit import python_api

    result = python_api.main(["--fast"])
    assert len(result["trials"]) == 4
    assert {key: result["best_config"][key] for key in BEST} == BEST
    out = capsys.readouterr().out
    assert "best fit: batch_size=20, num_neurons=100" in out
    assert (Path(result["run_dir"]) / "plots" / "cos_fit.png").stat().st_size > 10_000


@pytest.mark.ray
def test_cos_fit_from_the_command_line(ray_cluster: object, results_dir: Path) -> None:
    from examples.cos_fit import plot
    from pytorch_hyperlight import cli

    status = cli.main(
        [
            "tune",
            "--config-dir",
            str(ROOT / "examples" / "cos_fit" / "conf"),
            "data.batch_size=20,200",
            "model.num_neurons=10,100",
            "trainer.max_epochs=5",
        ]
    )
    assert status == 0
    (run_dir,) = {path.parent for path in results_dir.rglob("run.json")}
    info = json.loads((run_dir / "run.json").read_text())
    assert {key: info["best_config"][key] for key in BEST} == BEST
    assert len(list(run_dir.glob("tune/trial_*/config.yaml"))) == 4
    assert plot.main([str(run_dir)]).stat().st_size > 10_000


def test_cos_fit_with_hydra_zen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from examples.cos_fit import zen

    monkeypatch.chdir(tmp_path)  # Hydra's job directories go under the working directory
    jobs = zen.main(["--fast"])
    assert len(jobs) == 4
    best = min(jobs, key=lambda job: job.return_value)
    assert best.overrides == ["data.batch_size=20", "model.num_neurons=100"]
    assert len(list(tmp_path.rglob("cos_fit.png"))) == 1
