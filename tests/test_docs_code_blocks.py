"""Every ```python block of README.md and docs/**/*.md runs, as a user would paste it.

The rules, for whoever writes documentation:

- **A page is one test.** Its python blocks run in order in one namespace (like the cells of one
  notebook, ``__name__ == "__main__"``), from the repository root, with this test's
  ``HYPERLIGHT_RESULTS_DIR``, ``MPLBACKEND=Agg`` and ``COLUMNS=100`` (a terminal 100 columns wide).
  Searches use the session's Ray (the ``ray_cluster`` fixture). A page's blocks must not leave files
  in the repository (a new entry in its root fails the test: write into the run directory). New
  pages are picked up automatically; a page that trains is marked ``slow`` (and ``ray`` when it
  searches). ``PAGE_CHECKS`` adds what a page's example promises (the README's scores);
  ``WAITING_FOR`` lists pages that document features still being merged (strict xfail).
- **Skipping a block** takes a comment on the last non-blank line before its opening fence:
  ``<!-- no-run: why it cannot run here -->``. Use it sparingly; the reason is required.
- **Claimed output.** A ```text or ```console block that follows a python block, with no heading
  and no other fenced block in between, claims what that python block prints (its stdout). Both are
  normalised before comparing: every number becomes ``N`` (``0.9508``, ``-1e-05``, ``12``, ``nan``;
  digits inside names such as ``val_f1`` stay), runs of blanks become one space, rules of three or
  more dashes become ``---``, blank lines are dropped. A line ``...`` in the claim stands for any
  number of printed lines. The claimed lines must then appear in the printed output, in order and
  adjacent. So values may differ from run to run; labels, columns and the table's shape may not.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON_LANGUAGES = ("python", "py")
OUTPUT_LANGUAGES = ("text", "console")

_FENCE_OPEN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$"
)
_NO_RUN = re.compile(r"^\s*<!--\s*no-run\s*:?(?P<reason>.*?)-->\s*$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")
_NUMBER = re.compile(
    r"(?<![A-Za-z_\d.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(?<![A-Za-z_])(?:nan|inf)(?![A-Za-z_])"
)
_ELLIPSIS = "..."


@dataclass(frozen=True)
class Block:
    """One fenced block of a page.

    Attributes:
        page: path relative to the repository root.
        line: line number (1-based) of the block's first code line in the page.
        language: the fence's language (first word of its info string), lower case.
        code: the block's text, with the fence's indentation removed.
        no_run_reason: the reason of a ``<!-- no-run: ... -->`` marker before the block, else None.
        claimed_output: the text of the output block that claims what this (python) block prints.
    """

    page: str
    line: int
    language: str
    code: str
    no_run_reason: str | None = None
    claimed_output: str | None = None


def documentation_pages() -> list[Path]:
    """README.md and every Markdown page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def parse_blocks(text: str, page: str = "<page>") -> list[Block]:
    """The fenced blocks of a Markdown text, python blocks paired with their claimed output."""
    lines = text.splitlines()
    blocks: list[Block] = []
    heading_since_block = False
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        if opening is None:
            heading_since_block = heading_since_block or bool(_HEADING.match(lines[index]))
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        code = "\n".join(_dedent(line, indent) for line in lines[index + 1 : end])
        block = Block(
            page=page,
            line=index + 2,
            language=(opening["info"].split() or [""])[0].lower(),
            code=code + "\n",
            no_run_reason=_no_run_reason(lines[:index]),
        )
        previous = blocks[-1] if blocks else None
        if (
            block.language in OUTPUT_LANGUAGES
            and previous is not None
            and previous.language in PYTHON_LANGUAGES
            and not heading_since_block
        ):
            blocks[-1] = Block(**{**previous.__dict__, "claimed_output": block.code})
        blocks.append(block)
        heading_since_block = False
        index = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _dedent(line: str, indent: int) -> str:
    removable = len(line) - len(line.lstrip(" \t"))
    return line[min(indent, removable) :]


def _no_run_reason(lines_before: list[str]) -> str | None:
    for line in reversed(lines_before):
        if line.strip():
            marker = _NO_RUN.match(line)
            return marker["reason"].strip() if marker else None
    return None


def normalise_output(text: str) -> list[str]:
    """The comparable lines of an output: numbers masked, blanks and dash rules collapsed."""
    normalised = []
    for line in text.splitlines():
        line = _NUMBER.sub("N", line)
        line = re.sub(r"-{3,}", "---", line)
        line = " ".join(line.split())
        if line:
            normalised.append(line)
    return normalised


def output_matches(claimed: str, printed: str) -> bool:
    """True when the claimed lines appear in the printed output, in order and adjacent."""
    claimed_lines = normalise_output(claimed)
    if not [line for line in claimed_lines if line != _ELLIPSIS]:
        raise ValueError("an output block must claim at least one line besides '...'")
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line == _ELLIPSIS else re.escape(line) + r"\n"
        for line in claimed_lines
    )
    printed_text = "".join(line + "\n" for line in normalise_output(printed))
    return re.search("^" + pattern, printed_text, flags=re.MULTILINE) is not None


#: Time limit of a page that trains models (pyproject's default limit is for a single test).
PAGE_TIMEOUT_S = 1200

#: Pages documenting features that other branches are adding. Strict: once the features are
#: there the page passes, the test reports XPASS as a failure, and the entry must go.
WAITING_FOR: dict[str, str] = {}


def _python_blocks(page: Path) -> list[Block]:
    relative = page.relative_to(ROOT).as_posix()
    blocks = parse_blocks(page.read_text(encoding="utf-8"), relative)
    return [block for block in blocks if block.language in PYTHON_LANGUAGES]


def _page_params() -> list[Any]:
    params = []
    for page in documentation_pages():
        blocks = _python_blocks(page)
        if not blocks:
            continue
        code = "\n".join(block.code for block in blocks if block.no_run_reason is None)
        marks = []
        if "run_hyper_opt(" in code:
            marks += [pytest.mark.ray, pytest.mark.slow]
        elif "run_single_trial(" in code:
            marks.append(pytest.mark.slow)
        if marks:  # a page trains several models: the suite's per-test limit is meant for one
            marks.append(pytest.mark.timeout(PAGE_TIMEOUT_S))
        relative = page.relative_to(ROOT).as_posix()
        if relative in WAITING_FOR:
            marks.append(pytest.mark.xfail(strict=True, reason=WAITING_FOR[relative]))
        params.append(pytest.param(relative, marks=marks, id=relative))
    return params


def _check_readme(namespace: dict[str, Any]) -> None:
    result, best = namespace["result"], namespace["best"]
    assert result["metrics_last"]["test_f1"] > 0.8
    assert len(best["trials"]) == 4
    assert best["best_config"]["n_hidden"] in (32, 64, 128)
    assert best["metrics_last"]["test_f1"] > 0.8


#: What a page's example promises beyond running without an error, checked after its last block.
PAGE_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {"README.md": _check_readme}


@contextlib.contextmanager
def _closing_figures() -> Iterator[None]:
    try:
        yield
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


def _run_block(block: Block, namespace: dict[str, Any]) -> str:
    """Run one block in the page's namespace; return what it printed (also echoed for pytest)."""
    path = str(ROOT / block.page)
    source = "\n" * (block.line - 1) + block.code  # tracebacks point at the page's own lines
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(source, path, "exec"), namespace)
    except Exception as error:
        sys.stdout.write(printed.getvalue())
        frames = traceback.format_exception(type(error), error, error.__traceback__, limit=-8)
        pytest.fail(
            f"{block.page}:{block.line}: this block raised {type(error).__name__}:\n\n"
            f"{block.code}\n{''.join(frames)}",
            pytrace=False,
        )
    sys.stdout.write(printed.getvalue())
    return printed.getvalue()


@pytest.mark.parametrize("page", _page_params())
def test_page_code_blocks_run_and_print_what_the_page_claims(
    page: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = [block for block in _python_blocks(ROOT / page) if block.no_run_reason is None]
    if any("run_hyper_opt(" in block.code for block in blocks):
        request.getfixturevalue("ray_cluster")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("COLUMNS", "100")
    entries_before = set(os.listdir(ROOT))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    with _closing_figures():
        for block in blocks:
            printed = _run_block(block, namespace)
            if block.claimed_output is not None:
                assert output_matches(block.claimed_output, printed), (
                    f"{page}:{block.line}: the block's output does not match the output block "
                    f"after it (rules at the top of {Path(__file__).name}).\n"
                    f"--- claimed (normalised):\n{chr(10).join(normalise_output(block.claimed_output))}\n"
                    f"--- printed (normalised):\n{chr(10).join(normalise_output(printed))}"
                )
    if page in PAGE_CHECKS:
        PAGE_CHECKS[page](namespace)
    assert set(os.listdir(ROOT)) - entries_before == set(), (
        "the page's code wrote into the repository"
    )


# --- the rules themselves (no Lightning, no Ray) ---------------------------------------------------


def test_blocks_are_found_with_indentation_language_and_line() -> None:
    text = "# T\n\n1. step\n\n    ```python\n    x = 1\n    ```\n\n```bash\nls\n```\n"
    blocks = parse_blocks(text)
    assert [(b.language, b.line, b.code) for b in blocks] == [
        ("python", 6, "x = 1\n"),
        ("bash", 10, "ls\n"),
    ]


def test_output_block_belongs_to_the_python_block_before_it_unless_a_heading_intervenes() -> None:
    text = (
        "```python\nprint(1)\n```\nIt prints:\n```text\n1\n```\n"
        "```python\nprint(2)\n```\n## Next\n```text\n2\n```\n"
    )
    first, _, second, _ = parse_blocks(text)
    assert first.claimed_output == "1\n"
    assert second.claimed_output is None


def test_no_run_marker_needs_to_be_the_last_line_before_the_fence() -> None:
    text = (
        "<!-- no-run: needs a GPU -->\n\n```python\na\n```\n"
        "<!-- no-run: stale -->\nprose\n```python\nb\n```\n"
    )
    first, second = parse_blocks(text)
    assert first.no_run_reason == "needs a GPU"
    assert second.no_run_reason is None


def test_claimed_output_matches_other_numbers_but_not_other_labels() -> None:
    claimed = "metric    run-a\n------  -------\nval_f1    0.95\n...\n"
    printed = "epoch 3\nmetric      run-a\n--------  ---------\nval_f1      0.8123\nval_loss   12\n"
    assert output_matches(claimed, printed)
    assert not output_matches(claimed, printed.replace("val_f1", "val_f2"))
    assert not output_matches(claimed, printed.replace("run-a", "run-b"))
    assert not output_matches("a\nb\n", "a\nx\nb\n")
    assert output_matches("a\n...\nb\n", "a\nx\ny\nb\n")


def test_every_no_run_marker_gives_a_reason_and_marks_a_python_block() -> None:
    for page in documentation_pages():
        text = page.read_text(encoding="utf-8")
        marked = [b for b in parse_blocks(text, page.name) if b.no_run_reason is not None]
        assert all(b.no_run_reason and b.language in PYTHON_LANGUAGES for b in marked), page
        markers = [line for line in text.splitlines() if _NO_RUN.match(line)]
        assert len(markers) == len(marked), f"{page}: a no-run marker is not right before a block"
