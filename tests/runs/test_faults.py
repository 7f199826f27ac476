"""Faults a long search meets: its driver interrupted or killed, a trial's worker killed.

The driver tests run the search in a subprocess (Ctrl-C and SIGKILL must hit the process that runs
Tune, and a killed driver must take its own Ray with it); the worker test uses the session's Ray.
Signals are sent from inside the trials (:class:`tests.fault_models.EventLogDigits`) at a chosen
trial and epoch, so what happens does not depend on how fast the machine is.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from pytorch_hyperlight import Runner
from tests.fault_models import (
    FAULT_SETTINGS,
    EventLogConstantMetric,
    EventLogDigits,
    fault_space,
    ordered_loaders,
    read_events,
)
from tests.process_checks import describe, gone, wait_until

REPO = Path(__file__).resolve().parents[2]

# Several whole searches per test: far beyond the default per-test limit on a busy machine.
pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(1500)]

DRIVER = textwrap.dedent(
    """
    import json, os, sys
    from pytorch_hyperlight import Runner
    from tests.fault_models import FAULT_SETTINGS, EventLogDigits, fault_space, ordered_loaders

    folder, signal_at, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "resume"
    runner = Runner(ordered_loaders, experiment_id="faults")
    space = fault_space(os.path.join(folder, "events.log"), os.getpid(), signal_at)
    # FIFO: every trial trains its 4 epochs and reaches the end of training (ASHA stops trials
    # at its last rung before that), so "finished" is logged for each.
    settings = {**FAULT_SETTINGS, "max_concurrent_trials": 2, "scheduler": "fifo",
                "results_dir": os.path.join(folder, "runs")}
    try:
        result = runner.run_hyper_opt(EventLogDigits, space, settings, resume=resume)
    except KeyboardInterrupt as interrupted:
        print("INTERRUPTED " + json.dumps(str(interrupted)), flush=True)
        sys.exit(3)
    trials = result["trials"]
    trials["key"] = [f"{n}/{lr!r}" for n, lr in zip(trials["config/n_hidden"], trials["config/lr"])]
    columns = ["trial_id", "key", "status", "epochs", "stopped_early"]
    print("RESULT " + json.dumps(trials[columns].to_dict("list")), flush=True)
    """
)


@pytest.fixture
def start_driver() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts search drivers as subprocesses; any still running when the test ends is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(folder: Path, signal_at: str, resume: bool) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("RAY_ADDRESS", None)
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(folder), signal_at, "resume" if resume else "new"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(driver)
        return driver

    yield start
    for driver in started:
        if driver.poll() is None:
            driver.kill()  # its watchdog then stops the Ray it started
            driver.wait()


def finish(driver: subprocess.Popen[str], timeout_s: float = 600) -> str:
    output, _ = driver.communicate(timeout=timeout_s)
    return output


def descendants_until_exit(driver: subprocess.Popen[str]) -> dict[int, tuple[float, str]]:
    """The driver's descendant processes (Ray's and the library's watchdog), every one seen while
    it lived: pid -> (start time, command line)."""
    seen: dict[int, tuple[float, str]] = {}
    parent = psutil.Process(driver.pid)
    while driver.poll() is None:
        current: dict[int, tuple[float, str]] = {}
        try:
            children = parent.children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:
            with contextlib.suppress(psutil.Error):
                current[child.pid] = (child.create_time(), " ".join(child.cmdline()))
        # Every one ever seen: while the driver dies, the kernel hands its children to init one
        # by one, so a last look can miss some (the watchdog is asked about each by start time).
        seen.update(current)
        time.sleep(0.2)
    return seen


def assert_the_watchdog_stopped_them(processes: dict[int, tuple[float, str]]) -> None:
    """The library's watchdog (``search/reaper.py``) exits once it has SIGKILLed the processes of
    the Ray its driver started: none of them may outlive it.

    How soon the watchdog gets there depends on how busy the machine is (under a load of 25 it
    once took more than 30 s), so waiting for it is only a hang guard; what is asserted is the
    order: when the watchdog is done, the Ray it watched is gone (10 s for the kernel to finish
    the SIGKILLed processes). Without the watchdog, Ray's agents outlive a killed driver by a
    minute or more.
    """
    watchdogs = [pid for pid, (_, command) in processes.items() if "reaper.py" in command]
    assert len(watchdogs) == 1, processes
    (watchdog,) = watchdogs
    ray_processes = {pid: created for pid, (created, _) in processes.items() if pid != watchdog}
    assert len(ray_processes) >= 3, processes  # at least the GCS, the raylet and its agents
    started = processes[watchdog][0]
    wait_until(lambda: gone(watchdog, started), 600, "the watchdog finished")
    for pid, created in ray_processes.items():
        wait_until(
            lambda pid=pid, c=created: gone(pid, c), 10, lambda pid=pid: f"stopped: {describe(pid)}"
        )


def result_of(output: str) -> dict[str, list[Any]]:
    line = next((x for x in output.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, output[-4000:]
    return json.loads(line[len("RESULT ") :])


def test_a_search_survives_ctrl_c_then_sigkill_of_its_driver(start_driver, tmp_path) -> None:
    """Ctrl-C in the 3rd fit or later, resume; SIGKILL in the 7th fit or later, resume; done.

    There are at least seven fits and the seventh is in the second run: six trials, one of them
    interrupted by Ctrl-C.

    Every trial appears once in the final table, no trial starts again after it finished, and the
    Ray the killed driver started is gone once the library's watchdog has done its work (without
    it, Ray's agents outlive the driver by a minute or more).
    """
    # Two fits run at once, so the third starts only after one of the first two ended.
    first = start_driver(tmp_path, "3:0:SIGINT:driver", resume=False)
    output = finish(first)
    assert first.returncode == 3 and "INTERRUPTED" in output and "resume=" in output, output[-4000:]

    second = start_driver(tmp_path, "7:0:SIGKILL:driver", resume=True)
    processes = descendants_until_exit(second)
    finish(second)
    assert second.returncode == -9
    assert_the_watchdog_stopped_them(processes)

    third = start_driver(tmp_path, "", resume=True)
    final = result_of(finish(third))
    assert third.returncode == 0

    assert len(final["trial_id"]) == len(set(final["trial_id"])) == FAULT_SETTINGS["n_samples"]
    assert len(set(final["key"])) == FAULT_SETTINGS["n_samples"]
    assert set(final["status"]) <= {"done", "stopped"}  # none failed
    events = list(read_events(tmp_path / "events.log"))
    signals = [event for event, _, _ in events if event.startswith("signal-")]
    assert signals == ["signal-SIGINT-driver", "signal-SIGKILL-driver"]
    finished: set[str] = set()
    for event, key, _ in events:
        assert not (event == "start" and key in finished), f"{key} trained again after it finished"
        if event == "finished":
            finished.add(key)
    assert finished  # the check above had something to check
    assert finished <= set(final["key"])  # nothing that finished was lost
    assert final["epochs"] == [4] * FAULT_SETTINGS["n_samples"]


def test_a_trial_whose_worker_is_killed_is_retried_from_its_checkpoint(ray_cluster, tmp_path):
    """SIGKILL of a trial's worker process at the end of its epoch 1 (the first trial to get
    there), max_failures=1."""
    log_file = tmp_path / "events.log"
    settings = {**FAULT_SETTINGS, "n_samples": 3, "scheduler": "fifo", "max_failures": 1,
                "max_concurrent_trials": 2}  # fmt: skip
    runner = Runner(ordered_loaders)
    space = fault_space(log_file, os.getpid(), "*:1:SIGKILL:self")
    result = runner.run_hyper_opt(EventLogDigits, space, settings)

    trials = result["trials"]
    assert len(trials) == 3 and set(trials["status"]) <= {"done", "stopped"}, result["errors"]
    assert trials["epochs"].tolist() == [4, 4, 4]
    events = list(read_events(log_file))
    killed = next((key for event, key, _ in events if event == "signal-SIGKILL-self"), None)
    assert killed is not None, events
    starts = Counter(key for event, key, _ in events if event == "start")
    assert starts[killed] == 2 and sorted(starts.values()) == [1, 1, 2]  # only it was retried
    killed_epochs = Counter(e for event, key, e in events if (event, key) == ("epoch", killed))
    assert killed_epochs[0] == 1, killed_epochs  # continued from a checkpoint, not from epoch 0


def test_a_retried_trial_trains_again_only_the_epochs_after_its_last_checkpoint(
    ray_cluster, tmp_path
) -> None:
    """Checkpoints only on improvement (``val_const`` improves at epoch 0 alone): the worker killed
    at the end of epoch 2 continues from epoch 0's checkpoint, trains epochs 1 and 2 again, and
    each epoch is one row of the trial's history."""
    from pytorch_hyperlight.search.results import CHECKPOINT_SCORE

    log_file = tmp_path / "events.log"
    settings = {**FAULT_SETTINGS, "n_samples": 1, "scheduler": "fifo", "max_failures": 1,
                "metric_to_optimize": "val_const", "checkpoint_every_s": None}  # fmt: skip
    runner = Runner(ordered_loaders)
    space = fault_space(log_file, os.getpid(), "*:2:SIGKILL:self")
    result = runner.run_hyper_opt(EventLogConstantMetric, space, settings)

    trials = result["trials"]
    assert trials["status"].tolist() == ["done"], result["errors"]
    assert trials["epochs"].tolist() == [4]
    events = list(read_events(log_file))
    assert [event for event, _, _ in events].count("signal-SIGKILL-self") == 1, events
    trained = Counter(epoch for event, _, epoch in events if event == "epoch")
    assert trained == {0: 1, 1: 2, 2: 2, 3: 1}, trained
    (history,) = result["trial_metrics"].values()
    assert history.df.query("stage == 'val'")["epoch"].tolist() == [0, 1, 2, 3]
    reports = result["result_grid"][0].metrics_dataframe
    with_checkpoint = reports.dropna(subset=[CHECKPOINT_SCORE])["epoch"]
    assert sorted(set(with_checkpoint)) == [0, 3]  # epoch 0 (the best) and the last one
