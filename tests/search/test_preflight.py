"""The search's pre-flight: the Ray address resolved once, one trial's fit checked once."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from ray import tune

from pytorch_hyperlight import ConfigError, Runner, Settings
from pytorch_hyperlight.errors import RayConnectionError
from pytorch_hyperlight.search import ray_session, tuner
from pytorch_hyperlight.search.preflight import plan_ray
from tests.models import TinyDigits, configure_dataloaders, tiny_config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _counting(calls: dict[str, int], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] = calls.get(name, 0) + 1
        return function(*args, **kwargs)

    return counted


def test_a_trial_too_big_for_this_machine_is_refused_before_ray_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # No Ray in this process yet (the suite's shared one may be up: it would be the user's Ray,
    # whose size is checked once connected), and no Ray work at all.
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray_session, "ray_session", None)
    with pytest.raises(ConfigError, match=r"cpu_per_trial=4096 .* do not fit"):
        plan_ray(Settings(cpu_per_trial=4096))


def test_an_address_is_resolved_from_the_environment_and_found_silent_within_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address = f"127.0.0.1:{_free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    with pytest.raises(RayConnectionError, match=address):
        plan_ray(Settings())


def test_a_listening_address_is_planned_for_checks_on_the_cluster() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        plan = plan_ray(Settings(ray_address=address))
    assert plan.target.address == address and not plan.target.is_local
    assert plan.trial_fits_checked is False  # the cluster's nodes are checked once connected


@pytest.mark.ray
@pytest.mark.slow
def test_a_search_resolves_its_address_and_checks_resources_once(
    ray_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    calls: dict[str, int] = {}
    for module, name in (
        (ray_session, "resolve_address"),
        (ray_session, "check_reachable"),
        (tuner, "check_trial_fits"),
        (tuner, "concurrency_limit"),
    ):
        monkeypatch.setattr(module, name, _counting(calls, name, getattr(module, name)))
    result = Runner(configure_dataloaders).run_hyper_opt(
        TinyDigits,
        tiny_config(lr=tune.loguniform(1e-3, 1e-1), max_epochs=1),
        {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "n_samples": 2,
         "searcher": "random", "scheduler": "fifo", "verbose": 0},
    )  # fmt: skip
    assert result["trials"]["status"].tolist() == ["done", "done"]
    assert calls == {"resolve_address": 1, "check_trial_fits": 1, "concurrency_limit": 1}
