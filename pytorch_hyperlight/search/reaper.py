"""A watchdog that stops the local Ray a search started as soon as the search's process is gone.

``ray.init()`` ties its GCS and raylet to the driver process, but the raylet's agents
(``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) outlive a driver killed with SIGKILL by a
minute or more: they first try to report the raylet's death to a GCS that is already gone.

The watchdog closes that gap. Before ``ray.init`` the driver puts a tag into its environment
(:data:`OWNER_VARIABLE`), which every process Ray starts inherits, and starts this file as a small
stdlib-only process in its own session, whose stdin is a pipe that only the driver holds. However the
driver ends (a normal exit, an exception, SIGKILL), the kernel closes the pipe; the watchdog then
kills every process whose environment carries the tag and exits. It reads ``/proc``, so it runs on
Linux only; elsewhere :func:`start_watchdog` returns None and Ray's own clean-up applies.

Run as a script: ``python reaper.py <tag>``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

#: Environment variable that marks the processes of a Ray started by this library.
OWNER_VARIABLE = "HYPERLIGHT_RAY_OWNER"
_PROC = Path("/proc")
_SWEEPS = 5  # a process being spawned during one sweep is caught by the next


def tagged_pids(tag: str, proc: Path = _PROC) -> list[int]:
    """Process ids (other than this one) whose environment holds ``OWNER_VARIABLE=tag``."""
    marker = f"{OWNER_VARIABLE}={tag}".encode()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or another user's
            continue
        if marker in environment.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_tagged(tag: str, proc: Path = _PROC) -> int:
    """SIGKILL every process tagged ``tag``, sweeping until none is left; returns how many."""
    killed: set[int] = set()
    for _ in range(_SWEEPS):
        pids = [pid for pid in tagged_pids(tag, proc) if pid not in killed]
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
        [sys.executable, "-I", "-S", str(Path(__file__).resolve()), tag],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
        start_new_session=True,  # Ctrl-C in a terminal reaches the driver, not the watchdog
    )
    return Watchdog(tag, process)


def main(argv: list[str]) -> int:
    """Wait until the driver closes the pipe (or dies), then kill what carries the tag."""
    (tag,) = argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass  # the driver never writes; a read returns nothing once it is gone
    kill_tagged(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
