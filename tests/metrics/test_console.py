"""Unit tests of the per-epoch display: aligned terminal table, in-place notebook table."""

from __future__ import annotations

import io
import re
import sys
import types
from typing import Any

import pytest

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.metrics import console
from pytorch_hyperlight.metrics.console import (
    NotebookEpochTable,
    TerminalEpochTable,
    make_epoch_display,
)

ROWS = [
    {"epoch": 0, "val_acc": 0.123456, "train_loss": 2.345678},
    {"epoch": 1, "val_acc": 0.5, "train_loss": 1.0e-5},
    {"epoch": 2, "val_acc": 0.98765, "train_loss": float("nan")},
    {"epoch": 10, "val_acc": 1.0, "train_loss": -123456.7},
]


def column_spans(separator: str) -> list[tuple[int, int]]:
    return [match.span() for match in re.finditer(r"-+", separator)]


def assert_aligned(lines: list[str], separator: str) -> None:
    """Every cell lies inside one column of the separator and ends at its right edge."""
    spans = column_spans(separator)
    for line in lines:
        cells = [match.span() for match in re.finditer(r"\S+", line)]
        assert len(cells) == len(spans), line
        for (start, end), (span_start, span_end) in zip(cells, spans):
            assert span_start <= start and end == span_end, (line, separator)


def run_terminal(rows: list[dict[str, Any]]) -> list[str]:
    stream = io.StringIO()
    display = make_epoch_display(1, stream=stream)
    assert isinstance(display, TerminalEpochTable)
    for row in rows:
        display.show(row)
    display.close()
    return stream.getvalue().splitlines()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "in_notebook", lambda: False)


@pytest.mark.usefixtures("terminal")
def test_terminal_table_prints_the_header_once_and_a_line_per_epoch() -> None:
    lines = run_terminal(ROWS)
    assert len(lines) == 2 + len(ROWS)
    assert lines[0].split() == ["epoch", "train_loss", "val_acc"]  # epoch first, then by stage
    assert sum("val_acc" in line for line in lines) == 1
    assert [line.split() for line in lines[2:]] == [
        ["0", "2.346", "0.1235"],
        ["1", "1e-05", "0.5"],
        ["2", "nan", "0.9877"],
        ["10", "-1.235e+05", "1"],
    ]


@pytest.mark.usefixtures("terminal")
def test_terminal_rows_line_up_with_the_header() -> None:
    lines = run_terminal(ROWS)
    assert_aligned([lines[0], *lines[2:]], lines[1])
    assert len({len(line) for line in lines}) == 1


@pytest.mark.usefixtures("terminal")
def test_a_column_appearing_later_reprints_the_header_and_stays_aligned() -> None:
    rows = [ROWS[0], ROWS[1], {**ROWS[2], "val_f1": 0.5}, {**ROWS[3], "val_f1": 0.75}]
    lines = run_terminal(rows)
    headers = [i for i, line in enumerate(lines) if "epoch" in line]
    assert headers == [0, 4]
    assert lines[4].split() == ["epoch", "train_loss", "val_acc", "val_f1"]
    assert_aligned([lines[0], lines[2], lines[3]], lines[1])
    assert_aligned([lines[4], lines[6], lines[7]], lines[5])
    assert lines[6].split()[-1] == "0.5"


@pytest.mark.usefixtures("terminal")
def test_a_value_wider_than_its_column_widens_it_with_a_new_header() -> None:
    lines = run_terminal([ROWS[0], {**ROWS[1], "val_acc": "a-very-long-note"}])
    assert [i for i, line in enumerate(lines) if "epoch" in line] == [0, 3]
    assert_aligned([lines[3], lines[5]], lines[4])


@pytest.mark.usefixtures("terminal")
def test_terminal_table_writes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    display = make_epoch_display(2)
    assert display is not None
    display.show(ROWS[0])
    assert capsys.readouterr().out.splitlines()[0].split() == ["epoch", "train_loss", "val_acc"]


def test_verbose_zero_gives_no_display() -> None:
    assert make_epoch_display(0) is None


@pytest.mark.parametrize("verbose", [-1, True, 1.0, "1"])
def test_bad_verbose_is_a_config_error(verbose: Any) -> None:
    with pytest.raises(ConfigError, match="verbose must be an integer >= 0"):
        make_epoch_display(verbose)


@pytest.mark.usefixtures("terminal")
def test_show_after_close_is_an_error() -> None:
    display = make_epoch_display(1, stream=io.StringIO())
    assert display is not None
    with display:
        display.show(ROWS[0])
    with pytest.raises(RuntimeError, match="closed"):
        display.show(ROWS[1])


class FakeHandle:
    def __init__(self) -> None:
        self.updates: list[Any] = []

    def update(self, obj: Any) -> None:
        self.updates.append(obj.copy())


def fake_shell(class_name: str, config: dict[str, Any]) -> object:
    return type(class_name, (), {"config": config})()


@pytest.fixture
def fake_ipython(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A fake kernel: IPython.get_ipython() returns a ZMQInteractiveShell, display is recorded."""
    ipython = pytest.importorskip("IPython")
    record: dict[str, Any] = {"displayed": [], "handle": FakeHandle()}

    def display(obj: Any, *, display_id: bool = False) -> FakeHandle:
        assert display_id is True
        record["displayed"].append(obj.copy())
        return record["handle"]

    monkeypatch.setattr(ipython, "get_ipython", lambda: fake_shell("ZMQInteractiveShell", {}))
    monkeypatch.setitem(sys.modules, "IPython.display", types.SimpleNamespace(display=display))
    return record


def test_notebook_displays_once_and_updates_in_place_per_epoch(
    fake_ipython: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    display = make_epoch_display(1)
    assert isinstance(display, NotebookEpochTable)
    for row in ROWS[:3]:
        display.show(row)
    display.close()
    handle = fake_ipython["handle"]
    assert len(fake_ipython["displayed"]) == 1
    assert len(handle.updates) == 2
    last = handle.updates[-1]
    assert last.index.name == "epoch" and last.index.tolist() == [0, 1, 2]
    assert last.columns.tolist() == ["train_loss", "val_acc"]
    assert last["val_acc"].tolist() == [0.123456, 0.5, 0.98765]
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        (None, False),
        (fake_shell("ZMQInteractiveShell", {}), True),
        (fake_shell("Shell", {"IPKernelApp": {"connection_file": "x"}}), True),
        (fake_shell("TerminalInteractiveShell", {}), False),
    ],
)
def test_notebook_detection_follows_the_ipython_shell(
    monkeypatch: pytest.MonkeyPatch, shell: object, expected: bool
) -> None:
    ipython = pytest.importorskip("IPython")
    monkeypatch.setattr(ipython, "get_ipython", lambda: shell)
    assert console.in_notebook() is expected


def test_without_ipython_the_display_is_the_terminal_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)
    assert console.in_notebook() is False
    assert isinstance(make_epoch_display(1, stream=io.StringIO()), TerminalEpochTable)
