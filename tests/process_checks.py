"""Polling helpers for tests that wait for processes to end (no fixed sleep decides an outcome)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest


def gone(pid: int, created: float) -> bool:
    """True once the process no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        process = psutil.Process(pid)
        return process.create_time() != created or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(
    condition: Callable[[], bool], deadline_s: float, what: str | Callable[[], str]
) -> None:
    """Poll ``condition`` (no fixed sleep decides the outcome); fail after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {deadline_s} s: {what() if callable(what) else what}")
        time.sleep(0.1)


def describe(pid: int) -> str:
    """What a process is and is doing (for a failure message)."""
    try:
        process = psutil.Process(pid)
        wchan = Path(f"/proc/{pid}/wchan")
        waiting = wchan.read_text() if wchan.exists() else "?"
        command = " ".join(process.cmdline())[:200]
        return f"{pid} {process.name()} ({process.status()}, waiting in {waiting}): {command}"
    except (psutil.Error, OSError) as error:
        return f"{pid}: {error}"
