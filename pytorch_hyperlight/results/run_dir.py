"""Run names and run directories: where every run keeps its files, and how they are written.

Layout of a run directory (single trial and search alike)::

    <results_dir>/<experiment_id>/<run_name>_<YYYYmmdd-HHMMSS>/
        run.json           what was run: kind, names, settings, config, best config/epoch/checkpoint
        metrics.csv        the best trial's metrics (TrialMetrics.to_csv)
        metrics.png        its plot
        checkpoints/       the best checkpoint (single trial: Lightning's ModelCheckpoint writes here)
        trials.csv         search only: one row per trial
        trial_metrics.csv  search only: every trial's epoch history, with a ``trial_id`` column
        errors.json        search only: failed trials with their tracebacks
        tune/              search only: Ray Tune's experiment directory (used by resume)
        plots/             analysis plots
        versions.json      Python's and the main packages' versions the run used
        report.html        the whole run on one self-contained page (results/report.py)
        <save_dir>/        a CSV or TensorBoard logger's files (in a search: in each trial's directory)

Every file is written atomically (temporary file, fsync, rename, fsync of the directory), so an
interrupted run or a crashed machine never leaves a half-written result behind. ``run.json`` (a
:class:`~pytorch_hyperlight.results.run_record.RunRecord`) is written last and records each data
file's row count and SHA-256 (``files``, from :func:`file_record`); ``load_run`` checks them,
so a file damaged or changed afterwards raises a ``RunDirError`` instead of returning silently
wrong data.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytorch_hyperlight.errors import ConfigError

RUN_FILE = "run.json"
METRICS_FILE = "metrics.csv"
METRICS_PLOT_FILE = "metrics.png"
CHECKPOINTS_DIR = "checkpoints"
TRIALS_FILE = "trials.csv"
TRIAL_METRICS_FILE = "trial_metrics.csv"
ERRORS_FILE = "errors.json"
TUNE_DIR = "tune"
PLOTS_DIR = "plots"
VERSIONS_FILE = "versions.json"
REPORT_FILE = "report.html"

#: The data files whose size, row count and SHA-256 ``run.json`` records under ``files``.
RECORDED_FILES = (METRICS_FILE, TRIALS_FILE, TRIAL_METRICS_FILE, ERRORS_FILE)

_DEFAULT_EXPERIMENT = "default"


def default_results_dir(results_dir: str | os.PathLike[str] | None = None) -> Path:
    """The root for run directories: the given one, ``$HYPERLIGHT_RESULTS_DIR``, or ``~/hyperlight_runs``."""
    if results_dir is not None:
        return Path(results_dir).expanduser()
    from_env = os.environ.get("HYPERLIGHT_RESULTS_DIR")
    if from_env:
        return Path(from_env).expanduser()
    return Path.home() / "hyperlight_runs"


def _results_dir_source(results_dir: str | os.PathLike[str] | None) -> str:
    """Where the results directory came from, for error messages."""
    if results_dir is not None:
        return f"results_dir={str(results_dir)!r}"
    if os.environ.get("HYPERLIGHT_RESULTS_DIR"):
        return f"$HYPERLIGHT_RESULTS_DIR={os.environ['HYPERLIGHT_RESULTS_DIR']!r}"
    return f"the default {str(default_results_dir(None))!r}"


def base_run_name(kind: str, lmodule_class_name: str, prefix: str | None = None) -> str:
    """The original's run names: ``single-trial-<Class>`` / ``hyper-opt-<Class>``, optionally prefixed.

    >>> base_run_name("single-trial", "LitDigits")
    'single-trial-LitDigits'
    >>> base_run_name("hyper-opt", "LitDigits", prefix="baseline")
    'baseline-hyper-opt-LitDigits'
    """
    name = f"{kind}-{lmodule_class_name}"
    return f"{prefix}-{name}" if prefix else name


def unique_run_name(base: str, taken: Iterable[str]) -> str:
    """``base`` if free, else ``base@2``, ``base@3``, ... (the original's repeat naming).

    >>> unique_run_name("single-trial-Net", ["single-trial-Net"])
    'single-trial-Net@2'
    >>> unique_run_name("single-trial-Net", ["single-trial-Net", "single-trial-Net@2"])
    'single-trial-Net@3'
    """
    taken_set = set(taken)
    if base not in taken_set:
        return base
    index = 2
    while f"{base}@{index}" in taken_set:
        index += 1
    return f"{base}@{index}"


def safe_path_part(name: str) -> str:
    """A run or experiment name made safe to use as one path component.

    >>> safe_path_part("hyper-opt-Net@2")
    'hyper-opt-Net@2'
    >>> safe_path_part("my run/1")
    'my_run_1'
    """
    return re.sub(r"[^A-Za-z0-9_.@=+-]", "_", name) or "run"


def create_run_dir(
    results_dir: str | os.PathLike[str] | None,
    experiment_id: str | None,
    run_name: str,
    *,
    now: _dt.datetime | None = None,
) -> Path:
    """Create and return a new, empty directory for one run (never an existing one)."""
    root = default_results_dir(results_dir) / safe_path_part(experiment_id or _DEFAULT_EXPERIMENT)
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{safe_path_part(run_name)}_{stamp}"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"The results directory must be a writable directory, but {_results_dir_source(results_dir)} "
            f"cannot hold run directories ({type(error).__name__}: {error.strerror or error}). "
            "Set results_dir (or $HYPERLIGHT_RESULTS_DIR) to a directory you can write to."
        ) from error
    for attempt in range(1, 1000):
        candidate = root / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"could not create a fresh run directory under {root}")


def latest_run_dir(
    results_dir: str | os.PathLike[str] | None, experiment_id: str | None, run_name_prefix: str
) -> Path | None:
    """The newest run directory of this experiment whose name starts with ``run_name_prefix``."""
    root = default_results_dir(results_dir) / safe_path_part(experiment_id or _DEFAULT_EXPERIMENT)
    if not root.is_dir():
        return None
    prefix = safe_path_part(run_name_prefix) + "_"
    candidates = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix)]
    return max(candidates, key=lambda p: p.stat().st_mtime, default=None)


def count_rows(name: str, data: bytes) -> int:
    """Data rows in a recorded file: CSV records after the header, or a JSON list's items.

    Raises:
        ValueError: the bytes are not UTF-8 text, or not the JSON or CSV the name says.

    >>> count_rows("metrics.csv", b'stage,epoch\\ntrain,0\\nval,"0"\\n')
    2
    >>> count_rows("errors.json", b'[{"trial_id": "a"}]')
    1
    """
    text = data.decode("utf-8")
    if name.endswith(".json"):
        value = json.loads(text)
        return len(value) if isinstance(value, list | dict) else 1
    return max(sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1, 0)


def file_record(path: Path) -> dict[str, Any]:
    """What ``run.json`` records of one data file: ``bytes``, ``rows`` and ``sha256``."""
    data = Path(path).read_bytes()
    return {
        "bytes": len(data),
        "rows": count_rows(Path(path).name, data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
