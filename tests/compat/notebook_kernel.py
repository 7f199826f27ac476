"""Run a notebook in a real Jupyter kernel on this environment's Python, recording what the kernel sends.

The kernel is started from a kernel spec written into a temporary folder whose ``argv`` is this
interpreter (``sys.executable``), so a ``python3`` kernel installed elsewhere on the machine (a user's
``~/.local/share/jupyter/kernels``) cannot be picked up instead. Parameters are injected the way
papermill does it: a cell tagged ``injected-parameters`` right after the cell tagged ``parameters``.

Re-execute a notebook and save its outputs (run from the repository root)::

    python -m tests.compat.notebook_kernel examples/boring_digits.ipynb          # full mode
    python -m tests.compat.notebook_kernel examples/boring_digits.ipynb --fast   # FAST_DEV_RUN = True
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
KERNEL_NAME = "python3"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


@dataclass
class Message:
    """One message the kernel sent on its output channel while a cell ran."""

    cell_index: int
    msg_type: str
    content: dict[str, Any]

    @property
    def display_id(self) -> str | None:
        """The id of an updatable display (``display(..., display_id=True)``), else None."""
        return self.content.get("transient", {}).get("display_id")


class RecordingClient(NotebookClient):
    """An nbclient that also keeps every output message, in order (nbclient folds updates away)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages: list[Message] = []

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        self.messages.append(Message(cell_index, msg["msg_type"], dict(msg.get("content", {}))))
        return super().process_message(msg, cell, cell_index)


def inject_parameters(notebook: Any, parameters: Mapping[str, Any]) -> Any:
    """A copy of ``notebook`` with ``NAME = value`` lines in a cell after its ``parameters`` cell."""
    result = copy.deepcopy(notebook)
    tagged = [
        index
        for index, cell in enumerate(result.cells)
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
    ]
    if len(tagged) != 1:
        raise ValueError(f"expected one cell tagged {PARAMETERS_TAG!r}, found {len(tagged)}")
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    result.cells.insert(tagged[0] + 1, cell)
    return result


def kernel_env(results_dir: Path) -> dict[str, str]:
    """The kernel's environment: this repository importable, results in ``results_dir``, no Agg.

    ``MPLBACKEND`` is removed so that the kernel uses Jupyter's inline backend as a user's does.
    """
    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["HYPERLIGHT_RESULTS_DIR"] = str(results_dir)
    env.setdefault("WANDB_MODE", "offline")
    return env


def _write_kernel_spec(folder: Path) -> None:
    spec_dir = folder / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (this environment)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


def execute_notebook(
    notebook: Any, *, cwd: Path, env: Mapping[str, str], timeout_s: int = 600
) -> tuple[Any, list[Message]]:
    """Run every cell in order in a fresh kernel; stop at the first cell that raises.

    Returns:
        The executed notebook (outputs filled in) and every output message, in order.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised (the message has its traceback).
    """
    executed = copy.deepcopy(notebook)
    with tempfile.TemporaryDirectory(prefix="hyperlight-kernels-") as kernels:
        _write_kernel_spec(Path(kernels))
        spec_manager = KernelSpecManager(kernel_dirs=[kernels])
        manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=spec_manager)
        client = RecordingClient(
            executed,
            km=manager,
            timeout=timeout_s,
            kernel_name=KERNEL_NAME,
            resources={"metadata": {"path": str(cwd)}},
        )
        client.execute(env=dict(env))
    return executed, client.messages


def main(argv: list[str] | None = None) -> None:
    """Execute a notebook in place (outputs saved), in full mode or with ``FAST_DEV_RUN = True``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--fast", action="store_true", help="inject FAST_DEV_RUN = True")
    args = parser.parse_args(argv)
    notebook = nbformat.read(args.notebook, as_version=4)
    if args.fast:
        notebook = inject_parameters(notebook, {"FAST_DEV_RUN": True})
    with tempfile.TemporaryDirectory(prefix="hyperlight-notebook-runs-") as results:
        executed, _ = execute_notebook(notebook, cwd=ROOT, env=kernel_env(Path(results)))
    nbformat.write(executed, args.notebook)
    print(f"saved {args.notebook} with its outputs")


if __name__ == "__main__":
    main()
