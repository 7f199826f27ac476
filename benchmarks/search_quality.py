"""Search quality per compute: epochs ASHA + HyperOpt needs to come close to an exhaustive grid's best.

1. The grid: :data:`benchmarks._mlp.GRID` (24 configurations of the digits MLP inside the search
   space), every configuration trained to the full budget (``--epochs``), FIFO. Its best validation
   accuracy (any epoch) is the reference; its epochs are the exhaustive cost.
2. ``run_hyper_opt`` with HyperOpt + ASHA (rungs 1, 3, 9 epochs, reduction factor 3) over the whole
   space, ``--trials`` trials, ``--seeds`` seeds: the epochs trained (all trials, in order of their
   end) until some epoch's validation accuracy is within ``--tolerance`` (0.005: half a point) of the
   grid's best, as a fraction of the grid's epochs.
3. Beside it, at the same budget: random search + the same ASHA (same trials), and random search
   without early stopping (FIFO) with as many full-length trials as HyperOpt + ASHA's median epochs.

Every search is a ``run_hyper_opt`` call, two trials at a time on one CPU each, on one Ray this
script starts (time does not matter here, only epochs).

    python benchmarks/search_quality.py                 # grid of 24, 3 seeds x 60 trials
    python benchmarks/search_quality.py --quick
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ and examples/

from benchmarks import _timeline as tl
from benchmarks._environment import quiet
from benchmarks._mlp import Budget
from benchmarks._report import (
    Measure,
    Section,
    add_common_arguments,
    finish_section,
    median,
    median_unreached_last,
    start_section,
)


def search_epochs(budget: Budget, space: str, settings: dict[str, object]) -> list[tl.EpochRecord]:
    """The epochs of one ``run_hyper_opt`` search (on the Ray this process started)."""
    from benchmarks import _ours_side
    from benchmarks._side import ours_space

    with tempfile.TemporaryDirectory(prefix="hyperlight-bench-") as workdir:
        param_space = ours_space(space, budget.max_epochs, [])
        outcome = _ours_side.run(budget, Path(workdir), param_space, **settings)
    return [tl.EpochRecord(**record) for record in outcome["epochs"]]


def fraction_to_reach(records: list[tl.EpochRecord], goal: float, grid_epochs: int) -> float | None:
    """Epochs until some epoch scored ``>= goal``, over the grid's epochs (None: never).

    >>> fraction_to_reach([tl.EpochRecord("a", 0, 0, 1, 0.9), tl.EpochRecord("a", 1, 1, 2, 0.97)],
    ...                   0.965, 10)
    0.2
    """
    epochs = tl.epochs_to_target(records, goal)
    return None if epochs is None else epochs / grid_epochs


def _line(section: Section, key: str, label: str, values: list[float | None], target: str,
          runs: list[list[tl.EpochRecord]]) -> None:  # fmt: skip
    shown = ", ".join("never" if v is None else f"{v:.3f}" for v in values)
    bests = ", ".join(f"{tl.best_value(r) or 0:.4f}" for r in runs)
    epochs = ", ".join(str(len(r)) for r in runs)
    section.add(Measure(
        key=key, label=label, value=median_unreached_last(values), target=target, unit="",
        detail=f"per seed [{shown}]; best val_acc [{bests}]; epochs [{epochs}]",
    ))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.005, help="0.005: half a point")
    args = parser.parse_args()
    quiet()
    if args.quick:
        args.seeds, args.trials, args.epochs, args.workers = 1, 2, 2, 1
    section = start_section(
        "search_quality.py",
        f"epochs to within {args.tolerance * 100:g} points of a grid's best: grid of "
        f"{2 if args.quick else 24} x {args.epochs} epochs vs {args.trials}-trial searches, "
        f"{args.seeds} seeds",
        args.quick,
    )
    base = Budget(n_trials=args.trials, max_epochs=args.epochs, workers=args.workers,
                  n_startup_trials=min(10, max(1, args.trials // 2)))  # fmt: skip
    import ray

    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)  # fmt: skip
    try:
        runs, grid = _searches(args, base)
    finally:
        ray.shutdown()
    _report(section, args, runs, grid)
    finish_section(section, args.json)


def _searches(
    args: argparse.Namespace, base: Budget
) -> tuple[dict[str, list[list[tl.EpochRecord]]], list[tl.EpochRecord]]:
    """The grid, then per seed HyperOpt + ASHA and random + ASHA, then random without stopping."""
    grid = search_epochs(
        base,
        "quick-grid" if args.quick else "grid",
        {"searcher": "grid", "scheduler": "fifo", "n_samples": 1},
    )
    sides = {"hyperopt + asha": {}, "random + asha": {"searcher": "random"}}
    runs: dict[str, list[list[tl.EpochRecord]]] = {name: [] for name in sides}
    for seed in range(args.seeds):
        for name, settings in sides.items():
            runs[name].append(search_epochs(replace(base, seed=seed), "search", settings))
            print(f"seed {seed} {name}: {len(runs[name][-1])} epochs, best "
                  f"{tl.best_value(runs[name][-1])}", flush=True)  # fmt: skip
    budget_epochs = median(len(r) for r in runs["hyperopt + asha"]) or args.epochs
    fifo_trials = max(1, math.ceil(budget_epochs / args.epochs))
    fifo = {"searcher": "random", "scheduler": "fifo"}
    runs["random, no early stopping"] = []
    for seed in range(args.seeds):
        budget = replace(base, seed=seed, n_trials=fifo_trials)
        runs["random, no early stopping"].append(search_epochs(budget, "search", fifo))
    return runs, grid


def _report(section: Section, args: argparse.Namespace,
            runs: dict[str, list[list[tl.EpochRecord]]], grid: list[tl.EpochRecord]) -> None:  # fmt: skip
    grid_best = tl.best_value(grid) or 0.0
    goal = grid_best - args.tolerance
    section.note(f"grid: {len(grid)} epochs, best val_acc {grid_best:.4f}; goal {goal:.4f}")
    for key, name, target in (("quality_hyperopt", "hyperopt + asha", "<= 0.3"),
                              ("quality_random_asha", "random + asha", ""),
                              ("quality_random_fifo", "random, no early stopping", "")):  # fmt: skip
        values = [fraction_to_reach(r, goal, len(grid)) for r in runs[name]]
        _line(section, key, f"{name}: epochs to within {args.tolerance * 100:g} points of the "
              "grid's best / the grid's epochs", values, target, runs[name])  # fmt: skip


if __name__ == "__main__":
    main()
