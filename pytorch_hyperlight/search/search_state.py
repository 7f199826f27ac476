"""What Ray Tune's experiment snapshot leaves out, saved with it: the scheduler and the trial target.

Tune snapshots a running experiment (trial statuses, the searcher's state, each callback's
``get_state()``) after trial checkpoints, periodically and on Ctrl-C; ``Tuner.restore`` reads the
newest snapshot back. The scheduler is not part of it (Tune's controller leaves it out of its state),
so after a plain restore ASHA's rungs are empty and every later stop decision is made against far
less data than an uninterrupted search had.

:class:`SearchStateKeeper` is a Tune callback that carries that state through Tune's own snapshot:
its ``get_state`` runs at the same moment as the trial statuses are written, so the scheduler's
records always match the trials they describe, and on restore Tune calls ``set_state`` before it
re-queues any trial. It also carries the search's trial target, so a resume may ask for more trials
(HyperOpt then goes on from everything it has learned).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.search import SearchGenerator

from pytorch_hyperlight.errors import SearchError
from pytorch_hyperlight.search import tune_internals

_SCHEDULER = "scheduler"
_N_TRIALS = "n_trials"


def scheduler_state(scheduler: Any) -> bytes | None:
    """The scheduler's state through its own ``save`` (None for a stateless scheduler)."""
    with tempfile.TemporaryDirectory(prefix="hyperlight-scheduler-") as folder:
        path = Path(folder, "scheduler.pkl")
        try:
            scheduler.save(str(path))
        except NotImplementedError:  # FIFO keeps no state
            return None
        return path.read_bytes()


def restore_scheduler(scheduler: Any, state: bytes | None) -> None:
    """Load a state from :func:`scheduler_state` into ``scheduler`` through its ``restore``."""
    if state is None:
        return
    with tempfile.TemporaryDirectory(prefix="hyperlight-scheduler-") as folder:
        path = Path(folder, "scheduler.pkl")
        path.write_bytes(state)
        scheduler.restore(str(path))


class SearchStateKeeper(Callback):
    """Saves the scheduler's state with each Tune snapshot and restores it on resume.

    Args:
        scheduler: the scheduler object the Tuner runs with (for a resume: the restored one).
        search_algorithm: the search algorithm the Tuner runs with (for a resume: the restored one).
        n_trials: the trials the search creates in all; on resume a ``SearchGenerator`` (HyperOpt)
            is told the new target, so the search may grow.
        resuming: True when this run continues a saved search; then a snapshot that cannot be
            restored is a :class:`SearchError` before any trial runs (Tune itself would log the
            failure and quietly start the whole search again).
    """

    def __init__(
        self, scheduler: Any, search_algorithm: Any, n_trials: int, *, resuming: bool = False
    ) -> None:
        self.scheduler = scheduler
        self.search_algorithm = search_algorithm
        self.n_trials = n_trials
        self.resuming = resuming
        self.restored = False
        self.restore_error = "the saved search state is missing or could not be read"

    def get_state(self) -> dict[str, Any]:
        return {_SCHEDULER: scheduler_state(self.scheduler), _N_TRIALS: self.n_trials}

    def set_state(self, state: dict[str, Any]) -> None:
        # Never raise here: Tune catches the error and restarts the experiment from scratch.
        try:
            restore_scheduler(self.scheduler, state.get(_SCHEDULER))
            if isinstance(self.search_algorithm, SearchGenerator):
                tune_internals.set_sample_limit(self.search_algorithm, self.n_trials)
            self.restored = True
        except Exception as error:
            self.restore_error = f"{type(error).__name__}: {error}"

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        if self.resuming and not self.restored:
            raise SearchError(
                f"resume could not restore the saved search ({self.restore_error}); no trial was "
                "run. The run directory's tune/ folder may be damaged or from an older version: "
                "start a new search instead of resume=..."
            )
