"""The canonical metrics table's vocabulary: its columns, its stages, and the check of a frame.

A table has the columns ``stage``, ``epoch`` and then the canonical metric names (``train_loss``,
``val_acc``, ...), with an optional leading ``run`` column; :func:`canonical_frame` validates a
DataFrame and puts it in that order. :class:`~pytorch_hyperlight.metrics.trial_metrics.TrialMetrics`,
the console display and the figures all read tables through these names, so this module sits below
them.

Example:
    >>> import pandas as pd
    >>> canonical_frame(pd.DataFrame({"val_acc": [0.5], "epoch": [0], "stage": ["val"]})).columns.tolist()
    ['stage', 'epoch', 'val_acc']
"""

from __future__ import annotations

import pandas as pd

from pytorch_hyperlight.errors import MetricError
from pytorch_hyperlight.metrics import original_layout

RUN = "run"
STAGE = "stage"
EPOCH = "epoch"
STAGES = ("train", "val", "reval", "test")
#: Prefixes of metric columns, in the order their columns are stored.
METRIC_PREFIXES = ("train_", "val_", "test_")
#: Prefix of the re-validated best model's values in :attr:`TrialMetrics.series_last`.
REVAL_PREFIX = "reval_"


def _column_sort_key(name: str) -> tuple[int, str]:
    prefix_rank = next(i for i, prefix in enumerate(METRIC_PREFIXES) if name.startswith(prefix))
    return prefix_rank, name


def canonical_frame(data: pd.DataFrame) -> pd.DataFrame:
    """A validated copy of ``data`` in canonical column order and dtypes.

    Columns: ``run`` (if present, str), ``stage`` (str), ``epoch`` (int64), then the metric columns
    (float64) sorted by stage prefix (train, val, test) and then by name. Rows keep their order.
    A table in the original's layout is converted first (see
    :mod:`~pytorch_hyperlight.metrics.original_layout`).

    Raises:
        MetricError: ``data`` is not a DataFrame, lacks ``stage``/``epoch``, has an unknown stage, a
            missing or non-integer epoch, a metric column without a ``train_``/``val_``/``test_``
            prefix, or a metric column that is not numeric.
    """
    if not isinstance(data, pd.DataFrame):
        raise MetricError(
            f"TrialMetrics expects a pandas DataFrame with columns 'stage', 'epoch' and metric "
            f"columns; received {type(data).__name__}. Build one with pandas.DataFrame(rows)."
        )
    columns = [str(c) for c in data.columns]
    if len(set(columns)) != len(columns):
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        raise MetricError(f"TrialMetrics columns must be unique; duplicated: {duplicated}.")
    if original_layout.is_original_layout(data):
        data = original_layout.to_canonical(data)
        columns = [str(c) for c in data.columns]
    missing = [c for c in (STAGE, EPOCH) if c not in columns]
    if missing:
        raise MetricError(
            f"TrialMetrics needs the columns 'stage' and 'epoch'; missing {missing} among the "
            f"received columns {columns}. Add them (one row per stage per epoch)."
        )
    frame = data.copy()
    frame.columns = pd.Index(columns)
    metric_columns = [c for c in columns if c not in (RUN, STAGE, EPOCH)]
    unprefixed = [c for c in metric_columns if not c.startswith(METRIC_PREFIXES)]
    if unprefixed:
        raise MetricError(
            f"Metric columns must start with one of {list(METRIC_PREFIXES)}; received {unprefixed}. "
            "Log metrics named like 'train_loss', 'val_acc' or 'test_f1'."
        )
    unknown_stages = sorted({str(s) for s in frame[STAGE].unique()} - set(STAGES))
    if unknown_stages or frame[STAGE].isna().any():
        raise MetricError(
            f"The 'stage' column may only hold {list(STAGES)}; received {unknown_stages or [None]}."
        )
    frame[STAGE] = frame[STAGE].astype(str)
    frame[EPOCH] = _integer_epochs(frame[EPOCH])
    for name in metric_columns:
        try:
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        except (TypeError, ValueError) as error:
            raise MetricError(
                f"Metric column {name!r} must hold numbers; received values of dtype "
                f"{frame[name].dtype} ({error})."
            ) from None
    leading = [RUN] if RUN in columns else []
    if leading:
        if frame[RUN].isna().any():
            raise MetricError("The 'run' column has missing run names; every row needs one.")
        frame[RUN] = frame[RUN].astype(str)
    ordered = [*leading, STAGE, EPOCH, *sorted(metric_columns, key=_column_sort_key)]
    return frame[ordered].reset_index(drop=True)


def _integer_epochs(epochs: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(epochs, errors="coerce")
    bad = epochs[numeric.isna() | (numeric != numeric.round())]
    if len(bad):
        raise MetricError(
            f"The 'epoch' column must hold whole numbers on every row (reval/test rows carry the "
            f"best epoch); received {bad.tolist()[:5]}."
        )
    return numeric.astype("int64")
