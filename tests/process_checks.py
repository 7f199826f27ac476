"""Polling helpers for tests that wait for processes to end (no fixed sleep decides an outcome)."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil
import pytest


def gone(pid: int, created: float) -> bool:
    """True once the process no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        process = psutil.Process(pid)
        return process.create_time() != created or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Poll ``condition`` (no fixed sleep decides the outcome); fail after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {deadline_s} s: {what}")
        time.sleep(0.1)
