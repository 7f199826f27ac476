"""The original pytorch_hyperlight 0.3.0's metrics table, converted to the canonical layout.

The original stored one row per *group* of stages, named in title case, with a ``stage-list``
column saying which stages the row holds::

    stage      epoch  stage-list      train_f1  val_f1  reval_f1  test_f1
    Train/Val  0      [train, val]    0.09      0.17
    ...
    Reval      5      [reval]                           0.98
    Test       5      [test]                                      0.98

The canonical layout (:mod:`pytorch_hyperlight.metrics.trial_metrics`) has one row per stage, in
lower case, and keeps the re-validated values in the ``val_*`` columns of the ``reval`` row.
:func:`to_canonical` converts without losing a value: every value of the original table lands in
exactly one cell (``reval_f1`` of the ``Reval`` row -> ``val_f1`` of the ``reval`` row), and a value
that belongs to none of its row's stages is an error rather than dropped.

Example:
    >>> import pandas as pd
    >>> original = pd.DataFrame({
    ...     "stage": ["Train/Val", "Reval"], "epoch": [0, 0],
    ...     "stage-list": [["train", "val"], ["reval"]],
    ...     "train_f1": [0.5, None], "val_f1": [0.6, None], "reval_f1": [None, 0.6],
    ... })
    >>> to_canonical(original)[["stage", "epoch", "train_f1", "val_f1"]].to_dict("records")
    [{'stage': 'train', 'epoch': 0, 'train_f1': 0.5, 'val_f1': nan}, {'stage': 'val', 'epoch': 0, 'train_f1': nan, 'val_f1': 0.6}, {'stage': 'reval', 'epoch': 0, 'train_f1': nan, 'val_f1': 0.6}]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pytorch_hyperlight.errors import MetricError

#: The original's column listing the stages a row holds.
STAGE_LIST = "stage-list"
#: The original's prefix of re-validation metrics (canonical: ``val_*`` on the ``reval`` row).
REVAL_PREFIX = "reval_"
_STAGES = ("train", "val", "reval", "test")
_INDEX_COLUMNS = ("run", "stage", "epoch", STAGE_LIST)
_PREFIXES = {"train_": "train", "val_": "val", REVAL_PREFIX: "reval", "test_": "test"}


def is_original_layout(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` is in the original's layout rather than the canonical one.

    It is when it has a ``stage-list`` column, a ``reval_*`` column, or a stage name that is not
    canonical but is made of canonical ones (``"Train/Val"``, ``"Reval"``, ``"test"`` is canonical).

    >>> is_original_layout(pd.DataFrame({"stage": ["Test"], "epoch": [0]}))
    True
    >>> is_original_layout(pd.DataFrame({"stage": ["test"], "epoch": [0]}))
    False
    """
    columns = [str(column) for column in frame.columns]
    if STAGE_LIST in columns or any(c.startswith(REVAL_PREFIX) for c in columns):
        return True
    if "stage" not in columns:
        return False
    names = {str(stage) for stage in frame["stage"].dropna().unique()}
    return any(name not in _STAGES and _split_stage(name) is not None for name in names)


def to_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """A new DataFrame in the canonical layout holding every value of the original-layout ``frame``.

    Raises:
        MetricError: a stage name that is not made of ``train``/``val``/``reval``/``test``, a metric
            column without one of their prefixes, or a value on a row whose stages it does not
            belong to (it would be lost).
    """
    columns = [str(column) for column in frame.columns]
    metric_columns = [c for c in columns if c not in _INDEX_COLUMNS]
    unprefixed = [c for c in metric_columns if _stage_of_column(c) is None]
    if unprefixed:
        raise MetricError(
            f"Metric columns must start with one of {list(_PREFIXES)}; received {unprefixed}."
        )
    renamed = frame.copy()
    renamed.columns = pd.Index(columns)
    canonical_columns = list(dict.fromkeys(_canonical_column(c) for c in metric_columns))
    rows: list[dict[str, Any]] = []
    for record in renamed.to_dict("records"):
        rows.extend(_split_row(record, metric_columns))
    leading = [c for c in ("run", "stage", "epoch") if c in columns]
    return pd.DataFrame(rows, columns=[*leading, *canonical_columns])


def _split_stage(name: str) -> list[str] | None:
    parts = [part.strip().lower() for part in name.split("/")]
    return parts if parts and all(part in _STAGES for part in parts) else None


def _stage_of_column(column: str) -> str | None:
    return next((stage for prefix, stage in _PREFIXES.items() if column.startswith(prefix)), None)


def _canonical_column(column: str) -> str:
    if column.startswith(REVAL_PREFIX):
        return "val_" + column[len(REVAL_PREFIX) :]
    return column


def _row_stages(record: Mapping[str, Any]) -> list[str]:
    listed = record.get(STAGE_LIST)
    if isinstance(listed, Sequence) and not isinstance(listed, str) and len(listed):
        stages = [str(stage).strip().lower() for stage in listed]
        if all(stage in _STAGES for stage in stages):
            return stages
    stages_from_name = _split_stage(str(record.get("stage")))
    if stages_from_name is None:
        raise MetricError(
            f"Unknown stage {record.get('stage')!r} (stage-list {listed!r}): a stage is one of "
            f"{list(_STAGES)}, or several joined by '/' as in the original's 'Train/Val'."
        )
    return stages_from_name


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _split_row(record: Mapping[str, Any], metric_columns: Sequence[str]) -> list[dict[str, Any]]:
    """One canonical row per stage of an original row, each with that stage's values."""
    stages = _row_stages(record)
    leading = {key: record[key] for key in ("run", "epoch") if key in record}
    values: dict[str, dict[str, Any]] = {stage: {} for stage in stages}
    for column in metric_columns:
        value = record[column]
        if _is_missing(value):
            continue
        stage = _stage_of_column(column)
        if stage == "val" and "reval" in stages and "val" not in stages:
            stage = "reval"  # the canonical layout's reval row: val_* columns
        if stage not in values:
            raise MetricError(
                f"Column {column!r} has the value {value!r} on a row of stage "
                f"{record.get('stage')!r} (stages {stages}); a {column.split('_')[0]} value "
                "belongs on a row of that stage."
            )
        target = _canonical_column(column)
        if target in values[stage] and values[stage][target] != value:
            raise MetricError(
                f"A {record.get('stage')!r} row holds two different values for {target!r} "
                f"({values[stage][target]!r} and {value!r} in {column!r})."
            )
        values[stage][target] = value
    return [{"stage": stage, **leading, **values[stage]} for stage in stages]
