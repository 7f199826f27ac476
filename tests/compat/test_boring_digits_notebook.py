"""``examples/boring_digits.ipynb`` (the original's boring_mnist notebook on digits) runs in a real kernel.

The notebook is executed once per session by nbclient in a fresh Jupyter kernel on this environment's
Python, with ``FAST_DEV_RUN = True`` injected after its ``parameters`` cell (papermill's convention),
the repository root as working directory and run directories in a temporary folder. Then: no cell
raised; the single trial's per-epoch table is one display updated in place (``update_display_data``
messages for its display id), not printed lines; the reports' plots are inline PNG images.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.compat.notebook_kernel import (
    ROOT,
    Message,
    execute_notebook,
    inject_parameters,
    kernel_env,
)

NOTEBOOK = ROOT / "examples" / "boring_digits.ipynb"
SINGLE_TRIAL_CELL = "best_result = runner.run_single_trial(LMODULE_CLASS, CONFIG, TUNE_CONFIG)"


def executes_notebook(test: Any) -> Any:
    """Marks a test that needs the executed notebook (a Ray search inside: a minute or more)."""
    for mark in (pytest.mark.slow, pytest.mark.timeout(900)):
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[Message]]:
    """The notebook after a FAST_DEV_RUN execution, and every message its kernel sent."""
    notebook = inject_parameters(nbformat.read(NOTEBOOK, as_version=4), {"FAST_DEV_RUN": True})
    root_entries = set(os.listdir(ROOT))
    results = tmp_path_factory.mktemp("notebook-runs")
    result = execute_notebook(notebook, cwd=ROOT, env=kernel_env(results), timeout_s=600)
    assert set(os.listdir(ROOT)) == root_entries, "the notebook wrote into the working directory"
    return result


def _cell_index(notebook: Any, source_part: str) -> int:
    matches = [i for i, cell in enumerate(notebook.cells) if source_part in cell.source]
    assert len(matches) == 1, f"expected one cell containing {source_part!r}, found {matches}"
    return matches[0]


def _outputs(notebook: Any, source_part: str) -> list[Any]:
    return notebook.cells[_cell_index(notebook, source_part)].outputs


@executes_notebook
def test_every_cell_ran_without_error(executed: tuple[Any, list[Message]]) -> None:
    notebook, messages = executed
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code_cells)
    assert not [m for m in messages if m.msg_type == "error"]
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]


@executes_notebook
def test_epoch_table_is_one_display_updated_in_place(executed: tuple[Any, list[Message]]) -> None:
    notebook, messages = executed
    cell = _cell_index(notebook, SINGLE_TRIAL_CELL)
    in_cell = [m for m in messages if m.cell_index == cell]
    shown = [m for m in in_cell if m.msg_type == "display_data" and m.display_id]
    tables = [m for m in shown if "train_loss" in m.content["data"].get("text/html", "")]
    assert tables, "no per-epoch table displayed with a display id"
    table_id = tables[0].display_id
    updates = [
        m for m in in_cell if m.msg_type == "update_display_data" and m.display_id == table_id
    ]
    assert updates, "the per-epoch table was displayed but never updated in place"
    # FAST_DEV_RUN trains 2 epochs: the update added the second epoch's row to the same table.
    first, last = tables[0].content["data"]["text/html"], updates[-1].content["data"]["text/html"]
    assert last.count("<tr") > first.count("<tr")
    printed = "".join(m.content.get("text", "") for m in in_cell if m.msg_type == "stream")
    assert "train_loss" not in printed, "the per-epoch table was printed as text lines"


@executes_notebook
@pytest.mark.parametrize(
    "source_part",
    [
        'best_result["metrics"].show_report()',
        'show_some_predictions(loaders_dict, best_result["lmodule_best"])',
        "runner.show_metric_report(",
    ],
    ids=["metrics-report", "predictions", "runs-report"],
)
def test_plots_are_inline_png_images(executed: tuple[Any, list[Message]], source_part: str) -> None:
    notebook, _ = executed
    outputs = _outputs(notebook, source_part)
    assert any("image/png" in output.get("data", {}) for output in outputs), [
        output.get("data", {}).keys() for output in outputs
    ]


def test_the_committed_notebook_keeps_its_outputs() -> None:
    """It reads well on GitHub: every code cell of the file in the repository was executed."""
    notebook = nbformat.read(Path(NOTEBOOK), as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code_cells)
    assert any(
        "image/png" in output.get("data", {}) for cell in code_cells for output in cell.outputs
    )
