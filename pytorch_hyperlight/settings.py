"""Typed settings: every key a single trial or a search reads, with its default and meaning.

The seed README passes these as a plain dict (``EXTRA_CONFIG`` / ``TUNE_CONFIG``); that still works:
:meth:`Settings.from_any` converts the dict at the boundary, and an unknown key is an error that names
the closest valid key. Settings are frozen, plain and serialisable (:meth:`Settings.to_dict`).

Example:
    >>> from pytorch_hyperlight import Settings
    >>> settings = Settings.from_any({"metric_to_optimize": "val_f1_epoch", "metric_opt_mode": "max"})
    >>> settings.metric_opt_mode
    'max'
    >>> Settings.from_any({"metric_to_optimise": "val_f1"})
    Traceback (most recent call last):
    ...
    pytorch_hyperlight.errors.ConfigError: Unknown settings key 'metric_to_optimise' (did you mean 'metric_to_optimize'?). ...
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.metric_direction import declared_direction, higher_is_better_problems

#: Keys of the model ``config`` that the framework itself reads (the rest go to the module).
FRAMEWORK_CONFIG_KEYS = ("max_epochs", "batch_size", "gradient_clip_val")

_SEARCHERS = ("hyperopt", "random", "grid")
_SCHEDULERS = ("asha", "fifo")
_MODES = ("min", "max")


def _setting(default: Any, help: str) -> Any:
    """A dataclass field with its documentation kept as data (for docs and the future command line)."""
    if isinstance(default, list | dict):
        raise TypeError("settings defaults must be immutable")
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """How a trial is trained, validated and tested, and how a search is run.

    Only ``metric_to_optimize`` and ``metric_opt_mode`` usually need setting. Keys marked "search"
    are read by :meth:`Runner.run_hyper_opt` only and are accepted (and ignored) by a single trial,
    so one dict can serve both, as in the seed README.
    """

    # --- objective -------------------------------------------------------------------------------
    metric_to_optimize: str = _setting(
        "val_loss",
        "Metric that selects the best epoch and the best trial; with or without the '_epoch' suffix.",
    )
    metric_opt_mode: str = _setting(
        "min", "'min' or 'max': direction in which the metric improves."
    )
    higher_is_better: Mapping[str, bool] | None = _setting(
        None,
        "Which way is better for other metrics, where the default rule does not know or is wrong, "
        "e.g. {'perplexity': False}; a key with a stage prefix ('val_bleu') names that metric "
        "only. Read by the comparison report; None: the default rule.",
    )
    # --- training ----------------------------------------------------------------------------------
    seed: int | None = _setting(
        None, "Seed for torch, numpy, random and the searcher; also turns on deterministic mode."
    )
    ptl_early_stopping_patience: int | None = _setting(
        None, "Epochs without improvement before training stops; None turns early stopping off."
    )
    ptl_early_stopping_grace_period: int | None = _setting(
        None,
        "Epochs at the start whose early-stopping checks are skipped (they neither count towards "
        "the patience nor stop training); None: the value of grace_period if given, else 0.",
    )
    ptl_precision: int | str = _setting(32, "Lightning precision: 32, 16, 'bf16-mixed', ...")
    gpus: int = _setting(
        -1, "-1: a GPU when CUDA is usable, else CPU; 0: CPU; N>=1: N GPUs (error if none usable)."
    )
    train_loader_name: str = _setting("train_loader", "Key of the training loader.")
    val_loader_name: str | None = _setting(
        "val_loader", "Key of the validation loader; training works without one."
    )
    test_loader_name: str | None = _setting(
        "test_loader", "Key of the test loader; the test stage is skipped without one."
    )
    batch_size_main: int | None = _setting(
        None, "Batch size for re-validation and test of the best model; None: the config's."
    )
    cpu_per_trial: float = _setting(
        1, "CPUs per trial: Ray's reservation, torch's threads and the loaders' n_workers."
    )
    verbose: int = _setting(
        1,
        "0: silent; 1: one table row per epoch / per trial event; 2: Lightning and Ray output too.",
    )
    results_dir: str | None = _setting(
        None,
        "Where run directories go; None: $HYPERLIGHT_RESULTS_DIR, else ~/hyperlight_runs.",
    )
    # --- search ------------------------------------------------------------------------------------
    n_samples: int = _setting(10, "search: number of trials (per grid point for grid values).")
    gpu_per_trial: float = _setting(
        0.0, "search: GPUs reserved per trial; fractions let trials share one GPU."
    )
    grace_period: int | None = _setting(
        None,
        "ASHA never stops a trial before this many epochs (None: 1); as in the original, also the "
        "early-stopping grace period when ptl_early_stopping_grace_period is not given.",
    )
    epoch_upper_limit: int | None = _setting(
        None, "search: ASHA's max_t in epochs; None: the largest max_epochs of the search space."
    )
    asha_reduction_factor: float = _setting(
        3, "search: ASHA keeps 1/reduction_factor of the trials at each rung."
    )
    n_checkpoints_to_keep: int = _setting(
        1, "search: best checkpoints kept per trial, ranked by the metric."
    )
    checkpoint_every_s: float | None = _setting(
        60.0,
        "search: a trial hands Tune a checkpoint when its metric improves on its own best, at its "
        "last epoch and, for resuming after a failure, after at most this many seconds since the "
        "last one; 0: after every epoch; None: never for time alone.",
    )
    ray_metrics_to_show: tuple[str, ...] | None = _setting(
        None, "search: metrics shown in the live progress view; None: the metric to optimise."
    )
    searcher: str = _setting("hyperopt", "search: 'hyperopt', 'random' or 'grid'.")
    hyperopt_n_initial_points: int | None = _setting(
        None,
        "search: random trials before HyperOpt's TPE starts; None: half of n_samples, at most 10.",
    )
    scheduler: str = _setting("asha", "search: 'asha' (early stopping of bad trials) or 'fifo'.")
    max_concurrent_trials: int | None = _setting(
        None, "search: trials at once; None: as many as the cluster's resources allow."
    )
    max_failures: int = _setting(0, "search: retries of a trial that raised.")
    ray_address: str | None = _setting(
        None, "search: address of an existing Ray cluster; None: $RAY_ADDRESS, else a local Ray."
    )

    def __post_init__(self) -> None:
        if isinstance(self.higher_is_better, Mapping):  # a copy: the caller's dict stays theirs
            object.__setattr__(self, "higher_is_better", dict(self.higher_is_better))
        problems = _check_values(self)
        if problems:
            raise ConfigError(
                "Invalid settings:\n  - "
                + "\n  - ".join(problems)
                + "\nFix these keys in the settings dict (extra_config / tune_config); "
                "Settings.describe() explains each key."
            )

    # --- conversion at the boundary ----------------------------------------------------------------
    @classmethod
    def from_any(cls, value: Settings | Mapping[str, Any] | None) -> Settings:
        """Return settings from a :class:`Settings`, a dict of legacy keys, or ``None`` (defaults)."""
        if value is None:
            return cls()
        if isinstance(value, Settings):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"Settings must be a dict or a pytorch_hyperlight.Settings, got "
                f"{type(value).__name__}. Pass e.g. {{'metric_to_optimize': 'val_loss'}}."
            )
        unknown = [key for key in value if key not in _FIELD_NAMES]
        if unknown:
            raise ConfigError(" ".join(_unknown_key_message(key) for key in unknown))
        values = dict(value)
        if values.get("ray_metrics_to_show") is not None:
            values["ray_metrics_to_show"] = tuple(values["ray_metrics_to_show"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict of every setting."""
        result = dataclasses.asdict(self)
        if result["ray_metrics_to_show"] is not None:
            result["ray_metrics_to_show"] = list(result["ray_metrics_to_show"])
        return result

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (validated like a new object)."""
        return dataclasses.replace(self, **changes)

    @property
    def asha_grace_period(self) -> int:
        """ASHA's grace period in epochs: ``grace_period``, or 1 when it is not given.

        >>> Settings().asha_grace_period, Settings(grace_period=3).asha_grace_period
        (1, 3)
        """
        return 1 if self.grace_period is None else self.grace_period

    @property
    def early_stopping_grace_period(self) -> int:
        """Epochs whose early-stopping checks are skipped: ``ptl_early_stopping_grace_period``,
        else ``grace_period`` (the original used that one key for both), else 0.

        >>> Settings(grace_period=3).early_stopping_grace_period
        3
        >>> Settings(grace_period=3, ptl_early_stopping_grace_period=0).early_stopping_grace_period
        0
        >>> Settings().early_stopping_grace_period
        0
        """
        if self.ptl_early_stopping_grace_period is not None:
            return self.ptl_early_stopping_grace_period
        return self.grace_period or 0

    @classmethod
    def describe(cls) -> dict[str, tuple[Any, str]]:
        """Every key with its default and description."""
        return {f.name: (f.default, f.metadata["help"]) for f in dataclasses.fields(cls)}


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Settings))


def _unknown_key_message(key: str) -> str:
    close = difflib.get_close_matches(key, _FIELD_NAMES, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"Unknown settings key {key!r}{hint}. Valid keys are listed by "
        f"pytorch_hyperlight.Settings.describe()."
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _direction_problems(settings: Settings) -> list[str]:
    """``higher_is_better``'s own problems, and a contradiction with ``metric_opt_mode``."""
    problems = higher_is_better_problems(settings.higher_is_better)
    if problems or not isinstance(settings.metric_to_optimize, str):
        return problems
    declared = declared_direction(settings.metric_to_optimize, settings.higher_is_better)
    if declared is None or settings.metric_opt_mode not in _MODES:
        return problems
    if declared.higher_is_better != (settings.metric_opt_mode == "max"):
        problems.append(
            f"higher_is_better: {declared.detail} says {declared.word} is better for "
            f"{settings.metric_to_optimize!r}, but metric_opt_mode={settings.metric_opt_mode!r}; "
            "fix one of them, or drop the entry (the optimised metric's direction is "
            "metric_opt_mode)"
        )
    return problems


#: Lightning's precision values (``Trainer(precision=...)``); a test checks Lightning still has them.
PRECISIONS: tuple[int | str, ...] = (
    32,
    16,
    "bf16-mixed",
    "16-mixed",
    "32-true",
    "bf16-true",
    "16-true",
    "64-true",
    64,
    "64",
    "32",
    "16",
    "bf16",
    "transformer-engine",
    "transformer-engine-float16",
)


def _int_at_least(low: int, *, optional: bool = False) -> Callable[[Any], bool]:
    return lambda value: (optional and value is None) or (_is_int(value) and value >= low)


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


#: Each setting's check and what it expects, in the order problems are listed.
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "metric_to_optimize": (
        lambda v: isinstance(v, str) and bool(v),
        "a metric name such as 'val_loss'",
    ),
    "metric_opt_mode": (lambda v: v in _MODES, "'min' or 'max'"),
    "seed": (lambda v: v is None or _is_int(v), "an int or None"),
    "ptl_early_stopping_patience": (_int_at_least(1, optional=True), "an int >= 1 or None"),
    "ptl_early_stopping_grace_period": (_int_at_least(0, optional=True), "an int >= 0 or None"),
    "gpus": (_int_at_least(-1), "-1, 0 or a positive int"),
    "ptl_precision": (
        lambda v: not isinstance(v, bool) and v in PRECISIONS,
        "one of Lightning's precisions: " + ", ".join(repr(p) for p in PRECISIONS[:8]),
    ),
    "train_loader_name": (lambda v: isinstance(v, str), "a string"),
    "val_loader_name": (_optional_str, "a string or None"),
    "test_loader_name": (_optional_str, "a string or None"),
    "results_dir": (_optional_str, "a string or None"),
    "ray_address": (_optional_str, "a string or None"),
    "batch_size_main": (_int_at_least(1, optional=True), "an int >= 1 or None"),
    "cpu_per_trial": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "verbose": (lambda v: v in (0, 1, 2), "0, 1 or 2"),
    "n_samples": (_int_at_least(1), "an int >= 1"),
    "gpu_per_trial": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "grace_period": (_int_at_least(1, optional=True), "an int >= 1 or None"),
    "epoch_upper_limit": (_int_at_least(1, optional=True), "an int >= 1 or None"),
    "asha_reduction_factor": (lambda v: _is_number(v) and v > 1, "a number > 1"),
    "n_checkpoints_to_keep": (_int_at_least(1), "an int >= 1"),
    "checkpoint_every_s": (
        lambda v: v is None or (_is_number(v) and 0 <= v < float("inf")),
        "a number of seconds >= 0, or None",
    ),
    "ray_metrics_to_show": (
        lambda v: v is None or all(isinstance(m, str) for m in v),
        "a list of metric names or None",
    ),
    "searcher": (lambda v: v in _SEARCHERS, f"one of {_SEARCHERS}"),
    "hyperopt_n_initial_points": (_int_at_least(1, optional=True), "an int >= 1 or None"),
    "scheduler": (lambda v: v in _SCHEDULERS, f"one of {_SCHEDULERS}"),
    "max_concurrent_trials": (_int_at_least(1, optional=True), "an int >= 1 or None"),
    "max_failures": (_int_at_least(-1), "an int >= -1"),
}


def _check_values(settings: Settings) -> list[str]:
    """Every problem with the values, so the user can fix them all at once."""
    problems = []
    for name, (check, expected) in _RULES.items():
        value = getattr(settings, name)
        if not check(value):
            problems.append(f"{name}: expected {expected}, got {value!r}")
        if name == "metric_opt_mode":
            problems.extend(_direction_problems(settings))
    return problems
