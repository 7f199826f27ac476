"""The per-epoch metrics display: an aligned table in a terminal, one live table in Jupyter.

In a terminal the table grows by one line per epoch under a header printed once (tabulate formats
it; column widths are fixed by the first row so later lines stay aligned). In a Jupyter notebook one
output is created at the first epoch and updated in place after each later one.

Example:
    >>> import io
    >>> stream = io.StringIO()
    >>> display = make_epoch_display(1, stream=stream)
    >>> display.show({"epoch": 0, "train_loss": 0.51234, "val_acc": 0.9})
    >>> display.show({"epoch": 1, "train_loss": 0.31, "val_acc": 0.925})
    >>> display.close()
    >>> print(stream.getvalue().rstrip())
      epoch    train_loss       val_acc
    -------  ------------  ------------
          0        0.5123           0.9
          1          0.31         0.925
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.metrics.columns import EPOCH, METRIC_PREFIXES

# A number written with 4 significant digits takes at most 10 characters ('-1.234e-05').
_NUMBER_WIDTH = 10


def in_notebook() -> bool:
    """True when running inside a Jupyter (IPython kernel) session; False without IPython."""
    try:
        import IPython
    except ImportError:
        return False
    shell = IPython.get_ipython()
    if shell is None:
        return False
    if type(shell).__name__ == "ZMQInteractiveShell":
        return True
    return "IPKernelApp" in getattr(shell, "config", {})


def format_value(value: Any) -> str:
    """A cell's text: numbers with 4 significant digits, integers as they are, None as blank.

    >>> [format_value(v) for v in (3, 0.123456, 1234567.0, None, float("nan"), "x")]
    ['3', '0.1235', '1.235e+06', '', 'nan', 'x']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return "nan" if math.isnan(value) else f"{float(value):.4g}"
    return str(value)


def format_stage_rows(rows: Any) -> list[str]:
    """One line per row of a metrics table: ``"  test: test_acc=0.9638, test_f1=0.9649"``.

    Used to summarise the re-validation and test of a best model after a run.
    """
    import pandas as pd

    lines = []
    for _, row in rows.iterrows():
        values = {k: v for k, v in row.items() if k not in ("stage", "epoch") and pd.notna(v)}
        shown = ", ".join(f"{k}={format_value(v)}" for k, v in sorted(values.items()))
        lines.append(f"  {row['stage']}: {shown}")
    return lines


def _column_order(names: list[str]) -> list[str]:
    """``epoch`` first, then metrics by stage prefix (train, val, test) and name, then the rest."""

    def key(name: str) -> tuple[int, str]:
        if name == EPOCH:
            return -1, ""
        for rank, prefix in enumerate(METRIC_PREFIXES):
            if name.startswith(prefix):
                return rank, name
        return len(METRIC_PREFIXES), name

    return sorted(names, key=key)


class EpochDisplay:
    """Shows one row of epoch metrics at a time; use as a context manager or call :meth:`close`."""

    def show(self, row: Mapping[str, Any]) -> None:
        """Add the metrics of one epoch (``{"epoch": 0, "train_loss": 0.5, ...}``)."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish the display (further :meth:`show` calls are errors)."""

    def __enter__(self) -> EpochDisplay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class TerminalEpochTable(EpochDisplay):
    """A tabulate table printed line by line; the header is printed once.

    A column that appears after the first row widens the table: the header is printed again with
    the new column, and the following lines align with it.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._widths: dict[str, int] = {}
        self._closed = False

    def show(self, row: Mapping[str, Any]) -> None:
        if self._closed:
            raise RuntimeError("This epoch display is closed; make a new one.")
        cells = {str(name): format_value(value) for name, value in row.items()}
        new_header = self._update_widths(cells)
        lines = self._render(cells).splitlines()
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write("\n".join(lines if new_header else lines[-1:]) + "\n")
        stream.flush()

    def close(self) -> None:
        self._closed = True

    def _update_widths(self, cells: Mapping[str, str]) -> bool:
        """Fix widths from the first row; True when the header must be (re)printed."""
        reprint = not self._widths
        for name, text in cells.items():
            current = self._widths.get(name)
            if current is None:
                number_width = 0 if name == EPOCH else _NUMBER_WIDTH
                self._widths[name] = max(len(name), len(text), number_width)
                reprint = True
            elif len(text) > current:
                self._widths[name] = len(text)
                reprint = True
        return reprint

    def _render(self, cells: Mapping[str, str]) -> str:
        from tabulate import tabulate

        names = _column_order(list(self._widths))
        return tabulate(
            [[cells.get(name, "").rjust(self._widths[name]) for name in names]],
            headers=[name.rjust(self._widths[name]) for name in names],
            tablefmt="simple",
            disable_numparse=True,
            preserve_whitespace=True,
            stralign="right",
        )


class NotebookEpochTable(EpochDisplay):
    """One table output in a notebook, replaced in place after each epoch."""

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self._handle: Any = None
        self._closed = False

    def show(self, row: Mapping[str, Any]) -> None:
        if self._closed:
            raise RuntimeError("This epoch display is closed; make a new one.")
        import pandas as pd
        from IPython.display import display

        self._rows.append(dict(row))
        frame = pd.DataFrame(self._rows)
        frame = frame[_column_order([str(c) for c in frame.columns])]
        if EPOCH in frame.columns:
            frame = frame.set_index(EPOCH)
        with pd.option_context("display.float_format", "{:.4g}".format):
            if self._handle is None:
                self._handle = display(frame, display_id=True)
            else:
                self._handle.update(frame)

    def close(self) -> None:
        self._closed = True


def make_epoch_display(verbose: int, *, stream: TextIO | None = None) -> EpochDisplay | None:
    """The display for per-epoch metrics, or None when ``verbose`` is 0.

    Args:
        verbose: 0 shows nothing; 1 or more shows the table.
        stream: where the terminal table goes (default: ``sys.stdout`` at the time of writing);
            ignored in a notebook.

    Raises:
        ConfigError: ``verbose`` is not a non-negative integer.
    """
    if isinstance(verbose, bool) or not isinstance(verbose, int) or verbose < 0:
        raise ConfigError(f"verbose must be an integer >= 0 (0 = silent); received {verbose!r}.")
    if verbose == 0:
        return None
    if in_notebook():
        return NotebookEpochTable()
    return TerminalEpochTable(stream)
