"""Reopen a run directory, months later, without Ray: :func:`load_run` and :func:`redraw_plots`.

A run directory (see :mod:`pytorch_hyperlight.results.run_dir` for the layout) holds everything a
run returned except live objects (the Lightning ``trainer``, Ray's ``analysis``). This module reads
it back with pandas only; it never imports Ray.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pytorch_hyperlight import files
from pytorch_hyperlight.errors import ConfigError, RunDirError
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.run_result import RunResult

#: run.json format this version reads and writes.
FORMAT_VERSION = 1
_KINDS = ("single_trial", "search")
_REQUIRED_KEYS = ("kind", "run_name", "metric", "mode")


class LoadedRun(RunResult):
    """A run read back by :func:`load_run`: its result dict, plus :meth:`report`."""

    def report(self) -> Path:
        """Build the run's ``report.html`` again from its files and return its path.

        See :mod:`pytorch_hyperlight.results.report`; useful for runs made before the page existed.
        """
        from pytorch_hyperlight.results.report_page import write_report_page

        return write_report_page(load_run(self["run_dir"]))


def load_run(run_dir: str | os.PathLike[str], lmodule_class: type | None = None) -> LoadedRun:
    """Read a run directory back into the result dict the run returned.

    Args:
        run_dir: the ``run_dir`` of a single trial or a search (or its ``run.json``).
        lmodule_class: the LightningModule class of the run; when given, the best model is built
            from ``best_config`` and the best checkpoint's weights are loaded into it.

    Returns:
        A :class:`LoadedRun` (a :class:`~pytorch_hyperlight.results.run_result.RunResult`: a dict
        that renders as HTML tables in a notebook) with ``kind`` (``"single_trial"`` or ``"search"``), ``run_name``, ``run_dir``
        (absolute), ``experiment_id``, ``settings`` (a :class:`~pytorch_hyperlight.Settings`),
        ``config``, ``best_config``, ``metric``, ``mode``, ``best_epoch``, ``best_metric_value``,
        ``best_checkpoint_path`` (absolute; None if the file was deleted), ``metrics`` (a
        :class:`~pytorch_hyperlight.TrialMetrics`), ``metrics_last`` (a pandas Series), ``plots``
        (the PNG files by name) and ``redraw_plots`` (a function that redraws them all and returns
        the same mapping). Searches add ``search_space``, ``best_trial_id``, ``trials`` (one row
        per trial), ``trial_metrics`` (trial id -> TrialMetrics; empty for a trial that failed
        before its first epoch), ``errors``, and ``analysis`` and ``result_grid`` (both None: Ray's
        ExperimentAnalysis and ResultGrid are not reopened). With ``lmodule_class``:
        ``lmodule_best`` too. Its :meth:`LoadedRun.report` rebuilds the run's ``report.html``.

    Raises:
        RunDirError: the directory does not exist, misses files a run always writes, or a file
            differs from what the run wrote (``run.json`` records each data file's rows and
            SHA-256; run directories written before that are read without this check), or a file
            cannot be parsed. The message names the file.

    Example:
        >>> import pytorch_hyperlight as ph
        >>> ph.load_run("/no/such/run")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pytorch_hyperlight.errors.RunDirError: No run directory at /no/such/run...
    """
    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

    path = _run_dir_path(run_dir)
    info = _read_run_json(path)
    kind = info["kind"]
    _check_files(path, kind)
    _verify_recorded_files(path, info.get("files"))
    with _damaged_file_errors(path / run_dirs.METRICS_FILE):
        metrics = TrialMetrics.from_csv(path / run_dirs.METRICS_FILE)
    result: dict[str, Any] = {
        "kind": kind,
        "run_name": info["run_name"],
        "run_dir": path,
        "experiment_id": info.get("experiment_id"),
        "created": info.get("created"),
        "lmodule_class": info.get("lmodule_class"),
        "settings": _settings(info.get("settings") or {}, path),
        "config": info.get("config"),
        "best_config": info.get("best_config"),
        "metric": info["metric"],
        "mode": info["mode"],
        "best_epoch": info.get("best_epoch"),
        "best_metric_value": info.get("best_metric_value"),
        "best_checkpoint_path": _checkpoint_path(path, info.get("best_checkpoint_path")),
        "metrics": metrics,
        # From metrics.csv, as the run computed it (run.json's copy is for reading by eye; one
        # written before reval_* keys existed held the re-validated values under val_*).
        "metrics_last": metrics.series_last,
    }
    if kind == "search":
        result.update(_read_search_files(path, info))
    result["plots"] = existing_plots(path)
    result["redraw_plots"] = functools.partial(redraw_plots, path)
    if lmodule_class is not None:
        result["lmodule_best"] = _load_best_module(lmodule_class, result, info)
    return LoadedRun(result)


def redraw_plots(run_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Draw every plot of a run again from its files: ``metrics.png`` and, for a search, the
    analysis plots in ``plots/`` (see :func:`pytorch_hyperlight.results.analysis.save_search_plots`).

    Returns:
        the written PNG files by plot name (``metrics``, ``learning_curves``, ...).
    """
    from pytorch_hyperlight.metrics.plotting import plot_trial_metrics, run_title
    from pytorch_hyperlight.results import analysis

    run = load_run(run_dir)
    path: Path = run["run_dir"]
    title = run_title(
        str(run.get("run_name") or path.name),
        str(run.get("metric")),
        run.get("best_epoch"),
        run.get("best_metric_value"),
        trial_id=run.get("best_trial_id"),
    )
    figure = plot_trial_metrics(run["metrics"], title=title)
    written = {"metrics": analysis.save_figure(figure, path / run_dirs.METRICS_PLOT_FILE)}
    _close_if_pyplot(figure)
    if run["kind"] == "search":
        written.update(
            analysis.save_search_plots(
                path,
                run["trials"],
                run["trial_metrics"],
                run["search_space"],
                run["metric"],
                run["mode"],
            )
        )
    return written


def existing_plots(run_dir: Path) -> dict[str, Path]:
    """The PNG plots present in a run directory, by name (``metrics`` and ``plots/<name>.png``)."""
    plots = {}
    if (run_dir / run_dirs.METRICS_PLOT_FILE).is_file():
        plots["metrics"] = run_dir / run_dirs.METRICS_PLOT_FILE
    plots_dir = run_dir / run_dirs.PLOTS_DIR
    if plots_dir.is_dir():
        plots.update({p.stem: p for p in sorted(plots_dir.glob("*.png"))})
    return plots


# --- reading ------------------------------------------------------------------------------------
def _run_dir_path(run_dir: str | os.PathLike[str]) -> Path:
    if not isinstance(run_dir, str | os.PathLike):
        raise RunDirError(
            f"load_run expects the path of a run directory (result['run_dir']), got "
            f"{type(run_dir).__name__}."
        )
    path = Path(run_dir).expanduser()
    if path.name == run_dirs.RUN_FILE and path.is_file():
        path = path.parent
    if not path.is_dir():
        raise RunDirError(
            f"No run directory at {run_dir}: pass the run_dir of a run_single_trial or "
            f"run_hyper_opt result (its folder holds {run_dirs.RUN_FILE})."
        )
    return path.resolve()


def _read_run_json(path: Path) -> dict[str, Any]:
    run_file = path / run_dirs.RUN_FILE
    if not run_file.is_file():
        raise RunDirError(
            f"{path} is not a complete run directory: {run_dirs.RUN_FILE} is missing (a run "
            "writes it when it finishes; an interrupted search can be continued with resume=)."
        )
    try:
        info = files.read_json(run_file)
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError alike
        raise RunDirError(
            f"{run_file} is not valid JSON ({error}); it is written last, so the run did not "
            "finish writing it or it was changed since. Re-run, or resume= an interrupted search."
        ) from error
    if not isinstance(info, dict):
        raise RunDirError(f"{run_file} must hold a JSON object, got {type(info).__name__}.")
    version = info.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RunDirError(
            f"{run_file} has format_version {version!r}; this pytorch_hyperlight reads "
            f"version {FORMAT_VERSION} or older. Upgrade pytorch_hyperlight to read it."
        )
    missing = [key for key in _REQUIRED_KEYS if key not in info]
    if missing:
        raise RunDirError(f"{run_file} lacks the keys {missing}; it was not written by a run.")
    if info["kind"] not in _KINDS:
        raise RunDirError(f"{run_file}: kind must be one of {_KINDS}, got {info['kind']!r}.")
    return info


def _check_files(path: Path, kind: str) -> None:
    needed = [run_dirs.METRICS_FILE]
    if kind == "search":
        needed += [run_dirs.TRIALS_FILE, run_dirs.TRIAL_METRICS_FILE]
    missing = [name for name in needed if not (path / name).is_file()]
    if missing:
        raise RunDirError(
            f"The {kind} run directory {path} is incomplete: missing {', '.join(missing)}. "
            "A run writes them before run.json, so they were removed afterwards: restore them "
            "from a backup or re-run."
        )


_RECOVERY = (
    "Restore the run directory from a backup or re-run; a run never writes this file after "
    "run.json, so it was changed or cut short afterwards (an interrupted copy, a full disk, an edit)."
)


def _verify_recorded_files(path: Path, recorded: Any) -> None:
    """Each data file as ``run.json`` recorded it (size, rows, SHA-256), else a RunDirError."""
    if recorded is None:
        return  # a run directory written before the record existed: nothing to check against
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
def _damaged_file_errors(file: Path) -> Iterator[None]:
    """A file that cannot be parsed (empty, binary, cut mid-line) as a RunDirError naming it."""
    import pandas as pd

    try:
        yield
    except (ValueError, pd.errors.ParserError, KeyError) as error:
        if isinstance(error, RunDirError):
            raise
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RunDirError(f"{file} cannot be read ({first_line}). {_RECOVERY}") from error


def _settings(values: Mapping[str, Any], path: Path) -> Any:
    from pytorch_hyperlight.settings import Settings

    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        warnings.warn(
            f"{path / run_dirs.RUN_FILE}: ignoring settings this version does not know: {unknown}",
            stacklevel=3,
        )
    try:
        return Settings.from_any({k: v for k, v in values.items() if k in known})
    except ConfigError as error:
        raise RunDirError(f"{path / run_dirs.RUN_FILE} holds invalid settings: {error}") from error


def _checkpoint_path(path: Path, relative: str | None) -> str | None:
    if not relative:
        return None
    checkpoint = (path / relative).resolve()
    if not checkpoint.is_file():
        warnings.warn(f"the best checkpoint {checkpoint} was removed", stacklevel=3)
        return None
    return str(checkpoint)


def _read_search_files(path: Path, info: Mapping[str, Any]) -> dict[str, Any]:
    import pandas as pd

    from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics
    from pytorch_hyperlight.results.trials_table import as_trials_table

    with _damaged_file_errors(path / run_dirs.TRIALS_FILE):
        trials = pd.read_csv(path / run_dirs.TRIALS_FILE, dtype={"trial_id": str, "error": str})
    if "error" in trials.columns:
        trials["error"] = trials["error"].fillna("")
    for column in ("best_epoch", "completion_order"):  # whole numbers or missing, as the run had
        if column in trials.columns:
            trials[column] = trials[column].astype("Int64")
    trials = as_trials_table(trials, metric=info.get("metric"), mode=info.get("mode"))
    with _damaged_file_errors(path / run_dirs.TRIAL_METRICS_FILE):
        histories = pd.read_csv(path / run_dirs.TRIAL_METRICS_FILE, dtype={"trial_id": str})
    if "trial_id" not in histories.columns:
        raise RunDirError(f"{path / run_dirs.TRIAL_METRICS_FILE} has no trial_id column.")
    by_trial = {str(t): h for t, h in histories.groupby("trial_id", sort=False)}
    trial_metrics = {}
    # In the trials table's order; a trial that failed before its first epoch gets an empty table.
    for trial_id in [
        *trials["trial_id"],
        *(t for t in by_trial if t not in set(trials["trial_id"])),
    ]:
        history = by_trial.get(trial_id, histories.iloc[:0])
        frame = history.drop(columns="trial_id").reset_index(drop=True)
        metric_columns = [c for c in frame.columns if c not in ("run", "stage", "epoch")]
        empty = [c for c in metric_columns if frame[c].isna().all()]
        trial_metrics[trial_id] = TrialMetrics(frame.drop(columns=empty))
    errors_file = path / run_dirs.ERRORS_FILE
    with _damaged_file_errors(errors_file):
        errors = files.read_json(errors_file) if errors_file.is_file() else []
    return {
        "search_space": info.get("search_space") or {},
        "best_trial_id": info.get("best_trial_id"),
        "trials": trials,
        "trial_metrics": trial_metrics,
        "errors": errors,
        "analysis": None,
        "result_grid": None,
    }


def _load_best_module(
    lmodule_class: type, result: Mapping[str, Any], info: Mapping[str, Any]
) -> Any:
    checkpoint = result["best_checkpoint_path"]
    if checkpoint is None:
        raise RunDirError(
            f"Cannot load the best model of {result['run_dir']}: its best checkpoint "
            f"({info.get('best_checkpoint_path')!r}) is not in the run directory."
        )
    saved_name = str(info.get("lmodule_class") or "")
    given_name = f"{lmodule_class.__module__}:{lmodule_class.__qualname__}"
    if saved_name and saved_name.split(":")[-1] != lmodule_class.__qualname__:
        warnings.warn(
            f"the run trained {saved_name}, loading its weights into {given_name}", stacklevel=3
        )
    return load_module_weights(
        lmodule_class, result["best_config"] or result["config"] or {}, checkpoint
    )


def load_module_weights(
    lmodule_class: type, config: Mapping[str, Any], checkpoint_path: str | os.PathLike[str]
) -> Any:
    """A module built from ``config`` (as a trial builds it) with a checkpoint's weights, in eval mode.

    ``n_steps_per_epoch`` (and so ``n_train_steps``) comes from the checkpoint's saved
    hyper-parameters when the module saved them, else it is 1: these derived keys only shape
    learning-rate schedules, never the loaded weights.

    Raises:
        RunDirError: the file is not a Lightning checkpoint, or its weights do not fit the module.
    """

    from pytorch_hyperlight.trial import building
    from pytorch_hyperlight.trial.fit import load_checkpoint

    try:
        checkpoint = load_checkpoint(Path(checkpoint_path), written_by_this_run=False)
    except (EOFError, RuntimeError) as error:  # a truncated or overwritten file
        raise RunDirError(
            f"{checkpoint_path} cannot be read as a checkpoint ({error}); it was changed after the "
            "run. Restore it from a backup or re-run."
        ) from error
    if not isinstance(checkpoint, Mapping) or "state_dict" not in checkpoint:
        raise RunDirError(f"{checkpoint_path} is not a Lightning checkpoint (no 'state_dict').")
    saved = checkpoint.get("hyper_parameters") or {}
    n_steps_per_epoch = int(saved.get("n_steps_per_epoch") or 1)
    derived = building.derived_values(n_steps_per_epoch, int(config.get("max_epochs") or 1))
    module = building.build_module(lmodule_class, config, derived)
    try:
        module.on_load_checkpoint(checkpoint)  # as Lightning does before loading the weights
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise RunDirError(
            f"The weights in {checkpoint_path} do not fit {lmodule_class.__qualname__} built from "
            f"the run's best_config: {error}"
        ) from error
    return module.eval()


def _close_if_pyplot(figure: Any) -> None:
    """Figures made with pyplot stay in its registry until closed; ours (plain Figure) do not."""
    if getattr(figure.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt

        plt.close(figure)
