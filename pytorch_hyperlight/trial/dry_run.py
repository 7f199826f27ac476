"""The one-batch dry run: the first epoch of training, cut down to one batch per stage.

Run before any real training (by ``run_single_trial``, and by ``run_hyper_opt`` before Ray starts),
it fails exactly where the first epoch of training would, within seconds: same seeding, Trainer
options, loaders and callbacks (see :func:`pytorch_hyperlight.trial.trainer.build_trainer`). It
learns what the module logs (to resolve ``metric_to_optimize``) and which hyper-parameter keys it
reads (:mod:`pytorch_hyperlight.trial.hparam_reads`). Nothing of it is kept: the user's callbacks run
on fresh deep copies, files go to a temporary directory, and the random generators and torch's
deterministic flags are given back.

The framework's own callbacks of a fit (epoch metrics collector, NaN guard, best-epoch checkpoint,
early stopping, the Tune reporter) only record, stop or save; none changes a training step, and they
need the metric that the dry run is there to find, so the dry run goes without them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytorch_hyperlight import metric_names
from pytorch_hyperlight.trial import epoch_recorder
from pytorch_hyperlight.trial.building import check_config
from pytorch_hyperlight.trial.data import LoaderSet
from pytorch_hyperlight.trial.hparam_reads import HparamReads
from pytorch_hyperlight.trial.lightning import (
    lightning_root_dir,
    namespace_of,
    quiet_lightning,
    random_state_restored,
    torch_determinism_restored,
)
from pytorch_hyperlight.trial.trainer import build_trainer, loaders_for, seeded_module

if TYPE_CHECKING:
    from pytorch_hyperlight.trial.fit import TrialSpec

#: The note added to an exception raised during the dry run.
DRY_RUN_NOTE = (
    "(raised during pytorch_hyperlight's one-batch dry run, before training: the first epoch of "
    "training, with your callbacks, on one batch per stage)"
)


@dataclass(frozen=True)
class DryRunReport:
    """What the one-batch dry run learned.

    Attributes:
        monitor: the key to monitor as logged (``'val_f1_epoch'``).
        metric: its canonical name (``'val_f1'``).
        logged: canonical names of every epoch metric the module logs (train, val and test).
        read_keys: the hyper-parameter keys the module read (see
            :mod:`~pytorch_hyperlight.trial.hparam_reads`); None when any key may have been read.
    """

    monitor: str
    metric: str
    logged: tuple[str, ...]
    read_keys: frozenset[str] | None = None


def dry_run(
    spec: TrialSpec,
    *,
    loaders: LoaderSet | None = None,
    callbacks: Sequence[Any] = (),
    with_logger: bool = False,
) -> DryRunReport:
    """Run the real fit's first epoch on one batch per stage, then one test batch; keep nothing.

    The module's reads of its hyper-parameters are watched through dict subclasses (see
    :mod:`~pytorch_hyperlight.trial.hparam_reads`). Code that insists on an exact ``dict`` (e.g.
    ``OmegaConf.create(hparams)``) fails on them; so when the watched run fails, the dry run runs
    again unwatched, and fails (or not) exactly as training would; the read keys are then unknown.

    Args:
        spec: what to train.
        loaders: loaders already built at the config's batch size (else built here).
        callbacks: the user's callbacks; they run on deep copies, the objects given are untouched.
        with_logger: the real fit has loggers: a throwaway CSV logger (in a temporary directory)
            stands in for them, for callbacks that need one.

    Returns:
        A :class:`DryRunReport`.

    Raises:
        ConfigError: bad config or module class.
        DataLoaderError: bad loaders.
        MetricError: a logged name without a ``train_``/``val_``/``test_`` prefix, or
            ``metric_to_optimize`` not logged at epoch level (the message lists what is logged).
        Exception: whatever the module or a callback raises, with a note naming the dry run.
    """
    check_config(spec.lmodule_class, spec.config)
    loaders = loaders_for(spec, loaders)
    reads: HparamReads | None = HparamReads()
    try:
        logged = _first_epoch(spec, loaders, callbacks, with_logger, reads)
    except Exception:
        logged = None  # retried outside this block, so the real error is not chained to this one
    if logged is None:
        reads = None
        logged = _first_epoch(spec, loaders, callbacks, with_logger, reads)
    keys, test_keys, names = logged
    metric_names.check_stage_prefixes(names)
    resolved = metric_names.resolve_metric(
        spec.settings.metric_to_optimize, keys, hint=loaders.describe()
    )
    return DryRunReport(
        monitor=resolved.monitor,
        metric=resolved.metric,
        logged=tuple({**keys, **test_keys}),
        read_keys=reads.read_keys() if reads is not None else None,
    )


def _first_epoch(
    spec: TrialSpec,
    loaders: LoaderSet,
    callbacks: Sequence[Any],
    with_logger: bool,
    reads: HparamReads | None,
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Fit one batch per stage and test one batch; ``(train/val keys, test keys, logged names)``."""
    namespace = namespace_of(spec.lmodule_class)
    copies = [copy.deepcopy(callback) for callback in callbacks]
    with (
        quiet_lightning(0),
        lightning_root_dir(None) as root,
        torch_determinism_restored(),
        random_state_restored(),
    ):
        try:
            module = seeded_module(spec, namespace, loaders, reads=reads)
            stand_in = [namespace.CSVLogger(save_dir=root, name="dry-run")] if with_logger else []
            trainer = build_trainer(
                spec, namespace, root, callbacks=copies, loggers=stand_in, dry_run=True
            )
            trainer.fit(module, train_dataloaders=loaders.train, val_dataloaders=loaders.val)
            keys = epoch_recorder.epoch_metric_keys(trainer, ("train", "val"))
            names = epoch_recorder.logged_names(trainer, ("train", "val"))
            test_keys: dict[str, str] = {}
            if loaders.test is not None:
                trainer.test(module, dataloaders=loaders.test, verbose=False)
                test_keys = epoch_recorder.epoch_metric_keys(trainer, ("test",))
                names += epoch_recorder.logged_names(trainer, ("test",))
        except Exception as error:
            if hasattr(error, "add_note"):  # Python 3.11+
                error.add_note(DRY_RUN_NOTE)
            raise
    return keys, test_keys, names
