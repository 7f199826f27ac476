"""A trial's reports, one per epoch: its metric columns, its history, its best epoch.

Pure functions on Tune's per-trial reports (``metrics_dataframe``: one row per ``tune.report``, one
report per epoch), used by :mod:`pytorch_hyperlight.search.results` for every trial of a search;
so they work on numpy arrays where a DataFrame per row or per stage would cost pandas' overhead a
hundred times over.

Example:
    >>> reports = pd.DataFrame({"epoch": [0, 1, 2], "val_acc": [0.6, 0.9, 0.8]})
    >>> best_of(reports, "val_acc", "max")
    (1, 0.9)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from pytorch_hyperlight.metric_names import stage_of

#: The trainable's key of the epoch in each report.
EPOCH = "epoch"
_HISTORY_STAGES = ("train", "val")


def metric_columns(columns: Iterable[str]) -> list[str]:
    """The reported columns that are metrics (``train_*``, ``val_*``, ``test_*``).

    >>> metric_columns(["epoch", "train_loss", "val_acc", "time_total_s", "config/lr"])
    ['train_loss', 'val_acc']
    """
    return [str(c) for c in columns if stage_of(str(c)) is not None]


def epoch_reports(reports: pd.DataFrame) -> pd.DataFrame:
    """Reports in epoch order, one per epoch (the last one wins when an epoch was re-run).

    >>> frame = pd.DataFrame({"epoch": [0, 1, None, 1], "val_acc": [0.5, 0.6, 0.0, 0.7]})
    >>> epoch_reports(frame).to_dict("list")
    {'epoch': [0, 1], 'val_acc': [0.5, 0.7]}
    """
    if reports is None or reports.empty or EPOCH not in reports.columns:
        return pd.DataFrame(columns=[EPOCH])
    epochs = reports[EPOCH]
    last_row_of: dict[int, int] = {}
    for row, epoch in enumerate(epochs.tolist()):
        if not pd.isna(epoch):
            last_row_of[int(epoch)] = row
    frame = reports.iloc[[last_row_of[epoch] for epoch in sorted(last_row_of)]]
    frame = frame.reset_index(drop=True)
    if frame[EPOCH].dtype != "int64":
        frame[EPOCH] = frame[EPOCH].astype("int64")
    return frame


def history_frame(reports: pd.DataFrame) -> pd.DataFrame:
    """A trial's epochs in TrialMetrics form: a ``train`` and a ``val`` row per epoch.

    A stage's row is left out when all of its metrics are missing in that epoch's report.

    >>> reports = pd.DataFrame({"epoch": [0], "train_loss": [0.9], "val_acc": [0.5], "pid": [7]})
    >>> history_frame(reports).to_dict("list")
    {'stage': ['train', 'val'], 'epoch': [0, 0], 'train_loss': [0.9, nan], 'val_acc': [nan, 0.5]}
    """
    frame = epoch_reports(reports)
    metrics = metric_columns(frame.columns)
    # numpy, not a DataFrame per row or per stage: this runs for every trial of a search.
    values = frame[metrics].to_numpy(dtype="float64")
    columns_of = [
        [index for index, name in enumerate(metrics) if stage_of(name) == stage]
        for stage in _HISTORY_STAGES
    ]
    rows = sorted(
        (row, rank)
        for rank, columns in enumerate(columns_of)
        if columns
        for row in np.flatnonzero(~np.isnan(values[:, columns]).all(axis=1))
    )
    if not rows:
        empty = pd.DataFrame(columns=["stage", EPOCH, *metrics])
        empty[metrics] = empty[metrics].astype("float64")
        return empty
    table = np.full((len(rows), len(metrics)), np.nan)
    for index, (row, rank) in enumerate(rows):
        table[index, columns_of[rank]] = values[row, columns_of[rank]]
    epochs = frame[EPOCH].to_numpy()
    result = pd.DataFrame(
        {"stage": [_HISTORY_STAGES[rank] for _, rank in rows], EPOCH: [epochs[r] for r, _ in rows]}
    )
    result[EPOCH] = result[EPOCH].astype("int64")
    return pd.concat([result, pd.DataFrame(table, columns=metrics)], axis=1)


def epoch_metric_values(epochs: pd.DataFrame, metric: str) -> pd.Series:
    """The metric's finite values in an :func:`epoch_reports` frame, indexed by epoch."""
    if metric not in epochs.columns:
        return pd.Series(dtype="float64")
    values = pd.to_numeric(epochs[metric], errors="coerce")
    values.index = epochs[EPOCH]
    if values.dtype == "float64":
        return values[np.isfinite(values.to_numpy())]
    return values[values.map(lambda v: isinstance(v, float) and math.isfinite(v))]


def metric_by_epoch(reports: pd.DataFrame, metric: str) -> pd.Series:
    """The metric's finite values indexed by epoch (empty when never reported)."""
    return epoch_metric_values(epoch_reports(reports), metric)


def best_of_values(values: pd.Series, mode: str) -> tuple[int | None, float]:
    """``(epoch, value)`` of the best of :func:`epoch_metric_values`; the earliest on a tie."""
    if values.empty:
        return None, math.nan
    epoch = values.idxmax() if mode == "max" else values.idxmin()
    return int(epoch), float(values[epoch])


def best_of(reports: pd.DataFrame, metric: str, mode: str) -> tuple[int | None, float]:
    """``(epoch, value)`` of the metric's best value over all epochs; ``(None, nan)`` if none.

    Ties go to the earliest epoch.
    """
    return best_of_values(metric_by_epoch(reports, metric), mode)
