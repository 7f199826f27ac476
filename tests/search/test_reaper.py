"""The watchdog that removes a library-started Ray when its driver dies (no Ray needed here: the
processes it must stop are stand-ins that carry the tag the way Ray's processes inherit it)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from pytorch_hyperlight.search import reaper
from tests.process_checks import gone, wait_until

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_tagged_processes_are_found_by_their_environment_and_killed() -> None:
    tag = "test-tag-1"
    tagged = subprocess.Popen(["sleep", "300"], env={**os.environ, reaper.OWNER_VARIABLE: tag})
    untagged = subprocess.Popen(["sleep", "300"])
    try:
        found = reaper.tagged_pids(tag)
        assert tagged.pid in found and untagged.pid not in found
        assert reaper.kill_tagged(tag) == 1
        assert tagged.wait(10) == -signal.SIGKILL
        assert untagged.poll() is None  # an untagged process is never touched
    finally:
        for process in (tagged, untagged):
            process.kill()
            process.wait()


def test_tagging_marks_only_processes_started_inside_the_block() -> None:
    watchdog = reaper.start_watchdog()
    assert watchdog is not None
    try:
        with watchdog.tagging():
            inside = subprocess.Popen(["sleep", "300"])
        outside = subprocess.Popen(["sleep", "300"])
        assert reaper.OWNER_VARIABLE not in os.environ
        assert reaper.tagged_pids(watchdog.tag) == [inside.pid]
    finally:
        watchdog.stop()
    assert inside.wait(10) == -signal.SIGKILL  # a straggler after a normal stop is removed too
    assert watchdog.process.returncode == 0
    outside.kill()
    outside.wait()


DRIVER = textwrap.dedent(
    """
    import json, subprocess, sys, time
    from pytorch_hyperlight.search import reaper

    watchdog = reaper.start_watchdog()
    with watchdog.tagging():  # where ray.init would start Ray's processes
        child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    print(json.dumps({"child": child.pid, "watchdog": watchdog.process.pid}), flush=True)
    time.sleep(300)
    """
)


def test_processes_of_a_driver_killed_with_sigkill_are_stopped_within_seconds() -> None:
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert driver.stdout is not None
    pids = json.loads(driver.stdout.readline())
    created = {name: psutil.Process(pid).create_time() for name, pid in pids.items()}
    assert not gone(pids["child"], created["child"])
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    for name, pid in pids.items():
        wait_until(lambda pid=pid, name=name: gone(pid, created[name]), 30, f"the {name} stopped")


HELD_PIPE_DRIVER = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from pytorch_hyperlight.search import reaper

    watchdog = reaper.start_watchdog()
    with watchdog.tagging():
        child = subprocess.Popen(["sleep", "300"])
    holder = os.fork()  # a forked process keeps every open file: the pipe to the watchdog too
    if holder == 0:
        time.sleep(300)
        os._exit(0)
    print(json.dumps({"child": child.pid, "holder": holder}), flush=True)
    time.sleep(300)
    """
)


def test_the_watchdog_notices_a_dead_driver_even_while_another_process_holds_its_pipe() -> None:
    driver = subprocess.Popen(
        [sys.executable, "-c", HELD_PIPE_DRIVER], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert driver.stdout is not None
    pids = json.loads(driver.stdout.readline())
    created = psutil.Process(pids["child"]).create_time()
    try:
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
        wait_until(lambda: gone(pids["child"], created), 30, "the tagged child stopped")
    finally:
        os.kill(pids["holder"], signal.SIGKILL)


def test_children_of_a_tagged_process_are_killed_even_without_the_tag() -> None:
    """Ray's raylet starts its agents with an environment of its own: they count as tagged."""
    tag = "test-tag-children"
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD_WITHOUT_TAG],
        env={**os.environ, reaper.OWNER_VARIABLE: tag},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    created = psutil.Process(child).create_time()
    try:
        assert reaper.OWNER_VARIABLE.encode() not in Path(f"/proc/{child}/environ").read_bytes()
        assert set(reaper.tagged_pids(tag)) == {parent.pid, child}
        assert reaper.kill_tagged(tag) == 2
        assert parent.wait(10) == -signal.SIGKILL
        wait_until(lambda: gone(child, created), 10, "the untagged child stopped")
    finally:
        parent.kill()
        parent.wait()


def test_an_agent_left_to_init_when_its_tagged_parent_exits_first_is_still_killed() -> None:
    """The raylet may exit before the watchdog looks; its agents are remembered from earlier looks."""
    tag = "test-tag-orphan"
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD_WITHOUT_TAG],
        env={**os.environ, reaper.OWNER_VARIABLE: tag},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    created = psutil.Process(child).create_time()
    try:
        memory = reaper.ProcessMemory(tag)
        memory.look(now=0.0)  # a look while the driver lives
        assert set(memory.seen) == {parent.pid, child}
        parent.kill()  # the "raylet" goes first; its untagged "agent" is left to init
        parent.wait(10)
        assert child not in reaper.tagged_pids(tag)  # nothing ties it to the tag any more
        assert reaper.kill_tagged(tag) == 0
        assert memory.kill() == 1
        wait_until(lambda: gone(child, created), 10, "the orphaned agent stopped")
    finally:
        parent.kill()
        parent.wait()
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_a_memory_looks_at_most_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[str] = []
    monkeypatch.setattr(reaper, "tagged_pids", lambda tag, **_: scans.append(tag) or [])
    memory = reaper.ProcessMemory("test-tag-none", every_s=2.0)
    for now in (10.0, 11.0, 11.9, 12.0, 13.5, 14.1):
        memory.look(now=now)
    assert len(scans) == 3  # at 10, 12 and 14.1


CHILD_WITHOUT_TAG = textwrap.dedent(
    """
    import subprocess, time
    child = subprocess.Popen(["sleep", "300"], env={"PATH": "/usr/bin:/bin"})
    print(child.pid, flush=True)
    time.sleep(300)
    """
)
