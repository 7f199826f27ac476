"""Building Ray Tune's pieces from the settings: searcher, scheduler, resources, Tuner, restore.

The resource arithmetic (:func:`check_trial_fits`, :func:`concurrency_limit`) is pure; the builders
import Ray Tune lazily.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.settings import Settings

#: Ray Tune's experiment folder inside a run directory (``run_dir/tune``).
TUNE_EXPERIMENT_NAME = "tune"

_EPSILON = 1e-9


def check_trial_fits(
    cpu_per_trial: float, gpu_per_trial: float, node_resources: Sequence[Mapping[str, float]]
) -> None:
    """Raise :class:`ConfigError` unless one trial's CPUs and GPUs fit on some node.

    >>> check_trial_fits(1, 0.25, [{"CPU": 2.0, "GPU": 1.0}])
    >>> check_trial_fits(4, 0, [{"CPU": 2.0}])
    Traceback (most recent call last):
    ...
    pytorch_hyperlight.errors.ConfigError: cpu_per_trial=4 and gpu_per_trial=0 do not fit on any node of the Ray cluster (largest node: 2 CPUs, 0 GPUs). Lower cpu_per_trial/gpu_per_trial or add bigger nodes.
    """
    if gpu_per_trial > 1 and not float(gpu_per_trial).is_integer():
        raise ConfigError(
            f"gpu_per_trial above 1 must be a whole number of GPUs, got {gpu_per_trial}. Use a "
            "fraction (e.g. 0.25 to share one GPU between four trials) or an integer."
        )
    for node in node_resources:
        cpu_ok = node.get("CPU", 0.0) + _EPSILON >= cpu_per_trial
        gpu_ok = node.get("GPU", 0.0) + _EPSILON >= gpu_per_trial
        if cpu_ok and gpu_ok:
            return
    largest_cpu = max((node.get("CPU", 0.0) for node in node_resources), default=0.0)
    largest_gpu = max((node.get("GPU", 0.0) for node in node_resources), default=0.0)
    hint = (
        " Set gpu_per_trial=0 to train on CPUs."
        if gpu_per_trial > 0 and largest_gpu == 0
        else " Lower cpu_per_trial/gpu_per_trial or add bigger nodes."
    )
    raise ConfigError(
        f"cpu_per_trial={cpu_per_trial} and gpu_per_trial={gpu_per_trial} do not fit on any node "
        f"of the Ray cluster (largest node: {largest_cpu:g} CPUs, {largest_gpu:g} GPUs).{hint}"
    )


def concurrency_limit(
    cpu_per_trial: float,
    gpu_per_trial: float,
    node_resources: Sequence[Mapping[str, float]],
    n_trials: int,
    requested: int | None = None,
) -> int:
    """Trials to run at once: ``requested``, else as many as the nodes' resources hold (>= 1).

    >>> concurrency_limit(0.5, 0.25, [{"CPU": 2.0, "GPU": 1.0}], n_trials=8)
    4
    >>> concurrency_limit(1, 0, [{"CPU": 2.0}, {"CPU": 3.0}], n_trials=10)
    5
    >>> concurrency_limit(1, 0, [{"CPU": 16.0}], n_trials=3)
    3
    """
    if requested is not None:
        return max(1, min(requested, n_trials))
    total = 0
    for node in node_resources:
        fits = math.floor(node.get("CPU", 0.0) / cpu_per_trial + _EPSILON)
        if gpu_per_trial > 0:
            fits = min(fits, math.floor(node.get("GPU", 0.0) / gpu_per_trial + _EPSILON))
        total += fits
    return max(1, min(total, n_trials))


#: HyperOpt's random start when not set: half of the trials, at most this many (then TPE).
MAX_DEFAULT_INITIAL_POINTS = 10


def default_n_initial_points(settings: Settings, n_trials: int) -> int:
    """HyperOpt's random start: the setting, else half of the trials, between 1 and 10.

    Above 20 trials a fixed random start of 10 leaves TPE more of the search; it came as close to
    an exhaustive grid's best in fewer epochs (docs/benchmarks.md, "Proposed changes", #9).

    >>> default_n_initial_points(Settings(), 8), default_n_initial_points(Settings(), 60)
    (4, 10)
    """
    if settings.hyperopt_n_initial_points is not None:
        return settings.hyperopt_n_initial_points
    return max(1, min(MAX_DEFAULT_INITIAL_POINTS, n_trials // 2))


def build_searcher(settings: Settings, n_trials: int, max_concurrent_trials: int) -> Any:
    """HyperOpt's TPE, or Ray's basic generator for random and grid search, seeded from settings."""
    if settings.searcher == "hyperopt":
        from ray.tune.search.hyperopt import HyperOptSearch

        return HyperOptSearch(
            n_initial_points=default_n_initial_points(settings, n_trials),
            random_state_seed=settings.seed,
        )
    from ray.tune.search import BasicVariantGenerator

    # TuneConfig(max_concurrent_trials) is ignored for this generator: it takes its own limit.
    return BasicVariantGenerator(random_state=settings.seed, max_concurrent=max_concurrent_trials)


def build_scheduler(settings: Settings, epoch_upper_limit: int) -> Any:
    """ASHA on epochs (``training_iteration``: one report per epoch) or FIFO."""
    if settings.scheduler == "fifo":
        from ray.tune.schedulers import FIFOScheduler

        return FIFOScheduler()
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=epoch_upper_limit,
        grace_period=settings.asha_grace_period,
        reduction_factor=settings.asha_reduction_factor,
    )


def trial_dirname(trial: Any) -> str:
    """Short trial folder names (Ray's default embeds every parameter and gets very long)."""
    return f"trial_{trial.trial_id}"


def with_trial_resources(trainable: Callable[..., Any], settings: Settings) -> Any:
    """The trainable with one trial's CPU/GPU reservation (fractions share a device)."""
    from ray import tune

    return tune.with_resources(
        trainable, {"cpu": settings.cpu_per_trial, "gpu": settings.gpu_per_trial}
    )


def build_search_algorithm(settings: Settings, n_trials: int, max_concurrent_trials: int) -> Any:
    """The searcher, ready for the Tuner: HyperOpt wrapped with its concurrency limit.

    Tune would wrap a HyperOpt searcher itself (``ConcurrencyLimiter`` inside ``SearchGenerator``);
    wrapping it here keeps the object reachable, so a resume can raise its trial target.
    """
    from ray.tune.search import ConcurrencyLimiter, Searcher, SearchGenerator

    searcher = build_searcher(settings, n_trials, max_concurrent_trials)
    if isinstance(searcher, Searcher):
        return SearchGenerator(ConcurrencyLimiter(searcher, max_concurrent=max_concurrent_trials))
    return searcher


#: Tune adds its CSV, JSON and TensorBoard loggers unless this is "1" (``ray/tune/utils/callback.py``,
#: ``_create_default_callbacks``, read when ``Tuner.fit`` starts).
_AUTO_LOGGERS_OFF = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"


def result_loggers() -> list[Any]:
    """Tune's per-trial result files that something reads, as explicit callbacks.

    ``result.json`` is what ``Result.metrics_dataframe`` and ``ExperimentAnalysis`` read (and the
    progress view of a resumed search); ``progress.csv`` is their fallback and the file users open.
    Tune's TensorBoard files are left out: nothing reads them, and writing them took about a third
    of the driver's result processing (:func:`fit` stops Tune from adding them).
    """
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    return [CSVLoggerCallback(), JsonLoggerCallback()]


def build_tuner(
    trainable: Any,
    param_space: Mapping[str, Any],
    settings: Settings,
    *,
    metric: str,
    n_trials: int,
    max_concurrent_trials: int,
    epoch_upper_limit: int,
    storage_path: Path,
    callbacks: Sequence[Any] = (),
) -> Any:
    """A Tuner for a new search; its experiment lives in ``storage_path / "tune"``.

    Args:
        trainable: the function trainable, already wrapped by :func:`with_trial_resources`.
        param_space: the space from :func:`pytorch_hyperlight.search.space.prepare_search_space`.
        settings: the search settings (searcher, scheduler, samples, checkpoints, failures).
        metric: the canonical metric name the trials report.
        n_trials: total trials (for HyperOpt's random start).
        max_concurrent_trials: trials at once.
        epoch_upper_limit: ASHA's ``max_t``.
        storage_path: the run directory.
        callbacks: Tune callbacks running in this process (the progress view); Tune's result
            files come from :func:`result_loggers`.
    """
    from ray import tune

    from pytorch_hyperlight.search.results import CHECKPOINT_SCORE
    from pytorch_hyperlight.search.search_state import SearchStateKeeper

    search_algorithm = build_search_algorithm(settings, n_trials, max_concurrent_trials)
    scheduler = build_scheduler(settings, epoch_upper_limit)
    tune_config = tune.TuneConfig(
        metric=metric,
        mode=settings.metric_opt_mode,
        search_alg=search_algorithm,
        scheduler=scheduler,
        num_samples=settings.n_samples,
        # A fresh trial process costs ~3 s of imports; reuse is the biggest speed lever.
        reuse_actors=True,
        trial_dirname_creator=trial_dirname,
    )
    run_config = tune.RunConfig(
        name=TUNE_EXPERIMENT_NAME,
        storage_path=str(storage_path),
        verbose=2 if settings.verbose >= 2 else 0,
        # The keeper comes first: Tune matches saved callback states to callbacks by position.
        callbacks=[
            SearchStateKeeper(scheduler, search_algorithm, n_trials),
            *callbacks,
            *result_loggers(),
        ],
        # Ray keeps the n best-scored checkpoints plus the latest; the score ranks a checkpoint
        # kept for another reason than an improvement below the trial's best one (trainable.py).
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=settings.n_checkpoints_to_keep,
            checkpoint_score_attribute=CHECKPOINT_SCORE,
            checkpoint_score_order=settings.metric_opt_mode,
        ),
        failure_config=tune.FailureConfig(max_failures=settings.max_failures),
    )
    return tune.Tuner(
        trainable, param_space=dict(param_space), tune_config=tune_config, run_config=run_config
    )


def restore_tuner(
    experiment_path: Path,
    trainable: Any,
    callbacks: Sequence[Any] = (),
    *,
    n_trials: int,
    n_samples: int,
) -> Any:
    """Continue an interrupted search exactly where its last snapshot left it.

    Restored from the experiment directory: the search space, the trials (finished ones stay
    finished; unfinished and errored ones continue from their last checkpoint), the searcher's state
    (Tune's snapshot) and the scheduler's rung records (kept by
    :class:`~pytorch_hyperlight.search.search_state.SearchStateKeeper`, which Tune's snapshot leaves
    out otherwise). Bound afresh: the trainable (module class, loader function, settings) and the
    progress view. With HyperOpt, ``n_trials`` may exceed the original target: the search goes on
    with more trials, from everything it has learned.

    Raises:
        ConfigError: no resumable experiment there, or ``n_samples`` cannot be honoured.
    """
    from ray import tune

    from pytorch_hyperlight.search import tune_internals
    from pytorch_hyperlight.search.search_state import SearchStateKeeper

    if not tune.Tuner.can_restore(str(experiment_path)):
        raise ConfigError(
            f"{experiment_path} holds no resumable Ray Tune experiment (no tuner.pkl / experiment "
            "state). Start a new search instead of resume=..."
        )
    tuner = tune.Tuner.restore(
        str(experiment_path),
        trainable=trainable,
        resume_unfinished=True,
        resume_errored=True,
    )
    tune_config, _ = tune_internals.restored_configs(tuner)
    _check_resumable_samples(experiment_path, tune_config, n_trials=n_trials, n_samples=n_samples)
    keeper = SearchStateKeeper(
        tune_config.scheduler, tune_config.search_alg, n_trials, resuming=True
    )
    # The restored RunConfig still holds the old process's callbacks: put live ones in their place,
    # the keeper first as when the search started.
    tune_internals.replace_restored_callbacks(tuner, [keeper, *callbacks, *result_loggers()])
    return tuner


def _check_resumable_samples(
    experiment_path: Path, tune_config: Any, *, n_trials: int, n_samples: int
) -> None:
    from ray.tune import ExperimentAnalysis
    from ray.tune.search import SearchGenerator

    original = tune_config.num_samples
    if not isinstance(tune_config.search_alg, SearchGenerator):
        if n_samples != original:
            raise ConfigError(
                f"resume with n_samples={n_samples}, but this search was started with "
                f"n_samples={original}. Only a HyperOpt search can grow on resume; for a random or "
                f"grid search resume with n_samples={original}, or start a new search."
            )
        return
    created = len(ExperimentAnalysis(str(experiment_path)).trials)
    if n_trials < created:
        raise ConfigError(
            f"resume with n_samples={n_samples}, but this search has already created {created} "
            f"trials. Resume with n_samples >= {created} (it was started with {original})."
        )


def restored_objective(tuner: Any) -> tuple[str | None, str | None]:
    """``(metric, mode)`` of a restored Tuner's original TuneConfig."""
    from pytorch_hyperlight.search import tune_internals

    tune_config, _ = tune_internals.restored_configs(tuner)
    return tune_config.metric, tune_config.mode


#: Ray loggers that print INFO/WARNING lines during a search (quiet unless verbose=2).
RAY_LOGGERS = ("ray", "ray.tune", "ray.train")


@contextlib.contextmanager
def _handlers_restored() -> Iterator[None]:
    """Tune installs SIGINT/SIGUSR1 handlers and leaves them after a normal run: restore ours."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [name for name in ("SIGINT", "SIGUSR1") if hasattr(signal, name)]
    previous = {name: signal.getsignal(getattr(signal, name)) for name in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            if handler is not None:
                signal.signal(getattr(signal, name), handler)


@contextlib.contextmanager
def _quiet_ray(verbose: int) -> Iterator[None]:
    if verbose >= 2:
        yield
        return
    loggers = [logging.getLogger(name) for name in RAY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        # Failed trials are reported by the progress view and in the results, not as tracebacks.
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def _no_auto_loggers() -> Iterator[None]:
    """Tune adds none of its loggers: the Tuner has :func:`result_loggers` (no TensorBoard files)."""
    previous = os.environ.get(_AUTO_LOGGERS_OFF)
    os.environ[_AUTO_LOGGERS_OFF] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_AUTO_LOGGERS_OFF, None)
        else:
            os.environ[_AUTO_LOGGERS_OFF] = previous


def fit(tuner: Any, verbose: int) -> Any:
    """``tuner.fit()`` quietly, leaving the process's signal handlers as they were.

    The Tuner comes from :func:`build_tuner` or :func:`restore_tuner`, which give it the result
    files that are read (:func:`result_loggers`); Tune adds no other logger meanwhile.
    """
    with _handlers_restored(), _quiet_ray(verbose), _no_auto_loggers():
        return tuner.fit()


def unfinished_trials(experiment_path: Path, n_trials: int) -> int:
    """Trials not yet finished according to the experiment state saved on disk.

    After Ctrl-C Tune saves the state and then stops the running trials, marking them terminated
    in memory; the saved state still says which trials had not finished (or not started).
    """
    from ray.tune import ExperimentAnalysis

    analysis = ExperimentAnalysis(str(experiment_path))
    finished = sum(str(trial.status) in ("TERMINATED", "ERROR") for trial in analysis.trials)
    return max(0, n_trials - finished)
