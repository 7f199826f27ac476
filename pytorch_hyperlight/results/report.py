"""``report.html``: one self-contained page per run, built from the run directory's files.

The page itself (what it shows, how it is kept self-contained and safe) is rendered by
:mod:`pytorch_hyperlight.results.report_page`. A run writes the page when it finishes
(:func:`write_run_report`); :func:`write_report` rebuilds it from the files at any time, as do
``load_run(run_dir).report()`` and the command line::

    python -m pytorch_hyperlight.results.report RUN_DIR
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from pytorch_hyperlight import files
from pytorch_hyperlight.errors import HyperlightError
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.load import load_run
from pytorch_hyperlight.results.report_page import (
    installed_versions,
    render_report,
    write_report_page,
)

__all__ = ["installed_versions", "main", "render_report", "write_report", "write_run_report"]

_MODULE = "pytorch_hyperlight.results.report"  # as run with python -m (__name__ is __main__)


def write_report(run_dir: str | os.PathLike[str]) -> Path:
    """Build ``report.html`` from a run directory's files and write it (atomically) into it.

    Args:
        run_dir: the ``run_dir`` of a finished single trial or search.

    Returns:
        The path of the written ``report.html``.

    Raises:
        RunDirError: not a complete run directory (see :func:`~pytorch_hyperlight.load_run`).
    """
    return write_report_page(load_run(run_dir))


def write_run_report(run_dir: Path) -> Path | None:
    """At the end of a run: record the versions used, then write ``report.html``.

    The run's results are all saved by then, so a failure here does not fail the run: it warns,
    saying how to rebuild the page.
    """
    try:
        files.write_json_atomic(Path(run_dir) / run_dirs.VERSIONS_FILE, installed_versions())
        return write_report(run_dir)
    except Exception as error:
        warnings.warn(
            f"{run_dirs.REPORT_FILE} could not be written: {type(error).__name__}: {error}. The "
            f"run's results are saved; rebuild the page with `python -m {_MODULE} {run_dir}`.",
            stacklevel=2,
        )
        return None


# --- command line ----------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytorch_hyperlight.results.report RUN_DIR [RUN_DIR ...]``: rebuild the pages."""
    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}", description=main.__doc__)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a run's directory")
    for run_dir in parser.parse_args(argv).run_dirs:
        try:
            print(write_report(run_dir))
        except HyperlightError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
