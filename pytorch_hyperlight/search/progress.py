"""The live progress view of a search: a Ray Tune callback running in the calling process.

In a terminal it writes each finished trial (its outcome, epochs, best value of the metric, the
time elapsed and an estimate of the time left), its config on the next line, and the best trial
so far whenever that changes; lines stay within 100 characters (a long config is wrapped). With
few trials it also writes a row per trial epoch. In a notebook it keeps one table (a row per
trial) under the same summary and updates it in place. Outcomes use the trials table's words
(``done``, ``stopped`` by the scheduler, ``error``), and the best so far is chosen among
*finished* trials by the function that picks the search's best trial
(:func:`pytorch_hyperlight.search.results.best_trial`), so it never names a trial that the final
summary would not.

Example of terminal output::

    search hyper-opt-LitDigits: 10 trials, hyperopt + asha, 2 at a time, optimising val_f1 (max)
    results in ~/hyperlight_runs/digits/hyper-opt-LitDigits_20261123-000902
    [ 1/10] 9d59e2ed done     8 epochs  val_f1=0.8353 (epoch 6)  0:08 elapsed, ~0:38 left
            batch_size=64 lr=0.001028 max_epochs=8 n_hidden=64
            best so far: val_f1=0.8353 (9d59e2ed, epoch 6)
    [ 2/10] 1d921e1c stopped  2 epochs  val_f1=0.4262 (epoch 1)  0:09 elapsed, ~0:21 left
            batch_size=64 lr=0.003371 max_epochs=12 n_hidden=64
"""

from __future__ import annotations

import html
import json
import math
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from ray.tune import Callback

from pytorch_hyperlight.metrics.console import format_value, in_notebook
from pytorch_hyperlight.search import results
from pytorch_hyperlight.search.results import (
    EPOCH,
    ERROR,
    FINISHED,
    MAX_EPOCHS,
    SHOULD_STOP,
    TERMINATED,
    BestTrial,
    TrialRecord,
    flatten_config,
)

#: At most this many trials in a search: also show a row per trial epoch in a terminal.
PER_EPOCH_ROWS_MAX_TRIALS = 4
#: Lines are wrapped at this width (a long config goes on lines of its own).
LINE_WIDTH = 100
_INDENT = " " * 8
#: What the view keeps of each report (Ray adds many keys of its own).
_REPORT_KEYS = (EPOCH, MAX_EPOCHS, SHOULD_STOP)
_RESULT_FILE = "result.json"  # Ray Tune's per-trial log of reports (ray.air.constants)


def format_duration(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``.

    >>> format_duration(5.4), format_duration(83), format_duration(3725)
    ('0:05', '1:23', '1:02:05')
    """
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def estimate_seconds_left(
    finished_durations: Sequence[float],
    running_elapsed: Sequence[float],
    n_not_started: int,
    concurrency: int,
) -> float | None:
    """A rough estimate of the time until the search ends; None before any trial finished.

    A trial is expected to take as long as the finished ones took on average (they include the
    trials the scheduler stopped early, so its budget is counted as far as it has shown it). The
    work left is that average for each trial not started yet plus what the average leaves of
    each running trial, shared among ``concurrency`` trials at a time.

    >>> estimate_seconds_left([10.0, 30.0], running_elapsed=[5.0], n_not_started=2, concurrency=2)
    27.5
    >>> estimate_seconds_left([], running_elapsed=[5.0], n_not_started=2, concurrency=2) is None
    True
    """
    if not finished_durations:
        return None
    mean = sum(finished_durations) / len(finished_durations)
    work = n_not_started * mean + sum(max(mean - elapsed, 0.0) for elapsed in running_elapsed)
    return work / max(concurrency, 1)


class SearchProgress(Callback):
    """Shows finished trials, the best so far and the time left; does nothing when ``verbose`` is 0.

    Args:
        metric: the canonical metric being optimised.
        mode: ``"min"`` or ``"max"``.
        n_trials: the search's total trials.
        searched: the searched parameters (``a/b`` paths) shown with each trial.
        metrics_to_show: metrics shown per trial epoch (default: the metric).
        verbose: 0 silent, 1 or more shows the view.
        header: first lines (what is searched, how many at once, where the results go).
        concurrency: trials run at once (for the estimate of the time left).
        stream: where terminal lines go (default: ``sys.stdout`` at the time of writing).
        notebook: force the notebook table (default: detected).
        clock: seconds from a fixed point (``time.monotonic``; tests pass their own).
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
        concurrency: int = 1,
        stream: TextIO | None = None,
        notebook: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metric = metric
        self.mode = mode
        self.n_trials = n_trials
        self.searched = tuple(searched)
        self.metrics_to_show = tuple(metrics_to_show or (metric,))
        self.verbose = verbose
        self.header = header
        self.concurrency = concurrency
        self.per_epoch_rows = n_trials <= PER_EPOCH_ROWS_MAX_TRIALS
        self._stream = stream
        self._notebook = in_notebook() if notebook is None else notebook
        self._clock = clock
        self._handle: Any = None
        self._rows: dict[str, dict[str, Any]] = {}
        self._row_html: dict[str, str] = {}
        self._reports: dict[str, list[dict[str, Any]]] = {}
        self._order: dict[str, int] = {}
        self._finished: dict[str, TrialRecord] = {}
        self._leader: BestTrial | None = None
        self._any_succeeded = False
        self._started: dict[str, float] = {}
        self._durations: list[float] = []
        self._search_started = clock()
        self._header_shown = False
        self._restored_counted = False

    # Tune pickles the RunConfig (and so this callback) into the experiment state.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_stream"] = None
        state["_handle"] = None
        state["_clock"] = time.monotonic
        return state

    # --- Tune hooks --------------------------------------------------------------------------------
    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        self._search_started = self._clock()
        self._show_header()

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        if self._restored_counted or self.verbose < 1:
            return
        # A resumed search starts with the trials of the interrupted one: read what they reported.
        self._restored_counted = True
        for trial in trials:
            self._note_order(trials, trial)
            self._reports[trial.trial_id] = [
                self._kept(report) for report in _reports_on_disk(trial)
            ]
            if str(trial.status) in FINISHED:
                seconds = (trial.last_result or {}).get("time_total_s")
                self._record_finish(trial, str(trial.status), seconds)
        if self._finished and not self._notebook:
            done = f"{len(self._finished)} of {self.n_trials} trials finished before"
            self._write(f"{done}; {self.best_text()}")

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        if self.verbose < 1:
            return
        self._note_order(trials, trial)
        self._started.setdefault(trial.trial_id, self._clock())

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        if self.verbose < 1:
            return
        self._note_order(trials, trial)
        self._reports.setdefault(trial.trial_id, []).append(self._kept(result))
        self._update_row(trial, result, "running")
        if self._notebook:
            self._render_table()
        elif self.per_epoch_rows:
            shown = "  ".join(
                f"{name}={format_value(result.get(name))}" for name in self.metrics_to_show
            )
            self._write(
                f"  trial {trial.trial_id} epoch {format_value(result.get(EPOCH))}  {shown}"
            )

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        if self.verbose < 1:
            return
        self._note_order(trials, trial)
        self._finish(trial, TERMINATED, "")

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        if self.verbose < 1:
            return
        self._note_order(trials, trial)
        error = trial.get_error() if hasattr(trial, "get_error") else None
        message = results.split_error(str(error))[0] if error is not None else ""
        self._finish(trial, ERROR, message)

    # --- what is shown -----------------------------------------------------------------------------
    @property
    def best(self) -> BestTrial | None:
        """The best finished trial, as the search's result would pick it among them."""
        return self._leader if self._any_succeeded else None

    def best_text(self) -> str:
        """``best so far: val_f1=0.9472 (57276eb0, epoch 7)``."""
        best = self.best
        if best is None:
            return f"best so far: no finished trial with {self.metric} yet"
        where = f"{best.record.trial_id}, epoch {best.epoch}"
        return f"best so far: {self.metric}={format_value(best.value)} ({where})"

    def time_text(self) -> str:
        """``0:21 elapsed, ~0:35 left``; no estimate before a trial finished or after the last."""
        now = self._clock()
        text = f"{format_duration(now - self._search_started)} elapsed"
        n_not_started = max(self.n_trials - len(self._finished) - len(self._started), 0)
        if n_not_started or self._started:
            running = [now - started for started in self._started.values()]
            left = estimate_seconds_left(self._durations, running, n_not_started, self.concurrency)
            if left is not None:
                text += f", ~{format_duration(left)} left"
        return text

    def trial_lines(
        self, record: TrialRecord, message: str = "", new_best: bool = False
    ) -> list[str]:
        """A finished trial: its outcome and time, its config, its error, the best if it changed."""
        count = f"[{len(self._finished):>{len(str(self.n_trials))}}/{self.n_trials}]"
        epochs = len(record.epochs)
        epoch, value = record.best(self.metric, self.mode)
        reached = (
            f"{self.metric}={format_value(value)} (epoch {epoch})"
            if epoch is not None
            else f"no {self.metric}"
        )
        first = (
            f"{count} {record.trial_id} {results.outcome(record):<8}"
            f"{epochs:>2} epoch{'s' if epochs != 1 else ' '}  {reached}"
        )
        lines = _fitted([first, self.time_text()])
        flat = flatten_config(record.config)
        config = " ".join(f"{name}={format_value(flat.get(name))}" for name in self.searched)
        if config:
            lines += textwrap.wrap(
                config, LINE_WIDTH, initial_indent=_INDENT, subsequent_indent=_INDENT
            )
        if message:
            lines.append(textwrap.shorten(f"{_INDENT}{message}", LINE_WIDTH, placeholder=" ..."))
        if new_best:
            lines.append(_INDENT + self.best_text())
        return lines

    # --- helpers -----------------------------------------------------------------------------------
    def _note_order(self, trials: Sequence[Any], trial: Any) -> None:
        """The trial's position in Tune's list (creation order): the tie-break of the best."""
        if trial.trial_id not in self._order:
            positions = {t.trial_id: index for index, t in enumerate(trials)}
            self._order[trial.trial_id] = positions.get(trial.trial_id, len(self._order))

    def _kept(self, report: Mapping[str, Any]) -> dict[str, Any]:
        return {key: report.get(key) for key in (*_REPORT_KEYS, self.metric)}

    def _record_finish(self, trial: Any, status: str, seconds: float | None) -> TrialRecord:
        columns = [*_REPORT_KEYS, self.metric]
        frame = pd.DataFrame(self._reports.get(trial.trial_id) or [], columns=columns)
        record = TrialRecord(trial.trial_id, status, dict(trial.config), frame)
        self._finished[trial.trial_id] = record
        started = self._started.pop(trial.trial_id, None)
        if seconds is None and started is not None:
            seconds = self._clock() - started
        if seconds is not None and math.isfinite(seconds):
            self._durations.append(float(seconds))
        self._any_succeeded = self._any_succeeded or status != ERROR
        candidates = [record] if self._leader is None else [self._leader.record, record]
        candidates.sort(key=lambda r: self._order.get(r.trial_id, math.inf))
        self._leader = results.best_trial(candidates, self.metric, self.mode)
        return record

    def _finish(self, trial: Any, status: str, message: str) -> None:
        before = self.best
        record = self._record_finish(trial, status, None)
        self._update_row(trial, trial.last_result or {}, results.outcome(record))
        if self._notebook:
            self._render_table()
            return
        after = self.best
        new_best = after is not None and (
            before is None
            or (before.record.trial_id, before.epoch) != (after.record.trial_id, after.epoch)
        )
        for line in self.trial_lines(record, message, new_best):
            self._write(line)

    def _update_row(self, trial: Any, result: Mapping[str, Any], status: str) -> None:
        row: dict[str, Any] = {"trial": trial.trial_id, "status": status}
        flat = flatten_config(trial.config)
        row.update({name: flat.get(name) for name in self.searched})
        epoch = result.get(EPOCH)
        row["epochs"] = 0 if epoch is None else int(epoch) + 1
        row.update({name: result.get(name) for name in self.metrics_to_show})
        self._rows[trial.trial_id] = row
        if self._notebook:
            self._row_html[trial.trial_id] = _html_row(row.values())

    def _render_table(self) -> None:
        """The notebook table: its rows' HTML is kept, so an update re-renders only one row."""
        from IPython.display import HTML, display

        count = f"{len(self._finished)}/{self.n_trials} trials finished"
        caption = html.escape(f"{count}, {self.time_text()}; {self.best_text()}")
        names = ["trial", "status", *self.searched, "epochs", *self.metrics_to_show]
        header = "".join(f"<th>{html.escape(name)}</th>" for name in names)
        page = HTML(
            f'<b>{caption}</b><table border="1" class="dataframe"><thead><tr>{header}</tr>'
            f"</thead><tbody>{''.join(self._row_html.values())}</tbody></table>"
        )
        if self._handle is None:
            self._handle = display(page, display_id=True)
        else:
            self._handle.update(page)

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


def _html_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _html_row(values: Iterable[Any]) -> str:
    """``<tr><th>trial</th><td>...</td>...</tr>``: the first value heads the row, as its index.

    >>> _html_row(["a1", "done", 0.000123456, None, 3])
    '<tr><th>a1</th><td>done</td><td>0.0001235</td><td></td><td>3</td></tr>'
    """
    first, *rest = [_html_cell(value) for value in values]
    return f"<tr><th>{first}</th>" + "".join(f"<td>{cell}</td>" for cell in rest) + "</tr>"


def _fitted(parts: Sequence[str]) -> list[str]:
    """``parts`` on one line, two spaces apart, or the later ones indented below if too long."""
    line = "  ".join(parts)
    if len(line) <= LINE_WIDTH:
        return [line]
    return [parts[0], *(_INDENT + part for part in parts[1:])]


def _reports_on_disk(trial: Any) -> list[dict[str, Any]]:
    """What a trial of an interrupted search reported before (Tune's ``result.json``), or []."""
    for directory in (getattr(trial, "path", None), getattr(trial, "local_path", None)):
        if directory and (Path(directory) / _RESULT_FILE).is_file():
            return list(_read_reports((Path(directory) / _RESULT_FILE).read_text().splitlines()))
    return []


def _read_reports(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    for line in lines:
        try:
            report = json.loads(line)
        except ValueError:  # a line cut short when the process was killed
            continue
        if isinstance(report, dict):
            yield report
