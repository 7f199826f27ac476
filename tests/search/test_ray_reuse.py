"""A local Ray the library started is kept for the next search in the process, and gone after it.

Each scenario runs in its own Python process: a kept Ray belongs to its process, and what must hold
after that process exits (or is killed) can only be seen from outside.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.process_checks import describe, gone, wait_until

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watchdog reads /proc"),
]

_FAMILY = textwrap.dedent(
    """
    import psutil

    def family():
        return [(p.pid, p.create_time()) for p in psutil.Process().children(recursive=True)]
    """
)

TWO_SEARCHES = _FAMILY + textwrap.dedent(
    """
    import json
    import ray
    from ray import tune
    from pytorch_hyperlight import Runner
    from pytorch_hyperlight.search import ray_session
    from tests.models import TinyDigits, configure_dataloaders, tiny_config

    starts = []
    real_init = ray.init
    def counting_init(*args, **kwargs):
        starts.append(kwargs.get("address"))
        return real_init(*args, **kwargs)
    ray.init = counting_init

    runner = Runner(configure_dataloaders, experiment_id="reuse")
    settings = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "n_samples": 2,
                "searcher": "random", "scheduler": "fifo", "seed": 0, "verbose": 0}
    seen = []
    for _ in range(2):
        result = runner.run_hyper_opt(
            TinyDigits, tiny_config(lr=tune.loguniform(1e-3, 1e-1), max_epochs=1), settings
        )
        context = ray.get_runtime_context()
        seen.append({"gcs": context.gcs_address, "node": context.get_node_id(),
                     "kept": ray_session.library_ray_running(),
                     "statuses": result["trials"]["status"].tolist()})
    print("RESULT " + json.dumps({"seen": seen, "starts": starts, "family": family()}), flush=True)
    """
)


def _run_child(script: str, tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(PYTHONPATH=str(REPO), HYPERLIGHT_RESULTS_DIR=str(tmp_path / "runs"))
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("RESULT "):
            return child, json.loads(line[len("RESULT ") :])
    child.wait(60)
    assert child.stderr is not None
    pytest.fail(f"the child ended without a result:\n{child.stderr.read()[-3000:]}")


def _wait_all_gone(family: list[list[float]]) -> None:
    for pid, created in family:
        wait_until(
            lambda pid=int(pid), created=created: gone(pid, created),
            60,
            lambda pid=int(pid): f"left running: {describe(pid)}",
        )


def test_two_searches_in_one_process_share_one_ray_and_nothing_outlives_the_process(
    tmp_path: Path,
) -> None:
    child, result = _run_child(TWO_SEARCHES, tmp_path)
    assert child.wait(120) == 0
    first, second = result["seen"]
    assert first["statuses"] == second["statuses"] == ["done", "done"]
    assert result["starts"] == ["local"]  # ray.init once, for the first search
    assert (first["gcs"], first["node"]) == (second["gcs"], second["node"])
    assert first["kept"] and second["kept"]
    assert result["family"], "expected Ray's processes below the search's process"
    _wait_all_gone(result["family"])  # shut down at interpreter exit


SESSIONS = _FAMILY + textwrap.dedent(
    """
    import json
    import ray
    from pytorch_hyperlight.search import ray_session

    def gcs():
        return ray.get_runtime_context().gcs_address

    steps = {}
    with ray_session.ray_session(None, keep=True) as info:
        steps["first"] = [info.started_here, info.reused, gcs()]
    with ray_session.ray_session(None, keep=True) as info:
        steps["same_need"] = [info.started_here, info.reused, gcs()]
    with ray_session.ray_session(None, verbose=2, keep=True) as info:  # workers' output wanted
        steps["other_need"] = [info.started_here, info.reused, gcs()]
    ray.shutdown()  # the user shuts our Ray down and starts their own
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    with ray_session.ray_session(None, keep=True) as info:
        steps["users_ray"] = [info.started_here, info.reused, gcs()]
    ray_session.shutdown_library_ray()
    steps["users_ray_left_running"] = ray.is_initialized()
    ray.shutdown()
    with ray_session.ray_session(None, keep=True) as info:
        steps["last"] = [info.started_here, info.reused, gcs()]
    print("RESULT " + json.dumps({"steps": steps, "family": family()}), flush=True)
    """
)


def test_a_kept_ray_is_restarted_for_other_needs_and_a_users_ray_is_never_ours(
    tmp_path: Path,
) -> None:
    child, result = _run_child(SESSIONS, tmp_path)
    assert child.wait(120) == 0
    steps = result["steps"]
    assert steps["first"][:2] == [True, False]
    assert steps["same_need"] == [True, True, steps["first"][2]]
    assert steps["other_need"][:2] == [True, False] and steps["other_need"][2] != steps["first"][2]
    assert steps["users_ray"][:2] == [False, False]
    assert steps["users_ray_left_running"] is True
    assert steps["last"][:2] == [True, False]
    _wait_all_gone(result["family"])


KEPT_THEN_IDLE = _FAMILY + textwrap.dedent(
    """
    import json, time
    from pytorch_hyperlight.search import ray_session

    with ray_session.ray_session(None, keep=True):
        pass
    print(json.dumps(family()), flush=True)
    time.sleep(300)  # a notebook between two searches
    """
)


def test_a_kept_ray_is_stopped_when_its_process_is_killed(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KEPT_THEN_IDLE], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert child.stdout is not None
    family = json.loads(child.stdout.readline())
    assert family, "expected Ray's processes below the driver"
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    _wait_all_gone(family)
