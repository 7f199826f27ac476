"""report.html in a real headless Chromium (tests/browser.py): it loads with no console error and no
request but the file itself, every figure is shown, and clicking a trials-table header sorts it.

Skipped when no Chromium is installed; CI installs Debian's package (.ci/run).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from pytorch_hyperlight.results.load import redraw_plots
from pytorch_hyperlight.results.report import write_report
from pytorch_hyperlight.results.run_record import RunRecord
from tests.browser import Chromium, find_chromium
from tests.results_fakes import write_run_dir

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium executable (apt-get install chromium, or set HYPERLIGHT_CHROMIUM)",
)

_TRIAL_IDS = (
    "Array.from(document.querySelectorAll('#trials-table tbody tr'), r => r.cells[0].textContent)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    with Chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """The pages of a search (6 trials, t02 failed; figures drawn) and of a single trial."""
    root = tmp_path_factory.mktemp("runs")
    write_run_dir(root / "search", kind="search", n_trials=6, errored=(2,))
    trials = pd.read_csv(root / "search" / "trials.csv")
    trials["config/n_hidden"] = [8, 128, 16, 64, 256, 32]  # text order differs from numeric
    trials.to_csv(root / "search" / "trials.csv", index=False)
    info = json.loads((root / "search" / "run.json").read_text())
    info["best_trial_id"] = "t05"
    # run.json records the data files as written: record the edited trials.csv, as a run would
    RunRecord.from_json(info).save(root / "search")
    write_run_dir(root / "single", kind="single")
    pages = {}
    for name in ("search", "single"):
        redraw_plots(root / name)
        pages[name] = write_report(root / name)
    return pages


@pytest.mark.parametrize("kind", ["search", "single"])
def test_the_page_loads_offline_without_errors_and_shows_every_figure(
    browser: Chromium, reports: dict[str, Path], kind: str
) -> None:
    page = browser.open(reports[kind].as_uri())
    assert page.errors == []
    assert page.requests[0] == reports[kind].as_uri()
    assert all(url.startswith("data:image/png;base64,") for url in page.requests[1:])
    images = page.evaluate(
        "Array.from(document.images, i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    expected = {"search": 6, "single": 1}[kind]
    assert len(images) == expected == len(page.requests) - 1
    assert all(complete and width > 0 and height > 0 for _, complete, width, height in images)
    assert page.evaluate("document.querySelector('h1').textContent").endswith("LitDigits")


def test_clicking_a_trials_header_sorts_rows_and_a_second_click_reverses(
    browser: Chromium, reports: dict[str, Path]
) -> None:
    page = browser.open(reports["search"].as_uri())
    headers = page.evaluate(
        "Array.from(document.querySelectorAll('#trials-table thead th'), h => h.textContent)"
    )
    n_hidden, best = headers.index("n_hidden"), headers.index("best val_f1")
    click = "document.querySelectorAll('#trials-table thead th')[{}].click()"
    cells = "Array.from(document.querySelectorAll('#trials-table tbody tr'), r => r.cells[{}].dataset.sort)"

    trials = pd.read_csv(reports["search"].parent / "trials.csv", dtype={"trial_id": str})

    def order(column: str, ascending: bool = True) -> list[str]:
        ranked = trials.sort_values(column, ascending=ascending, na_position="last", kind="stable")
        return list(ranked["trial_id"])

    page.evaluate(click.format(best))  # ascending; the failed trial has no value: last
    assert page.evaluate(_TRIAL_IDS) == order("metric_best") and order("metric_best")[-1] == "t02"
    page.evaluate(click.format(best))  # descending; still last
    assert page.evaluate(_TRIAL_IDS) == order("metric_best", ascending=False)
    values = page.evaluate(cells.format(best))
    assert values[-1] is None and [float(v) for v in values[:-1]] == sorted(
        (float(v) for v in values[:-1]), reverse=True
    )

    page.evaluate(click.format(n_hidden))  # numerically (8 < 16 < 128), not as text
    assert page.evaluate(_TRIAL_IDS) == order("config/n_hidden") == [
        "t00", "t02", "t05", "t03", "t01", "t04"
    ]  # fmt: skip
    sorted_by = page.evaluate(
        "Array.from(document.querySelectorAll('#trials-table thead th'), h => h.ariaSort)"
    )
    assert sorted_by[n_hidden] == "ascending" and sorted_by.count(None) == len(headers) - 1
    assert page.errors == []
