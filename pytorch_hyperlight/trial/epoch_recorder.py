"""THE per-epoch recorder of a trial: it reads each epoch's metrics once and hands the row to sinks.

:class:`EpochRecorder` is the one Lightning callback that looks at a trial's epoch metrics, in a
single trial and in every trial of a search. Epoch metrics are what the module logs with
``on_epoch=True`` (names made canonical by :mod:`pytorch_hyperlight.metric_names`), never the progress
bar. An epoch is read when the next epoch starts or training ends, because Lightning calls the
module's own ``on_train_epoch_end`` after the callbacks' one: only then is a metric logged in that
hook final. The row (:class:`EpochRow`) then goes to the recorder's history and to its sinks, in
order:

- :class:`DisplaySink`: the console row of a single trial
  (:func:`pytorch_hyperlight.metrics.console.make_epoch_display`);
- :class:`NonFiniteGuard`: THE NaN/inf check, which stops the trial;
- in a search, the Tune report and checkpoint sink, defined in :mod:`pytorch_hyperlight.search`
  and passed in (this package never imports Ray).

A sink may also act at Lightning's ``on_train_epoch_end`` (:meth:`EpochSink.epoch_ending`), where a
checkpoint of the epoch's end is written; it receives the monitored metric's value as it stands then.

Which key holds a metric's epoch value comes from how it was logged
(:func:`pytorch_hyperlight.trial.lightning.logged_metrics_of`, a Lightning internal), else from the
names alone (``x_epoch`` -> epoch, ``x_step`` -> step, plain ``x`` -> epoch).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from pytorch_hyperlight import metric_names
from pytorch_hyperlight.errors import NonFiniteMetricError
from pytorch_hyperlight.trial.lightning import LightningNamespace, logged_metrics_of

__all__ = [
    "DisplaySink",
    "EpochRecorder",
    "EpochRow",
    "EpochSink",
    "NonFiniteGuard",
    "check_finite",
    "current_epoch_metrics",
    "epoch_metric_keys",
    "epoch_recorder",
    "logged_names",
]


# --- reading epoch metrics -----------------------------------------------------------------------
def logged_names(trainer: Any, stages: Sequence[str] = ("train", "val", "test")) -> list[str]:
    """Every metric name the module logged in these stages (as passed to ``self.log``)."""
    names: list[str] = []
    for logged in logged_metrics_of(trainer, tuple(stages)) or ():
        if logged.name not in names:
            names.append(logged.name)
    if not names:  # fallback: the names alone
        names = [metric_names.base_name(key) for key in trainer.callback_metrics]
    return names


def epoch_metric_keys(trainer: Any, stages: Sequence[str] = ("train", "val")) -> dict[str, str]:
    """Canonical name -> key as logged, for each metric logged with ``on_epoch=True``.

    ``{'train_loss': 'train_loss_epoch', 'val_acc': 'val_acc'}`` for ``train_loss`` logged on step and
    epoch and ``val_acc`` logged on epoch only.
    """
    logged_metrics = logged_metrics_of(trainer, tuple(stages))
    if logged_metrics:
        keys: dict[str, str] = {}
        for logged in logged_metrics:
            if logged.on_epoch:
                keys.setdefault(logged.name, logged.epoch_key)
        return keys
    by_name: dict[str, str] = {}
    available = list(trainer.callback_metrics)
    for key in available:
        canonical = metric_names.canonical_name(key)
        if canonical is None:
            continue
        epoch_key = canonical + metric_names.EPOCH_SUFFIX
        by_name[canonical] = epoch_key if epoch_key in available else key
    return by_name


def as_float(value: Any) -> float:
    """A logged value (a tensor or a number) as a Python float."""
    if isinstance(value, torch.Tensor):
        return float(value.detach().cpu().float().squeeze())
    return float(value)


def current_epoch_metrics(trainer: Any) -> dict[str, float]:
    """The train and val epoch metrics of the epoch that just ended, by canonical name.

    Complete at the next ``on_train_epoch_start`` or at ``on_train_end`` (where
    :class:`EpochRecorder` reads them); at ``on_train_epoch_end`` a metric that the module logs in
    its own ``on_train_epoch_end`` hook still holds the previous epoch's value.
    """
    callback_metrics = trainer.callback_metrics
    return {
        canonical: as_float(callback_metrics[key])
        for canonical, key in epoch_metric_keys(trainer).items()
        if key in callback_metrics
    }


def check_finite(values: Mapping[str, float], watched: Iterable[str], *, epoch: int) -> None:
    """Raise :class:`NonFiniteMetricError` when a watched value is NaN or infinite.

    >>> check_finite({"val_loss": 0.5, "train_loss": float("nan")}, ["val_loss", "train_loss"], epoch=3)
    Traceback (most recent call last):
    ...
    pytorch_hyperlight.errors.NonFiniteMetricError: train_loss=nan at epoch 3: training diverged ...
    """
    bad = {name: values[name] for name in watched if not math.isfinite(float(values[name]))}
    if bad:
        listed = ", ".join(f"{name}={value}" for name, value in bad.items())
        raise NonFiniteMetricError(
            f"{listed} at epoch {epoch}: training diverged and was stopped. Lower the learning "
            "rate (or its search range), clip gradients (config 'gradient_clip_val') or check "
            "the data for NaN values."
        )


# --- the row and the sinks -----------------------------------------------------------------------
@dataclass(frozen=True)
class EpochRow:
    """One epoch of a trial, as the sinks receive it.

    Attributes:
        epoch: the epoch's number, from 0.
        values: its train and val metrics by canonical name (``{'train_loss': 0.4, 'val_acc': 0.9}``).
        started_at: wall-clock time (``time.time()``) at which the epoch started.
        ended_at: wall-clock time at which its validation ended (Lightning's ``on_train_epoch_end``).
        max_epochs: the Trainer's ``max_epochs``.
        should_stop: Lightning's ``should_stop`` once the epoch ended (early stopping ended training).
        last: training ends after this epoch (the row is recorded at ``on_train_end``).
    """

    epoch: int
    values: Mapping[str, float]
    started_at: float
    ended_at: float
    max_epochs: int
    should_stop: bool
    last: bool


class EpochSink:
    """Receives a trial's epochs from :class:`EpochRecorder`; each method does nothing by default."""

    def epoch_ending(self, trainer: Any, epoch: int, metric_value: float | None) -> None:
        """At Lightning's ``on_train_epoch_end``, before the row is complete.

        Args:
            trainer: the Trainer (a checkpoint written now holds the end of the epoch).
            epoch: the epoch that is ending.
            metric_value: the monitored metric as logged at this point (a metric the module logs
                in its own ``on_train_epoch_end`` still holds the previous epoch's value), or None.
        """

    def epoch_recorded(self, trainer: Any, row: EpochRow) -> None:
        """The epoch's complete row (raising here stops training)."""

    def abandoned(self, row: EpochRow | None) -> None:
        """Training stopped with an exception; ``row`` is the epoch whose row was pending, or None."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of this sink (restored when training resumes from it)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class DisplaySink(EpochSink):
    """Shows each epoch on a display: an object with ``show(row)`` such as
    :func:`pytorch_hyperlight.metrics.console.make_epoch_display`."""

    def __init__(self, display: Any) -> None:
        self.display = display

    def epoch_recorded(self, trainer: Any, row: EpochRow) -> None:
        self.display.show({"epoch": row.epoch, **row.values})

    def abandoned(self, row: EpochRow | None) -> None:
        if row is not None:
            self.display.show({"epoch": row.epoch, **row.values})


class NonFiniteGuard(EpochSink):
    """Stops a trial with :class:`NonFiniteMetricError` when a watched epoch metric is NaN or infinite.

    Args:
        metric: the canonical metric to optimise.
        watch: canonical names to check; by default ``metric`` and every ``*_loss``.
    """

    def __init__(self, metric: str, watch: Sequence[str] | None = None) -> None:
        self.metric = metric
        self.watch = tuple(watch) if watch is not None else None

    def watched(self, values: Mapping[str, float]) -> list[str]:
        """The names among ``values`` that are checked."""
        if self.watch is not None:
            return [name for name in self.watch if name in values]
        return [name for name in values if name == self.metric or name.endswith("_loss")]

    def epoch_recorded(self, trainer: Any, row: EpochRow) -> None:
        check_finite(row.values, self.watched(row.values), epoch=row.epoch)


# --- the recorder ----------------------------------------------------------------------------------
# A mixin: LightningNamespace.bind combines it with the Callback class of the module's namespace, so
# that a pytorch_lightning user never imports lightning.pytorch and isinstance checks see the right base.
class EpochRecorder:
    """Records one ``train`` row and one ``val`` row per epoch and hands each epoch to the sinks.

    Per epoch it looks up the monitored metric at ``on_train_epoch_end`` (for the sinks'
    :meth:`~EpochSink.epoch_ending`) and reads every epoch metric once, when the next epoch starts
    or training ends (:func:`current_epoch_metrics`). Nothing else.

    Args:
        monitor: the monitored metric's key as logged (``'val_acc'`` or ``'val_f1_epoch'``).
        sinks: receive each epoch, in this order (e.g. display, NaN guard, Tune report).
    """

    def __init__(self, monitor: str, sinks: Sequence[EpochSink] = ()) -> None:
        super().__init__()  # the namespace's Callback
        self.monitor = monitor
        self.sinks = list(sinks)
        self.rows: list[dict[str, Any]] = []
        self._started_at = time.time()
        self._pending: tuple[int, float] | None = None  # (epoch, ended_at)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._record(trainer, last=False)
        self._started_at = time.time()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        epoch = int(trainer.current_epoch)
        self._pending = (epoch, time.time())
        value = trainer.callback_metrics.get(self.monitor)
        metric_value = None if value is None else as_float(value)
        for sink in self.sinks:
            sink.epoch_ending(trainer, epoch, metric_value)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._record(trainer, last=True)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        row = self._take_row(trainer, last=True) if self._pending is not None else None
        for sink in self.sinks:
            sink.abandoned(row)

    def _take_row(self, trainer: Any, *, last: bool) -> EpochRow:
        assert self._pending is not None
        (epoch, ended_at), self._pending = self._pending, None
        values = current_epoch_metrics(trainer)
        for stage in ("train", "val"):
            stage_values = {k: v for k, v in values.items() if metric_names.stage_of(k) == stage}
            if stage_values:
                self.rows.append({"stage": stage, "epoch": epoch, **stage_values})
        return EpochRow(
            epoch=epoch,
            values=values,
            started_at=self._started_at,
            ended_at=ended_at,
            max_epochs=int(trainer.max_epochs),
            should_stop=bool(trainer.should_stop),
            last=last,
        )

    def _record(self, trainer: Any, *, last: bool) -> None:
        if self._pending is None:
            return
        row = self._take_row(trainer, last=last)
        for sink in self.sinks:
            sink.epoch_recorded(trainer, row)

    def history(self) -> Any:
        """The rows as a DataFrame: ``stage``, ``epoch``, then canonical metric columns."""
        import pandas as pd

        columns: list[str] = ["stage", "epoch"]
        for row in self.rows:
            columns.extend(key for key in row if key not in columns)
        return pd.DataFrame(self.rows, columns=columns)

    def state_dict(self) -> dict[str, Any]:
        """The sinks' states (Lightning keeps them in each checkpoint; none: nothing is kept)."""
        states = {type(sink).__qualname__: sink.state_dict() for sink in self.sinks}
        return {key: state for key, state in states.items() if state}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Give each sink back its state from a checkpoint that training resumes from."""
        for sink in self.sinks:
            state = state_dict.get(type(sink).__qualname__)
            if state:
                sink.load_state_dict(state)


def epoch_recorder(
    namespace: LightningNamespace, monitor: str, sinks: Sequence[EpochSink] = ()
) -> Any:
    """An :class:`EpochRecorder` that is a Callback of ``namespace``."""
    return namespace.bind(EpochRecorder)(monitor, sinks)
