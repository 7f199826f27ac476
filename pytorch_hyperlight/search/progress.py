"""The live progress view of a search: a Ray Tune callback running in the calling process.

In a terminal it writes one line per trial event (finished, stopped by the scheduler, failed), each
with the best result so far; with few trials it also writes a compact row per trial epoch. In a
notebook it keeps one table (one row per trial) and updates it in place.

Example of terminal output::

    search: 8 trials, hyperopt + asha, 2 at a time, optimising val_f1 (max)
    [1/8] trial 5c1e0_00001 done      4 epochs  val_f1=0.9512 (best, epoch 3)  lr=0.0032 batch_size=32  | best so far 0.9512 (5c1e0_00001)
    [2/8] trial 5c1e0_00000 stopped   1 epoch   val_f1=0.8011 (best, epoch 0)  lr=1.2e-05 batch_size=64  | best so far 0.9512 (5c1e0_00001)
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ray.tune import Callback

from pytorch_hyperlight.metrics.console import format_value, in_notebook
from pytorch_hyperlight.search.results import EPOCH, MAX_EPOCHS, SHOULD_STOP, flatten_config

#: At most this many trials in a search: also show a row per trial epoch in a terminal.
PER_EPOCH_ROWS_MAX_TRIALS = 4


class SearchProgress(Callback):
    """Shows trial events and the best so far; quiet when ``verbose`` is 0.

    Args:
        metric: the canonical metric being optimised.
        mode: ``"min"`` or ``"max"``.
        n_trials: the search's total trials.
        searched: the searched parameters (``a/b`` paths) shown with each trial.
        metrics_to_show: metrics shown per trial (default: the metric).
        verbose: 0 silent, 1 or more shows the view.
        header: first line (what is searched, how many at once).
        stream: where terminal lines go (default: ``sys.stdout`` at the time of writing).
        notebook: force the notebook table (default: detected).
    """

    def __init__(
        self,
        metric: str,
        mode: str,
        n_trials: int,
        *,
        searched: Sequence[str] = (),
        metrics_to_show: Sequence[str] | None = None,
        verbose: int = 1,
        header: str = "",
        stream: TextIO | None = None,
        notebook: bool | None = None,
    ) -> None:
        self.metric = metric
        self.mode = mode
        self.n_trials = n_trials
        self.searched = tuple(searched)
        self.metrics_to_show = tuple(metrics_to_show or (metric,))
        self.verbose = verbose
        self.header = header
        self.per_epoch_rows = n_trials <= PER_EPOCH_ROWS_MAX_TRIALS
        self._stream = stream
        self._notebook = in_notebook() if notebook is None else notebook
        self._handle: Any = None
        self._rows: dict[str, dict[str, Any]] = {}
        self._best: dict[str, tuple[float, int | None]] = {}
        self._finished = 0
        self._started_at = time.monotonic()
        self._header_shown = False
        self._restored_counted = False

    # Tune pickles the RunConfig (and so this callback) into the experiment state.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_stream"] = None
        state["_handle"] = None
        return state

    # --- Tune hooks --------------------------------------------------------------------------------
    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        self._started_at = time.monotonic()
        self._show_header()

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        if self._restored_counted:
            return
        # A resumed search starts with the trials that finished before: count them once.
        self._restored_counted = True
        for trial in trials:
            if str(trial.status) not in ("TERMINATED", "ERROR"):
                continue
            self._finished += 1
            analysis = (getattr(trial, "metric_analysis", None) or {}).get(self.metric) or {}
            value = _finite(analysis.get(self.mode))
            if value is not None:
                self._best[trial.trial_id] = (value, None)

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        if self.verbose < 1:
            return
        value = _finite(result.get(self.metric))
        epoch = result.get(EPOCH)
        if value is not None and epoch is not None:
            best = self._best.get(trial.trial_id)
            if best is None or self._better(value, best[0]):
                self._best[trial.trial_id] = (value, int(epoch))
        self._update_row(trial, result, "running")
        if self._notebook:
            self._render_table()
        elif self.per_epoch_rows:
            shown = "  ".join(
                f"{name}={format_value(result.get(name))}" for name in self.metrics_to_show
            )
            self._write(f"  trial {trial.trial_id} epoch {format_value(epoch)}  {shown}")

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        planned = result.get(MAX_EPOCHS) or trial.config.get("max_epochs")
        epochs = self._epochs(trial)
        stopped = (
            planned is not None and epochs < int(planned) and not result.get(SHOULD_STOP, False)
        )
        self._finish(trial, "stopped" if stopped else "done", "")

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        message = ""
        error = trial.get_error() if hasattr(trial, "get_error") else None
        if error is not None:
            lines = [line for line in str(error).strip().splitlines() if line.strip()]
            message = lines[-1].strip() if lines else ""
        self._finish(trial, "ERROR", message)

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        if self.verbose < 1 or self._notebook:
            return
        elapsed = time.monotonic() - self._started_at
        statuses = [str(t.status) for t in trials]
        counts = ", ".join(f"{statuses.count(s)} {s.lower()}" for s in sorted(set(statuses)))
        self._write(f"search finished in {elapsed:.1f} s: {counts}.  {self._best_text()}")

    # --- helpers -----------------------------------------------------------------------------------
    def _better(self, value: float, than: float) -> bool:
        return value > than if self.mode == "max" else value < than

    def _epochs(self, trial: Any) -> int:
        epoch = (trial.last_result or {}).get(EPOCH)
        return 0 if epoch is None else int(epoch) + 1

    def _best_so_far(self) -> tuple[str, float, int | None] | None:
        best: tuple[str, float, int | None] | None = None
        for trial_id, (value, epoch) in self._best.items():
            if best is None or self._better(value, best[1]):
                best = (trial_id, value, epoch)
        return best

    def _best_text(self) -> str:
        best = self._best_so_far()
        if best is None:
            return f"best so far: no {self.metric} yet"
        trial_id, value, epoch = best
        where = trial_id if epoch is None else f"{trial_id}, epoch {epoch}"
        return f"best so far {self.metric}={format_value(value)} ({where})"

    def _config_text(self, trial: Any) -> str:
        flat = flatten_config(trial.config)
        return " ".join(f"{name}={format_value(flat.get(name))}" for name in self.searched)

    def _finish(self, trial: Any, status: str, message: str) -> None:
        self._finished += 1
        if self.verbose < 1:
            return
        self._update_row(trial, trial.last_result or {}, status)
        if self._notebook:
            self._render_table()
            return
        epochs = self._epochs(trial)
        best = self._best.get(trial.trial_id)
        width = len(str(self.n_trials))
        text = (
            f"[{self._finished:>{width}}/{self.n_trials}] trial {trial.trial_id} {status:<8}"
            f"{epochs:>3} epoch{'s' if epochs != 1 else ' '}  "
        )
        if best is not None:
            at = "" if best[1] is None else f", epoch {best[1]}"
            text += f"{self.metric}={format_value(best[0])} (best{at})  "
        text += self._config_text(trial)
        if message:
            text += f"  {message}"
        self._write(f"{text}  | {self._best_text()}")

    def _update_row(self, trial: Any, result: Mapping[str, Any], status: str) -> None:
        row: dict[str, Any] = {"trial": trial.trial_id, "status": status}
        flat = flatten_config(trial.config)
        row.update({name: flat.get(name) for name in self.searched})
        row["epochs"] = self._epochs(trial)
        row.update({name: result.get(name) for name in self.metrics_to_show})
        best = self._best.get(trial.trial_id)
        row[f"best {self.metric}"] = None if best is None else best[0]
        self._rows[trial.trial_id] = row

    def _render_table(self) -> None:
        if self.verbose < 1:
            return
        import pandas as pd
        from IPython.display import display

        frame = pd.DataFrame(list(self._rows.values())).set_index("trial")
        frame.attrs["caption"] = self._best_text()
        with pd.option_context("display.float_format", "{:.4g}".format):
            if self._handle is None:
                self._handle = display(frame, display_id=True)
            else:
                self._handle.update(frame)

    def _show_header(self) -> None:
        if self._header_shown or self.verbose < 1 or not self.header:
            return
        self._header_shown = True
        if not self._notebook:
            self._write(self.header)

    def _write(self, line: str) -> None:
        if self.verbose < 1:
            return
        stream = self._stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
