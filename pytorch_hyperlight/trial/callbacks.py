"""Lightning callbacks of a trial: epoch metrics, early stopping with a grace period, a NaN guard.

Epoch metrics are read from what the module logs with ``on_epoch=True`` (names made canonical by
:mod:`pytorch_hyperlight.metric_names`), never from the progress bar. Lightning's callback metrics hold
``x``, ``x_epoch`` and ``x_step`` for a metric logged on step and on epoch, and a plain ``x`` for both an
epoch-only and a step-only metric; to tell those apart :func:`epoch_metric_keys` reads how each
metric was logged from the loops' result collections (``_results``, an internal of Lightning 2) and
falls back to the names alone (``x_epoch`` -> epoch, ``x_step`` -> step, plain ``x`` -> epoch) when
they are not available.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from pytorch_hyperlight import metric_names
from pytorch_hyperlight.errors import ConfigError, NonFiniteMetricError
from pytorch_hyperlight.settings import Settings
from pytorch_hyperlight.trial.lightning import LightningNamespace

#: Hooks Lightning 2 removed and silently never calls; a callback defining one is an error.
REMOVED_CALLBACK_HOOKS = {
    "on_epoch_start": "on_train_epoch_start",
    "on_epoch_end": "on_train_epoch_end",
    "on_batch_start": "on_train_batch_start",
    "on_batch_end": "on_train_batch_end",
    "on_pretrain_routine_start": "on_fit_start",
    "on_pretrain_routine_end": "on_fit_start",
    "on_init_start": "__init__",
    "on_init_end": "setup",
    "on_keyboard_interrupt": "on_exception",
}


def check_callbacks(callbacks: Iterable[Any]) -> None:
    """Raise :class:`ConfigError` for a callback using a hook Lightning 2 never calls.

    The seed README's ``on_epoch_start`` is the classic case: Lightning 1.x called it, Lightning 2
    ignores it without a word, so the callback would silently do nothing.
    """
    for callback in callbacks:
        for old, new in REMOVED_CALLBACK_HOOKS.items():
            if callable(getattr(callback, old, None)):
                raise ConfigError(
                    f"Callback {type(callback).__qualname__} defines {old}(), which Lightning 2 "
                    f"never calls. Rename it to {new}() (same arguments: trainer, pl_module)."
                )


# --- reading epoch metrics -----------------------------------------------------------------------
def _result_collections(trainer: Any, stages: Sequence[str]) -> list[Any]:
    """The loops' result collections (Lightning 2 internals) for these stages; [] if unavailable."""
    collections = []
    for stage in stages:
        try:
            if stage == "test":
                collection = trainer.test_loop._results
            elif stage == "val":
                collection = trainer.fit_loop.epoch_loop.val_loop._results
            else:
                collection = trainer.fit_loop.epoch_loop._results
        except AttributeError:
            continue
        if collection is not None:
            collections.append(collection)
    return collections


def logged_names(trainer: Any, stages: Sequence[str] = ("train", "val", "test")) -> list[str]:
    """Every metric name the module logged in these stages (as passed to ``self.log``)."""
    names: list[str] = []
    for collection in _result_collections(trainer, stages):
        for item in collection.values():
            if item.meta.name not in names:
                names.append(item.meta.name)
    if not names:  # fallback: the names alone
        names = [metric_names.base_name(key) for key in trainer.callback_metrics]
    return names


def epoch_metric_keys(trainer: Any, stages: Sequence[str] = ("train", "val")) -> dict[str, str]:
    """Canonical name -> key as logged, for each metric logged with ``on_epoch=True``.

    ``{'train_loss': 'train_loss_epoch', 'val_acc': 'val_acc'}`` for ``train_loss`` logged on step and
    epoch and ``val_acc`` logged on epoch only.
    """
    keys: dict[str, str] = {}
    found_metadata = False
    for collection in _result_collections(trainer, stages):
        for item in collection.values():
            found_metadata = True
            meta = item.meta
            if meta.on_epoch:
                keys.setdefault(meta.name, meta.forked_name(False))
    if found_metadata:
        return keys
    logged = list(trainer.callback_metrics)
    for key in logged:
        canonical = metric_names.canonical_name(key)
        if canonical is None:
            continue
        epoch_key = canonical + metric_names.EPOCH_SUFFIX
        keys[canonical] = epoch_key if epoch_key in logged else key
    return keys


def _to_float(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().cpu().float().squeeze())
    return float(value)


def current_epoch_metrics(trainer: Any) -> dict[str, float]:
    """The train and val epoch metrics of the epoch that just ended, by canonical name.

    Call it from ``on_train_epoch_end``, where Lightning 2 holds both the train and the val values,
    or from the next ``on_train_epoch_start`` / ``on_train_end``. Only the later calls see final
    values of metrics that the module logs in its own ``on_train_epoch_end`` hook (Lightning calls
    that hook after the callbacks' one, so at ``on_train_epoch_end`` such a metric still holds the
    previous epoch's value); :class:`MetricsCollector` therefore completes each epoch's row then.
    """
    callback_metrics = trainer.callback_metrics
    return {
        canonical: _to_float(callback_metrics[key])
        for canonical, key in epoch_metric_keys(trainer).items()
        if key in callback_metrics
    }


# --- callbacks -----------------------------------------------------------------------------------
# The classes below are mixins: each is combined with the Callback (or EarlyStopping) class of the
# module's Lightning namespace by LightningNamespace.bind, so that a pytorch_lightning user never
# imports lightning.pytorch and Lightning's isinstance checks see the right base class.
class MetricsCollector:
    """Records one ``train`` row and one ``val`` row per epoch and shows each epoch on a display.

    The values are read at ``on_train_epoch_end``; metrics that the module itself logs in its own
    ``on_train_epoch_end`` (which Lightning calls after this callback's) are added when the next epoch
    starts or training ends, and only then is the epoch's row shown.

    Args:
        display: an object with ``show(row)`` (e.g. :func:`pytorch_hyperlight.metrics.console.
            make_epoch_display`), or None.
    """

    def __init__(self, display: Any = None) -> None:
        super().__init__()  # the namespace's Callback
        self.rows: list[dict[str, Any]] = []
        self._display = display
        self._pending: tuple[int, dict[str, float]] | None = None

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self._pending = (trainer.current_epoch, current_epoch_metrics(trainer))

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._complete(trainer)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._complete(trainer)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._complete(trainer)

    def _complete(self, trainer: Any) -> None:
        if self._pending is None:
            return
        epoch, values = self._pending
        self._pending = None
        # Now every value of the epoch is final, including those the module logged in its own
        # on_train_epoch_end hook (which still held the previous epoch's value when recorded).
        values.update(current_epoch_metrics(trainer))
        for stage in ("train", "val"):
            stage_values = {k: v for k, v in values.items() if metric_names.stage_of(k) == stage}
            if stage_values:
                self.rows.append({"stage": stage, "epoch": epoch, **stage_values})
        if self._display is not None:
            self._display.show({"epoch": epoch, **values})

    def history(self) -> Any:
        """The rows as a DataFrame: ``stage``, ``epoch``, then canonical metric columns."""
        import pandas as pd

        columns: list[str] = ["stage", "epoch"]
        for row in self.rows:
            columns.extend(key for key in row if key not in columns)
        return pd.DataFrame(self.rows, columns=columns)


class NonFiniteGuard:
    """Stops a trial with :class:`NonFiniteMetricError` when a watched epoch metric is NaN or infinite.

    Args:
        watch: canonical names to check; by default the metric to optimise and every ``*_loss``.
    """

    def __init__(self, metric: str, watch: Sequence[str] | None = None) -> None:
        super().__init__()  # the namespace's Callback
        self.metric = metric
        self.watch = tuple(watch) if watch is not None else None

    def _watched(self, values: Mapping[str, float]) -> list[str]:
        if self.watch is not None:
            return [name for name in self.watch if name in values]
        return [name for name in values if name == self.metric or name.endswith("_loss")]

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        values = current_epoch_metrics(trainer)
        check_finite(values, self._watched(values), epoch=int(trainer.current_epoch))


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


class GracePeriodEarlyStopping:
    """Early stopping whose checks start after ``grace_period`` epochs (the original's meaning).

    The checks of the first ``grace_period`` epochs are skipped: they neither set the best value nor
    count towards the patience, so nothing is stopped in that time. From epoch ``grace_period`` on
    (counting from 0) it is Lightning's ``EarlyStopping``. For a metric that never improves, training
    runs ``min(max_epochs, grace_period + patience + 1)`` epochs: with ``grace_period=3`` and
    ``patience=2``, epochs 0..5. (A NaN/infinite metric is caught by the NaN guard at any epoch.)

    Only Lightning's public callback hooks are overridden.

    Args:
        grace_period: epochs at the start whose checks are skipped.
        **kwargs: Lightning's ``EarlyStopping`` arguments (``monitor``, ``mode``, ``patience``, ...).
    """

    def __init__(self, *, grace_period: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # the namespace's EarlyStopping
        self.grace_period = grace_period

    def _in_grace_period(self, trainer: Any) -> bool:
        return int(trainer.current_epoch) < self.grace_period

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not self._in_grace_period(trainer):
            super().on_train_epoch_end(trainer, pl_module)  # type: ignore[misc]

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if not self._in_grace_period(trainer):
            super().on_validation_end(trainer, pl_module)  # type: ignore[misc]


def metrics_collector(namespace: LightningNamespace, display: Any = None) -> Any:
    """A :class:`MetricsCollector` that is a Callback of ``namespace``."""
    return namespace.bind(MetricsCollector)(display)


def non_finite_guard(namespace: LightningNamespace, metric: str) -> Any:
    """A :class:`NonFiniteGuard` for ``metric`` (and every ``*_loss``), a Callback of ``namespace``."""
    return namespace.bind(NonFiniteGuard)(metric)


def early_stopping_with_grace_period(
    namespace: LightningNamespace, *, monitor: str, mode: str, patience: int, grace_period: int
) -> Any:
    """``namespace``'s EarlyStopping with a grace period (see :class:`GracePeriodEarlyStopping`)."""
    cls = namespace.bind(GracePeriodEarlyStopping, base=namespace.EarlyStopping)
    return cls(monitor=monitor, mode=mode, patience=patience, grace_period=grace_period)


def fit_callbacks(
    namespace: LightningNamespace,
    settings: Settings,
    *,
    monitor: str,
    checkpoint_dir: Path | None,
    epoch_display: Any,
    checkpoint_name: str,
) -> tuple[Any, Any, list[Any]]:
    """The framework's callbacks for one fit: collector, NaN guard, checkpoint, early stopping.

    Returns:
        ``(collector, model_checkpoint or None, callbacks)``; all of ``namespace``.
    """
    metric = metric_names.canonical_name(monitor) or monitor
    collector = metrics_collector(namespace, epoch_display)
    callbacks = [collector, non_finite_guard(namespace, metric)]
    checkpoint = None
    if checkpoint_dir is not None:
        checkpoint = namespace.ModelCheckpoint(
            dirpath=str(checkpoint_dir),
            filename=checkpoint_name,
            monitor=monitor,
            mode=settings.metric_opt_mode,
            save_top_k=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )
        callbacks.append(checkpoint)
    if settings.ptl_early_stopping_patience is not None:
        callbacks.append(
            early_stopping_with_grace_period(
                namespace,
                monitor=monitor,
                mode=settings.metric_opt_mode,
                patience=settings.ptl_early_stopping_patience,
                grace_period=settings.early_stopping_grace_period,
            )
        )
    return collector, checkpoint, callbacks
