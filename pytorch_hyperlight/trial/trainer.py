"""What a fit and its one-batch dry run build the same way: loaders, the seeded module, the Trainer.

:func:`build_trainer` is the one place that sets the Trainer's options for training, so the dry run
(:mod:`pytorch_hyperlight.trial.dry_run`) runs exactly the first epoch that
:func:`pytorch_hyperlight.trial.fit.fit_trial` will run, cut down to one batch per stage
(:data:`DRY_RUN_OPTIONS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytorch_hyperlight.files import write_stream_atomic
from pytorch_hyperlight.trial.building import build_module, derived_values, steps_per_epoch
from pytorch_hyperlight.trial.data import LoaderSet, load_dataloaders
from pytorch_hyperlight.trial.hparam_reads import HparamReads
from pytorch_hyperlight.trial.lightning import LightningNamespace, trainer_options

if TYPE_CHECKING:
    from pytorch_hyperlight.trial.fit import TrialSpec

#: What the dry run changes in the real fit's Trainer: one epoch of one batch per stage, quietly.
DRY_RUN_OPTIONS: Mapping[str, Any] = {
    "max_epochs": 1,
    "limit_train_batches": 1,
    "limit_val_batches": 1,
    "limit_test_batches": 1,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def loaders_for(
    spec: TrialSpec, loaders: LoaderSet | None, batch_size: int | None = None
) -> LoaderSet:
    """``loaders`` when built at ``batch_size`` (default: the config's), else freshly built ones."""
    wanted = batch_size or int(spec.config["batch_size"])
    if loaders is not None and loaders.batch_size == wanted:
        return loaders
    return load_dataloaders(spec.configure_dataloaders, wanted, spec.settings)


def fit_options(spec: TrialSpec) -> dict[str, Any]:
    """The Trainer options of the real fit: accelerator, precision, epochs, debug limits."""
    max_epochs = int(spec.config["max_epochs"])
    return trainer_options(spec.settings, is_debug=spec.is_debug, max_epochs=max_epochs)


def derived_for(spec: TrialSpec, loaders: LoaderSet, options: Mapping[str, Any]) -> dict[str, int]:
    """``n_steps_per_epoch`` / ``n_train_steps`` for training with ``options`` on ``loaders``."""
    n_steps = steps_per_epoch(
        len(loaders.train), limit_train_batches=options.get("limit_train_batches")
    )
    return derived_values(n_steps, int(options["max_epochs"]))


def seeded_module(
    spec: TrialSpec,
    namespace: LightningNamespace,
    loaders: LoaderSet,
    *,
    reads: HparamReads | None = None,
) -> Any:
    """Seed as the settings say, then build the module (its initial weights follow the seed).

    The module always gets the real fit's ``n_steps_per_epoch`` / ``n_train_steps``, in the dry run
    too, so a learning-rate schedule is built as it will be for training.
    """
    if spec.settings.seed is not None:
        namespace.seed_everything(spec.settings.seed)
    derived = derived_for(spec, loaders, fit_options(spec))
    return build_module(spec.lmodule_class, spec.config, derived, reads=reads)


class AtomicCheckpointWrites:
    """Mixed into Lightning's ``TorchCheckpointIO``: every checkpoint is written to a temporary file,
    fsynced and renamed, so a crash or a kill never leaves a truncated ``.ckpt`` behind."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        """Write ``checkpoint`` to the local ``path`` atomically (remote paths: Lightning's way)."""
        if storage_options is not None or "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)  # type: ignore[misc]
            return
        import torch

        write_stream_atomic(Path(path), lambda handle: torch.save(checkpoint, handle))


def atomic_checkpoint_io(namespace: LightningNamespace) -> Any:
    """A ``TorchCheckpointIO`` plugin of ``namespace`` with :class:`AtomicCheckpointWrites`."""
    base = namespace.module.plugins.TorchCheckpointIO
    return namespace.bind(AtomicCheckpointWrites, base)()


def _gradient_clip(config: Mapping[str, Any]) -> float | None:
    value = config.get("gradient_clip_val")
    return float(value) if value else None  # 0 and None both mean: no clipping


def build_trainer(
    spec: TrialSpec,
    namespace: LightningNamespace,
    root: str,
    *,
    callbacks: Sequence[Any],
    loggers: Sequence[Any] = (),
    dry_run: bool = False,
) -> Any:
    """The Trainer of a fit, or of its dry run (``dry_run=True``).

    Both get the same accelerator, precision, gradient clipping, deterministic mode (with a seed)
    and callbacks. The dry run differs only by :data:`DRY_RUN_OPTIONS` and by leaving out
    checkpoint callbacks (they write files and never change a training step); its caller passes a
    throwaway logger in place of the user's loggers.

    Args:
        spec: what is trained.
        namespace: the module's Lightning namespace.
        root: Lightning's ``default_root_dir``.
        callbacks: every callback of the run (the framework's, then the user's).
        loggers: Lightning loggers; none: ``logger=False``.
        dry_run: build the dry run's Trainer.
    """
    options = fit_options(spec)
    if dry_run:
        options.update(DRY_RUN_OPTIONS)
        # checkpoints write files and progress bars only display: neither changes a training step
        skipped = (namespace.Checkpoint, namespace.ProgressBar)
        callbacks = [cb for cb in callbacks if not isinstance(cb, skipped)]
    elif any(isinstance(cb, namespace.ProgressBar) for cb in callbacks):
        # Lightning refuses a progress bar callback when told to show no progress bar.
        options["enable_progress_bar"] = True
    return namespace.Trainer(
        **options,
        callbacks=list(callbacks),
        logger=list(loggers) if loggers else False,
        enable_checkpointing=any(isinstance(cb, namespace.Checkpoint) for cb in callbacks),
        gradient_clip_val=_gradient_clip(spec.config),
        deterministic=spec.settings.seed is not None,
        default_root_dir=root,
        plugins=[atomic_checkpoint_io(namespace)],
    )
