"""TrialMetrics: the epoch metrics of one trial (or of several runs merged), backed by pandas.

The table has the columns ``stage``, ``epoch`` and then the canonical metric names (``train_loss``,
``val_acc``, ...), with an optional leading ``run`` column for tables that merge several runs. There
is one row per stage per epoch: a ``train`` row holds the ``train_*`` values, a ``val`` row the
``val_*`` values (NaN elsewhere). ``reval`` rows (the ``val_*`` values of the best model) and
``test`` rows carry the best epoch. A table in the original pytorch_hyperlight's layout (``Train/Val``
rows, a ``stage-list`` column, ``reval_*`` columns) is converted on the way in, without losing a
value (:mod:`pytorch_hyperlight.metrics.original_layout`).

Example:
    >>> import pandas as pd
    >>> metrics = TrialMetrics(pd.DataFrame({
    ...     "stage": ["train", "val", "train", "val", "reval"],
    ...     "epoch": [0, 0, 1, 1, 1],
    ...     "train_loss": [0.9, None, 0.5, None, None],
    ...     "val_acc": [None, 0.7, None, 0.8, 0.8],
    ... }))
    >>> metrics.best_epoch
    1
    >>> metrics.series_last.to_dict()
    {'train_loss': 0.5, 'val_acc': 0.8, 'reval_acc': 0.8}
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pytorch_hyperlight.errors import MetricError
from pytorch_hyperlight.metrics.columns import (
    EPOCH,
    METRIC_PREFIXES,
    REVAL_PREFIX,
    RUN,
    STAGE,
    STAGES,
    canonical_frame,
)

#: The table's vocabulary (:mod:`~pytorch_hyperlight.metrics.columns`) stays importable from here.
__all__ = [
    "EPOCH",
    "METRIC_PREFIXES",
    "REVAL_PREFIX",
    "RUN",
    "STAGE",
    "STAGES",
    "TrialMetrics",
    "canonical_frame",
]

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_FLOAT_FORMAT = "{:.4g}".format


class TrialMetrics:
    """Epoch metrics of a trial, as a read-only pandas table with plotting and reporting.

    Args:
        data: columns ``stage`` and ``epoch``, then metric columns named ``train_*``, ``val_*`` or
            ``test_*``; optionally a leading ``run`` column (see :meth:`merge_runs`). A table in
            the original pytorch_hyperlight's layout (``stage`` "Train/Val"/"Reval"/"Test", a
            ``stage-list`` column, ``reval_*`` columns) is accepted and converted. It is copied:
            later changes to ``data`` do not affect this object, and :attr:`df` returns copies.

    Raises:
        MetricError: the table does not have that shape (see :func:`canonical_frame`).
    """

    def __init__(self, data: pd.DataFrame) -> None:
        self._df = canonical_frame(data)

    @classmethod
    def create_empty(cls) -> TrialMetrics:
        """A table without rows or metrics (what a Runner without runs reports).

        >>> len(TrialMetrics.create_empty()), TrialMetrics.create_empty().metric_names
        (0, [])
        """
        return cls(pd.DataFrame({STAGE: pd.Series(dtype=str), EPOCH: pd.Series(dtype="int64")}))

    # --- reading -------------------------------------------------------------------------------
    @property
    def df(self) -> pd.DataFrame:
        """A copy of the table (changing it does not change this object)."""
        return self._df.copy()

    @property
    def metric_names(self) -> list[str]:
        """The metric columns, in stored order (train, val, test; then by name)."""
        return [c for c in self._df.columns if c not in (RUN, STAGE, EPOCH)]

    @property
    def runs(self) -> list[str]:
        """Run names of a merged table, in order of appearance; empty for a single trial."""
        if RUN not in self._df.columns:
            return []
        return list(dict.fromkeys(self._df[RUN]))

    @property
    def series_last(self) -> pd.Series:
        """The last observed value of every metric, as the original's users read it.

        ``train_*`` and ``val_*``: the last value of the training epochs (the last epoch's);
        ``reval_*``: the re-validated best model's (the ``reval`` row's ``val_*`` values), present
        when there is a ``reval`` row; ``test_*``: the test row's. In that order, then by name.

        Raises:
            MetricError: on a merged multi-run table; use :meth:`last_values_by_run` there.
        """
        self._require_single_run("series_last", "last_values_by_run()")
        return _last_values(self._df, self.metric_names)

    @property
    def best_epoch(self) -> int | None:
        """The epoch carried by the ``reval``/``test`` rows, or None when there are none.

        Raises:
            MetricError: on a merged multi-run table; use ``by_run()[name].best_epoch`` there.
        """
        self._require_single_run("best_epoch", "by_run()[name].best_epoch")
        return _best_epoch(self._df)

    def by_run(self) -> dict[str, TrialMetrics]:
        """Split a merged table into one TrialMetrics per run (columns that are all NaN dropped).

        Raises:
            MetricError: the table has no ``run`` column.
        """
        if RUN not in self._df.columns:
            raise MetricError(
                "by_run() needs a merged table with a 'run' column; build one with "
                "TrialMetrics.merge_runs({name: metrics, ...})."
            )
        return {
            str(name): TrialMetrics(part.drop(columns=RUN).dropna(axis="columns", how="all"))
            for name, part in self._df.groupby(RUN, sort=False)
        }

    def last_values_by_run(self) -> pd.DataFrame:
        """One row per run (index ``run``) holding that run's :attr:`series_last`."""
        if RUN not in self._df.columns:
            return self.series_last.to_frame().T.rename_axis(RUN)
        metric_names = self.metric_names
        rows = {
            name: _last_values(part, metric_names)
            for name, part in self._df.groupby(RUN, sort=False)
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis(RUN)

    def __len__(self) -> int:
        return len(self._df)

    # --- merging and files ---------------------------------------------------------------------
    @classmethod
    def merge_runs(cls, runs: Mapping[str, TrialMetrics]) -> TrialMetrics:
        """One table with a leading ``run`` column from ``{run_name: TrialMetrics}``.

        Metric columns are the union of the runs' columns (NaN where a run lacks one).

        Raises:
            MetricError: ``runs`` is empty, a name is not a str, a value is not a TrialMetrics,
                or a value is already a merged table.
        """
        if not isinstance(runs, Mapping) or not runs:
            raise MetricError(
                "merge_runs expects a non-empty mapping {run_name: TrialMetrics}; "
                f"received {runs!r:.80}."
            )
        parts = []
        for name, metrics in runs.items():
            if not isinstance(name, str) or not isinstance(metrics, TrialMetrics):
                raise MetricError(
                    "merge_runs expects {str: TrialMetrics}; received key "
                    f"{name!r} with a value of type {type(metrics).__name__}."
                )
            if RUN in metrics._df.columns:
                raise MetricError(
                    f"Run {name!r} is already a merged table (it has a 'run' column)."
                )
            parts.append(metrics._df.assign(**{RUN: name}))
        return cls(pd.concat(parts, ignore_index=True, sort=False))

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the table to ``path`` atomically (read it back with :meth:`from_csv`, unchanged)."""
        from pytorch_hyperlight.files import write_text_atomic

        write_text_atomic(Path(path), self._df.to_csv(index=False))

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> TrialMetrics:
        """Read a table written by :meth:`to_csv`.

        Raises:
            FileNotFoundError: no file at ``path``.
            MetricError: the file does not hold a metrics table.
        """
        frame = pd.read_csv(path, dtype={RUN: str, STAGE: str}, keep_default_na=True)
        try:
            return cls(frame)
        except MetricError as error:
            raise MetricError(f"{path} does not hold a TrialMetrics table: {error}") from None

    # --- looking at it -------------------------------------------------------------------------
    def plot(
        self, metrics: Sequence[str] | None = None, *, figsize: tuple[float, float] | None = None
    ) -> Figure:
        """A matplotlib Figure with one panel per metric (``acc``, ``f1``, ``loss``, ...).

        Each panel has a line per stage (``train``, ``val``) over the epochs, the ``reval`` and
        ``test`` values as markers at the best epoch and a dashed vertical line there. On a merged
        table there is a line per run and stage. The figure is not registered with pyplot (nothing
        to close, nothing shown twice in notebooks): save it with ``fig.savefig(path)``; in a
        notebook it displays as the cell's value.

        Args:
            metrics: metric names to draw, either without prefix (``"f1"``) or canonical
                (``"val_f1"``); default: all.
            figsize: the figure's (width, height) in inches; default: sized from the panels.

        Raises:
            MetricError: a requested metric is not in the table.
        """
        from pytorch_hyperlight.metrics import plotting

        if (
            isinstance(metrics, tuple)
            and metrics
            and all(isinstance(v, int | float) for v in metrics)
        ):
            raise MetricError(
                f"plot() got {metrics!r} as metric names; pass a figure size as "
                f"plot(figsize={metrics!r}) (the original's first argument was figsize)."
            )
        return plotting.plot_trial_metrics(self._df, metrics, figsize=figsize)

    def show_report(self, *, figsize: tuple[float, float] | None = None) -> Figure | None:
        """Show the table and the plot (``figsize`` as in :meth:`plot`).

        In a terminal, prints the table (tabulate) and returns the figure without saving or showing
        it. In a Jupyter notebook, displays the HTML table and the figure and returns None (so that
        the figure is not drawn a second time as the cell's value).
        """
        from pytorch_hyperlight.metrics.console import in_notebook

        figure = self.plot(figsize=figsize)
        if in_notebook():
            from IPython.display import HTML, display

            display(HTML(self._repr_html_()))
            display(figure)
            return None
        from tabulate import tabulate

        from pytorch_hyperlight.metrics.console import format_value

        cells = self._df.astype(object).where(self._df.notna(), None)
        columns = list(self._df.columns)
        print(self._summary())
        print(
            tabulate(
                [[format_value(value) for value in row] for row in cells.itertuples(index=False)],
                headers=columns,
                colalign=["left" if c in (RUN, STAGE) else "right" for c in columns],
                disable_numparse=True,
            )
        )
        return figure

    def _summary(self) -> str:
        parts = [f"{len(self._df)} rows"]
        if len(self._df):
            parts.append(f"epochs {self._df[EPOCH].min()}-{self._df[EPOCH].max()}")
        if RUN in self._df.columns:
            parts.append(f"runs {self.runs}")
        else:
            best = _best_epoch(self._df)
            parts.append("no best epoch" if best is None else f"best epoch {best}")
        return f"TrialMetrics: {', '.join(parts)}"

    def __repr__(self) -> str:
        table = self._df.to_string(index=False, max_rows=20, float_format=_FLOAT_FORMAT, na_rep="")
        return f"{self._summary()}\n{table}"

    def _repr_html_(self) -> str:
        table = self._df.to_html(index=False, max_rows=60, float_format=_FLOAT_FORMAT, na_rep="")
        return f"<p><b>{self._summary()}</b></p>\n{table}"

    def _require_single_run(self, what: str, instead: str) -> None:
        if RUN in self._df.columns:
            raise MetricError(
                f"{what} is defined for one trial, but this table merges the runs {self.runs}; "
                f"use {instead} instead."
            )


def _last_observed(rows: pd.DataFrame, column: str) -> float:
    values = rows[column].dropna()
    return float(values.iloc[-1]) if len(values) else float("nan")


def _last_values(frame: pd.DataFrame, metric_names: Sequence[str]) -> pd.Series:
    """train_*/val_*: last epoch values; reval_*: the reval row's val_* values; test_*: the test's."""
    epochs = frame[frame[STAGE] != "reval"]
    values = {name: _last_observed(epochs, name) for name in metric_names}
    revalidated = frame[frame[STAGE] == "reval"]
    if len(revalidated):
        for name in metric_names:
            if name.startswith("val_"):
                values[REVAL_PREFIX + name[len("val_") :]] = _last_observed(revalidated, name)
    order = ("train_", "val_", REVAL_PREFIX, "test_")
    names = sorted(
        values, key=lambda name: (next(i for i, p in enumerate(order) if name.startswith(p)), name)
    )
    return pd.Series([values[name] for name in names], index=names, dtype="float64", name="last")


def _best_epoch(frame: pd.DataFrame) -> int | None:
    evaluated = frame[frame[STAGE].isin(("reval", "test"))]
    if not len(evaluated):
        return None
    return int(evaluated[EPOCH].iloc[-1])
