"""Our side of a search comparison: ``Runner.run_hyper_opt`` on the digits MLP, as a user calls it.

ASHA (rungs on ``training_iteration`` = epochs trained) + HyperOpt's TPE, a Ray the library starts
on loopback and shuts down, one CPU per trial, ``budget.workers`` trials at once; the best trial's
best checkpoint re-validated and tested in this process, result files and plots written. The steps
of the call are timestamped by wrapping the library's functions (nothing in the library changes).
"""

from __future__ import annotations

import dataclasses
import math
import resource
import time
from pathlib import Path
from typing import Any

from benchmarks._mlp import Budget, DigitsMLP, configure_dataloaders, ray_space
from benchmarks._timeline import EpochRecord
from benchmarks._timing import record_calls

#: The library's steps whose start and end are recorded.
SEARCH_STEPS = ("plan_search", "_search", "_evaluate", "_save_plots")


def settings_for(budget: Budget, results_dir: Path, *, searcher: str = "hyperopt",
                 scheduler: str = "asha") -> dict[str, Any]:  # fmt: skip
    """The settings dict (the seed README's keys) for a search of ``budget``."""
    return {
        "metric_to_optimize": "val_acc",
        "metric_opt_mode": "max",
        "seed": budget.seed,
        "n_samples": budget.n_trials,
        "searcher": searcher,
        "hyperopt_n_initial_points": budget.n_startup_trials,
        "scheduler": scheduler,
        "grace_period": budget.grace_period,
        "asha_reduction_factor": budget.reduction_factor,
        "epoch_upper_limit": budget.max_epochs,
        "cpu_per_trial": 1,
        "max_concurrent_trials": budget.workers,
        "batch_size_main": budget.batch_size_main,
        "results_dir": str(results_dir),
        "verbose": 0,
        "gpus": 0,
    }


def epoch_records(result_grid: Any, metric: str = "val_acc") -> list[EpochRecord]:
    """One record per epoch reported to Tune, from the ``result_grid`` (ResultGrid) of a search.

    The trainable's report keys come from :mod:`pytorch_hyperlight.search.results`, so a rename
    there reaches the benchmarks.
    """
    from pytorch_hyperlight.search import results as keys

    records = []
    for trial_result in result_grid:
        frame = trial_result.metrics_dataframe
        if frame is None or frame.empty or keys.EPOCH_STARTED_AT not in frame:
            continue
        trial_id = str(frame["trial_id"].iloc[0])
        batch_size = int(trial_result.config["batch_size"])
        values = frame[metric] if metric in frame else [None] * len(frame)
        pids = frame["pid"] if "pid" in frame else [None] * len(frame)  # Tune fills in "pid"
        columns = (frame[keys.EPOCH], frame[keys.EPOCH_STARTED_AT], frame[keys.EPOCH_ENDED_AT],
                   values, pids)  # fmt: skip
        for epoch, started, ended, value, pid in zip(*columns):
            measured = None if value is None or math.isnan(value) else float(value)
            process = None if pid is None else int(pid)
            records.append(EpochRecord(trial_id, int(epoch), float(started), float(ended),
                                       measured, batch_size, process))  # fmt: skip
    return records


def run(budget: Budget, workdir: Path, space: dict[str, Any] | None = None,
        **settings_changes: Any) -> dict[str, Any]:  # fmt: skip
    """Run the search once; return its timestamps, epochs and the returned model's scores."""
    import ray

    from pytorch_hyperlight import Runner
    from pytorch_hyperlight.runs import search as search_run
    from pytorch_hyperlight.search import tuner

    calls: list[tuple[str, float, float]] = []
    restore = [
        record_calls(search_run, SEARCH_STEPS, calls),
        record_calls(tuner, ("fit",), calls),
        record_calls(ray, ("init", "shutdown"), calls),
    ]
    settings = {**settings_for(budget, workdir), **settings_changes}
    runner = Runner(configure_dataloaders, experiment_id="benchmark")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        called = time.time()
        result = runner.run_hyper_opt(DigitsMLP, space or ray_space(budget.max_epochs), settings)
        done = time.time()
    finally:
        for undo in restore:
            undo()
    records = epoch_records(result["result_grid"])
    return {
        "side": "ours",
        "budget": dataclasses.asdict(budget),
        "called": called,
        "done": done,
        "calls": calls,
        "epochs": [dataclasses.asdict(record) for record in records],
        "n_trials_run": len(result["trials"]),
        "test_acc": float(result["metrics_last"]["test_acc"]),
        "best_val_acc": float(result["best_metric_value"]),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peak_rss_before_call_bytes": rss_before,
    }
