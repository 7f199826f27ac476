"""The Tune trainable: one trial = one call of the single-trial training code path.

:func:`hyperlight_trial` runs inside a Ray worker. It rebuilds the :class:`TrialSpec` from the
trial's config (Tune resolves the sampled values and keeps the constants), gives torch the trial's
CPUs, and calls :func:`pytorch_hyperlight.trial.fit.fit_trial` with a :class:`TuneReportSink` on the
trial's epoch recorder: it reports the epoch's metrics to Tune once per epoch, with a checkpoint
when the trial's metric improves, at its last epoch and after at most ``checkpoint_every_s``
seconds. Each checkpoint also holds its report, so a resumed trial can catch up with reports whose
checkpoints reached storage while the driver was stopping or dying
(:func:`~pytorch_hyperlight.search.trial_checkpoints.catch_up`): nothing a trial finished is trained
again.

:func:`make_trainable` binds the module class, loader function, settings, the user's callbacks and
logger specs (with ``tune.with_parameters``) and reserves the trial's resources. :func:`prepare_for_workers`
makes classes defined in ``__main__``, a notebook or a test module reach the workers.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.search import results as keys
from pytorch_hyperlight.search.space import resolve_variant
from pytorch_hyperlight.search.trial_checkpoints import (
    CHECKPOINT_FILE,
    SKIP,
    CheckpointPolicy,
    catch_up,
    training_finished,
    write_report,
)
from pytorch_hyperlight.settings import Settings
from pytorch_hyperlight.trial.epoch_recorder import EpochRow, EpochSink

_PACKAGE = __name__.split(".")[0]


class TuneReportSink(EpochSink):
    """Reports each epoch of a search trial to Ray Tune, with a checkpoint when one is needed.

    A sink of the trial's :class:`~pytorch_hyperlight.trial.epoch_recorder.EpochRecorder`, after
    its NaN guard (a NaN or infinite metric or ``*_loss`` stops the trial before anything is
    reported; Tune records the error, the other trials go on). Which epochs carry a checkpoint is
    :class:`~pytorch_hyperlight.search.trial_checkpoints.CheckpointPolicy`'s decision: improvements
    on the trial's best, its last epoch, and one after at most ``checkpoint_every_s`` seconds. The
    checkpoint is written at the epoch's end and holds its report and the reports sent without a
    checkpoint since the previous one
    (:func:`~pytorch_hyperlight.search.trial_checkpoints.write_report`); the others are a plain
    ``tune.report(metrics)``. The report goes out once the epoch's row is complete, with
    ``should_stop`` telling whether Lightning's early stopping ended training.

    Args:
        metric: the canonical metric Tune optimises.
        mode: ``'max'`` or ``'min'``.
        checkpoint_every_s: the ``checkpoint_every_s`` setting.
        training_time: training seconds of earlier attempts (a resumed trial counts on from there).
    """

    def __init__(
        self,
        metric: str,
        mode: str,
        checkpoint_every_s: float | None,
        training_time: float = 0.0,
    ) -> None:
        self.metric = metric
        self.policy = CheckpointPolicy(mode, checkpoint_every_s)
        self._training_time = training_time
        self._checkpoint_dir: str | None = None
        self._saved = SKIP
        self._early: float | None = None
        # reports sent since the last checkpoint: stored with the next one for catch_up
        self._without_checkpoint: list[dict[str, Any]] = []

    def epoch_ending(self, trainer: Any, epoch: int, metric_value: float | None) -> None:
        self._early = metric_value
        self._saved = self.policy.at_epoch_end(metric_value)
        if self._saved != SKIP:
            self._write_checkpoint(trainer)

    def epoch_recorded(self, trainer: Any, row: EpochRow) -> None:
        from ray import tune

        self._training_time += row.ended_at - row.started_at
        report: dict[str, Any] = {
            **row.values,
            keys.EPOCH: row.epoch,
            keys.EPOCH_STARTED_AT: row.started_at,
            keys.EPOCH_ENDED_AT: row.ended_at,
            keys.TRAINING_TIME: self._training_time,
            keys.MAX_EPOCHS: row.max_epochs,
            keys.SHOULD_STOP: row.should_stop,
        }
        final = row.values.get(self.metric)
        decision = self.policy.at_record(self._early, final, self._saved, last=row.last)
        try:
            if not decision.keep:
                tune.report(report)
                self._without_checkpoint.append(report)
                return
            if self._checkpoint_dir is None:  # the last epoch: its checkpoint is written now
                self._write_checkpoint(trainer)
            assert self._checkpoint_dir is not None
            report[keys.CHECKPOINT_SCORE] = decision.score
            write_report(Path(self._checkpoint_dir), report, earlier=self._without_checkpoint)
            tune.report(report, checkpoint=tune.Checkpoint.from_directory(self._checkpoint_dir))
            self._without_checkpoint = []
        finally:
            self._discard_checkpoint()

    def abandoned(self, row: EpochRow | None) -> None:
        self._discard_checkpoint()

    def state_dict(self) -> dict[str, Any]:
        return self.policy.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.policy.load_state_dict(state)

    def _write_checkpoint(self, trainer: Any) -> None:
        self._discard_checkpoint()
        self._checkpoint_dir = tempfile.mkdtemp(prefix="hyperlight-ckpt-")
        trainer.save_checkpoint(os.path.join(self._checkpoint_dir, CHECKPOINT_FILE))

    def _discard_checkpoint(self) -> None:
        if self._checkpoint_dir is not None:
            shutil.rmtree(self._checkpoint_dir, ignore_errors=True)
            self._checkpoint_dir = None


def trial_settings(settings: Settings, cuda_usable: bool) -> Settings:
    """The settings one trial trains with: whole GPUs when CUDA is usable here, else the CPU.

    Ray reserves fractions of a GPU; Lightning must get a whole device count, never a fraction:
    one device for a fraction, ``gpu_per_trial`` devices for 2 or more.

    >>> trial_settings(Settings(gpu_per_trial=0.25), cuda_usable=False).gpus
    0
    >>> trial_settings(Settings(gpu_per_trial=0.25), cuda_usable=True).gpus
    1
    >>> trial_settings(Settings(gpu_per_trial=2), cuda_usable=True).gpus
    2
    """
    gpus = max(1, int(settings.gpu_per_trial)) if cuda_usable and settings.gpus != 0 else 0
    return settings.replace(gpus=gpus, verbose=min(settings.verbose, 1))


def trial_threads(cpu_per_trial: float) -> int:
    """Torch threads for a trial's CPU reservation (at least one).

    >>> trial_threads(0.5), trial_threads(2), trial_threads(3.7)
    (1, 2, 3)
    """
    return max(1, int(cpu_per_trial))


def hyperlight_trial(
    config: dict[str, Any],
    *,
    spec: Any,
    constants: Mapping[str, Any] | None = None,
    user_callbacks: Sequence[Any] = (),
    user_loggers: Sequence[Any] = (),
    wandb_options: Any = None,
) -> None:
    """Train one trial of the search (runs in a Ray worker).

    Args:
        config: the trial's config from Tune: sampled values and constants.
        spec: the search's :class:`~pytorch_hyperlight.trial.fit.TrialSpec` template.
        constants: the search space's constants as the user wrote them (they replace the copies
            the searcher hands back, which may differ in type: HyperOpt returns lists as tuples).
        user_callbacks: the Runner's Lightning callbacks (copied fresh for this trial).
        user_loggers: :class:`~pytorch_hyperlight.trial.loggers.LoggerSpec` of the Runner's
            loggers; each trial builds its own loggers, writing into the trial's directory.
        wandb_options: a :class:`~pytorch_hyperlight.integrations.wandb.WandbOptions` to log the
            trial to W&B (one W&B run per trial), or None.
    """
    import torch
    from ray import tune

    from pytorch_hyperlight.trial.fit import fit_trial
    from pytorch_hyperlight.trial.loggers import build_loggers

    torch.set_num_threads(trial_threads(spec.settings.cpu_per_trial))
    settings = trial_settings(spec.settings, torch.cuda.is_available())
    trial_config = resolve_variant({**config, **copy.deepcopy(dict(constants or {}))})
    trial_spec = dataclasses.replace(spec, config=trial_config, settings=settings)
    callbacks = [copy.deepcopy(callback) for callback in user_callbacks]
    resume_from = tune.get_checkpoint()
    with contextlib.ExitStack() as stack:
        previous_time, checkpoint_path = 0.0, None
        if resume_from is not None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="hyperlight-resume-"))
            directory, report = catch_up(resume_from, Path(scratch))
            if report is not None and training_finished(report):
                return  # it had finished: never train it again
            previous_time = float((report or {}).get(keys.TRAINING_TIME, 0.0))
            checkpoint_path = str(directory / CHECKPOINT_FILE)
        user_built = build_loggers(user_loggers, Path(tune.get_context().get_trial_dir()))
        wandb_loggers = _trial_wandb_loggers(spec, trial_config, wandb_options)
        loggers = [*user_built, *stack.enter_context(wandb_loggers)]
        fit_trial(
            trial_spec,
            checkpoint_dir=None,
            epoch_sinks=[
                TuneReportSink(
                    _metric_of(spec),
                    settings.metric_opt_mode,
                    settings.checkpoint_every_s,
                    training_time=previous_time,
                )
            ],
            user_callbacks=callbacks,
            loggers=loggers,
            resume_from=checkpoint_path,
        )


@contextlib.contextmanager
def _trial_wandb_loggers(spec: Any, config: Mapping[str, Any], options: Any) -> Iterator[list[Any]]:
    """The trial's W&B logger (a W&B run named ``<run name>-<trial id>``, its config), or none.

    A W&B run that cannot start never fails the trial: it trains without W&B (with a warning).
    """
    if options is None:
        yield []
        return
    from ray import tune

    from pytorch_hyperlight.integrations import wandb
    from pytorch_hyperlight.trial.lightning import namespace_of

    with wandb.wandb_loggers(
        namespace_of(spec.lmodule_class),
        options,
        name_suffix=tune.get_context().get_trial_id(),
        job_type=wandb.JOB_SEARCH_TRIAL,
        config=config,
        required=False,
    ) as loggers:
        yield loggers


def _metric_of(spec: Any) -> str:
    from pytorch_hyperlight.metric_names import canonical_name

    monitor = spec.monitor or spec.settings.metric_to_optimize
    return canonical_name(monitor) or monitor


def make_trainable(
    spec: Any,
    settings: Settings,
    *,
    constants: Mapping[str, Any] | None = None,
    user_callbacks: Sequence[Any] = (),
    user_loggers: Sequence[Any] = (),
    wandb_options: Any = None,
) -> Any:
    """The trainable handed to the Tuner: :func:`hyperlight_trial` bound to ``spec``, with resources.

    ``user_loggers`` are :class:`~pytorch_hyperlight.trial.loggers.LoggerSpec` (never live loggers).
    """
    from ray import tune

    from pytorch_hyperlight.search.tuner import with_trial_resources

    bound = tune.with_parameters(
        hyperlight_trial,
        spec=spec,
        constants=dict(constants or {}),
        user_callbacks=tuple(user_callbacks),
        user_loggers=tuple(user_loggers),
        wandb_options=wandb_options,
    )
    return with_trial_resources(bound, settings)


# --- getting user code to the workers ------------------------------------------------------------
def _installed_roots() -> list[Path]:
    paths = sysconfig.get_paths()
    roots = {
        paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths
    }
    roots.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
    return [Path(root).resolve() for root in roots]


def needs_pickle_by_value(module: ModuleType) -> bool:
    """True for user code a worker may not import: modules outside installed packages and stdlib.

    ``__main__`` is pickled by value anyway; this package is installed wherever the workers run.
    """
    name = module.__name__
    if name == "__main__" or name.split(".")[0] == _PACKAGE:
        return False
    file = getattr(module, "__file__", None)
    if not file:
        return True
    path = Path(file).resolve()
    return not any(path.is_relative_to(root) for root in _installed_roots())


def _modules_of(objects: Iterable[Any]) -> list[ModuleType]:
    modules = []
    for obj in objects:
        target = getattr(obj, "func", obj)  # functools.partial
        if not isinstance(target, type) and not callable(target):
            target = type(target)
        module = sys.modules.get(getattr(target, "__module__", "") or "")
        if module is not None and module not in modules:
            modules.append(module)
    return modules


def prepare_for_workers(payload: Any, code: Iterable[Any]) -> list[str]:
    """Register user modules to be pickled by value, then check that ``payload`` pickles.

    Args:
        payload: what travels to the workers (the trial spec and callbacks).
        code: the user's classes, functions and callback objects whose modules may need
            pickling by value.

    Returns:
        The names of the modules registered for pickling by value.

    Raises:
        ConfigError: the payload cannot be pickled (with the reason and how to fix it).
    """
    from ray import cloudpickle

    registered = []
    for module in _modules_of(code):
        if needs_pickle_by_value(module):
            cloudpickle.register_pickle_by_value(module)
            registered.append(module.__name__)
    try:
        cloudpickle.dumps(payload)
    except Exception as error:
        raise ConfigError(
            f"The module class, loader function or callbacks cannot be sent to Ray workers: "
            f"{type(error).__name__}: {error}. Define them at module level, do not capture open "
            "files, locks or live connections (build those inside configure_dataloaders), and "
            "keep data out of the class: pass a function that returns loaders."
        ) from error
    return registered
