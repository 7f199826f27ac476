"""TrialsTable: the trials DataFrame of a search, printed so that it fits a terminal.

``print(result["trials"])`` shows every trial with short column names (``lr`` for ``config/lr``,
``best val_f1`` for ``metric_best``) and numbers rounded to 4 significant digits. Columns that
repeat others (``stopped_early``: the status says so) or matter less are left out, in a fixed
order, only while the table is wider than 100 columns, and a last line names them. In a notebook
the same short view is shown as HTML, with every column.

Everything else is pandas: a TrialsTable *is* a DataFrame with the real column names and values
(``trials["config/lr"]``, ``trials.to_csv()``, ``trials.to_string()`` for pandas' own text), and
what its methods return (``sort_values``, slices, ...) prints the same short way.

Example:
    >>> import pandas as pd
    >>> trials = as_trials_table(
    ...     pd.DataFrame({"trial_id": ["a1", "b2"], "status": ["done", "stopped"],
    ...                   "config/lr": [0.0123456, 0.1], "metric_best": [0.912345, 0.5]}),
    ...     metric="val_acc", mode="max")
    >>> print(trials)
    trial   status      lr  best val_acc
       a1     done 0.01235        0.9123
       b2  stopped     0.1           0.5
    >>> list(trials.columns)[:3], isinstance(trials, pd.DataFrame)
    (['trial_id', 'status', 'config/lr'], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from pytorch_hyperlight.metrics.console import format_value

#: The printed view's width in characters.
WIDTH = 100
#: Rows printed before the view shows the first and last ones only.
MAX_ROWS = 60
CONFIG_PREFIX = "config/"
#: Short names of the trials table's columns in the printed view (the metric's name is added).
SHORT_NAMES = {
    "trial_id": "trial",
    "metric_best": "best",
    "metric_last": "last",
    "best_epoch": "best epoch",
    "stopped_early": "stopped",
    "training_time_s": "time (s)",
    "completion_order": "order",
}
#: Left out of the printed view, first to last, while it is wider than :data:`WIDTH`.
LEFT_OUT_FIRST = (
    "completion_order",
    "stopped_early",
    "metric_last",
    "training_time_s",
    "best_epoch",
    "error",
)
_TEXT_WIDTH = 40


class TrialsTable(pd.DataFrame):
    """A pandas DataFrame of a search's trials whose printed form is short (see the module).

    ``attrs["metric"]`` names the optimised metric in the printed headers.
    """

    @property
    def _constructor(self) -> type[TrialsTable]:
        return TrialsTable

    def __repr__(self) -> str:
        return self.to_text()

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str | None:
        return self.view(width=None).to_html(index=False)

    def view(self, width: int | None = WIDTH) -> pd.DataFrame:
        """The printed form: a plain DataFrame of text with short column names.

        Columns without any value are left out. Then, while the text is wider than ``width``, the
        columns of :data:`LEFT_OUT_FIRST` are left out in that order (None: never).
        """
        frame = pd.DataFrame(self)
        frame = frame[[c for c in frame.columns if not _empty(frame[c])]]
        for column in (*LEFT_OUT_FIRST, None):
            shown = _as_text(frame, self.attrs.get("metric"))
            if width is None or column is None or _text_width(shown) <= width:
                return shown
            frame = frame.drop(columns=[column], errors="ignore")
        raise AssertionError("unreachable")  # pragma: no cover

    def to_text(self, width: int = WIDTH, max_rows: int = MAX_ROWS) -> str:
        """The short text form that ``print`` shows (see :meth:`view`).

        With more than ``max_rows`` rows, the first and last ones are shown around a ``...`` line.
        """
        shown = self.view(width)
        if shown.empty:
            return "no trials"
        rows = shown.values.tolist()
        if len(rows) > max_rows:
            head = max_rows // 2
            rows = [*rows[:head], ["..."] * len(shown.columns), *rows[len(rows) - head :]]
        widths = _widths(shown)
        right = [_is_numeric(self, column) for column in shown.columns]
        lines = [
            "  ".join(
                text.rjust(size) if align_right else text.ljust(size)
                for text, size, align_right in zip(cells, widths, right)
            ).rstrip()
            for cells in [list(shown.columns), *rows]
        ]
        text = "\n".join(lines)
        metric = self.attrs.get("metric")
        hidden = [
            str(c)
            for c in self.columns
            if _short_name(c, metric) not in shown.columns and not _empty(self[c])
        ]
        if hidden:
            text += f"\n[not shown: {', '.join(hidden)}; see .to_string()]"
        return text


def as_trials_table(frame: pd.DataFrame, *, metric: str | None, mode: str | None) -> TrialsTable:
    """``frame`` as a :class:`TrialsTable` naming the optimised ``metric`` and ``mode``."""
    table = TrialsTable(frame)
    table.attrs.update(metric=metric, mode=mode)
    return table


def _short_name(column: Any, metric: str | None) -> str:
    name = str(column)
    if name.startswith(CONFIG_PREFIX):
        return name[len(CONFIG_PREFIX) :]
    short = SHORT_NAMES.get(name, name)
    if metric and name in ("metric_best", "metric_last"):
        return f"{short} {metric}"
    return short


def _empty(values: pd.Series) -> bool:
    return bool(values.map(lambda value: _cell(value) == "").all())


def _is_numeric(table: pd.DataFrame, short: str) -> bool:
    """Whether the column shown as ``short`` holds numbers (aligned right; text goes left)."""
    metric = table.attrs.get("metric")
    values = next(table[c] for c in table.columns if _short_name(c, metric) == short)
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _cell(value: Any) -> str:
    if value is None or (not isinstance(value, Sequence | dict) and pd.isna(value)):
        return ""
    text = format_value(value)
    return text if len(text) <= _TEXT_WIDTH else text[: _TEXT_WIDTH - 3] + "..."


def _as_text(frame: pd.DataFrame, metric: str | None) -> pd.DataFrame:
    shown = pd.DataFrame({_short_name(c, metric): frame[c].map(_cell) for c in frame.columns})
    return shown.reset_index(drop=True)


def _widths(shown: pd.DataFrame) -> list[int]:
    return [max([len(str(name)), *(len(text) for text in shown[name])]) for name in shown.columns]


def _text_width(shown: pd.DataFrame) -> int:
    """Characters of the widest printed line: columns joined by two spaces."""
    widths = _widths(shown)
    return sum(widths) + 2 * max(len(widths) - 1, 0)
