"""Ray's lifecycle: environment defaults, addresses, and a search on an existing head node."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytorch_hyperlight.errors import ConfigError, RayConnectionError
from pytorch_hyperlight.search import ray_session

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- unit tests ------------------------------------------------------------------------------------
def test_configure_environment_sets_defaults_but_keeps_the_users_values(monkeypatch) -> None:
    monkeypatch.delenv("RAY_USAGE_STATS_ENABLED", raising=False)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    ray_session.configure_environment()
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    assert os.environ["RAY_AUTH_MODE"] == "token"


def test_resolve_address_prefers_the_setting_then_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert ray_session.resolve_address(None) == "10.0.0.1:6379"
    assert ray_session.resolve_address("127.0.0.1:1234") == "127.0.0.1:1234"
    assert ray_session.resolve_address("local") is None
    monkeypatch.delenv("RAY_ADDRESS")
    assert ray_session.resolve_address(None) is None


def test_parse_host_port_accepts_ray_client_addresses_and_rejects_garbage() -> None:
    assert ray_session.parse_host_port("ray://head:10001") == ("head", 10001)
    assert ray_session.parse_host_port("[::1]:6379") == ("::1", 6379)
    with pytest.raises(ConfigError, match="must look like 'host:port'"):
        ray_session.parse_host_port("localhost")


def test_check_reachable_raises_a_clear_error_when_nothing_listens() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(RayConnectionError, match="No Ray cluster answers") as caught:
        ray_session.check_reachable(address)
    assert address in str(caught.value) and "ray start --head" in str(caught.value)


def test_check_reachable_accepts_a_listening_port() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        ray_session.check_reachable(f"127.0.0.1:{server.getsockname()[1]}")


# --- an existing head node -------------------------------------------------------------------------
def _session_members(session_id: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == session_id:
                    members.append(int(entry))
            except OSError:
                continue
    return members


@pytest.fixture
def head_node() -> Iterator[str]:
    """A Ray head node on loopback with 3 CPUs, in its own process session; stopped by its ids."""
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="hl-head-")  # short: Ray's socket paths have a length limit
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0",
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")  # fmt: skip
    ray_cli = Path(sys.executable).with_name("ray")
    command = [
        str(ray_cli), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
        "--include-dashboard=false", "--num-cpus=3", "--num-gpus=0", f"--temp-dir={temp_dir}",
        "--disable-usage-stats", "--block",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    started = threading.Event()
    output: list[str] = []

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "Ray runtime started" in line:
                started.set()

    threading.Thread(target=read_output, daemon=True).start()
    try:
        if not started.wait(90):
            pytest.fail("ray start did not come up:\n" + "".join(output[-30:]))
        yield f"127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(45)
        for pid in _session_members(process.pid):  # anything left of this node only
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)


SEARCH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from ray import tune
    from pytorch_hyperlight import Runner
    from tests.models import TinyDigits, configure_dataloaders, tiny_config

    runner = Runner(configure_dataloaders, experiment_id="head-node")
    result = runner.run_hyper_opt(
        TinyDigits,
        tiny_config(lr=tune.loguniform(1e-3, 1e-1)),
        {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "n_samples": 3,
         "searcher": "random", "scheduler": "fifo", "seed": 0, "ray_address": sys.argv[1]},
    )
    import ray
    print("RESULT " + json.dumps({
        "statuses": result["trials"]["status"].tolist(),
        "test_acc": float(result["metrics_last"]["test_acc"]),
        "ray_still_initialized": ray.is_initialized(),
    }))
    """
)


@pytest.mark.ray
@pytest.mark.slow
def test_search_runs_on_an_existing_head_node_given_by_ray_address(head_node, tmp_path) -> None:
    """A driver can join one cluster only, so the search runs in its own process."""
    script = tmp_path / "search_on_head.py"
    script.write_text(SEARCH_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO), HYPERLIGHT_RESULTS_DIR=str(tmp_path / "runs"))
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, str(script), head_node],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # 3 at a time: the head node's 3 CPUs (this machine has fewer), so the search used that cluster
    assert "3 trials, random + fifo, 3 at a time" in done.stdout
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    assert result["statuses"] == ["done"] * 3
    assert 0.0 < result["test_acc"] <= 1.0
    assert result["ray_still_initialized"] is False  # the driver disconnected after the search


def test_unreachable_ray_address_in_the_environment_raises_before_connecting(monkeypatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    session = ray_session.ray_session(None)
    with pytest.raises(RayConnectionError, match="No Ray cluster answers"):
        session.__enter__()
