"""report.html: what the page shows, built from run directories (synthetic ones and a real single
trial), how it is rebuilt (``load_run(...).report()``, the command line), and what it must never
hold (unescaped user text, environment secrets, references to anything outside the file).

The page's behaviour in a real browser is tested in ``test_report_browser.py``.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytorch_hyperlight import Runner, files, load_run
from pytorch_hyperlight.results.load import redraw_plots
from pytorch_hyperlight.results.report import write_report, write_run_report
from pytorch_hyperlight.results.run_record import RunRecord
from tests.models import TinyDigits, configure_dataloaders, tiny_config
from tests.results_fakes import write_run_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


class Page(HTMLParser):
    """The parts of a report the tests read: section ids, images, tables (header, rows + class)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.scripts = 0
        self.headers: dict[str, list[str]] = {}
        self.rows: dict[str, list[tuple[str, list[str]]]] = {}
        self._table = ""
        self._in_head = False
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "h2":
            self.sections.append(attributes["id"] or "")
        elif tag == "img":
            self.images.append(attributes["src"] or "")
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self._table = attributes.get("id") or f"table{len(self.rows) + 1}"
            self.headers[self._table], self.rows[self._table] = [], []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and not self._in_head:
            self.rows[self._table].append((attributes.get("class") or "", []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            text, self._cell = "".join(self._cell), None
            if self._in_head:
                self.headers[self._table].append(text)
            else:
                self.rows[self._table][-1][1].append(text)

    def column(self, table: str, name: str) -> list[str]:
        index = self.headers[table].index(name)
        return [cells[index] for _, cells in self.rows[table]]


@pytest.fixture(scope="module")
def search_dir(tmp_path_factory) -> Path:
    """A finished search (5 trials, trial t03 failed) with its figures drawn and its report."""
    path = tmp_path_factory.mktemp("runs") / "search"
    trials = write_run_dir(path, kind="search", n_trials=5, errored=(3,))["trials"]
    info = json.loads((path / "run.json").read_text())
    info["best_trial_id"] = trials.loc[trials["metric_best"].idxmax(), "trial_id"]
    (path / "run.json").write_text(json.dumps(info))
    redraw_plots(path)
    write_report(path)
    return path


def test_search_report_shows_the_run_trials_best_model_figures_errors_and_versions(
    search_dir: Path,
) -> None:
    page = Page((search_dir / "report.html").read_text(encoding="utf-8"))
    assert page.sections == [
        "best-model", "trials", "figures", "errors", "search-space", "settings", "versions"
    ]  # fmt: skip
    run = load_run(search_dir)
    assert page.column("trials-table", "trial") == list(run["trials"]["trial_id"])
    classes = {cells[0]: row_class for row_class, cells in page.rows["trials-table"]}
    assert classes[run["best_trial_id"]] == "best" and classes["t03"] == "failed"
    assert "best val_f1" in page.headers["trials-table"]
    # the best model: one row per epoch, then its re-validation and test
    best = run["best_epoch"]
    epochs = page.column("metrics-table", "epoch")
    assert epochs == [str(epoch) for epoch in range(len(epochs))] and len(epochs) == 4
    classes = [row_class for row_class, _ in page.rows["metrics-table"]]
    assert classes == ["best" if epoch == best else "" for epoch in range(len(epochs))]
    assert page.column("evaluation-table", "") == [
        f"re-validation (epoch {best})", f"test (epoch {best})"
    ]  # fmt: skip
    reval_f1, test_f1 = page.column("evaluation-table", "f1")
    assert reval_f1 == page.column("metrics-table", "val_f1")[best] and test_f1 == "0.8"
    # every saved figure, embedded byte for byte
    embedded = [base64.b64decode(src.split(",", 1)[1]) for src in page.images]
    assert embedded == [png.read_bytes() for png in run["plots"].values()]
    assert len(embedded) == 6
    text = (search_dir / "report.html").read_text(encoding="utf-8")
    assert "ValueError: boom" in text and "Traceback ...\nValueError: boom" in text
    for package in ("python", "torch", "lightning", "ray", "pytorch-hyperlight"):
        assert f"<th>{package}</th>" in text


def test_single_trial_report_has_no_search_sections(tmp_path: Path) -> None:
    path = tmp_path / "single"
    write_run_dir(path, kind="single")
    page = Page(write_report(path).read_text(encoding="utf-8"))
    assert page.sections == ["best-model", "settings", "versions"]
    assert "trials-table" not in page.rows and page.images == [] and page.scripts == 1


def test_every_user_string_is_escaped(tmp_path: Path) -> None:
    path = tmp_path / "run"
    write_run_dir(path, kind="search", n_trials=3, errored=(1,))
    info = json.loads((path / "run.json").read_text())
    hostile = '<script>alert("x")</script>'
    info["run_name"] = hostile
    info["best_config"]["note"] = '"><img src=x onerror=alert(1)>'
    errors = json.loads((path / "errors.json").read_text())
    errors[0]["traceback"] = "</pre><script>alert(2)</script>"
    (path / "errors.json").write_text(json.dumps(errors))
    RunRecord.from_json(info).save(path)  # as a run would

    text = write_report(path).read_text(encoding="utf-8")
    page = Page(text)
    assert page.scripts == 1 and page.images == []
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "&lt;/pre&gt;&lt;script&gt;alert(2)" in text
    assert "<img src=x" not in text and "&quot;&gt;&lt;img src=x" in text


def test_the_page_refers_to_nothing_outside_itself_and_reads_no_environment(
    search_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "fake-secret-key-5c0ffee")
    monkeypatch.setenv("HYPERLIGHT_TEST_TOKEN", "fake-token-d00d")
    text = write_report(search_dir).read_text(encoding="utf-8")
    assert "fake-secret-key" not in text and "fake-token" not in text
    references = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert references and all(ref.startswith(("data:", "#")) for ref in references)
    assert "default-src 'none'" in text  # the browser itself refuses any other load
    assert not re.search(r"https?://", text)


def test_load_run_report_rebuilds_the_page_with_the_versions_the_run_recorded(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old-run"
    write_run_dir(path, kind="single")
    assert not (path / "report.html").exists()  # a run made before the report existed
    rebuilt = load_run(path).report()
    assert rebuilt == path / "report.html" and rebuilt.is_file()
    assert "did not record its versions" in rebuilt.read_text(encoding="utf-8")

    files.write_json_atomic(path / "versions.json", {"python": "3.99.0", "torch": "9.9.9"})
    text = load_run(path).report().read_text(encoding="utf-8")
    assert "9.9.9" in text and "3.99.0" in text and "did not record" not in text


def test_command_line_writes_reports_and_fails_clearly_for_a_non_run_dir(search_dir, tmp_path):
    (search_dir / "report.html").unlink()
    command = [sys.executable, "-m", "pytorch_hyperlight.results.report"]
    done = subprocess.run(
        [*command, str(search_dir)], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == search_dir / "report.html"
    assert (search_dir / "report.html").is_file()

    failed = subprocess.run(
        [*command, str(tmp_path / "nothing")], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert failed.returncode == 2 and "No run directory" in failed.stderr


def test_a_page_that_cannot_be_built_warns_and_does_not_fail_the_run(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="report.html could not be written.*rebuild"):
        assert write_run_report(tmp_path) is None


def test_a_single_trial_writes_its_report_with_its_own_results() -> None:
    runner = Runner(configure_dataloaders)
    settings = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "verbose": 0}
    result = runner.run_single_trial(TinyDigits, tiny_config(max_epochs=3), settings)
    run_dir = Path(result["run_dir"])
    page = Page((run_dir / "report.html").read_text(encoding="utf-8"))
    assert page.column("metrics-table", "epoch") == ["0", "1", "2"]
    best = result["best_epoch"]
    assert page.column("evaluation-table", "") == [
        f"re-validation (epoch {best})", f"test (epoch {best})"
    ]  # fmt: skip
    metrics_last = result["metrics_last"]
    expected = [f"{metrics_last['val_acc']:.4g}", f"{metrics_last['test_acc']:.4g}"]
    assert page.column("evaluation-table", "acc") == expected
    assert page.images and len(page.images) == 1  # metrics.png
    assert json.loads((run_dir / "versions.json").read_text())["lightning"]
