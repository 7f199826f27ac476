"""Lightning callbacks of a trial: the checks of the user's callbacks, early stopping with a grace
period, and :func:`fit_callbacks`, the framework's callbacks of one fit.

Epoch metrics, their display and the NaN guard are :mod:`pytorch_hyperlight.trial.epoch_recorder`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytorch_hyperlight import metric_names
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.settings import Settings
from pytorch_hyperlight.trial.epoch_recorder import (
    DisplaySink,
    EpochSink,
    NonFiniteGuard,
    epoch_recorder,
)
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


# --- callbacks -----------------------------------------------------------------------------------
# The class below is a mixin: it is combined with the EarlyStopping class of the module's Lightning
# namespace by LightningNamespace.bind, so that a pytorch_lightning user never imports
# lightning.pytorch and Lightning's isinstance checks see the right base class.
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
    epoch_sinks: Sequence[EpochSink] = (),
) -> tuple[Any, Any, list[Any]]:
    """The framework's callbacks for one fit: THE epoch recorder, checkpoint, early stopping.

    The recorder's sinks are, in order: the display (when given), the NaN guard (the metric and
    every ``*_loss``), then ``epoch_sinks`` (a search's Tune report).

    Returns:
        ``(recorder, model_checkpoint or None, callbacks)``; all of ``namespace``.
    """
    metric = metric_names.canonical_name(monitor) or monitor
    sinks: list[EpochSink] = [DisplaySink(epoch_display)] if epoch_display is not None else []
    sinks += [NonFiniteGuard(metric), *epoch_sinks]
    recorder = epoch_recorder(namespace, monitor, sinks)
    callbacks = [recorder]
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
    return recorder, checkpoint, callbacks
