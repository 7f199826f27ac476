"""CPU and memory of a process tree, sampled from outside (psutil), and running a side in a child.

:func:`run_sampled` starts a benchmark side as a child process (a fresh interpreter: clean imports,
its own Ray, its own peak memory) and samples the child and all its descendants every
``interval_s`` seconds. Each process is classified once, when first seen:

- ``driver``: the child itself (the process that called ``run_hyper_opt`` or ``study.optimize``);
- ``trial worker``: a Ray worker (``ray::...`` title or ``default_worker.py``) or an Optuna worker
  process (``multiprocessing`` spawn);
- ``ray system``: Ray's own daemons (``gcs_server``, ``raylet``, the dashboard and runtime-env
  agents, the log monitor);
- ``other``: anything else (``multiprocessing``'s resource tracker).

:meth:`Samples.cpu_seconds` then says how much CPU each kind used between two moments, so the driver's
share of the machine while trials run comes from the same samples as the workers'.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

DRIVER = "driver"
TRIAL_WORKER = "trial worker"
RAY_SYSTEM = "ray system"
OTHER = "other"
_WORKER_MARKERS = ("default_worker.py", "setup_worker.py", "spawn_main")
_RAY_DAEMONS = ("gcs_server", "raylet", "log_monitor", "dashboard", "agent", "monitor.py")


def classify(command: Sequence[str], name: str) -> str:
    """The kind of a descendant process from its command line and name.

    >>> classify(["ray::ImplicitFunc.train"], "ray::ImplicitF")
    'trial worker'
    >>> classify(["python", "default_worker.py", "--raylet-name=/tmp/x"], "python")
    'trial worker'
    >>> classify(["ray::DashboardAgent"], "ray::Dashboard")
    'ray system'
    >>> classify(["/x/gcs_server", "--port=1"], "gcs_server")
    'ray system'
    >>> classify(["python", "-c", "from multiprocessing.spawn import spawn_main; spawn_main()"], "python")
    'trial worker'
    """
    text = " ".join(command) or name
    if text.startswith("ray::"):
        return RAY_SYSTEM if text.split()[0].endswith("Agent") else TRIAL_WORKER
    if any(marker in text for marker in _WORKER_MARKERS):
        return TRIAL_WORKER
    if any(daemon in text for daemon in _RAY_DAEMONS):
        return RAY_SYSTEM
    return OTHER


@dataclass
class Samples:
    """What the sampler saw: per process, its kind and ``(time, cpu seconds, rss bytes)`` rows."""

    kinds: dict[int, str] = field(default_factory=dict)
    rows: dict[int, list[tuple[float, float, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    created: dict[int, float] = field(default_factory=dict)
    #: psutil's creation times rest on the boot time in whole seconds: this much too late.
    clock_offset: float = 0.0

    def cpu_seconds(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds each kind used between ``start`` and ``end`` (linear between samples)."""
        used: dict[str, float] = defaultdict(float)
        for pid, rows in self.rows.items():
            created = self.created[pid] - self.clock_offset
            used[self.kinds[pid]] += _cumulative(rows, created, end) - _cumulative(
                rows, created, start
            )
        return dict(used)

    def peak_rss(self) -> dict[str, int]:
        """Largest sampled RSS of one process of each kind, and the largest sampled total."""
        peaks: dict[str, int] = defaultdict(int)
        totals: dict[float, int] = defaultdict(int)
        for pid, rows in self.rows.items():
            for moment, _, rss in rows:
                peaks[self.kinds[pid]] = max(peaks[self.kinds[pid]], rss)
                totals[round(moment, 1)] += rss
        peaks["total"] = max(totals.values(), default=0)
        return dict(peaks)

    def first_created(self, kind: str) -> list[float]:
        """Creation times (``time.time()`` clock) of the processes of one kind, earliest first."""
        return sorted(
            self.created[pid] - self.clock_offset for pid, k in self.kinds.items() if k == kind
        )


def _cumulative(rows: list[tuple[float, float, int]], created: float, moment: float) -> float:
    """A process's CPU seconds used up to ``moment``: 0 at its creation, linear between samples.

    >>> _cumulative([(10.0, 2.0, 0), (12.0, 4.0, 0)], 9.0, 11.0), _cumulative([(10.0, 2.0, 0)], 9.0, 8.0)
    (3.0, 0.0)
    """
    points = [(created, 0.0), *((moment_, cpu) for moment_, cpu, _ in rows)]
    if moment <= created:
        return 0.0
    for (t0, c0), (t1, c1) in itertools.pairwise(points):
        if moment <= t1:
            return c0 + (c1 - c0) * (moment - t0) / (t1 - t0) if t1 > t0 else c1
    return points[-1][1]


class TreeSampler:
    """Samples a process and its descendants in a background thread until :meth:`stop`."""

    def __init__(self, pid: int, interval_s: float = 0.25, launched: float | None = None) -> None:
        self.root = psutil.Process(pid)
        self.interval_s = interval_s
        self.samples = Samples()
        if launched is not None:  # the root's creation time as time.time() saw it
            self.samples.clock_offset = self.root.create_time() - launched
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> Samples:
        self._stop.set()
        self._thread.join()
        return self.samples

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample_once()
            self._stop.wait(self.interval_s)

    def _sample_once(self) -> None:
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        now = time.time()
        for process in processes:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    rss = process.memory_info().rss
                    if process.pid not in self.samples.kinds:
                        kind = (
                            DRIVER
                            if process.pid == self.root.pid
                            else classify(process.cmdline(), process.name())
                        )
                        self.samples.kinds[process.pid] = kind
                        self.samples.created[process.pid] = process.create_time()
            except psutil.Error:
                continue
            cpu = times.user + times.system
            self.samples.rows[process.pid].append((now, cpu, rss))


def run_sampled(
    script: Path, arguments: Sequence[str], *, timeout_s: float, interval_s: float = 0.25
) -> tuple[dict[str, Any], Samples]:
    """Run ``python script arguments --out FILE`` in a child, sampled; return its JSON and samples.

    The child's output goes to this process's output. A child that fails or times out raises
    ``RuntimeError``; whatever happens (Ctrl-C too), no process the child started outlives this
    call (a Ray it started included).
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hyperlight-bench-side-") as workdir:
        out = Path(workdir) / "side.json"
        command = [sys.executable, str(script), *arguments, "--out", str(out)]
        launched = time.time()
        child = subprocess.Popen(command, start_new_session=True)
        sampler = TreeSampler(child.pid, interval_s, launched).start()
        try:
            code = child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            code = None
        finally:  # also on KeyboardInterrupt
            _kill_tree(child.pid)
            child.wait()
            samples = sampler.stop()
            _stop_strays(samples)
        if code is None:
            raise RuntimeError(f"{' '.join(command)} ran past {timeout_s:.0f} s")
        if code != 0 or not out.exists():
            raise RuntimeError(f"{' '.join(command)} failed with exit status {code}")
        return json.loads(out.read_text(encoding="utf-8")), samples


def _stop_strays(samples: Samples, grace_s: float = 3.0) -> None:
    """Kill the processes the child started that still run after it ended (checked by creation
    time, so a reused process id is left alone), after ``grace_s`` seconds to end on their own."""
    strays = []
    for pid, created in samples.created.items():
        try:
            process = psutil.Process(pid)
            if abs(process.create_time() - created) < 0.01:
                strays.append(process)
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(strays, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _kill_tree(pid: int) -> None:
    """Kill a child and every process it started (their ids, one by one)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
