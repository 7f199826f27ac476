"""THE training code path: a one-batch dry run, fitting one configuration, evaluating a checkpoint.

:func:`fit_trial` is used by :func:`pytorch_hyperlight.runs.single_trial.run_single_trial` in the calling
process and, inside Ray workers, by the search's trainable, so both train the same way:

1. :func:`dry_run` (before any real training, :mod:`pytorch_hyperlight.trial.dry_run`): the first
   epoch of training with the user's callbacks, on one batch per stage, to learn what the module
   logs and which hyper-parameter keys it reads; checks metric names, resolves
   ``metric_to_optimize``.
2. :func:`fit_trial`: seeding, the module built from the config, a Trainer
   (:func:`pytorch_hyperlight.trial.trainer.build_trainer`, shared with the dry run) with the
   best-epoch ``ModelCheckpoint``, early stopping with a grace period, THE epoch recorder (history,
   display, NaN guard and any further sinks, :mod:`pytorch_hyperlight.trial.epoch_recorder`),
   gradient clipping, precision and the accelerator; returns the trained module, the best
   checkpoint and the epoch history.
3. :func:`evaluate_checkpoint`: a freshly built module loaded from a checkpoint, re-validated
   (stage ``reval``) and tested (stage ``test``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pytorch_hyperlight import metric_names
from pytorch_hyperlight.errors import MetricError, RunDirError
from pytorch_hyperlight.settings import Settings
from pytorch_hyperlight.trial import callbacks as trial_callbacks
from pytorch_hyperlight.trial.building import build_module, check_config, derived_values
from pytorch_hyperlight.trial.data import LoaderSet
from pytorch_hyperlight.trial.dry_run import DryRunReport, dry_run
from pytorch_hyperlight.trial.epoch_recorder import EpochSink
from pytorch_hyperlight.trial.lightning import (
    lightning_root_dir,
    namespace_of,
    quiet_lightning,
    torch_determinism_restored,
)
from pytorch_hyperlight.trial.trainer import (
    build_trainer,
    derived_for,
    fit_options,
    loaders_for,
    seeded_module,
)

__all__ = [
    "BEST_CHECKPOINT_NAME",
    "DryRunReport",
    "EvaluationOutcome",
    "FitOutcome",
    "TrialSpec",
    "dry_run",
    "evaluate_checkpoint",
    "fit_trial",
    "require_checkpoint",
]

#: File name (without ``.ckpt``) of the best checkpoint inside the checkpoint directory.
BEST_CHECKPOINT_NAME = "best"


@dataclass(frozen=True)
class TrialSpec:
    """Everything needed to train one configuration; picklable, so it can travel to Ray workers.

    Attributes:
        lmodule_class: the LightningModule class (either namespace).
        configure_dataloaders: ``f(batch_size, n_workers=...) -> dict`` of DataLoaders.
        config: model hyper-parameters plus ``max_epochs``, ``batch_size``, ``gradient_clip_val``.
        settings: how to train (metric, mode, early stopping, seed, precision, ...).
        is_debug: a fast smoke run (few epochs and batches).
        monitor: the metric key as logged (``'val_f1_epoch'``), from :func:`dry_run`; None: resolve
            it with a dry run when fitting.
    """

    lmodule_class: type
    configure_dataloaders: Callable[..., Any]
    config: Mapping[str, Any]
    settings: Settings
    is_debug: bool = False
    monitor: str | None = None


@dataclass
class FitOutcome:
    """The result of :func:`fit_trial`.

    Attributes:
        trainer: the Lightning Trainer that fitted the module.
        lmodule: the module as it is after the last epoch (not the best one).
        best_checkpoint_path: absolute path of the best checkpoint, or None without a checkpoint dir.
        best_epoch: epoch (from 0) of the best value of the metric, or None if it was never logged.
        history: DataFrame with ``stage`` (``train``/``val``), ``epoch`` and canonical metric columns.
    """

    trainer: Any
    lmodule: Any
    best_checkpoint_path: str | None
    best_epoch: int | None
    history: Any


@dataclass
class EvaluationOutcome:
    """The result of :func:`evaluate_checkpoint`.

    Attributes:
        lmodule: the module loaded from the checkpoint (in eval mode).
        rows: DataFrame with a ``reval`` row (val metrics) and a ``test`` row, stamped with the epoch.
        trainer: the Trainer that ran the evaluation.
    """

    lmodule: Any
    rows: Any
    trainer: Any


# --- fitting ---------------------------------------------------------------------------------------
def _best_epoch_from_history(history: Any, metric: str, mode: str) -> int | None:
    if metric not in history.columns:
        return None
    values = history[["epoch", metric]].dropna()
    if values.empty:
        return None
    best = values[metric].idxmax() if mode == "max" else values[metric].idxmin()
    return int(values.loc[best, "epoch"])


def load_checkpoint(path: str | Path, *, written_by_this_run: bool) -> Any:
    """A Lightning checkpoint read with ``torch.load(weights_only=True)``.

    Lightning checkpoints of ordinary modules hold only tensors and plain values (hyper-parameters,
    loop and callback states), which the restricted unpickler accepts. One holding other objects
    (e.g. a custom class among the saved hyper-parameters) is read in full only when this run wrote
    it moments ago; a checkpoint reopened later raises instead, because unpickling arbitrary objects
    runs code from the file.

    Raises:
        RunDirError: a checkpoint from disk holds objects the restricted unpickler rejects.
    """
    import pickle

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if written_by_this_run:
            return torch.load(str(path), map_location="cpu", weights_only=False)
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        raise RunDirError(
            f"{path} holds objects other than tensors and plain values, so it is not loaded with "
            f"torch.load(weights_only=True) ({first_line}). If you trust the file, allow those "
            "classes with torch.serialization.add_safe_globals([...]) and load it again."
        ) from error


def _checkpoint_epoch(path: str) -> int | None:
    checkpoint = load_checkpoint(path, written_by_this_run=True)
    epoch = checkpoint.get("epoch")
    return int(epoch) if epoch is not None else None


def fit_trial(
    spec: TrialSpec,
    *,
    checkpoint_dir: Path | None,
    extra_callbacks: Sequence[Any] = (),
    user_callbacks: Sequence[Any] = (),
    loggers: Sequence[Any] = (),
    epoch_display: Any = None,
    epoch_sinks: Sequence[EpochSink] = (),
    loaders: LoaderSet | None = None,
    root_dir: Path | None = None,
    resume_from: str | None = None,
) -> FitOutcome:
    """Fit one configuration.

    Args:
        spec: what to train; ``spec.monitor`` None runs :func:`dry_run` first.
        checkpoint_dir: where ``ModelCheckpoint`` keeps the best epoch (``best.ckpt``); None: no
            checkpointing (a search keeps checkpoints through Tune instead).
        extra_callbacks: the framework's own additional callbacks.
        user_callbacks: the user's callbacks, already copied for this run (they are used as given).
        loggers: Lightning loggers for this run; none: ``logger=False``.
        epoch_display: receives one row per epoch (``show(row)``), or None.
        epoch_sinks: more sinks of the epoch recorder, after the display and the NaN guard
            (a search trial's Tune report).
        loaders: loaders already built at the config's batch size (else built here).
        root_dir: Lightning's ``default_root_dir``; None: the checkpoint dir's parent, else a
            temporary directory (nothing is ever written to the current directory).
        resume_from: a checkpoint written by Lightning during an earlier, interrupted fit of this
            configuration; training continues from it (``Trainer.fit(ckpt_path=...)``).

    Returns:
        A :class:`FitOutcome`.
    """
    check_config(spec.lmodule_class, spec.config)
    trial_callbacks.check_callbacks(user_callbacks)
    namespace = namespace_of(spec.lmodule_class)
    loaders = loaders_for(spec, loaders)
    if spec.monitor is None:
        report = dry_run(spec, loaders=loaders, callbacks=user_callbacks, with_logger=bool(loggers))
        spec = dataclasses.replace(spec, monitor=report.monitor)
    assert spec.monitor is not None
    metric = metric_names.canonical_name(spec.monitor) or spec.monitor
    settings = spec.settings
    module = seeded_module(spec, namespace, loaders)
    recorder, checkpoint, callbacks = trial_callbacks.fit_callbacks(
        namespace,
        settings,
        monitor=spec.monitor,
        checkpoint_dir=checkpoint_dir,
        epoch_display=epoch_display,
        checkpoint_name=BEST_CHECKPOINT_NAME,
        epoch_sinks=epoch_sinks,
    )
    callbacks += [*extra_callbacks, *user_callbacks]
    if root_dir is None and checkpoint_dir is not None:
        root_dir = Path(checkpoint_dir).parent
    with (
        quiet_lightning(settings.verbose),
        lightning_root_dir(root_dir) as root,
        torch_determinism_restored(),
    ):
        trainer = build_trainer(spec, namespace, root, callbacks=callbacks, loggers=loggers)
        trainer.fit(
            module,
            train_dataloaders=loaders.train,
            val_dataloaders=loaders.val,
            ckpt_path=resume_from,
        )
    return _outcome(trainer, module, recorder.history(), checkpoint, metric, settings)


def _outcome(
    trainer: Any, module: Any, history: Any, checkpoint: Any, metric: str, settings: Any
) -> FitOutcome:
    """What a fit gives back: the best epoch from the checkpoint callback, else from the history."""
    best_path = None
    if checkpoint is not None and checkpoint.best_model_path:
        best_path = str(Path(checkpoint.best_model_path).resolve())
    best_epoch = (
        _checkpoint_epoch(best_path)
        if best_path
        else _best_epoch_from_history(history, metric, settings.metric_opt_mode)
    )
    return FitOutcome(
        trainer=trainer,
        lmodule=module,
        best_checkpoint_path=best_path,
        best_epoch=best_epoch,
        history=history,
    )


# --- evaluation ------------------------------------------------------------------------------------
def _stage_row(stage: str, epoch: int | None, results: list[Mapping[str, float]]) -> dict[str, Any]:
    values: dict[str, float] = {}
    for result in results:
        values.update(metric_names.canonicalize({k: float(v) for k, v in result.items()}))
    return {"stage": stage, "epoch": epoch, **values}


def evaluate_checkpoint(
    spec: TrialSpec,
    checkpoint_path: str | Path,
    *,
    batch_size: int | None = None,
    best_epoch: int | None = None,
    loaders: LoaderSet | None = None,
    n_steps_per_epoch: int | None = None,
) -> EvaluationOutcome:
    """Build the module fresh from ``spec.config``, load the checkpoint, re-validate and test it.

    Args:
        spec: the trial's spec (module class, config, settings, loader function).
        checkpoint_path: a Lightning checkpoint of this module.
        batch_size: batch size of the evaluation loaders (``batch_size_main``); None: the config's.
        best_epoch: the epoch stamped on the rows; None: the checkpoint's epoch.
        loaders: loaders to reuse when they were built at the same batch size.
        n_steps_per_epoch: the value the module was trained with; None: from the checkpoint's saved
            hyper-parameters, else from the train loader (only optimizers read it; none runs here).

    Returns:
        An :class:`EvaluationOutcome`; ``rows`` has a ``reval`` row when there is a validation
        loader and a ``test`` row when there is a test loader.
    """
    import pandas as pd

    namespace = namespace_of(spec.lmodule_class)
    loaders = loaders_for(spec, loaders, batch_size)
    checkpoint = load_checkpoint(checkpoint_path, written_by_this_run=True)
    epoch = best_epoch if best_epoch is not None else checkpoint.get("epoch")
    settings = spec.settings
    options = fit_options(spec)
    saved = checkpoint.get("hyper_parameters") or {}
    n_steps = (
        n_steps_per_epoch
        or saved.get("n_steps_per_epoch")
        or derived_for(spec, loaders, options)["n_steps_per_epoch"]
    )
    module = build_module(
        spec.lmodule_class, spec.config, derived_values(int(n_steps), int(options["max_epochs"]))
    )
    module.on_load_checkpoint(checkpoint)
    module.load_state_dict(checkpoint["state_dict"])
    rows = []
    with quiet_lightning(settings.verbose), lightning_root_dir(None) as root:
        trainer = namespace.Trainer(
            **options, logger=False, enable_checkpointing=False, default_root_dir=root
        )
        show = settings.verbose == 2
        if loaders.val is not None:
            rows.append(
                _stage_row("reval", epoch, trainer.validate(module, loaders.val, verbose=show))
            )
        if loaders.test is not None:
            rows.append(_stage_row("test", epoch, trainer.test(module, loaders.test, verbose=show)))
    module.eval()
    columns: list[str] = ["stage", "epoch"]
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return EvaluationOutcome(
        lmodule=module, rows=pd.DataFrame(rows, columns=columns), trainer=trainer
    )


def require_checkpoint(outcome: FitOutcome, metric: str) -> str:
    """The best checkpoint path, or a :class:`MetricError` when the metric never produced one."""
    if outcome.best_checkpoint_path is None:
        raise MetricError(
            f"No checkpoint was saved: the metric {metric!r} was never logged with a finite value "
            "during training, so there is no best epoch to re-validate and test."
        )
    return outcome.best_checkpoint_path
