"""Safe defaults: a user's Ray is left running, checkpoints load with weights_only, no secret written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from pytorch_hyperlight import RunDirError, Runner
from pytorch_hyperlight.results.load import load_module_weights
from tests.models import LitDigits, TinyDigits, configure_dataloaders, tiny_config

SETTINGS = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "verbose": 0}
FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 hex characters, as W&B keys are


@pytest.mark.ray
def test_a_ray_the_user_started_is_left_running(ray_cluster: Any) -> None:
    from pytorch_hyperlight.search.ray_session import ray_session

    with ray_session(None) as info:
        assert info.started_here is False
    assert ray_cluster.is_initialized()
    assert ray_cluster.cluster_resources().get("CPU") == 2  # the same cluster, still answering


class Opaque:
    """Not a tensor or plain value: the restricted unpickler must refuse it."""


def test_checkpoints_of_a_run_load_with_weights_only() -> None:
    from examples.digits import CONFIG

    runner = Runner(configure_dataloaders)
    for module, config in ((TinyDigits, tiny_config()), (LitDigits, {**CONFIG, "max_epochs": 1})):
        result = runner.run_single_trial(module, config, SETTINGS)
        checkpoint = torch.load(result["best_checkpoint_path"], weights_only=True)
        assert set(checkpoint["state_dict"]) == set(result["lmodule_best"].state_dict())


def test_a_checkpoint_with_arbitrary_objects_is_refused_by_load_run(tmp_path: Path) -> None:
    path = tmp_path / "best.ckpt"
    state = TinyDigits(lr=0.1).state_dict()
    torch.save({"state_dict": state, "hyper_parameters": {"opaque": Opaque()}}, path)
    with pytest.raises(RunDirError, match=r"add_safe_globals") as caught:
        load_module_weights(TinyDigits, tiny_config(), path)
    assert str(path) in str(caught.value)


def test_no_file_of_a_run_contains_the_wandb_api_key(
    monkeypatch: pytest.MonkeyPatch, results_dir: Path
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    result = Runner(configure_dataloaders).run_single_trial(TinyDigits, tiny_config(), SETTINGS)
    files = [p for p in Path(result["run_dir"]).rglob("*") if p.is_file()]
    assert len(files) >= 4  # run.json, metrics.csv, metrics.png, the checkpoint, ...
    leaking = [p for p in files if FAKE_KEY.encode() in p.read_bytes()]
    assert leaking == []
