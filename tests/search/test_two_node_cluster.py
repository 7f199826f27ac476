"""A real two-node Ray cluster on one machine: a search across both nodes, the pre-flight, a node lost.

The cluster lives in a private network and PID namespace (``unshare -n -p -f --mount-proc``, only
loopback, brought up inside): a head node on 127.0.0.2 and a worker node on 127.0.0.3 (Ray rewrites
127.0.0.1, not these). The worker node runs in its own mount namespace with empty tmpfs mounted over
two folders, so that one folder of results and one folder of user code exist for the head node and
the driver only: the two classic multi-node failures, reproduced. The driver runs inside the same
namespaces, as a subprocess that prints its outcome. ``ray stop`` runs inside the namespace only
(outside it would stop every Ray on the machine); ending the namespace's first process ends the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.fault_models import read_events

REPO = Path(__file__).resolve().parents[2]
HEAD, WORKER, PORT = "127.0.0.2", "127.0.0.3", 6379
RAY = str(Path(sys.executable).with_name("ray"))

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.timeout(1200),  # a cluster and whole searches: slow on a busy machine
    pytest.mark.skipif(
        not sys.platform.startswith("linux")
        or os.geteuid() != 0
        or not all(shutil.which(tool) for tool in ("unshare", "nsenter", "ip", "mount")),
        reason="needs Linux, root and util-linux/iproute2 to build private namespaces",
    ),
]

#: PID 1 of the namespace: reaps every orphan, so stopped Ray processes do not linger as zombies.
NAMESPACE_INIT = textwrap.dedent(
    """
    import os, time
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(0.2)
    """
)

USER_LAYERS = "def width(n_hidden):\n    return n_hidden\n"
USER_MODELS = textwrap.dedent(
    """
    from tests.fault_models import EventLogDigits
    from user_layers import width  # a second module of the user's: imported, never shipped


    class UserDigits(EventLogDigits):
        def __init__(self, lr, n_hidden, log_file, driver_pid, signal_at=""):
            super().__init__(lr, width(n_hidden), log_file, driver_pid, signal_at)
    """
)

DRIVER = textwrap.dedent(
    """
    import importlib, json, os, sys, time
    args = json.loads(sys.argv[1])
    from pytorch_hyperlight import HyperlightError, Runner
    from tests.fault_models import EventLogDigits, fault_space, ordered_loaders

    module_class = getattr(importlib.import_module(args["module"]), args["class"])
    runner = Runner(ordered_loaders, experiment_id="two-nodes")
    space = fault_space(args["log_file"], os.getpid(), args["signal_at"], max_epochs=3)
    settings = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "seed": 0,
                "searcher": "random", "scheduler": "fifo", "n_samples": args["n_samples"],
                "max_failures": args["max_failures"], "cpu_per_trial": 1, "verbose": 1,
                "ray_address": args["address"], "results_dir": args["results_dir"]}
    started = time.monotonic()
    try:
        result = runner.run_hyper_opt(module_class, space, settings)
    except HyperlightError as error:
        print("ERROR " + json.dumps({"type": type(error).__name__, "message": str(error),
                                     "seconds": round(time.monotonic() - started, 1)}))
        sys.exit(4)
    trials = result["trials"]
    trials["key"] = [f"{n}/{lr!r}" for n, lr in zip(trials["config/n_hidden"], trials["config/lr"])]
    stages = result["metrics"].df["stage"].unique().tolist()
    print("RESULT " + json.dumps({
        "trials": trials[["trial_id", "key", "status", "epochs", "node"]].to_dict("list"),
        "stages": stages, "run_dir": str(result["run_dir"]),
        "best_checkpoint": str(result["best_checkpoint_path"]),
    }))
    """
)


@dataclass
class TwoNodeCluster:
    """Handles on the running cluster and its folders."""

    namespace_pid: int
    base: Path

    @property
    def address(self) -> str:
        return f"{HEAD}:{PORT}"

    @property
    def shared(self) -> Path:  # seen by every node
        return self.base / "shared"

    @property
    def private(self) -> Path:  # an empty tmpfs on the worker node
        return self.base / "private"

    @property
    def code(self) -> Path:  # the user's code; an empty tmpfs on the worker node
        return self.base / "code"

    def enter(self, *command: str) -> list[str]:
        """``command`` run inside the cluster's network, PID and mount namespaces."""
        return ["nsenter", "-t", str(self.namespace_pid), "-n", "-p", "-m", f"--wd={REPO}",
                *command]  # fmt: skip

    def run_driver(self, timeout_s: float = 500, **args: Any) -> tuple[int, str]:
        """Run a search in a driver inside the namespaces; its exit code and output."""
        defaults = {"module": "tests.fault_models",
                    "class": "EventLogDigits", "signal_at": "", "n_samples": 4,
                    "max_failures": 0, "address": self.address,
                    "log_file": str(self.shared / "events.log"),
                    "results_dir": str(self.shared / "runs")}  # fmt: skip
        done = subprocess.run(
            self.enter(sys.executable, "-c", DRIVER, json.dumps({**defaults, **args})),
            env=ray_environment(self.base, driver=True),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        return done.returncode, done.stdout + done.stderr

    def raylets(self) -> dict[str, psutil.Process]:
        """The running raylets by node address."""
        found = {}
        for process in psutil.Process(self.namespace_pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                command = " ".join(process.cmdline())
                if process.name() == "raylet":
                    for address in (HEAD, WORKER):
                        if f"--node_ip_address={address}" in command:
                            found[address] = process
        return found


def ray_environment(base: Path, driver: bool = False) -> dict[str, str]:
    """Environment for ``ray start`` and the driver: the repository and the user's code folder on the
    path of every Ray worker (so only a node that cannot see the folder lacks the code)."""
    python_path = os.pathsep.join([str(REPO), str(base / "code")])
    env = dict(os.environ, PYTHONPATH=python_path, RAY_AUTH_MODE="disabled",
               RAY_USAGE_STATS_ENABLED="0")  # fmt: skip
    env.pop("RAY_ADDRESS", None)
    if not driver:  # a worker node started with it cannot join
        env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    return env


def output_line(output: str, prefix: str) -> dict[str, Any]:
    line = next((x for x in output.splitlines() if x.startswith(prefix + " ")), None)
    assert line is not None, output[-5000:]
    return json.loads(line[len(prefix) + 1 :])


def _start_node(cluster: TwoNodeCluster, command: list[str]) -> None:
    done = subprocess.run(
        cluster.enter(*command),
        env=ray_environment(cluster.base),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[TwoNodeCluster]:
    base = Path(tempfile.mkdtemp(prefix="hl2n-", dir="/tmp"))  # short: Ray's socket paths
    for folder in ("shared", "private", "code", "ray"):
        (base / folder).mkdir()
    (base / "code" / "user_layers.py").write_text(USER_LAYERS)
    (base / "code" / "user_models.py").write_text(USER_MODELS)
    keeper = subprocess.Popen(
        ["unshare", "-n", "-p", "-f", "--mount-proc", sys.executable, "-c", NAMESPACE_INIT],
        start_new_session=True,
    )
    namespace_pid = None
    try:
        deadline = time.monotonic() + 30
        while not psutil.Process(keeper.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        namespace_pid = psutil.Process(keeper.pid).children()[0].pid
        cluster = TwoNodeCluster(namespace_pid, base)
        subprocess.run(cluster.enter("ip", "link", "set", "lo", "up"), check=True)
        _start_node(cluster, [
            RAY, "start", "--head", f"--node-ip-address={HEAD}", f"--port={PORT}",
            "--num-cpus=1", "--num-gpus=0", "--include-dashboard=false",
            "--disable-usage-stats", f"--temp-dir={base / 'ray'}",
        ])  # fmt: skip
        hide = f"mount -t tmpfs tmpfs {cluster.private} && mount -t tmpfs tmpfs {cluster.code}"
        _start_node(cluster, [
            "unshare", "-m", "sh", "-c",
            f"{hide} && exec {RAY} start --address={cluster.address} "
            f"--node-ip-address={WORKER} --num-cpus=1 --num-gpus=0 --disable-usage-stats",
        ])  # fmt: skip
        yield cluster
    finally:
        if namespace_pid is not None:
            with contextlib.suppress(Exception):  # inside the namespace: only this cluster
                subprocess.run(
                    TwoNodeCluster(namespace_pid, base).enter(RAY, "stop", "--force"),
                    env=ray_environment(base), capture_output=True, timeout=60,
                )  # fmt: skip
            with contextlib.suppress(OSError):
                os.kill(namespace_pid, signal.SIGKILL)  # the namespace's PID 1: ends the rest
        with contextlib.suppress(subprocess.TimeoutExpired):
            keeper.wait(30)
        if keeper.poll() is None:
            keeper.kill()
            keeper.wait()
        shutil.rmtree(base, ignore_errors=True)


def test_a_search_runs_trials_on_both_nodes_and_leaves_the_cluster_running(two_nodes) -> None:
    code, output = two_nodes.run_driver()
    assert code == 0, output[-5000:]
    result = output_line(output, "RESULT")
    trials = result["trials"]
    assert trials["status"] == ["done"] * 4
    assert set(trials["node"]) == {HEAD, WORKER}  # the table says where each trial ran
    run_dir = Path(result["run_dir"])
    assert run_dir.is_relative_to(two_nodes.shared)  # everything under the shared storage
    for trial_id in trials["trial_id"]:
        assert list((run_dir / "tune" / f"trial_{trial_id}").glob("checkpoint_*/checkpoint.ckpt"))
    assert Path(result["best_checkpoint"]).is_file()
    assert {"reval", "test"} <= set(result["stages"])  # the best model re-validated in the driver
    assert set(two_nodes.raylets()) == {HEAD, WORKER}  # the cluster the user started runs on


def test_storage_a_node_does_not_share_is_one_error_naming_it_before_trial_1(two_nodes) -> None:
    code, output = two_nodes.run_driver(
        results_dir=str(two_nodes.private / "runs"),
        log_file=str(two_nodes.private / "events.log"),
    )
    assert code == 4, output[-5000:]
    error = output_line(output, "ERROR")
    assert error["type"] == "ConfigError"
    print(f"storage pre-flight error after {error['seconds']} s")  # reported, never asserted
    assert f"node {WORKER} does not share the storage" in error["message"]
    assert f"node {HEAD}" not in error["message"]
    assert "results_dir" in error["message"] and "no trial was started" in error["message"]
    assert not list(read_events(two_nodes.private / "events.log"))  # no trial trained
    assert not list(two_nodes.private.glob("runs/*/*/tune"))


def test_code_a_node_cannot_import_is_one_error_naming_it_before_trial_1(two_nodes) -> None:
    log_file = two_nodes.shared / "user-code-events.log"
    code, output = two_nodes.run_driver(
        module="user_models", **{"class": "UserDigits"}, log_file=str(log_file)
    )
    assert code == 4, output[-5000:]
    error = output_line(output, "ERROR")
    assert error["type"] == "ConfigError"
    print(f"code pre-flight error after {error['seconds']} s")  # reported, never asserted
    message = error["message"]
    assert f"node {WORKER} cannot load the module class" in message
    assert "No module named 'user_layers'" in message
    assert "register_pickle_by_value" in message and f"node {HEAD}" not in message
    assert not list(read_events(log_file))  # no trial trained


def test_trials_of_a_worker_node_that_dies_are_retried_on_the_other_node(two_nodes) -> None:
    """A trial on the worker node takes that node down (its raylet and its own worker) at the end
    of its epoch 1."""
    log_file = two_nodes.shared / "node-lost-events.log"
    code, output = two_nodes.run_driver(
        signal_at=f"*:1:SIGKILL:node@{WORKER}", max_failures=2, log_file=str(log_file)
    )
    assert code == 0, output[-5000:]
    trials = output_line(output, "RESULT")["trials"]
    assert trials["status"] == ["done"] * 4 and trials["epochs"] == [3] * 4
    events = list(read_events(log_file))
    lost = next(key for event, key, _ in events if event.startswith("signal-"))
    node_of = dict(zip(trials["key"], trials["node"]))
    assert node_of[lost] == HEAD  # retried, and finished, on the node that is left
    assert WORKER not in two_nodes.raylets()
