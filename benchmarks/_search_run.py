"""One side of a search comparison, run in a sampled child process, and what its run tells.

:func:`run_side` starts ``_side.py`` in a fresh interpreter and samples its process tree;
:func:`summarise` turns the child's timestamps and epochs plus the samples into a :class:`SearchRun`:
wall time, time to each target accuracy, epochs, the returned model's scores, when the first epoch
began, CPU of the driver / Ray's daemons / the trial workers while trials ran, and the in-epoch
share of the trial slots.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import _timeline as tl
from benchmarks._mlp import Budget
from benchmarks._processes import DRIVER, RAY_SYSTEM, TRIAL_WORKER, Samples, run_sampled

SIDE_SCRIPT = Path(__file__).resolve().parent / "_side.py"
TARGETS = (0.95, 0.97, 0.98)


@dataclass
class SearchRun:
    """What one run of one side measured (seconds are from the call, CPU in cores).

    Attributes:
        side: ``ours``, ``optuna``, ``optuna-threads`` or ``bare``.
        seed: the budget's seed.
        load_average: 1-minute load average when the run started.
        wall_s: the call, from start to the returned (tested) model.
        time_to: target accuracy (as text) -> seconds until an epoch first reached it (None: never).
        epochs: epochs trained by all trials.
        epochs_to: target -> epochs trained until it was first reached.
        n_trials: trials run.
        test_acc: test accuracy of the returned model.
        best_val_acc: its validation accuracy.
        first_epoch_s: when the first epoch of any trial began.
        after_last_epoch_s: from the last epoch's end to the call's return.
        window_s: from the first epoch's start to the last one's end ("while trials run").
        cores: kind of process -> cores used during the window (CPU seconds / window).
        in_epoch_share: share of the trial slots' time inside an epoch, over the whole call.
        one_running_s: seconds of the window during which exactly one trial was inside an epoch.
        epoch_period_s: batch size -> median seconds from an epoch's start to the next one's.
        epoch_gap_s: median seconds between an epoch's end and the next one's start.
        trial_switch_s: median seconds from a trial's last epoch to the next trial's first one in
            the same process (None: not measured).
        peak_rss_mb: peak RSS of the calling process (its own ``ru_maxrss``).
        steps: step name -> ``[start, end]`` seconds from the call (ours: the library's steps).
        workers_started_s: seconds from the call at which trial worker processes were created.
    """

    side: str
    seed: int
    load_average: float
    wall_s: float
    time_to: dict[str, float | None]
    epochs: int
    epochs_to: dict[str, int | None]
    n_trials: int
    test_acc: float | None
    best_val_acc: float | None
    first_epoch_s: float | None
    after_last_epoch_s: float | None
    window_s: float
    cores: dict[str, float]
    in_epoch_share: float
    one_running_s: float
    epoch_period_s: dict[str, float | None]
    epoch_gap_s: float | None
    peak_rss_mb: float | None
    trial_switch_s: float | None = None
    steps: dict[str, list[float]] = field(default_factory=dict)
    workers_started_s: list[float] = field(default_factory=list)


def run_side(
    side: str, budget: Budget, *, timeout_s: float, extra: Sequence[str] = ()
) -> SearchRun:
    """Run one side once in a sampled child process and summarise it."""
    load = os.getloadavg()[0]
    arguments = ["--side", side, "--budget", json.dumps(asdict(budget)), *extra]
    outcome, samples = run_sampled(SIDE_SCRIPT, arguments, timeout_s=timeout_s)
    return summarise(outcome, samples, load_average=load)


def summarise(
    outcome: dict[str, Any], samples: Samples | None, *, load_average: float = 0.0
) -> SearchRun:
    """A :class:`SearchRun` from a side's JSON outcome and the samples of its process tree."""
    called, done = float(outcome["called"]), float(outcome["done"])
    records = [tl.EpochRecord(**record) for record in outcome["epochs"]]
    workers = int(outcome["budget"]["workers"])
    first = min((r.started_at for r in records), default=None)
    last = max((r.ended_at for r in records), default=None)
    window = (last - first) if first is not None and last is not None else 0.0
    cores: dict[str, float] = {}
    if samples is not None and window > 0:
        assert first is not None and last is not None
        used = samples.cpu_seconds(first, last)
        cores = {
            kind: round(used.get(kind, 0.0) / window, 4)
            for kind in (DRIVER, RAY_SYSTEM, TRIAL_WORKER)
        }
    periods = tl.epoch_periods(records)
    steps: dict[str, list[float]] = {}
    for name, start, end in outcome.get("calls", []):
        steps.setdefault(name, [round(start - called, 3), round(end - called, 3)])
    peak = outcome.get("peak_rss_bytes")
    return SearchRun(
        side=str(outcome["side"]),
        seed=int(outcome["budget"]["seed"]),
        load_average=round(load_average, 2),
        wall_s=round(done - called, 3),
        time_to={f"{t:.2f}": tl.time_to_target(records, t, start=called) for t in TARGETS},
        epochs=len(records),
        epochs_to={f"{t:.2f}": tl.epochs_to_target(records, t) for t in TARGETS},
        n_trials=int(outcome.get("n_trials_run", len({r.trial for r in records}))),
        test_acc=outcome.get("test_acc"),
        best_val_acc=outcome.get("best_val_acc"),
        first_epoch_s=None if first is None else round(first - called, 3),
        after_last_epoch_s=None if last is None else round(done - last, 3),
        window_s=round(window, 3),
        cores=cores,
        in_epoch_share=round(tl.in_epoch_share(records, start=called, end=done, slots=workers), 4),
        one_running_s=round(tl.time_with_running(records, start=first, end=last).get(1, 0.0), 3)
        if first is not None and last is not None
        else 0.0,
        epoch_period_s={
            str(size): tl.median_or_none(values)
            for size, values in sorted(periods.items(), key=lambda item: item[0] or 0)
        },
        epoch_gap_s=tl.median_or_none(tl.epoch_gaps(records)),
        trial_switch_s=tl.median_or_none(tl.trial_switches(records)),
        peak_rss_mb=None if peak is None else round(peak / 2**20, 1),
        steps=steps,
        workers_started_s=[]
        if samples is None
        else [round(t - called, 3) for t in samples.first_created(TRIAL_WORKER) if t >= called - 1],
    )


def save_runs(runs: Sequence[SearchRun], path: Path) -> None:
    """Every run's summary as JSON (for a later look at the raw numbers)."""
    path.write_text(json.dumps([asdict(run) for run in runs], indent=1), encoding="utf-8")
