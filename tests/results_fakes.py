"""Synthetic search results (trials table, histories, search space) for the results tests.

Deterministic and tiny: the analysis and load tests build on them without Lightning or Ray.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SEARCH_SPACE = {
    "lr": {"type": "loguniform", "lower": 1e-4, "upper": 1e-1},
    "batch_size": {"type": "choice", "categories": [32, 64, 128]},
    "n_hidden": {"type": "randint", "lower": 16, "upper": 128},
    "n_classes": {"type": "constant", "value": 10},
}


def history_frame(val_values: list[float], train_values: list[float] | None = None) -> pd.DataFrame:
    """A trial's epoch history in TrialMetrics layout: a train row and a val row per epoch."""
    train_values = train_values or [1.0 - v for v in val_values]
    rows = []
    for epoch, (val, train) in enumerate(zip(val_values, train_values)):
        rows.append({"stage": "train", "epoch": epoch, "train_loss": train, "val_f1": math.nan})
        rows.append({"stage": "val", "epoch": epoch, "train_loss": math.nan, "val_f1": val})
    return pd.DataFrame(rows, columns=["stage", "epoch", "train_loss", "val_f1"])


def make_search(n_trials: int = 6, n_epochs: int = 4, errored: tuple[int, ...] = ()) -> dict:
    """Trials table + histories of a fake search maximising ``val_f1``.

    val_f1 rises with log(lr) (strongly) and does not depend on batch_size; trials 1 and 3 are
    stopped early after 2 epochs; trials listed in ``errored`` have no metric and no history.
    """
    rng = np.random.default_rng(7)
    lrs = np.logspace(-4, -1, n_trials)
    batch_sizes = [32, 64, 128] * n_trials
    rows, histories = [], {}
    completion = rng.permutation(n_trials) + 1
    for index in range(n_trials):
        trial_id = f"t{index:02d}"
        stopped = index in (1, 3) and n_trials > 3
        epochs = 2 if stopped else n_epochs
        quality = 0.5 + 0.1 * (math.log10(lrs[index]) + 4)
        curve = [quality * (1 - 0.5 ** (e + 1)) for e in range(epochs)]
        failed = index in errored
        if not failed:
            histories[trial_id] = history_frame(curve)
        rows.append(
            {
                "trial_id": trial_id,
                "status": "error" if failed else ("stopped" if stopped else "done"),
                "config/lr": lrs[index],
                "config/batch_size": batch_sizes[index],
                "config/n_hidden": int(16 + 20 * ((index * 7) % 5)),
                "metric_best": math.nan if failed else max(curve),
                "metric_last": math.nan if failed else curve[-1],
                "best_epoch": math.nan if failed else epochs - 1,
                "epochs": 0 if failed else epochs,
                "stopped_early": stopped,
                "error": "ValueError: boom" if failed else "",
                "training_time_s": 1.5,
                "completion_order": int(completion[index]),
            }
        )
    trials = pd.DataFrame(rows)
    # the dtypes of search/results.py's trials_table
    trials["best_epoch"] = trials["best_epoch"].astype("Int64")
    trials["completion_order"] = trials["completion_order"].astype("Int64")
    return {"trials": trials, "trial_metrics": histories, "search_space": SEARCH_SPACE}


def best_trial_metrics(history: pd.DataFrame, test_f1: float = 0.8) -> pd.DataFrame:
    """The best trial's table: its history plus reval and test rows at its best epoch."""
    val = history.dropna(subset=["val_f1"])
    best = int(val.loc[val["val_f1"].idxmax(), "epoch"])
    extra = pd.DataFrame(
        [
            {"stage": "reval", "epoch": best, "val_f1": float(val["val_f1"].max())},
            {"stage": "test", "epoch": best, "test_f1": test_f1},
        ]
    )
    return pd.concat([history, extra], ignore_index=True)


def write_run_dir(
    path,
    kind: str = "search",
    n_trials: int = 5,
    errored: tuple[int, ...] = (3,),
    with_checkpoint: bool = True,
    record_files: bool = True,
):
    """A run directory as a finished run writes it (files per the run.json / trials.csv contract).

    ``record_files=False`` writes run.json as versions before the file record did (no ``files``).

    ``with_checkpoint`` writes a placeholder ``checkpoints/best.ckpt`` (not loadable weights).

    Returns what the run would have returned (``metrics`` as a TrialMetrics, ``trials``, ...).
    """
    from pytorch_hyperlight import Settings, TrialMetrics, files
    from pytorch_hyperlight.results import run_dir as run_dirs
    from pytorch_hyperlight.results.run_record import FORMAT_VERSION, RunRecord

    path.mkdir(parents=True, exist_ok=True)
    if with_checkpoint:
        (path / run_dirs.CHECKPOINTS_DIR).mkdir(exist_ok=True)
        (path / run_dirs.CHECKPOINTS_DIR / "best.ckpt").write_bytes(b"placeholder")
    search = make_search(n_trials, errored=errored)
    trials = search["trials"]
    best_row = trials.loc[trials["metric_best"].idxmax()]
    best_id = best_row["trial_id"]
    metrics = TrialMetrics(best_trial_metrics(search["trial_metrics"][best_id]))
    metrics.to_csv(path / run_dirs.METRICS_FILE)
    best_config = {
        "lr": float(best_row["config/lr"]),
        "batch_size": int(best_row["config/batch_size"]),
        "n_hidden": int(best_row["config/n_hidden"]),
        "n_classes": 10,
        "max_epochs": 4,
    }
    info = {
        "format_version": FORMAT_VERSION,
        "kind": "search" if kind == "search" else "single_trial",
        "run_name": "hyper-opt-LitDigits" if kind == "search" else "single-trial-LitDigits",
        "experiment_id": "digits",
        "created": "2024-01-01T00:00:00",
        "lmodule_class": "examples.digits:LitDigits",
        "settings": Settings.from_any(
            {"metric_to_optimize": "val_f1", "metric_opt_mode": "max"}
        ).to_dict(),
        "config": best_config,
        "best_config": best_config,
        "metric": "val_f1",
        "mode": "max",
        "best_epoch": metrics.best_epoch,
        "best_metric_value": float(best_row["metric_best"]),
        "best_checkpoint_path": "checkpoints/best.ckpt",
        "metrics_last": metrics.series_last.to_dict(),
    }
    result = {"metrics": metrics, "best_config": best_config, "info": info}
    if kind == "search":
        info["search_space"] = search["search_space"]
        trials.to_csv(path / run_dirs.TRIALS_FILE, index=False)
        histories = pd.concat(
            [
                h.assign(trial_id=t)[["trial_id", *h.columns]]
                for t, h in search["trial_metrics"].items()
            ],
            ignore_index=True,
        )
        histories.to_csv(path / run_dirs.TRIAL_METRICS_FILE, index=False)
        errors = [
            {
                "trial_id": trials.loc[i, "trial_id"],
                "error": "ValueError: boom",
                "traceback": "Traceback ...\nValueError: boom",
            }
            for i in errored
        ]
        files.write_json_atomic(path / run_dirs.ERRORS_FILE, errors)
        result.update(trials=trials, trial_metrics=search["trial_metrics"], errors=errors)
    if record_files:
        RunRecord.from_json(info).save(path)
    else:
        files.write_json_atomic(path / run_dirs.RUN_FILE, info)
    return result
