"""``run_hyper_opt`` against Optuna on the same search: time to a target accuracy, wall time, cost.

Both sides tune :class:`benchmarks._mlp.DigitsMLP` on digits over the same space (learning rate and
weight decay log-uniform, two widths, dropout, batch size), with the same budget (``--trials``
trials of at most ``--epochs`` epochs), the same rungs (1, 3, 9 epochs trained, reduction factor
3), the same random start (10 trials) and ``--workers`` trials at once, one CPU each, and both
re-validate and test the best epoch's weights of the best trial in the calling process:

- ours: ``Runner.run_hyper_opt`` (HyperOpt's TPE + Ray's ASHA, a Ray the library starts);
- optuna: TPE + ``SuccessiveHalvingPruner`` + ``optuna_integration``'s Lightning pruning callback
  (rungs aligned), worker processes sharing a ``JournalStorage`` file (the fair setting);
- optuna-threads: the same with ``study.optimize(n_jobs=...)`` in one process (for reference).

Each run is a fresh child process whose whole process tree is sampled (psutil), so the driver's
CPU, Ray's daemons and the trial workers are measured from outside. Sides are alternated per seed
(A B C, B C A, ...) so load drift affects all alike; ratios are of medians over the seeds.

    python benchmarks/vs_optuna.py                    # 3 seeds x 100 trials x up to 27 epochs
    python benchmarks/vs_optuna.py --seeds 1 --trials 30
    python benchmarks/vs_optuna.py --quick            # proves it works (numbers mean nothing)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ and examples/

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
from benchmarks._report import ratio as ratio_of
from benchmarks._search_run import TARGETS, SearchRun, run_side

SIDES = ("ours", "optuna", "optuna-threads")
#: Reads one number from a run (None: not reached / not measured).
Reader = Callable[[SearchRun], "float | None"]


def _values(runs: list[SearchRun], side: str, read: Reader) -> list[float | None]:
    return [read(run) for run in runs if run.side == side]


def _median(runs: list[SearchRun], side: str, read: Reader) -> float | None:
    return median(_values(runs, side, read))


def _per_seed(runs: list[SearchRun], side: str, read: Reader, unit: str = "s") -> str:
    values = _values(runs, side, read)
    shown = ", ".join("never" if v is None else f"{v:.3g}" for v in values)
    return f"{side} [{shown}] {unit}".strip()


def add_measures(section: Section, runs: list[SearchRun]) -> None:
    """The comparison's lines of the target table, from every run of every side."""
    for target in TARGETS:
        key = f"{target:.2f}"

        def read(run: SearchRun, key: str = key) -> float | None:
            return run.time_to[key]

        # A seed that never reached the target counts as the slowest (not left out).
        ours = median_unreached_last(_values(runs, "ours", read))
        optuna = median_unreached_last(_values(runs, "optuna", read))
        section.add(Measure(
            key=f"optuna_time_to_{key}", target="<= 0.7", ours=ours, reference=optuna,
            label=f"time to {key} validation accuracy / Optuna's (processes)",
            value=ratio_of(ours, optuna),
            detail="; ".join(_per_seed(runs, side, read) for side in SIDES),
        ))  # fmt: skip

    def wall(run: SearchRun) -> float:
        return run.wall_s

    ours, optuna = _median(runs, "ours", wall), _median(runs, "optuna", wall)
    threads = _median(runs, "optuna-threads", wall)
    section.add(Measure(
        key="optuna_wall", label="wall time of the same search / Optuna's (processes)",
        value=ratio_of(ours, optuna), target="<= 1.0", ours=ours, reference=optuna,
        detail="; ".join(_per_seed(runs, side, wall) for side in SIDES)
        + f"; ours / Optuna threads {ratio_of(ours, threads) or float('nan'):.2f}",
    ))  # fmt: skip
    section.add(Measure(
        key="driver_cpu", label="CPU of the search's driver process while trials run",
        value=_median(runs, "ours", lambda r: r.cores.get("driver")), target="<= 0.1", unit="core",
        ours=_median(runs, "ours", lambda r: r.cores.get("driver")),
        reference=_median(runs, "optuna", lambda r: r.cores.get("driver")), reference_unit="core",
        detail="reference: Optuna's calling process; ours' Ray daemons "
        + _per_seed(runs, "ours", lambda r: r.cores.get("ray system"), "core")
        + "; trial workers " + _per_seed(runs, "ours", lambda r: r.cores.get("trial worker"), "core"),
    ))  # fmt: skip

    def first(run: SearchRun) -> float | None:
        return run.first_epoch_s

    section.add(Measure(
        key="first_batch", label="seconds from run_hyper_opt called to the first training batch",
        value=_median(runs, "ours", first), target="<= 2", unit="s",
        ours=_median(runs, "ours", first), reference=_median(runs, "optuna", first),
        detail="; ".join(_per_seed(runs, side, first) for side in SIDES),
    ))  # fmt: skip

    def rss(run: SearchRun) -> float | None:
        return run.peak_rss_mb

    section.add(Measure(
        key="peak_rss", label="peak RSS of the calling process during the search",
        value=_median(runs, "ours", rss), unit="MB", ours=_median(runs, "ours", rss),
        reference=_median(runs, "optuna", rss), reference_unit="MB",
        detail="; ".join(_per_seed(runs, side, rss, "MB") for side in SIDES),
    ))  # fmt: skip
    _add_quality_lines(section, runs)


def _add_quality_lines(section: Section, runs: list[SearchRun]) -> None:
    def epochs(run: SearchRun) -> float:
        return float(run.epochs)

    def test(run: SearchRun) -> float | None:
        return run.test_acc

    ours, optuna = _median(runs, "ours", epochs), _median(runs, "optuna", epochs)
    section.add(Measure(
        key="optuna_epochs", label="epochs trained by the search / Optuna's",
        value=ratio_of(ours, optuna), ours=ours, reference=optuna, reference_unit="epochs",
        detail="; ".join(_per_seed(runs, side, epochs, "epochs") for side in SIDES),
    ))  # fmt: skip
    section.add(Measure(
        key="optuna_test_acc", label="test accuracy of the returned model (ours)",
        value=_median(runs, "ours", test), unit="", ours=_median(runs, "ours", test),
        reference=_median(runs, "optuna", test), reference_unit="",
        detail="; ".join(_per_seed(runs, side, test, "") for side in SIDES),
    ))  # fmt: skip


def add_notes(section: Section, runs: list[SearchRun]) -> None:
    """Where the time went, side by side (medians over the seeds)."""
    for side in SIDES:
        mine = [run for run in runs if run.side == side]
        if not mine:
            continue

        def m(read: Reader, side: str = side) -> str:
            value = _median(runs, side, read)
            return "n/a" if value is None else f"{value:.3g}"

        periods = sorted({size for run in mine for size in run.epoch_period_s})
        period_text = ", ".join(
            f"batch {size}: {m(lambda r, s=size: r.epoch_period_s.get(s))} s" for size in periods
        )
        section.note(
            f"{side}: wall {m(lambda r: r.wall_s)} s, first epoch at {m(lambda r: r.first_epoch_s)} s, "
            f"{m(lambda r: r.after_last_epoch_s)} s after the last epoch, only one trial in an epoch "
            f"for {m(lambda r: r.one_running_s)} s, in an epoch {m(lambda r: r.in_epoch_share)} of "
            f"the slots' time; epoch start to next start {period_text}; end to next start "
            f"{m(lambda r: r.epoch_gap_s)} s; from a trial's last epoch to the next trial's first "
            f"in the same process {m(lambda r: r.trial_switch_s)} s; driver {m(lambda r: r.cores.get('driver'))} core, "
            f"Ray daemons {m(lambda r: r.cores.get('ray system'))} core, workers "
            f"{m(lambda r: r.cores.get('trial worker'))} core while trials ran; "
            f"{m(lambda r: r.n_trials)} trials, {m(lambda r: r.epochs)} epochs; "
            f"load {m(lambda r: r.load_average)}"
        )
    ours = [run for run in runs if run.side == "ours"]
    names = sorted(
        {name for run in ours for name in run.steps}, key=lambda n: ours[0].steps.get(n, [0])[0]
    )
    if ours and names:
        section.note(
            "ours, steps of run_hyper_opt (median start-end, s from the call): "
            + ", ".join(
                f"{name} {median(r.steps.get(name, [None])[0] for r in ours):.2f}-"
                f"{median(r.steps.get(name, [None, None])[1] for r in ours):.2f}"
                for name in names
            )
            + "; trial processes created at "
            + ", ".join(f"{t:.2f}" for t in ours[0].workers_started_s[:4])
            + " s (first seed)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated subset")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    args = parser.parse_args()
    quiet()
    if args.quick:
        args.seeds, args.trials, args.epochs = 1, 2, 2
    sides = [side for side in SIDES if side in args.sides.split(",")]
    section = start_section(
        "vs_optuna.py",
        f"run_hyper_opt vs Optuna (TPE + successive halving): {args.trials} trials of up to "
        f"{args.epochs} epochs, {args.workers} at a time, {args.seeds} seeds",
        args.quick,
    )
    runs: list[SearchRun] = []
    for seed in range(args.seeds):
        order = sides[seed % len(sides) :] + sides[: seed % len(sides)]
        budget = Budget(
            n_trials=args.trials,
            max_epochs=args.epochs,
            workers=args.workers,
            n_startup_trials=min(10, max(1, args.trials // 2)),
            seed=seed,
        )
        for side in order:
            run = run_side(side, budget, timeout_s=args.timeout)
            runs.append(run)
            print(
                f"seed {seed} {side:<14} wall {run.wall_s:7.2f} s  time to 0.97 "
                f"{run.time_to['0.97']}  epochs {run.epochs}  test_acc {run.test_acc}  "
                f"load {run.load_average:.1f}",
                flush=True,
            )
    add_measures(section, runs)
    add_notes(section, runs)
    finish_section(section, args.json)


if __name__ == "__main__":
    main()
