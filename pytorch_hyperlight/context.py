"""What a run needs from the Runner, handed to the single-trial and search implementations."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytorch_hyperlight.results.config_record import ConfigRecord


@dataclass(frozen=True)
class RunContext:
    """The Runner's part of a run: data, user callbacks/loggers, naming and where files go.

    Attributes:
        configure_dataloaders: ``f(batch_size, n_workers=...) -> dict`` of DataLoaders.
        run_name: unique name of this run within its Runner (``single-trial-<Class>``, ...).
        run_dir: this run's own, fresh directory (see :mod:`pytorch_hyperlight.results.run_dir`).
        experiment_id: the Runner's experiment id, or None.
        is_debug: a fast smoke run: few epochs and few batches, everything else unchanged.
        pl_callbacks: the user's Lightning callbacks; use :meth:`fresh_callbacks` per training run.
        pl_loggers: the user's Lightning loggers; a training run builds fresh ones from them
            (:func:`pytorch_hyperlight.trial.loggers.fresh_loggers`, or
            :func:`~pytorch_hyperlight.trial.loggers.logger_specs` to send them to Ray workers).
        log2wandb: also log to Weights & Biases (:mod:`pytorch_hyperlight.integrations.wandb`).
        config_record: the config the run came from (command line, hydra-zen), saved into the run
            directory; None for runs started from Python dicts.
    """

    configure_dataloaders: Callable[..., Any]
    run_name: str
    run_dir: Path
    experiment_id: str | None = None
    is_debug: bool = False
    pl_callbacks: Sequence[Any] = field(default_factory=tuple)
    pl_loggers: Sequence[Any] = field(default_factory=tuple)
    log2wandb: bool = False
    config_record: ConfigRecord | None = None

    def fresh_callbacks(self) -> list[Any]:
        """Deep copies of the user's callbacks, so no state leaks between runs or into the caller."""
        return [copy.deepcopy(callback) for callback in self.pl_callbacks]
