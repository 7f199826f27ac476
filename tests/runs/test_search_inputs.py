"""Bad input to run_hyper_opt: a clear error, found before any Ray work starts."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from ray import tune

from pytorch_hyperlight import (
    ConfigError,
    MetricError,
    RayConnectionError,
    RunDirError,
    Runner,
)
from pytorch_hyperlight.search import ray_session
from tests.models import TinyDigits, configure_dataloaders, tiny_config

SETTINGS = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "n_samples": 2}


@pytest.fixture
def no_ray_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the search reaches the point of using Ray."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Ray work started before the bad input was reported")

    monkeypatch.setattr(ray_session, "ray_session", refuse)


def space(**changes: Any) -> dict[str, Any]:
    return tiny_config(lr=tune.loguniform(1e-3, 1e-1), **changes)


def search(space_config: dict[str, Any], settings: dict[str, Any], module: type = TinyDigits):
    return Runner(configure_dataloaders).run_hyper_opt(module, space_config, settings)


@pytest.mark.usefixtures("no_ray_work")
def test_sample_from_with_hyperopt_is_rejected_naming_the_key() -> None:
    bad = space(n_hidden=tune.sample_from(lambda config: 8))
    with pytest.raises(ConfigError, match=r"HyperOpt cannot sample tune\.sample_from.*n_hidden"):
        search(bad, SETTINGS)


@pytest.mark.usefixtures("no_ray_work")
def test_grid_searcher_without_grid_values_is_rejected() -> None:
    with pytest.raises(ConfigError, match="searcher='grid' needs at least one"):
        search(space(), {**SETTINGS, "searcher": "grid"})


@pytest.mark.usefixtures("no_ray_work")
def test_unknown_tune_config_key_names_the_closest_valid_key() -> None:
    with pytest.raises(ConfigError, match=r"'n_sample'.*did you mean 'n_samples'"):
        search(space(), {**SETTINGS, "n_sample": 3})


@pytest.mark.usefixtures("no_ray_work")
def test_unknown_config_key_in_the_search_space_is_rejected_with_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"'n_hiden'.*did you mean 'n_hidden'"):
        search(space(n_hiden=tune.choice([8, 16])), SETTINGS)


@pytest.mark.usefixtures("no_ray_work")
def test_metric_that_is_not_logged_is_found_by_the_dry_run_before_ray() -> None:
    with pytest.raises(MetricError, match="val_f2") as caught:
        search(space(), {**SETTINGS, "metric_to_optimize": "val_f2"})
    assert "val_acc" in str(caught.value)  # the message lists what is logged


@pytest.mark.usefixtures("no_ray_work")
def test_metric_to_show_that_is_not_logged_is_rejected() -> None:
    with pytest.raises(MetricError, match=r"ray_metrics_to_show.*val_f1"):
        search(space(), {**SETTINGS, "ray_metrics_to_show": ["val_f1_epoch"]})


@pytest.mark.usefixtures("no_ray_work")
def test_grace_period_beyond_the_epoch_limit_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"grace_period=5 is beyond ASHA's epoch limit"):
        search(space(max_epochs=tune.choice([2, 3])), {**SETTINGS, "grace_period": 5})


@pytest.mark.usefixtures("no_ray_work")
def test_unreachable_ray_address_fails_before_the_dry_run(monkeypatch) -> None:
    import pytorch_hyperlight.trial.fit as fit

    monkeypatch.setattr(fit, "dry_run", lambda *a, **k: pytest.fail("dry run started"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RayConnectionError, match=f"127.0.0.1:{port}"):
        search(space(), {**SETTINGS, "ray_address": f"127.0.0.1:{port}"})


class LockedLoaders:
    """A loader function object that holds a lock: it works here but cannot be pickled."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self, batch_size: int, n_workers: int = 0) -> dict[str, Any]:
        with self.lock:
            return configure_dataloaders(batch_size, n_workers=n_workers)


@pytest.mark.usefixtures("no_ray_work")
def test_loader_function_that_cannot_reach_the_workers_is_rejected() -> None:
    runner = Runner(LockedLoaders())
    with pytest.raises(ConfigError, match=r"cannot be sent to Ray workers.*lock"):
        runner.run_hyper_opt(TinyDigits, space(), SETTINGS)


@pytest.mark.usefixtures("no_ray_work")
def test_not_a_lightning_module_is_rejected() -> None:
    with pytest.raises(ConfigError, match="LightningModule"):
        search(space(), SETTINGS, module=dict)


def test_resume_of_a_directory_that_is_not_a_search_is_rejected(tmp_path) -> None:
    with pytest.raises(RunDirError, match="not the run directory of a search"):
        Runner(configure_dataloaders).run_hyper_opt(TinyDigits, space(), SETTINGS, resume=tmp_path)


def test_resume_true_without_an_earlier_search_is_rejected() -> None:
    with pytest.raises(RunDirError, match="found no earlier search"):
        Runner(configure_dataloaders, experiment_id="nothing-yet").run_hyper_opt(
            TinyDigits, space(), SETTINGS, resume=True
        )


@pytest.mark.ray
def test_resources_beyond_the_cluster_are_rejected_before_any_trial(ray_cluster) -> None:
    with pytest.raises(ConfigError, match=r"cpu_per_trial=8 .* do not fit .*largest node: 2 CPUs"):
        search(space(), {**SETTINGS, "cpu_per_trial": 8})
    with pytest.raises(ConfigError, match=r"gpu_per_trial=2 do not fit .*1 GPUs"):
        search(space(), {**SETTINGS, "gpu_per_trial": 2})
