"""A run directory's data files read back and checked: what :func:`~pytorch_hyperlight.load_run`
reads beside ``run.json`` (:mod:`~pytorch_hyperlight.results.run_record`).

Every reader raises a :class:`~pytorch_hyperlight.errors.RunDirError` naming the file when it is
missing, differs from what the run wrote (``run.json`` records each data file's rows and SHA-256)
or cannot be parsed; never a raw pandas or JSON error, never silently shorter data.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pytorch_hyperlight import files
from pytorch_hyperlight.errors import RunDirError
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.run_record import SEARCH

_RECOVERY = (
    "Restore the run directory from a backup or re-run; a run never writes this file after "
    "run.json, so it was changed or cut short afterwards (an interrupted copy, a full disk, an edit)."
)


def check_files(path: Path, kind: str) -> None:
    """Every file a run of this kind always writes is there, else a RunDirError listing them."""
    needed = [run_dirs.METRICS_FILE]
    if kind == SEARCH:
        needed += [run_dirs.TRIALS_FILE, run_dirs.TRIAL_METRICS_FILE]
    missing = [name for name in needed if not (path / name).is_file()]
    if missing:
        raise RunDirError(
            f"The {kind} run directory {path} is incomplete: missing {', '.join(missing)}. "
            "A run writes them before run.json, so they were removed afterwards: restore them "
            "from a backup or re-run."
        )


def verify_recorded_files(path: Path, recorded: Any) -> None:
    """Each data file as ``run.json`` recorded it (size, rows, SHA-256), else a RunDirError.

    ``recorded`` None: a run directory written before the record existed, nothing to check.
    """
    if recorded is None:
        return
    if not isinstance(recorded, Mapping):
        raise RunDirError(f"{path / run_dirs.RUN_FILE}: 'files' must be a JSON object.")
    for name, record in recorded.items():
        file = path / str(name)
        if not file.is_file():
            raise RunDirError(f"{file} is missing; the run wrote it. {_RECOVERY}")
        data = file.read_bytes()
        if hashlib.sha256(data).hexdigest() == record.get("sha256"):
            continue
        try:
            found = f"{run_dirs.count_rows(file.name, data)} rows"
        except ValueError:
            found = "no readable rows (not the text the run wrote)"
        raise RunDirError(
            f"{file} is not the file the run wrote: it holds {found} in {len(data)} bytes, the "
            f"run wrote {record.get('rows')} rows in {record.get('bytes')} bytes. {_RECOVERY}"
        )


@contextlib.contextmanager
def damaged_file_errors(file: Path) -> Iterator[None]:
    """A file that cannot be parsed (empty, binary, cut mid-line) as a RunDirError naming it."""
    import pandas as pd

    try:
        yield
    except (ValueError, pd.errors.ParserError, KeyError) as error:
        if isinstance(error, RunDirError):
            raise
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RunDirError(f"{file} cannot be read ({first_line}). {_RECOVERY}") from error


def read_metrics(path: Path) -> Any:
    """``metrics.csv`` as a :class:`~pytorch_hyperlight.TrialMetrics`."""
    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

    with damaged_file_errors(path / run_dirs.METRICS_FILE):
        return TrialMetrics.from_csv(path / run_dirs.METRICS_FILE)


def read_search_files(path: Path, metric: str | None, mode: str | None) -> dict[str, Any]:
    """A search's ``trials`` (a TrialsTable), ``trial_metrics`` (trial id -> TrialMetrics, in the
    trials table's order) and ``errors`` (the list in ``errors.json``; empty without the file)."""
    import pandas as pd

    from pytorch_hyperlight.results.trials_table import as_trials_table

    with damaged_file_errors(path / run_dirs.TRIALS_FILE):
        trials = pd.read_csv(path / run_dirs.TRIALS_FILE, dtype={"trial_id": str, "error": str})
    if "error" in trials.columns:
        trials["error"] = trials["error"].fillna("")
    for column in ("best_epoch", "completion_order"):  # whole numbers or missing, as the run had
        if column in trials.columns:
            trials[column] = trials[column].astype("Int64")
    trials = as_trials_table(trials, metric=metric, mode=mode)
    trial_metrics = _read_trial_metrics(path, list(trials["trial_id"]))
    errors_file = path / run_dirs.ERRORS_FILE
    with damaged_file_errors(errors_file):
        errors = files.read_json(errors_file) if errors_file.is_file() else []
    return {"trials": trials, "trial_metrics": trial_metrics, "errors": errors}


def _read_trial_metrics(path: Path, trial_ids: list[str]) -> dict[str, Any]:
    import pandas as pd

    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

    with damaged_file_errors(path / run_dirs.TRIAL_METRICS_FILE):
        histories = pd.read_csv(path / run_dirs.TRIAL_METRICS_FILE, dtype={"trial_id": str})
    if "trial_id" not in histories.columns:
        raise RunDirError(f"{path / run_dirs.TRIAL_METRICS_FILE} has no trial_id column.")
    by_trial = {str(t): h for t, h in histories.groupby("trial_id", sort=False)}
    trial_metrics = {}
    # In the trials table's order; a trial that failed before its first epoch gets an empty table.
    for trial_id in [*trial_ids, *(t for t in by_trial if t not in set(trial_ids))]:
        history = by_trial.get(trial_id, histories.iloc[:0])
        frame = history.drop(columns="trial_id").reset_index(drop=True)
        metric_columns = [c for c in frame.columns if c not in ("run", "stage", "epoch")]
        empty = [c for c in metric_columns if frame[c].isna().all()]
        trial_metrics[trial_id] = TrialMetrics(frame.drop(columns=empty))
    return trial_metrics


def existing_plots(run_dir: Path) -> dict[str, Path]:
    """The PNG plots present in a run directory, by name (``metrics`` and ``plots/<name>.png``)."""
    plots = {}
    if (run_dir / run_dirs.METRICS_PLOT_FILE).is_file():
        plots["metrics"] = run_dir / run_dirs.METRICS_PLOT_FILE
    plots_dir = run_dir / run_dirs.PLOTS_DIR
    if plots_dir.is_dir():
        plots.update({p.stem: p for p in sorted(plots_dir.glob("*.png"))})
    return plots
