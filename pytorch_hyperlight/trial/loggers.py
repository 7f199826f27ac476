"""The user's Lightning loggers, made fresh for every training run.

A logger object holds live state (an open CSV writer, a TensorBoard ``SummaryWriter``, a W&B run)
once a Trainer used it. So the Runner never hands the user's own objects to a Trainer, and never
pickles them to Ray workers: :class:`LoggerSpec` keeps a logger's class and its settings without the
live part, and :meth:`LoggerSpec.build` makes a new, unused logger from them for each run (a single
trial) or trial (a search).

File-based loggers (Lightning's ``CSVLogger`` and ``TensorBoardLogger``, in either namespace) are
redirected into the run's (or trial's) directory: their ``save_dir`` names a folder inside it (see
:func:`logger_dir_inside`); their ``name``, ``version`` and other options are kept.

This is the one module that reads Lightning loggers' private attributes (``_root_dir``,
``_save_dir``, ``_fs``, ``_experiment``); ``tests/trial/test_loggers.py`` fails when Lightning renames them.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytorch_hyperlight.errors import ConfigError

#: Lightning keeps a logger's live handle (writer, run) in this attribute, created on first use.
_LIVE_ATTRIBUTE = "_experiment"
_FILE_LOGGERS = ("CSVLogger", "TensorBoardLogger")
_LIGHTNING_LOGGER_MODULES = (
    "lightning.pytorch.loggers",
    "pytorch_lightning.loggers",
    "lightning.fabric.loggers",
    "lightning_fabric.loggers",
)


def logger_dir_inside(save_dir: str | os.PathLike[str], log_root: Path) -> Path:
    """Where a file logger given ``save_dir`` writes inside a run's or trial's directory.

    A relative ``save_dir`` is kept below ``log_root``; an absolute one (or one that climbs out with
    ``..``) keeps only its last part, so every run's logs stay inside its own directory.

    >>> logger_dir_inside("logs", Path("/runs/r1")).as_posix()
    '/runs/r1/logs'
    >>> logger_dir_inside("tb/digits", Path("/runs/r1")).as_posix()
    '/runs/r1/tb/digits'
    >>> logger_dir_inside("/home/me/tb_logs", Path("/runs/r1")).as_posix()
    '/runs/r1/tb_logs'
    >>> logger_dir_inside("../elsewhere", Path("/runs/r1")).as_posix()
    '/runs/r1/elsewhere'
    >>> logger_dir_inside(".", Path("/runs/r1")).as_posix()
    '/runs/r1'
    """
    path = Path(os.fspath(save_dir)).expanduser()
    if path.is_absolute() or ".." in path.parts:
        return log_root / path.name if path.name not in ("", "..") else log_root
    return log_root / path


def is_file_logger(logger_class: type) -> bool:
    """True for Lightning's CSV and TensorBoard loggers (and subclasses), in either namespace."""
    return any(
        base.__name__ in _FILE_LOGGERS and base.__module__.startswith(_LIGHTNING_LOGGER_MODULES)
        for base in logger_class.__mro__
    )


@dataclass(frozen=True)
class LoggerSpec:
    """A logger's class and settings without its live state: picklable, and never used itself.

    Attributes:
        logger_class: the logger's class (``CSVLogger``, ``TensorBoardLogger``, ``WandbLogger``, ...).
        state: the logger's attributes as it was given, with the live ``_experiment`` set to None.

    Example:
        >>> import tempfile
        >>> from lightning.pytorch.loggers import CSVLogger
        >>> given = CSVLogger("logs", name="digits")
        >>> run_dir = Path(tempfile.mkdtemp())
        >>> fresh = LoggerSpec.from_logger(given).build(run_dir)
        >>> fresh is not given, Path(fresh.log_dir) == run_dir / "logs" / "digits" / "version_0"
        (True, True)
        >>> given.save_dir  # the user's logger is left as it was
        'logs'
    """

    logger_class: type[Any]
    state: Mapping[str, Any]

    @classmethod
    def from_logger(cls, logger: Any) -> LoggerSpec:
        """The spec of a user's logger; the logger itself is neither changed nor started.

        The attributes are read from ``__dict__``, not through ``copy``/``pickle``: some loggers
        start their run when pickled (Lightning's ``WandbLogger.__getstate__`` does).
        """
        state = {
            key: None if key == _LIVE_ATTRIBUTE else value for key, value in vars(logger).items()
        }
        try:
            return cls(logger_class=type(logger), state=copy.deepcopy(state))
        except Exception as error:
            raise ConfigError(
                f"The logger {type(logger).__qualname__} cannot be copied for each run "
                f"({type(error).__name__}: {error}). Give pl_loggers loggers whose settings are "
                "plain values (paths, names, numbers), not open files, locks or connections."
            ) from error

    def build(self, log_root: Path) -> Any:
        """A new, unused logger; a CSV or TensorBoard logger writes below ``log_root``."""
        # As unpickling does: a bare instance given the saved attributes, without calling __init__.
        logger = object.__new__(self.logger_class)
        vars(logger).update(copy.deepcopy(dict(self.state)))
        if is_file_logger(self.logger_class):
            _redirect(logger, log_root)
        return logger


def logger_specs(loggers: Iterable[Any]) -> tuple[LoggerSpec, ...]:
    """One :class:`LoggerSpec` per user logger, in order."""
    return tuple(LoggerSpec.from_logger(logger) for logger in loggers)


def build_loggers(specs: Iterable[LoggerSpec], log_root: Path) -> list[Any]:
    """Fresh loggers for one training run, writing below ``log_root`` where they write files."""
    return [spec.build(Path(log_root)) for spec in specs]


def fresh_loggers(loggers: Iterable[Any], log_root: Path) -> list[Any]:
    """New loggers made from the user's ``loggers`` (left unused), writing below ``log_root``."""
    return build_loggers(logger_specs(loggers), log_root)


def _redirect(logger: Any, log_root: Path) -> None:
    """Point a fresh CSV/TensorBoard logger's save_dir into ``log_root`` (local filesystem)."""
    from lightning.fabric.utilities.cloud_io import get_filesystem

    state = vars(logger)
    if "_root_dir" not in state:
        raise RuntimeError(
            f"{type(logger).__qualname__} has no '_root_dir' attribute: this Lightning version "
            "changed its loggers, and pytorch_hyperlight cannot point them into the run directory."
        )
    target = str(logger_dir_inside(state["_root_dir"], log_root))
    state["_root_dir"] = target
    if "_save_dir" in state:  # CSVLogger keeps the save_dir twice
        state["_save_dir"] = target
    state["_fs"] = get_filesystem(target)
    if Path(logger.save_dir) != Path(target):
        raise RuntimeError(
            f"{type(logger).__qualname__}.save_dir is still {logger.save_dir!r} after pointing it "
            f"to {target!r}: this Lightning version changed its loggers."
        )
