"""Which Lightning namespace a module is written against, and the Trainer options derived from settings.

Lightning ships under two names, ``pytorch_lightning`` (the seed README's) and ``lightning.pytorch``.
A module of one namespace must be trained by that namespace's ``Trainer`` and checkpointed by its
``ModelCheckpoint`` (Lightning checks with ``isinstance``), so everything Lightning-specific is taken
from :func:`namespace_of` the module class.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import logging
import os
import random
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.settings import Settings

#: The two importable names of Lightning, in the order they are tried.
NAMESPACES = ("lightning.pytorch", "pytorch_lightning")

#: Loggers whose INFO chatter ("GPU available: ...", "`Trainer.fit` stopped: ...") is silenced.
LIGHTNING_LOGGERS = (
    "lightning.pytorch",
    "pytorch_lightning",
    "lightning.fabric",
    "lightning_fabric",
)

#: Batches per stage in debug mode (``Runner(is_debug=True)``) and its epoch cap.
DEBUG_LIMIT_BATCHES = 3
DEBUG_MAX_EPOCHS = 2


@dataclass(frozen=True)
class LightningNamespace:
    """The Lightning classes of one namespace.

    Attributes:
        name: ``'lightning.pytorch'`` or ``'pytorch_lightning'``.
        module: the imported namespace module.
    """

    name: str
    module: ModuleType

    @property
    def LightningModule(self) -> type:
        return self.module.LightningModule

    @property
    def Trainer(self) -> type:
        return self.module.Trainer

    @property
    def ModelCheckpoint(self) -> type:
        return self.module.callbacks.ModelCheckpoint

    @property
    def EarlyStopping(self) -> type:
        return self.module.callbacks.EarlyStopping

    @property
    def Checkpoint(self) -> type:
        return self.module.callbacks.Checkpoint

    @property
    def Callback(self) -> type:
        return self.module.Callback

    @property
    def CSVLogger(self) -> type:
        return self.module.loggers.CSVLogger

    @property
    def ProgressBar(self) -> type:
        return self.module.callbacks.ProgressBar

    def bind(self, mixin: type, base: type | None = None) -> type:
        """``mixin`` combined with this namespace's ``Callback`` (or ``base``), cached per pair.

        Lightning tells callback kinds apart with ``isinstance`` against its own namespace's classes,
        so the library's callbacks are mixins bound to the module's namespace.
        """
        return _bound_class(mixin, base if base is not None else self.Callback)

    def seed_everything(self, seed: int) -> None:
        """Seed torch, numpy and random, and make DataLoader workers derive their seeds from it."""
        self.module.seed_everything(seed, workers=True, verbose=False)


@functools.cache
def _bound_class(mixin: type, base: type) -> type:
    return type(
        mixin.__name__,
        (mixin, base),
        {
            "__module__": mixin.__module__,
            "__qualname__": mixin.__qualname__,
            "__doc__": mixin.__doc__,
        },
    )


def _import_namespace(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - both are dependencies of the package
        return None


def _short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` on one short line: a module's repr spans a line per layer."""
    if hasattr(type(value), "training_step"):
        return f"an instance of {type(value).__qualname__}"
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def namespace_of(lmodule_class: Any) -> LightningNamespace:
    """The Lightning namespace whose ``LightningModule`` ``lmodule_class`` subclasses.

    Only the namespace the class comes from is imported (checked on its bases' module names first).

    Raises:
        ConfigError: ``lmodule_class`` is not a class, or not a LightningModule subclass.
    """
    if not isinstance(lmodule_class, type):
        hint = (
            " Pass the class itself, not an instance: run_single_trial(MyModule, config, ...)."
            if hasattr(type(lmodule_class), "training_step")
            else ""
        )
        raise ConfigError(
            "lmodule_class must be a subclass of pytorch_lightning.LightningModule or "
            f"lightning.pytorch.LightningModule, got {_short_repr(lmodule_class)} of type "
            f"{type(lmodule_class).__name__}.{hint}"
        )
    base_modules = {base.__module__.split(".")[0] for base in lmodule_class.__mro__}
    for name in NAMESPACES:
        if name.split(".")[0] not in base_modules:
            continue  # never import a namespace the class cannot come from
        module = _import_namespace(name)
        if module is not None and issubclass(lmodule_class, module.LightningModule):
            return LightningNamespace(name=name, module=module)
    raise ConfigError(
        f"lmodule_class must be a subclass of pytorch_lightning.LightningModule or "
        f"lightning.pytorch.LightningModule, got {lmodule_class.__module__}."
        f"{lmodule_class.__qualname__} (bases: "
        f"{', '.join(base.__qualname__ for base in lmodule_class.__mro__[1:])})."
    )


def accelerator_options(gpus: int) -> dict[str, Any]:
    """``accelerator``/``devices`` for the Trainer from the ``gpus`` setting and what this process sees.

    ``-1``: one GPU when CUDA is usable here, else the CPU; ``0``: the CPU; ``N >= 1``: N GPUs.

    Raises:
        ConfigError: ``gpus >= 1`` but CUDA is not usable in this process, or has fewer devices.

    >>> accelerator_options(0)
    {'accelerator': 'cpu', 'devices': 1}
    """
    if gpus == 0:
        return {"accelerator": "cpu", "devices": 1}
    cuda = torch.cuda.is_available()
    if gpus == -1:
        return (
            {"accelerator": "gpu", "devices": 1} if cuda else {"accelerator": "cpu", "devices": 1}
        )
    if not cuda:
        raise ConfigError(
            f"gpus={gpus} asks for GPUs, but CUDA is not usable in this process "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False). Use gpus=-1 (a GPU when "
            "one is usable, else the CPU) or gpus=0 (CPU)."
        )
    available = torch.cuda.device_count()
    if gpus > available:
        raise ConfigError(
            f"gpus={gpus} asks for more GPUs than this process sees ({available}). Use gpus<={available}."
        )
    return {"accelerator": "gpu", "devices": gpus}


def precision_option(precision: int | str) -> int | str:
    """Lightning 2's spelling of a precision setting: ``32`` -> ``'32-true'``, ``16`` -> ``'16-mixed'``.

    >>> precision_option(32), precision_option(16), precision_option("bf16")
    ('32-true', '16-mixed', 'bf16-mixed')
    """
    legacy = {32: "32-true", 64: "64-true", 16: "16-mixed", "32": "32-true", "64": "64-true",
              "16": "16-mixed", "bf16": "bf16-mixed"}  # fmt: skip
    return legacy.get(precision, precision)


def trainer_options(settings: Settings, *, is_debug: bool, max_epochs: int) -> dict[str, Any]:
    """Trainer keyword arguments shared by fitting and evaluation (no callbacks, logger or paths)."""
    options: dict[str, Any] = {
        **accelerator_options(settings.gpus),
        "precision": precision_option(settings.ptl_precision),
        "max_epochs": min(max_epochs, DEBUG_MAX_EPOCHS) if is_debug else max_epochs,
        "num_sanity_val_steps": 0,
        "enable_progress_bar": settings.verbose == 2,
        "enable_model_summary": settings.verbose == 2,
    }
    if is_debug:
        options.update(
            limit_train_batches=DEBUG_LIMIT_BATCHES,
            limit_val_batches=DEBUG_LIMIT_BATCHES,
            limit_test_batches=DEBUG_LIMIT_BATCHES,
        )
    return options


#: Warnings that say nothing actionable for the kinds of data this library is used with.
_NOISY_WARNINGS = (
    r".*does not have many workers.*",
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r".*The number of training batches \(\d+\) is smaller than the logging interval.*",
    r".*You defined a `validation_step` but have no `val_dataloader`.*",
)


@contextlib.contextmanager
def quiet_lightning(verbose: int) -> Iterator[None]:
    """Silence Lightning's INFO loggers and known-noise warnings (verbose < 2); restore them after."""
    if verbose >= 2:
        yield
        return
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for pattern in _NOISY_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for logger, level in zip(loggers, previous):
            logger.setLevel(level)


@contextlib.contextmanager
def lightning_root_dir(root_dir: Path | None) -> Iterator[str]:
    """Lightning's default_root_dir: the given one, else a temporary one (never the current dir)."""
    if root_dir is not None:
        yield str(root_dir)
        return
    with tempfile.TemporaryDirectory(prefix="hyperlight-") as tmp:
        yield tmp


@contextlib.contextmanager
def torch_determinism_restored() -> Iterator[None]:
    """Lightning's ``deterministic=True`` switches torch globally; give the caller its state back."""
    algorithms = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(algorithms, warn_only=warn_only)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


#: Environment variables that ``seed_everything`` sets (read by DataLoader worker seeding).
_SEED_VARIABLES = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")


@contextlib.contextmanager
def random_state_restored() -> Iterator[None]:
    """Give the caller back the random generators (random, numpy, torch, CUDA when in use) and the
    variables ``seed_everything`` sets: what runs inside may seed and draw without side effects."""
    import numpy

    states = (random.getstate(), numpy.random.get_state(), torch.get_rng_state())
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    variables = {name: os.environ.get(name) for name in _SEED_VARIABLES}
    try:
        yield
    finally:
        random.setstate(states[0])
        numpy.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class LoggedMetric:
    """How the module logged one metric in a stage, as Lightning recorded it.

    Attributes:
        name: the name passed to ``self.log`` (``'train_loss'``).
        on_epoch: logged with ``on_epoch=True`` (an epoch value exists).
        epoch_key: the key of its epoch value in ``trainer.callback_metrics``: ``'train_loss_epoch'``
            when it was logged on step and on epoch, else the name itself.
    """

    name: str
    on_epoch: bool
    epoch_key: str


def logged_metrics_of(trainer: Any, stages: tuple[str, ...]) -> list[LoggedMetric] | None:
    """How each metric was logged in these stages (``'train'``, ``'val'``, ``'test'``); None if unknown.

    Private Lightning 2 API: the loops' result collections (``trainer.fit_loop.epoch_loop._results``
    for training, ``...epoch_loop.val_loop._results`` for validation, ``trainer.test_loop._results``)
    and each entry's ``meta`` (``name``, ``on_epoch``, ``forked_name``). No public API says how a
    metric was logged: ``trainer.callback_metrics`` and ``trainer.logged_metrics`` name a metric
    logged once per step and one logged once per epoch alike (plain ``x``), and only the epoch
    values may be kept. Pinned by ``tests/trial/test_lightning_internals.py``; None (the caller
    falls back to the names alone) when a Lightning version moved them.
    """
    found: list[LoggedMetric] = []
    any_collection = False
    for stage in stages:
        try:
            if stage == "test":
                collection = trainer.test_loop._results
            elif stage == "val":
                collection = trainer.fit_loop.epoch_loop.val_loop._results
            else:
                collection = trainer.fit_loop.epoch_loop._results
            entries = [item.meta for item in collection.values()]
            logged = [(m.name, bool(m.on_epoch), m.forked_name(False)) for m in entries]
        except AttributeError:
            continue
        any_collection = True
        found.extend(LoggedMetric(name, on_epoch, key) for name, on_epoch, key in logged)
    return found if any_collection else None


def hparams_watched_class(lmodule_class: type, watch: Callable[[Any], Any]) -> type:
    """A subclass of ``lmodule_class`` whose ``self.hparams`` mapping is handed to ``watch`` first.

    The one place that relies on how Lightning keeps hyper-parameters (pinned by
    ``tests/trial/test_hparam_reads.py``): ``hparams`` is a property of ``HyperparametersMixin`` that
    returns the one mutable mapping Lightning stores, and ``save_hyperparameters`` fills that mapping
    through the same property. So ``watch`` (:meth:`~pytorch_hyperlight.trial.hparam_reads.
    HparamReads.watch`, which makes the mapping record reads in place) sees the mapping before
    anything is stored in it or read from it. Used for the dry run's throwaway module only; the
    subclass keeps the module's name, module and docstring.
    """

    inherited = inspect.getattr_static(lmodule_class, "hparams")  # Lightning's property

    def hparams(self: Any) -> Any:
        return watch(inherited.__get__(self, type(self)))

    return type(
        lmodule_class.__name__,
        (lmodule_class,),
        {
            "hparams": property(hparams, doc="The module's hyper-parameters, reads recorded."),
            "__module__": lmodule_class.__module__,
            "__qualname__": lmodule_class.__qualname__,
            "__doc__": lmodule_class.__doc__,
        },
    )
