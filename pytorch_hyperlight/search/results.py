"""From Ray Tune's results to the library's tables: trials, trial histories, best trial, errors.

Everything but :func:`records_from_result_grid` is pure and works on :class:`TrialRecord` objects,
so it is tested without Ray. The best trial and its best epoch are chosen by the *best* value of the
metric over all epochs (Ray's ``scope="all"``), never by the last one.

Example:
    >>> import pandas as pd
    >>> reports = pd.DataFrame({"epoch": [0, 1, 2], "train_loss": [0.9, 0.5, 0.4],
    ...                         "val_acc": [0.6, 0.9, 0.8]})
    >>> best_of(reports, "val_acc", "max")
    (1, 0.9)
    >>> history_frame(reports)[["stage", "epoch", "val_acc"]].head(2).to_dict("list")
    {'stage': ['train', 'val'], 'epoch': [0, 0], 'val_acc': [nan, 0.6]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from pytorch_hyperlight.errors import SearchError
from pytorch_hyperlight.results.trials_table import TrialsTable, as_trials_table

# A trial's reports per epoch live in trial_reports; these names are part of this module's API too.
from pytorch_hyperlight.search.trial_reports import (  # noqa: F401
    EPOCH,
    best_of,
    best_of_values,
    epoch_metric_values,
    epoch_reports,
    history_frame,
    metric_by_epoch,
    metric_columns,
)

#: Keys the trainable reports besides the metrics (see :mod:`pytorch_hyperlight.search.trainable`);
#: ``EPOCH`` comes from :mod:`~pytorch_hyperlight.search.trial_reports`.
MAX_EPOCHS = "max_epochs"
SHOULD_STOP = "should_stop"
EPOCH_STARTED_AT = "epoch_started_at"
EPOCH_ENDED_AT = "epoch_ended_at"
TRAINING_TIME = "training_time_s"
#: In a report that carries a checkpoint: what Tune ranks the checkpoint by (the metric, with a
#: checkpoint kept for another reason than an improvement ranked below the trial's best one).
CHECKPOINT_SCORE = "checkpoint_score"
#: Filled in by Tune in every report: the IP address of the node the trial ran on.
NODE_IP = "node_ip"

#: Ray Tune's statuses of a finished trial (as in :attr:`TrialRecord.status`).
TERMINATED = "TERMINATED"
ERROR = "ERROR"
FINISHED = (TERMINATED, ERROR)

#: How a trial ended, in the words that the progress view, the trials table and the summary share
#: (Ray Tune says ``TERMINATED`` for both of the first two).
DONE = "done"  # trained to its end: every epoch, or until Lightning's early stopping
STOPPED = "stopped"  # stopped early by the scheduler (ASHA)
FAILED = "error"  # raised an exception

#: Columns of the trials table, ``config/<param>`` columns go after ``status``.
LEADING_COLUMNS = ("trial_id", "status")
TRAILING_COLUMNS = (
    "metric_best",
    "metric_last",
    "best_epoch",
    "epochs",
    "stopped_early",
    "error",
    "training_time_s",
    "completion_order",
    "node",
)
_TRACEBACK_LINES = 30


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the search saw it.

    Attributes:
        trial_id: Ray Tune's trial id.
        status: ``TERMINATED``, ``ERROR``, ``RUNNING``, ``PENDING`` or ``PAUSED``.
        config: the trial's resolved config (nested as given).
        reports: one row per ``tune.report`` (one per epoch): the metrics and the trainable's keys.
        error: the error's last line (``"ValueError: boom"``), or empty.
        traceback: an excerpt of the traceback, or empty.
        checkpoints: the trial's kept checkpoints as ``(directory, reported metrics)``.
    """

    trial_id: str
    status: str
    config: Mapping[str, Any]
    reports: pd.DataFrame = field(default_factory=pd.DataFrame)
    error: str = ""
    traceback: str = ""
    checkpoints: tuple[tuple[str, Mapping[str, Any]], ...] = ()

    @cached_property
    def epochs(self) -> pd.DataFrame:
        """The reports in epoch order, one per epoch (:func:`epoch_reports`), computed once.

        The trials table, the histories, the best trial and the progress view all read it, so a
        trial's reports are put in epoch order once, not once per use. Read-only.
        """
        return epoch_reports(self.reports)

    def best(self, metric: str, mode: str) -> tuple[int | None, float]:
        """``(epoch, value)`` of the metric's best value (:func:`best_of`), computed once."""
        # A frozen record with a memo: the dict lives in the instance, beside cached_property's.
        memo = self.__dict__.setdefault("_best_memo", {})
        if (metric, mode) not in memo:
            memo[metric, mode] = best_of_values(epoch_metric_values(self.epochs, metric), mode)
        result: tuple[int | None, float] = memo[metric, mode]
        return result


def _is_better(value: float, than: float, mode: str) -> bool:
    return value > than if mode == "max" else value < than


@dataclass(frozen=True)
class BestTrial:
    """Where the best value of the metric was reached.

    Attributes:
        record: the trial.
        epoch: the epoch of its best value (the earliest one on a tie).
        value: the value.
    """

    record: TrialRecord
    epoch: int
    value: float


def best_trial(records: Sequence[TrialRecord], metric: str, mode: str) -> BestTrial | None:
    """The record with the best value of ``metric`` over its epochs; None if none reported one.

    Ties go to the record that comes first in ``records`` (the order in which the search created
    the trials), and within a record to the earliest epoch. Records of failed trials take part:
    :func:`select_best_trial` adds the rule for a search in which every trial failed.

    >>> a = TrialRecord("a", TERMINATED, {}, pd.DataFrame({"epoch": [0, 1], "val_acc": [0.9, 0.8]}))
    >>> b = TrialRecord("b", TERMINATED, {}, pd.DataFrame({"epoch": [0, 1], "val_acc": [0.7, 0.9]}))
    >>> best = best_trial([a, b], "val_acc", "max")
    >>> best.record.trial_id, best.epoch, best.value
    ('a', 0, 0.9)
    """
    best: BestTrial | None = None
    for record in records:
        epoch, value = record.best(metric, mode)
        if epoch is None:
            continue
        if best is None or _is_better(value, best.value, mode):
            best = BestTrial(record, epoch, value)
    return best


def select_best_trial(records: Sequence[TrialRecord], metric: str, mode: str) -> TrialRecord:
    """The trial with the best value of ``metric`` over all its epochs (see :func:`best_trial`).

    Epochs that a trial reported before it failed count, unless every trial failed.

    Raises:
        SearchError: every trial failed, or none reported a finite value (with the first failed
            trial's traceback).
    """
    if records and all(record.status == ERROR for record in records):
        raise SearchError(_no_result_message(records, metric))
    best = best_trial(records, metric, mode)
    if best is None:
        raise SearchError(_no_result_message(records, metric))
    return best.record


def _no_result_message(records: Sequence[TrialRecord], metric: str) -> str:
    failed = [r for r in records if r.status == ERROR]
    if failed:
        first = failed[0]
        what = "Every trial failed" if len(failed) == len(records) else "No trial succeeded"
        return (
            f"{what} ({len(failed)} of {len(records)} errored; no usable {metric!r}). First "
            f"failure, trial {first.trial_id}: {first.error}\n\n"
            f"{first.traceback}\nFix the error (run_single_trial with one config of the search "
            "space reproduces it faster), then search again."
        )
    return (
        f"No trial reported a finite value of {metric!r} ({len(records)} trials). Check that the "
        "module logs it every epoch and that training does not diverge."
    )


def best_checkpoint(record: TrialRecord, metric: str, mode: str) -> tuple[str, int | None]:
    """``(directory, epoch)`` of the record's kept checkpoint with the best metric value.

    On a tie the earliest epoch wins, as in :func:`best_of`.

    Raises:
        SearchError: the trial kept no checkpoint with the metric.
    """
    scored = [
        (float(m[metric]), path, m.get(EPOCH))
        for path, m in record.checkpoints
        if metric in m and isinstance(m[metric], int | float) and math.isfinite(m[metric])
    ]
    if not scored:
        raise SearchError(
            f"The best trial {record.trial_id} kept no checkpoint with {metric!r}; its directory "
            "may have been removed while the search ran."
        )
    sign = 1.0 if mode == "max" else -1.0
    latest = math.inf  # a checkpoint without an epoch loses a tie
    _, path, epoch = max(
        scored, key=lambda item: (sign * item[0], -(latest if item[2] is None else item[2]))
    )
    return path, None if epoch is None else int(epoch)


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config keys joined by ``/`` (Ray's convention).

    >>> flatten_config({"lr": 0.1, "opt": {"beta": 0.9}})
    {'lr': 0.1, 'opt/beta': 0.9}
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, prefix=f"{name}/"))
        else:
            flat[name] = value
    return flat


def _last(frame: pd.DataFrame, column: str) -> Any:
    if column not in frame.columns:
        return None
    values = frame[column].dropna()
    return None if values.empty else values.iloc[-1]


def stopped_early(record: TrialRecord) -> bool:
    """True when the scheduler stopped a trial before its ``max_epochs``.

    A trial that Lightning's early stopping ended (it reported ``should_stop``) or that raised
    was not stopped by the scheduler.
    """
    if record.status != TERMINATED:
        return False
    frame = record.epochs
    if frame.empty:
        return False
    planned = _last(frame, MAX_EPOCHS)
    if planned is None:
        planned = record.config.get("max_epochs")
    if planned is None or bool(_last(frame, SHOULD_STOP) or False):
        return False
    return len(frame) < int(planned)


def outcome(record: TrialRecord) -> str:
    """How the trial ended: :data:`DONE`, :data:`STOPPED` (by the scheduler) or :data:`FAILED`.

    A trial that has not finished gets Tune's status in lower case (``running``, ``pending``).

    >>> outcome(TrialRecord("a", ERROR, {})), outcome(TrialRecord("b", "RUNNING", {}))
    ('error', 'running')
    """
    if record.status == ERROR:
        return FAILED
    if record.status == TERMINATED:
        return STOPPED if stopped_early(record) else DONE
    return record.status.lower()


def _finished_at(record: TrialRecord) -> float:
    frame = record.reports
    for column in (EPOCH_ENDED_AT, "timestamp"):
        value = _last(frame, column) if frame is not None else None
        if value is not None:
            return float(value)
    return math.inf


def completion_orders(records: Sequence[TrialRecord]) -> dict[str, int]:
    """1-based order in which finished trials (terminated or errored) ended."""
    finished = [r for r in records if r.status in FINISHED]
    ordered = sorted(finished, key=lambda r: (_finished_at(r), r.trial_id))
    return {record.trial_id: index for index, record in enumerate(ordered, start=1)}


def trials_table(
    records: Sequence[TrialRecord], searched: Sequence[str], metric: str, mode: str
) -> TrialsTable:
    """One row per trial: id, status, searched config values, metric best/last, epochs, ...

    Columns: ``trial_id``, ``status`` (:func:`outcome`), ``config/<param>`` per searched
    parameter, then ``metric_best``, ``metric_last``, ``best_epoch``, ``epochs``,
    ``stopped_early``, ``error``, ``training_time_s``, ``completion_order``, ``node`` (IP address
    of the node that ran the trial's last epoch). A DataFrame that prints short
    (:class:`~pytorch_hyperlight.results.trials_table.TrialsTable`).
    """
    orders = completion_orders(records)
    rows = []
    for record in records:
        flat = flatten_config(record.config)
        best_epoch, best_value = record.best(metric, mode)
        values = epoch_metric_values(record.epochs, metric)
        training_time = _last(record.reports, TRAINING_TIME)
        row: dict[str, Any] = {"trial_id": record.trial_id, "status": outcome(record)}
        row.update({f"config/{name}": flat.get(name) for name in searched})
        row.update(
            {
                "metric_best": best_value,
                "metric_last": float(values.iloc[-1]) if not values.empty else math.nan,
                "best_epoch": best_epoch,
                "epochs": len(record.epochs),
                "stopped_early": stopped_early(record),
                "error": record.error,
                "training_time_s": math.nan if training_time is None else float(training_time),
                "completion_order": orders.get(record.trial_id),
                "node": _last(record.reports, NODE_IP),
            }
        )
        rows.append(row)
    columns = [*LEADING_COLUMNS, *(f"config/{n}" for n in searched), *TRAILING_COLUMNS]
    table = pd.DataFrame(rows, columns=columns)
    table["best_epoch"] = table["best_epoch"].astype("Int64")
    table["completion_order"] = table["completion_order"].astype("Int64")
    table["epochs"] = table["epochs"].astype("int64")
    table["stopped_early"] = table["stopped_early"].astype(bool)
    return as_trials_table(table, metric=metric, mode=mode)


def trial_metrics_table(histories: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every trial's history (TrialMetrics rows) stacked, with a leading ``trial_id`` column."""
    frames = [frame.assign(trial_id=trial_id) for trial_id, frame in histories.items()]
    if not frames:
        return pd.DataFrame(columns=["trial_id", "stage", EPOCH])
    stacked = pd.concat(frames, ignore_index=True, sort=False)
    metrics = sorted(c for c in stacked.columns if c not in ("trial_id", "stage", EPOCH))
    return stacked[["trial_id", "stage", EPOCH, *metrics]]


def errors_list(records: Sequence[TrialRecord]) -> list[dict[str, str]]:
    """``[{trial_id, error, traceback}]`` for every trial that errored."""
    return [
        {"trial_id": r.trial_id, "error": r.error, "traceback": r.traceback}
        for r in records
        if r.status == ERROR or r.error
    ]


def split_error(text: str) -> tuple[str, str]:
    """``(last line naming the exception, traceback excerpt)`` of an error's text.

    >>> split_error("Traceback (most recent call last):\\n  File 'x'\\nValueError: boom\\n")[0]
    'ValueError: boom'
    """
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return "", ""
    summary = next(
        (line.strip() for line in reversed(lines) if not line.startswith((" ", "\t"))),
        lines[-1].strip(),
    )
    return summary, "\n".join(lines[-_TRACEBACK_LINES:])


def records_from_result_grid(result_grid: Any) -> list[TrialRecord]:
    """Turn Ray Tune's ResultGrid into records (its trials and results are in the same order)."""
    from pytorch_hyperlight.search.tune_internals import result_grid_trials

    records = []  # the Trial objects carry each trial's status
    for trial, result in zip(result_grid_trials(result_grid), result_grid):
        error_text = ""
        if result.error is not None:
            error_text = str(result.error)
        elif trial.status == ERROR:
            error_text = str(trial.get_error() or "unknown error")
        summary, excerpt = split_error(error_text) if error_text else ("", "")
        reports = result.metrics_dataframe
        checkpoints = tuple(
            (checkpoint.path, dict(metrics))
            for checkpoint, metrics in result.best_checkpoints or ()
        )
        records.append(
            TrialRecord(
                trial_id=str(trial.trial_id),
                status=str(trial.status),
                config=dict(trial.config),
                reports=reports if reports is not None else pd.DataFrame(),
                error=summary,
                traceback=excerpt,
                checkpoints=checkpoints,
            )
        )
    return records
