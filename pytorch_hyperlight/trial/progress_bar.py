"""The progress bar of a single trial: batches done of the epoch, their rate and the running loss.

Built on Lightning's ``TQDMProgressBar`` (that of the module's Lightning namespace, so its Trainer
accepts it) and tqdm. In a terminal it is one line updated in place during each epoch::

    epoch 3  12/17 |███████   | 35.20 batches/s, loss=0.1234 [00:00<00:00]

When the epoch ends the line is cleared and the epoch's row of the metrics table
(:mod:`pytorch_hyperlight.metrics.console`) is printed in its place. In a notebook the same text is
one HTML output updated in place; nothing goes to stdout.

It is shown at ``verbose >= 1`` only where someone watches: in a notebook, or when stdout is a
terminal. Logs (CI, ``> file``) stay clean. The environment variable ``HYPERLIGHT_PROGRESS_BAR``
forces it on (``1``) or off (``0``).
"""

from __future__ import annotations

import html
import io
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from tqdm.std import tqdm

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.trial.lightning import LightningNamespace

#: ``1`` shows the bar even where stdout is not a terminal, ``0`` never shows it.
ENV_VAR = "HYPERLIGHT_PROGRESS_BAR"
TERMINAL = "terminal"
NOTEBOOK = "notebook"
#: The bar never gets wider than this.
MAX_COLUMNS = 100
_BAR_FORMAT = (
    "{desc}  {n_fmt}/{total_fmt} |{bar}| {rate_noinv_fmt}{postfix} [{elapsed}<{remaining}]"
)
_TEXT_FORMAT = "{desc}  {n_fmt}/{total_fmt}  {rate_noinv_fmt}{postfix} [{elapsed}<{remaining}]"
_UNIT = " batches"
#: Seconds between redraws of the bar (tqdm's ``mininterval``); a notebook redraws less often.
_REDRAW_SECONDS = {TERMINAL: 0.1, NOTEBOOK: 0.25}


def forced_by_environment(value: str | None) -> bool | None:
    """``HYPERLIGHT_PROGRESS_BAR``'s value as True (on), False (off) or None (not set).

    >>> forced_by_environment("1"), forced_by_environment("off"), forced_by_environment(None)
    (True, False, None)
    """
    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{ENV_VAR} must be 1 (show the progress bar) or 0 (never); it is {value!r}.")


def progress_bar_mode(
    verbose: int, *, is_terminal: bool, in_notebook: bool, forced: bool | None
) -> str | None:
    """Where the progress bar goes: ``"terminal"``, ``"notebook"``, or None (not shown).

    >>> progress_bar_mode(1, is_terminal=False, in_notebook=False, forced=None) is None
    True
    >>> progress_bar_mode(1, is_terminal=False, in_notebook=False, forced=True)
    'terminal'
    """
    if verbose < 1 or forced is False:
        return None
    if in_notebook:
        return NOTEBOOK
    return TERMINAL if is_terminal or forced else None


def loss_of(outputs: Any) -> Any:
    """The loss tensor that ``training_step`` returned (a tensor or ``{"loss": ...}``), or None."""
    loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
    return loss if hasattr(loss, "detach") and getattr(loss, "numel", lambda: 0)() == 1 else None


def make_progress_bar(
    namespace: LightningNamespace, verbose: int, *, stream: TextIO | None = None
) -> Any | None:
    """The progress bar callback of ``namespace`` for a single trial, or None where not shown."""
    from pytorch_hyperlight.metrics.console import in_notebook

    output = stream if stream is not None else sys.stdout
    mode = progress_bar_mode(
        verbose,
        is_terminal=bool(getattr(output, "isatty", lambda: False)()),
        in_notebook=in_notebook(),
        forced=forced_by_environment(os.environ.get(ENV_VAR)),
    )
    if mode is None:
        return None
    base = namespace.module.callbacks.TQDMProgressBar
    return namespace.bind(EpochProgressBar, base=base)(mode=mode, stream=stream)


class EpochProgressBar:
    """The train epoch's batches as one bar, cleared when the epoch ends (see the module).

    A mixin: :func:`make_progress_bar` combines it with the namespace's ``TQDMProgressBar``.

    Args:
        mode: ``"terminal"`` or ``"notebook"``.
        stream: where the terminal bar goes (default: ``sys.stdout`` when the epoch starts).
    """

    # set by Lightning's TQDMProgressBar / ProgressBar, which this class is combined with
    trainer: Any
    total_train_batches: Any
    _train_progress_bar: Any

    def __init__(self, *, mode: str, stream: TextIO | None = None) -> None:
        super().__init__()  # the namespace's TQDMProgressBar
        self.mode = mode
        self._stream = stream
        self._notebook_output: NotebookOutput | None = None
        self._loss_sum: Any = 0.0
        self._loss_count = 0
        self._postfix_at = -math.inf

    # --- bars --------------------------------------------------------------------------------------
    def init_train_tqdm(self) -> Any:
        options: dict[str, Any] = {
            "desc": f"epoch {self.trainer.current_epoch}",
            "total": _finite_or_none(self.total_train_batches),
            "leave": False,  # closing clears the line: the epoch's table row takes its place
            "unit": _UNIT,
            "bar_format": _BAR_FORMAT,
            "mininterval": _REDRAW_SECONDS[self.mode],
            "smoothing": 0,
        }
        if self.mode == NOTEBOOK:
            if self._notebook_output is None:
                self._notebook_output = NotebookOutput()
            return HtmlTqdm(output=self._notebook_output, **options)
        # A terminal that reports no size (0 x 0) would make tqdm draw nothing at all.
        columns, rows = shutil.get_terminal_size((MAX_COLUMNS, 24))
        columns = min(columns, MAX_COLUMNS) if columns > 0 else MAX_COLUMNS
        stream = self._stream if self._stream is not None else sys.stdout
        return tqdm(file=stream, ncols=columns, nrows=rows if rows > 0 else 24, **options)

    def init_validation_tqdm(self) -> Any:
        """No second bar: a single line; the train bar says it is validating."""
        return tqdm(disable=True)

    # --- Lightning hooks ---------------------------------------------------------------------------
    def on_train_start(self, *_: Any) -> None:
        self._train_progress_bar = None  # one bar per epoch, made at its first batch

    def on_train_epoch_start(self, *_: Any) -> None:
        self._loss_sum, self._loss_count = 0.0, 0

    def on_train_batch_start(self, *_: Any) -> None:
        # Made here, not when the epoch starts: the previous epoch's table row is printed then.
        if self._train_progress_bar is None:
            self._train_progress_bar = self.init_train_tqdm()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = loss_of(outputs)
        if loss is not None:
            self._loss_sum = self._loss_sum + loss.detach()  # no GPU sync per batch
            self._loss_count += 1
        bar = self._train_progress_bar
        if bar is None or bar.disable:
            return
        now = time.monotonic()
        if now - self._postfix_at >= _REDRAW_SECONDS[self.mode] or batch_idx + 1 == bar.total:
            self._postfix_at = now  # the loss is read (a GPU sync) only as often as it is drawn
            bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)
        bar.update(batch_idx + 1 - bar.n)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        super().on_validation_start(trainer, pl_module)  # type: ignore[misc]
        if self._train_progress_bar is not None and not trainer.sanity_checking:
            self._train_progress_bar.set_description_str(
                f"epoch {trainer.current_epoch} (validating)"
            )

    def on_train_epoch_end(self, *_: Any) -> None:
        self._close_train_bar()

    def on_train_end(self, *_: Any) -> None:
        self._close_train_bar()

    def on_exception(self, *_: Any) -> None:
        self._close_train_bar()

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
        """The running mean of this epoch's training loss, then what the module logs to the bar."""
        from pytorch_hyperlight.metrics.console import format_value

        metrics = dict(super().get_metrics(trainer, pl_module))  # type: ignore[misc]
        metrics.pop("v_num", None)  # the logger's version: not a metric
        if self._loss_count:
            metrics = {"loss": format_value(float(self._loss_sum) / self._loss_count), **metrics}
        return metrics

    def _close_train_bar(self) -> None:
        if self._train_progress_bar is not None:
            self._train_progress_bar.close()
            self._train_progress_bar = None


class NotebookOutput:
    """One notebook output, made at the first update and replaced in place after that."""

    def __init__(self, show: Callable[..., Any] | None = None) -> None:
        self._show = show
        self._handle: Any = None

    def update(self, page: str) -> None:
        """Show ``page`` (HTML) in place of what was shown before."""
        from IPython.display import HTML, display

        content = HTML(page)
        if self._handle is None:
            self._handle = (self._show or display)(content, display_id=True)
        else:
            self._handle.update(content)


class HtmlTqdm(tqdm):
    """A tqdm bar drawn as HTML into a :class:`NotebookOutput`; nothing is written to stdout."""

    def __init__(self, *args: Any, output: NotebookOutput, **kwargs: Any) -> None:
        self._output = output
        super().__init__(*args, file=io.StringIO(), **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        """Draw the bar (or ``msg``: tqdm clears a bar that does not stay with ``msg=""``)."""
        if msg is not None:
            self._output.update(html.escape(msg))
            return True
        state = self.format_dict
        text = html.escape(self.format_meter(**{**state, "bar_format": _TEXT_FORMAT}))
        total = state.get("total") or max(state["n"], 1)
        self._output.update(
            f'<progress value="{state["n"]}" max="{total}" style="width:20em"></progress> '
            f"<code>{text}</code>"
        )
        return True


def _finite_or_none(total: Any) -> int | None:
    try:
        value = float(total)
    except (TypeError, ValueError):
        return None
    return int(value) if value != float("inf") and value == value else None
