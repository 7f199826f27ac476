"""Where a search's driver process spends its CPU, and what Ray's processes do meanwhile.

Runs ``run_hyper_opt`` (the digits MLP of ``vs_optuna.py``, HyperOpt + ASHA) in this process with:

- cProfile on the main thread, timed with ``time.thread_time`` (the thread's own CPU, so waiting
  costs nothing): Tune's controller loop, the searcher and scheduler, result processing, loggers,
  our progress view and callbacks all run there. Printed: the functions with the most CPU (including
  what they call) and CPU by package (self time);
- this process's threads, sampled from ``/proc/self/task`` (names and CPU), for the CPU that Ray's
  own C++ threads use beside the main thread;
- the process tree (psutil): the driver, Ray's daemons and the trial workers, while trials ran;
- the library's steps, timestamped; and with ``--ray-timeline FILE`` Ray's task timeline, summarised.

cProfile slows the profiled thread down (every Python call is counted), so take shares from here
and the driver's real CPU from ``vs_optuna.py``.

    python benchmarks/profile_search.py                  # 30 trials of up to 9 epochs
    python benchmarks/profile_search.py --quick
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ and examples/

from benchmarks._environment import quiet
from benchmarks._mlp import Budget
from benchmarks._processes import DRIVER, RAY_SYSTEM, TRIAL_WORKER, Samples, TreeSampler
from benchmarks._report import Measure, Section, add_common_arguments, finish_section, start_section
from benchmarks._search_run import summarise

#: Packages the self time is grouped by (the first that the file path contains).
PACKAGES = ("pytorch_hyperlight", "ray/tune", "ray/train", "ray/air", "ray/_private", "ray/",
            "hyperopt", "pandas", "pyarrow", "numpy", "matplotlib", "torch", "lightning",
            "<frozen importlib", "json", "logging", "threading", "~")  # fmt: skip
#: How the groups are printed.
GROUP_NAMES = {"~": "C functions (built-ins, Ray's _raylet, ...)", "<frozen importlib": "imports"}


class ThreadSampler:
    """This process's threads' CPU (``/proc/self/task``), sampled in a background thread."""

    def __init__(self, interval_s: float = 0.25) -> None:
        self.samples = Samples()
        self.interval_s = interval_s
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="thread-sampler", daemon=True)

    def start(self) -> ThreadSampler:
        self._thread.start()
        return self

    def stop(self) -> Samples:
        self._stop.set()
        self._thread.join()
        return self.samples

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for task in Path("/proc/self/task").iterdir():
                try:
                    name = (task / "comm").read_text().strip()
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                tid = int(task.name)
                cpu = (int(fields[11]) + int(fields[12])) / self._ticks  # utime + stime
                if tid not in self.samples.kinds:
                    self.samples.kinds[tid] = f"{name} ({tid})" if tid != os.getpid() else "main"
                    self.samples.created[tid] = now - 1e-6
                self.samples.rows[tid].append((now, cpu, 0))
            self._stop.wait(self.interval_s)


def self_time_by_package(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of self time per package of :data:`PACKAGES` (the rest under ``other``)."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, self_time, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        package = next((p for p in PACKAGES if p in filename), "other")
        totals[GROUP_NAMES.get(package, package.rstrip("/"))] += self_time
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def top_cumulative(stats: pstats.Stats, count: int) -> list[tuple[str, float, int]]:
    """The ``count`` functions under Ray, hyperopt or this library with the most cumulative CPU."""
    rows = []
    for (filename, line, function), (_, calls, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if any(p in filename for p in ("pytorch_hyperlight", "ray/", "hyperopt")):
            short = filename.split("site-packages/")[-1]
            rows.append((f"{short}:{line} {function}", cumulative, calls))
    return sorted(rows, key=lambda row: -row[1])[:count]


def timeline_summary(path: Path, count: int = 8) -> list[str]:
    """Ray's task timeline (Chrome trace) as ``name: n events, total s``, longest first."""
    events = json.loads(path.read_text(encoding="utf-8"))
    totals: dict[str, list[float]] = defaultdict(list)
    for event in events:
        if event.get("ph") == "X" and "dur" in event:
            totals[str(event.get("name"))].append(float(event["dur"]) / 1e6)
    ranked = sorted(totals.items(), key=lambda item: -sum(item[1]))[:count]
    return [f"{name}: {len(d)} events, {sum(d):.2f} s" for name, d in ranked]


def profile_search(budget: Budget, workdir: Path, ray_timeline: Path | None) -> dict[str, Any]:
    """Run the search under the profilers; return the profile, samples and the search's outcome."""
    import ray

    from benchmarks import _ours_side

    if ray_timeline is not None:
        shutdown = ray.shutdown

        def shutdown_after_timeline(*args: Any, **kwargs: Any) -> Any:
            ray.timeline(filename=str(ray_timeline))
            return shutdown(*args, **kwargs)

        ray.shutdown = shutdown_after_timeline
    threads = ThreadSampler().start()
    tree = TreeSampler(os.getpid(), launched=None).start()
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    try:
        outcome = _ours_side.run(budget, workdir)
    finally:
        profiler.disable()
        thread_samples, tree_samples = threads.stop(), tree.stop()
    return {
        "outcome": outcome,
        "profile": profiler,
        "threads": thread_samples,
        "tree": tree_samples,
    }


def report(section: Section, measured: dict[str, Any], top: int) -> None:
    """Notes: CPU by thread and by process kind while trials ran, the profile, the steps."""
    run = summarise(measured["outcome"], measured["tree"])
    records = measured["outcome"]["epochs"]
    start = min(r["started_at"] for r in records)
    end = max(r["ended_at"] for r in records)
    window = end - start
    by_thread = measured["threads"].cpu_seconds(start, end)
    ranked = sorted(by_thread.items(), key=lambda item: -item[1])
    section.add(Measure(
        key="profile_driver_cpu", label="driver CPU while trials ran (under cProfile: inflated)",
        value=run.cores.get(DRIVER), unit="core",
        detail=f"{len(records)} epochs in a {window:.1f} s window; Ray daemons "
        f"{run.cores.get(RAY_SYSTEM, 0):.3f} core, trial workers {run.cores.get(TRIAL_WORKER, 0):.3f} core",
    ))  # fmt: skip
    section.note("driver threads while trials ran (cores): " + ", ".join(
        f"{name} {seconds / window:.3f}" for name, seconds in ranked[:8] if seconds > 0))  # fmt: skip
    stats = pstats.Stats(measured["profile"])
    total = sum(self_time for *_, self_time, _, _ in stats.stats.values())  # type: ignore[attr-defined]
    section.note(f"main thread CPU in run_hyper_opt (profiled): {total:.2f} s; self time by "
                 "package: " + ", ".join(f"{p} {s:.2f} s" for p, s in self_time_by_package(stats).items()
                                         if s >= 0.01))  # fmt: skip
    for name, cumulative, calls in top_cumulative(stats, top):
        section.note(f"cumulative {cumulative:6.2f} s  {calls:6d} calls  {name}")
    section.note("steps (s from the call): " + ", ".join(
        f"{name} {span[0]:.2f}-{span[1]:.2f}" for name, span in run.steps.items()))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument("--ray-timeline", type=Path, default=None, help="also save Ray's timeline")
    parser.add_argument("--pstats", type=Path, default=None, help="also save the profile (pstats)")
    args = parser.parse_args()
    quiet()
    if args.quick:
        args.trials, args.epochs, args.top, args.workers = 2, 2, 5, 1
    section = start_section(
        "profile_search.py",
        f"the driver of run_hyper_opt under cProfile: {args.trials} trials of up to {args.epochs} "
        f"epochs, {args.workers} at a time",
        args.quick,
    )
    budget = Budget(n_trials=args.trials, max_epochs=args.epochs, workers=args.workers,
                    n_startup_trials=min(10, max(1, args.trials // 2)))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="hyperlight-bench-") as workdir:
        measured = profile_search(budget, Path(workdir), args.ray_timeline)
    report(section, measured, args.top)
    if args.pstats is not None:
        measured["profile"].dump_stats(str(args.pstats))
    if args.ray_timeline is not None:
        for line in timeline_summary(args.ray_timeline):
            section.note(f"ray timeline: {line}")
    finish_section(section, args.json)


if __name__ == "__main__":
    main()
