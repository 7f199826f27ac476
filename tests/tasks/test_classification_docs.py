"""The classification-tasks user guide: its digits example runs as written and prints what it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "classification-tasks.md"


def _code_blocks(language: str) -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_digits_example_runs_as_written_and_prints_the_test_metrics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = _code_blocks("python")[0]
    namespace: dict[str, object] = {"__name__": "classification_tasks_example"}

    exec(compile(example, str(PAGE), "exec"), namespace)

    printed = capsys.readouterr().out.splitlines()[-5:]
    shown = _code_blocks("text")[0].splitlines()
    assert [line.split()[0] for line in printed[:4]] == [line.split()[0] for line in shown]
    test_values = [float(line.split()[1]) for line in printed[:4]]
    assert all(0.5 < value <= 1.0 for value in test_values)  # digits are easy: well above chance
