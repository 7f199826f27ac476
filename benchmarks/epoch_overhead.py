"""An epoch inside a search trial against the same epoch in a bare Lightning loop.

The same :data:`benchmarks._side.FIXED` MLP config at each batch size trains ``--epochs`` epochs:

- ours: ``run_hyper_opt`` with a grid over the batch sizes (FIFO, nothing stopped), ``--workers``
  trials at once, one CPU each: every epoch as the library runs it (checkpoint and report to Tune
  after each epoch, the driver and Ray's daemons beside it);
- bare: each batch size in its own fresh process with a plain ``Trainer.fit`` (no checkpoint, no
  logger), ``--workers`` processes at once, one torch thread each: the same load on the cores.

The ratio compares medians of the epoch period (one epoch's start to the next one's: training,
validation and whatever runs between two epochs). The period is split into the epoch itself
(start to validation end) and the gap (validation end to the next start). Sides alternate per round.

    python benchmarks/epoch_overhead.py                    # 4 rounds x 18 epochs, batch 32 and 64
    python benchmarks/epoch_overhead.py --quick
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ and examples/

from benchmarks import _timeline as tl
from benchmarks._environment import quiet
from benchmarks._mlp import Budget
from benchmarks._processes import DRIVER, RAY_SYSTEM, run_sampled
from benchmarks._report import (
    Measure,
    Section,
    add_common_arguments,
    finish_section,
    median,
    start_section,
)
from benchmarks._report import ratio as ratio_of
from benchmarks._search_run import SIDE_SCRIPT


def _one_round(side: str, budget: Budget, batch_sizes: list[int], repeats: int,
               timeout_s: float) -> tuple[list[tl.EpochRecord], dict[str, float]]:  # fmt: skip
    """The epochs of one side's round, and its driver's / Ray daemons' cores while trials ran."""
    arguments = ["--side", side, "--budget", json.dumps(asdict(budget))]
    if side == "ours":
        settings = {"searcher": "grid", "scheduler": "fifo", "n_samples": repeats}
        arguments += ["--space", "fixed", "--settings", json.dumps(settings)]
        arguments += ["--batch-sizes", ",".join(map(str, batch_sizes))]
    else:
        arguments += ["--batch-sizes", ",".join(map(str, batch_sizes * repeats))]
    outcome, samples = run_sampled(SIDE_SCRIPT, arguments, timeout_s=timeout_s)
    records = [tl.EpochRecord(**record) for record in outcome["epochs"]]
    first = min(r.started_at for r in records)
    last = max(r.ended_at for r in records)
    used = samples.cpu_seconds(first, last)
    cores = {kind: used.get(kind, 0.0) / (last - first) for kind in (DRIVER, RAY_SYSTEM)}
    return records, cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--rounds", type=int, default=4, help="more rounds: less hurt by bursts")
    parser.add_argument("--epochs", type=int, default=18)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-sizes", default="32,64")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    args = parser.parse_args()
    quiet()
    if args.quick:  # one run of each side: the first batch size only, one process each
        args.rounds, args.epochs, args.workers = 1, 2, 1
        args.batch_sizes = args.batch_sizes.split(",")[0]
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    repeats = max(1, args.workers // len(batch_sizes))
    section = start_section(
        "epoch_overhead.py",
        f"an epoch in a search trial vs in a bare Lightning loop: {args.epochs} epochs, batch "
        f"sizes {batch_sizes}, {args.workers} at a time, {args.rounds} alternated rounds",
        args.quick,
    )
    budget = Budget(max_epochs=args.epochs, workers=args.workers, seed=0)
    records: dict[str, list[tl.EpochRecord]] = {"ours": [], "bare": []}
    cores: list[dict[str, float]] = []
    for round_index in range(args.rounds):
        for side in ("ours", "bare") if round_index % 2 == 0 else ("bare", "ours"):
            mine, used = _one_round(side, budget, batch_sizes, repeats, args.timeout)
            records[side] += [replace(r, trial=f"{round_index}/{r.trial}") for r in mine]
            if side == "ours":
                cores.append(used)
            print(f"round {round_index + 1} {side}: {len(mine)} epochs", flush=True)
    _report(section, records, batch_sizes, cores)
    finish_section(section, args.json)


def _per_round(records: dict[str, list[tl.EpochRecord]], size: int) -> str:
    """Each side's median epoch period per round (a burst of load shows up as one odd round)."""
    parts = []
    for side, side_records in records.items():
        rounds = sorted({r.trial.split("/")[0] for r in side_records}, key=int)
        medians = [
            tl.median_or_none(tl.epoch_periods(
                [r for r in side_records if r.trial.split("/")[0] == index]).get(size, []))
            for index in rounds
        ]  # fmt: skip
        parts.append(f"{side} [" + ", ".join(f"{m:.3f}" if m else "n/a" for m in medians) + "] s")
    return ", ".join(parts)


def _report(section: Section, records: dict[str, list[tl.EpochRecord]], batch_sizes: list[int],
            cores: list[dict[str, float]]) -> None:  # fmt: skip
    periods = {side: tl.epoch_periods(rs) for side, rs in records.items()}
    for size in batch_sizes:
        ours = tl.median_or_none(periods["ours"].get(size, []))
        bare = tl.median_or_none(periods["bare"].get(size, []))
        section.add(Measure(
            key=f"epoch_ratio_{size}", label=f"an epoch inside a search trial / a bare Lightning "
            f"loop's, batch size {size}", value=ratio_of(ours, bare), target="<= 1.1",
            ours=ours, reference=bare,
            detail=f"median epoch period (start to next start) over "
            f"{len(periods['ours'].get(size, []))} / {len(periods['bare'].get(size, []))} epochs; "
            f"per round: {_per_round(records, size)}",
        ))  # fmt: skip
    for side, side_records in records.items():
        durations = [r.ended_at - r.started_at for r in side_records]
        gaps = tl.epoch_gaps(side_records)
        section.note(
            f"{side}: epoch start to validation end median {median(durations) or 0:.4f} s, "
            f"validation end to next epoch start median {median(gaps) or 0:.4f} s"
        )
    section.note(
        "ours while trials ran: driver "
        f"{median(c[DRIVER] for c in cores) or 0:.3f} core, Ray daemons "
        f"{median(c[RAY_SYSTEM] for c in cores) or 0:.3f} core"
    )


if __name__ == "__main__":
    main()
