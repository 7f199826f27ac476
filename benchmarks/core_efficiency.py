"""Core efficiency of a search: how much of the machine's CPU time goes into training.

Runs ``Runner.run_hyper_opt`` on ``examples/digits.py``'s LitDigits with trials of about 10 s each
(FIFO scheduler, so every trial trains all its epochs), one CPU per trial, as many trials at once
as there are cores. Efficiency = the sum of the trials' pure training time (epoch start to epoch
end, validation included, as measured inside each trial) / (wall time x cores). 1.0 is the
physical limit; the rest is trial start-up (process reuse keeps it small), Ray's bookkeeping, the
checks and dry run before the search and the reload, re-validation and test after it.

One Ray is started first (not timed). Timings are printed, never asserted.

    python benchmarks/core_efficiency.py                 # 8 trials x 32 epochs
    python benchmarks/core_efficiency.py --quick         # proves it works
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/ from a checkout

from benchmarks._environment import quiet
from benchmarks._report import Measure, add_common_arguments, finish_section, start_section
from benchmarks._timing import record_calls
from examples.digits import N_CLASSES, LitDigits, configure_dataloaders


def search(trials: int, epochs: int, cores: int) -> tuple[Any, float, dict[str, float]]:
    """One FIFO search on a Ray started here: the result, its wall time and the search's span."""
    import logging

    import ray
    from ray import tune

    from pytorch_hyperlight import Runner
    from pytorch_hyperlight.runs import search as run

    space = {"lr": tune.loguniform(1e-2, 5e-2), "n_hidden": tune.choice([64, 128]),
             "gradient_clip_val": 0, "max_epochs": epochs, "batch_size": 32,
             "n_classes": N_CLASSES}  # fmt: skip
    settings = {"metric_to_optimize": "val_f1", "metric_opt_mode": "max", "seed": 16,
                "n_samples": trials, "searcher": "random", "scheduler": "fifo", "cpu_per_trial": 1,
                "verbose": 0, "gpus": 0}  # fmt: skip
    calls: list[tuple[str, float, float]] = []
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)  # fmt: skip
    restore = record_calls(run, ("_search",), calls)
    try:
        with tempfile.TemporaryDirectory(prefix="hyperlight-bench-") as workdir:
            started = time.perf_counter()
            result = Runner(configure_dataloaders).run_hyper_opt(
                LitDigits, space, {**settings, "results_dir": workdir}
            )
            wall = time.perf_counter() - started
    finally:
        restore()
        ray.shutdown()
    _, search_start, search_end = calls[0]
    return result, wall, {"search_started_at": search_start, "search": search_end - search_start}


def cold_starts_and_gaps(
    result: Any, search_started_at: float, cores: int
) -> tuple[list[float], list[float]]:
    """When the first epochs began (s into the search), and the gaps between reused trials."""
    spans = []
    for trial in result["result_grid"]:
        reports = trial.metrics_dataframe
        spans.append((int(reports["pid"].iloc[0]), float(reports["epoch_started_at"].min()),
                      float(reports["epoch_ended_at"].max())))  # fmt: skip
    cold = sorted(start - search_started_at for _, start, _ in spans)[:cores]
    gaps = []
    for pid in {pid for pid, *_ in spans}:
        mine = sorted((start, end) for p, start, end in spans if p == pid)
        gaps += [b[0] - a[1] for a, b in itertools.pairwise(mine)]
    return cold, gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=32, help="about 8 s per trial on 2 cores")
    args = parser.parse_args()
    quiet()
    if args.quick:
        args.trials, args.epochs = 1, 2
    section = start_section(
        "core_efficiency.py",
        f"training time / (wall time x cores): {args.trials} trials x {args.epochs} epochs, "
        "as many at once as there are cores",
        args.quick,
    )
    cores = os.cpu_count() or 1
    result, wall, phases = search(args.trials, args.epochs, cores)
    training = float(result["trials"]["training_time_s"].sum())
    cold, gaps = cold_starts_and_gaps(result, phases["search_started_at"], cores)
    warm = phases["search"] - max(cold)
    print("training time per trial: "
          + ", ".join(f"{t:.1f} s" for t in result["trials"]["training_time_s"]))  # fmt: skip
    section.add(Measure(
        key="core_efficiency", label="core efficiency of the whole run_hyper_opt call",
        value=training / (wall * cores), target=">= 0.88", unit="", ours=wall,
        detail=f"sum of the trials' training time {training:.1f} s over {wall:.1f} s x {cores} "
        "cores (Ray started before the call, not counted)",
    ))  # fmt: skip
    section.add(Measure(
        key="core_efficiency_search", label="the same, the search alone",
        value=training / (phases["search"] * cores), unit="", ours=phases["search"],
    ))  # fmt: skip
    section.add(Measure(
        key="core_efficiency_warm", label="the same, once the trial processes had started",
        value=training / (warm * cores), unit="", ours=warm,
    ))  # fmt: skip
    section.note(f"run_hyper_opt wall {wall:.1f} s, the search itself {phases['search']:.1f} s; "
                 f"first epochs began {', '.join(f'{c:.1f}' for c in cold)} s into the search "
                 "(trial processes starting: imports of torch + Lightning)")  # fmt: skip
    if gaps:
        section.note(f"gap between consecutive trials in a reused process: mean "
                     f"{sum(gaps) / len(gaps):.2f} s")  # fmt: skip
    finish_section(section, args.json)


if __name__ == "__main__":
    main()
