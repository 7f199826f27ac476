"""CPU time of a search's result processing, without Ray: the trials table, histories, best trial.

After the trials ran, ``run_hyper_opt`` turns each trial's reports (Tune's ``metrics_dataframe``:
one row per epoch, about 30 columns) into the trials table, the per-trial histories and the best
trial, in the calling process, before the result is returned. This script builds made-up records
shaped like Tune's (``--trials`` trials of 1 to ``--epochs`` epochs, as ASHA leaves them) and times
those same calls, so the cost can be compared between two versions of the library on one machine
(run it from each checkout; the median of ``--repeats`` runs, in process CPU time).

    python benchmarks/result_processing.py                 # 100 trials of up to 27 epochs
    python benchmarks/result_processing.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's library

from pytorch_hyperlight.search import results

#: Columns Tune adds to every report (besides the metrics and the trainable's own keys).
TUNE_COLUMNS = ("timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id",
                "date", "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip",
                "time_since_restore", "iterations_since_restore")  # fmt: skip
METRICS = ("train_loss", "train_acc", "train_f1", "val_loss", "val_acc", "val_f1")


def made_up_records(n_trials: int, max_epochs: int, seed: int = 0) -> list[results.TrialRecord]:
    """Terminated trials with ASHA-like lengths (1, 3, 9, ... epochs) and Tune-like reports."""
    rng = np.random.default_rng(seed)
    rungs = [r for r in (1, 3, 9, 27, 81) if r <= max_epochs] or [max_epochs]
    records = []
    for index in range(n_trials):
        weights = np.array([3.0**-i for i in range(len(rungs))])  # ASHA: a third goes on
        epochs = int(rng.choice(rungs, p=weights / weights.sum()))
        rows = []
        for epoch in range(epochs):
            row: dict[str, object] = {name: float(rng.random()) for name in METRICS}
            row.update(epoch=epoch, max_epochs=max_epochs, should_stop=False)
            row.update(epoch_started_at=100.0 + epoch, epoch_ended_at=100.5 + epoch)
            row.update(training_time_s=0.5 * (epoch + 1))
            row.update({name: 0 for name in TUNE_COLUMNS})
            row.update(timestamp=1000 + index * 10 + epoch, node_ip="127.0.0.1")
            row.update({"config/lr": 0.01, "config/n_hidden": 64, "config/max_epochs": max_epochs})
            rows.append(row)
        config = {"lr": 0.01, "n_hidden": 64, "max_epochs": max_epochs}
        records.append(
            results.TrialRecord(f"t{index:05d}", "TERMINATED", config, pd.DataFrame(rows))
        )
    return records


def process(records: list[results.TrialRecord]) -> None:
    """What ``run_hyper_opt`` computes from the records after the search (``runs/search.py``)."""
    table = results.trials_table(records, ["lr", "n_hidden"], "val_acc", "max")
    histories = {r.trial_id: results.history_frame(r.reports) for r in records}
    results.trial_metrics_table(histories)
    best = results.select_best_trial(records, "val_acc", "max")
    results.best_of(best.reports, "val_acc", "max")
    assert len(table) == len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (numbers mean nothing)")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.quick:
        args.trials, args.epochs, args.repeats = 5, 3, 1
    seconds = []
    for repeat in range(args.repeats):
        records = made_up_records(args.trials, args.epochs, seed=repeat)  # fresh: nothing cached
        started = time.process_time()
        process(records)
        seconds.append(time.process_time() - started)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"result processing of {args.trials} trials (up to {args.epochs} epochs): median "
        f"{statistics.median(seconds):.3f} s CPU of {args.repeats} runs "
        f"(min {min(seconds):.3f}); load {load}"
    )


if __name__ == "__main__":
    main()
