"""A watchdog that stops the local Ray a search started as soon as the search's process is gone.

``ray.init()`` ties its GCS and raylet to the driver process, but the raylet's agents
(``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) outlive a driver killed with SIGKILL by a
minute or more: they first try to report the raylet's death to a GCS that is already gone.

The watchdog closes that gap. Before ``ray.init`` the driver puts a tag into its environment
(:data:`OWNER_VARIABLE`), which the GCS, the raylet and the workers inherit, and starts this file as
a small stdlib-only process in its own session, whose stdin is a pipe that only the driver holds.
However the driver ends (a normal exit, an exception, SIGKILL), the kernel closes the pipe; the
watchdog then kills every process whose environment carries the tag, and their children (the
raylet starts its agents with an environment of its own; those it saw while the driver lived, in
case the raylet exited first and left them to init), and exits. A local Ray kept between
searches (:mod:`~pytorch_hyperlight.search.ray_session`) keeps its watchdog until it is shut down.
It reads ``/proc``, so it runs on Linux only; elsewhere :func:`start_watchdog` returns None and
Ray's own clean-up applies.

It also checks every second that the driver is still there, in case something else holds the pipe.
Run as a script: ``python reaper.py <tag> <driver pid>``.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

#: Environment variable that marks the processes of a Ray started by this library.
OWNER_VARIABLE = "HYPERLIGHT_RAY_OWNER"
_PROC = Path("/proc")
_SWEEPS = 5  # a process being spawned during one sweep is caught by the next


def _stat_fields(pid: int, proc: Path = _PROC) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first); None if gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after it are plain numbers.
    return stat[stat.rindex(")") + 2 :].split()


def start_time(pid: int, proc: Path = _PROC) -> int | None:
    """When a process started (clock ticks since boot, from ``/proc/<pid>/stat``); None if gone."""
    fields = _stat_fields(pid, proc)
    return int(fields[19]) if fields and fields[0] != "Z" else None  # a zombie has ended


def tagged_pids(tag: str, proc: Path = _PROC, started_from: int = 0) -> list[int]:
    """Process ids (other than this one) whose environment holds ``OWNER_VARIABLE=tag``, and theirs.

    The children of a tagged process count as tagged: Ray's raylet starts its agents
    (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) with an environment of its own.

    Only processes of this user started at ``started_from`` or later are read (reading another
    process's environment can wait on that process; older ones cannot be this Ray's).
    """
    marker = f"{OWNER_VARIABLE}={tag}".encode()
    found = []
    parents: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            fields = _stat_fields(int(entry.name), proc)
            if not fields or fields[0] == "Z" or int(fields[19]) < started_from:
                continue
            environment = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        if marker in environment.split(b"\0"):
            found.append(int(entry.name))
    return found + _descendants(set(found), parents)


def _descendants(roots: set[int], parents: dict[int, int]) -> list[int]:
    """Processes below ``roots`` (Ray's raylet starts its agents without our environment).

    >>> _descendants({10}, {10: 1, 11: 10, 12: 11, 13: 1})
    [11, 12]
    """
    below: list[int] = []
    frontier = set(roots)
    while frontier:
        children = sorted(pid for pid, parent in parents.items() if parent in frontier)
        children = [pid for pid in children if pid not in roots and pid not in below]
        below.extend(children)
        frontier = set(children)
    return below


def kill_tagged(tag: str, proc: Path = _PROC, started_from: int = 0) -> int:
    """SIGKILL every process tagged ``tag``, sweeping until none is left; returns how many."""
    killed: set[int] = set()
    for _ in range(_SWEEPS):
        pids = [pid for pid in tagged_pids(tag, proc, started_from) if pid not in killed]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.05)
    return len(killed)


class Watchdog:
    """The driver's handle on a running watchdog process.

    Attributes:
        tag: the value of :data:`OWNER_VARIABLE` that marks this Ray's processes.
        process: the watchdog process.
    """

    def __init__(self, tag: str, process: subprocess.Popen[bytes]) -> None:
        self.tag = tag
        self.process = process

    @contextlib.contextmanager
    def tagging(self) -> Iterator[None]:
        """Within the block, processes started by this one inherit the tag (wrap ``ray.init``)."""
        previous = os.environ.get(OWNER_VARIABLE)
        os.environ[OWNER_VARIABLE] = self.tag
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(OWNER_VARIABLE, None)
            else:
                os.environ[OWNER_VARIABLE] = previous

    def stop(self, timeout_s: float = 10.0) -> None:
        """After ``ray.shutdown()``: the watchdog removes any straggler of this Ray and exits."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout_s)


def start_watchdog() -> Watchdog | None:
    """Start the watchdog for a Ray this process is about to start (None where /proc is missing)."""
    if not sys.platform.startswith("linux") or not _PROC.is_dir():
        return None
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    environment = {k: v for k, v in os.environ.items() if k != OWNER_VARIABLE}
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", str(Path(__file__).resolve()), tag, str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
        start_new_session=True,  # Ctrl-C in a terminal reaches the driver, not the watchdog
    )
    return Watchdog(tag, process)


class ProcessMemory:
    """The tagged processes and their descendants as seen while the driver lived.

    When the driver dies, Ray's raylet may exit before the watchdog looks: its agents are then
    handed to init and are no longer anybody's children, so :func:`tagged_pids` cannot find them.
    What was seen earlier (pid and start time, so a reused pid is never hit) is killed too.
    """

    def __init__(self, tag: str, started_from: int = 0, every_s: float = 2.0) -> None:
        self.tag = tag
        self.started_from = started_from
        self.every_s = every_s
        self.seen: dict[int, int] = {}
        self._last = -math.inf

    def look(self, *, now: float | None = None) -> None:
        """Remember what carries the tag now (at most every ``every_s`` seconds)."""
        now = time.monotonic() if now is None else now
        if now - self._last < self.every_s:
            return
        self._last = now
        for pid in tagged_pids(self.tag, started_from=self.started_from):
            started = start_time(pid)
            if started is not None:
                self.seen.setdefault(pid, started)

    def kill(self) -> int:
        """SIGKILL every remembered process still running (same pid, same start time)."""
        killed = 0
        for pid, started in self.seen.items():
            if start_time(pid) == started:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
        return killed


def wait_for_driver(
    driver: int, poll_s: float = 1.0, on_poll: Callable[[], None] | None = None
) -> None:
    """Return once the driver closed the pipe on our stdin or is gone (checked every ``poll_s``,
    calling ``on_poll`` each time)."""
    driver_started = start_time(driver)
    while driver_started is not None and start_time(driver) == driver_started:
        if on_poll is not None:
            on_poll()
        ready, _, _ = select.select([sys.stdin], [], [], poll_s)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            return  # the driver never writes: an empty read means it closed the pipe or died


def main(argv: list[str]) -> int:
    """Wait until the driver closes the pipe or dies, then kill what carries the tag."""
    tag, driver = argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ourselves = start_time(os.getpid()) or 0  # this Ray's processes all started after us
    memory = ProcessMemory(tag, started_from=ourselves)
    wait_for_driver(int(driver), on_poll=memory.look)
    kill_tagged(tag, started_from=ourselves)
    memory.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
