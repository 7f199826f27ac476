"""Reopen a run directory, months later, without Ray: :func:`load_run` and :func:`redraw_plots`.

A run directory (see :mod:`pytorch_hyperlight.results.run_dir` for the layout) holds everything a
run returned except live objects (the Lightning ``trainer``, Ray's ``analysis``). This module reads
it back with pandas only; it never imports Ray.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytorch_hyperlight.errors import ConfigError, RunDirError
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results import run_files
from pytorch_hyperlight.results.run_record import (
    NOT_REOPENED_KEYS,
    SEARCH,
    RunRecord,
    class_path,
)
from pytorch_hyperlight.results.run_result import RunResult


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
        that renders as HTML tables in a notebook) with the keys the run returned (declared once:
        :func:`~pytorch_hyperlight.results.run_record.result_keys`), less the live objects: no
        ``trainer``, and ``lmodule_best`` only with ``lmodule_class``. From ``run.json``: ``kind``
        (``"single_trial"`` or ``"search"``), ``run_name``, ``experiment_id``, ``created``,
        ``lmodule_class``, ``settings`` (a :class:`~pytorch_hyperlight.Settings`), ``config``,
        ``best_config``, ``is_debug``, ``metric``, ``monitor``, ``mode``, ``best_epoch``,
        ``best_metric_value``, ``best_checkpoint_path`` (absolute; None if the file was deleted);
        from the files: ``run_dir`` (absolute), ``metrics`` (a
        :class:`~pytorch_hyperlight.TrialMetrics`), ``metrics_last`` (its ``series_last``, a pandas
        Series), ``plots`` (the PNG files by name) and ``redraw_plots`` (a function that redraws
        them all and returns the same mapping). Searches add ``search_space``, ``best_trial_id``,
        ``trials`` (one row per trial), ``trial_metrics`` (trial id -> TrialMetrics; empty for a
        trial that failed before its first epoch), ``errors``, and ``analysis`` and
        ``result_grid`` (both None: Ray's ExperimentAnalysis and ResultGrid are not reopened).
        With ``lmodule_class``: ``lmodule_best`` too. Its :meth:`LoadedRun.report` rebuilds the
        run's ``report.html``.

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
    path = _run_dir_path(run_dir)
    record = RunRecord.load(path)
    run_files.check_files(path, record.kind)
    run_files.verify_recorded_files(path, record.files)
    metrics = run_files.read_metrics(path)
    values: dict[str, Any] = {
        "settings": _settings(record.settings or {}, path),
        "best_checkpoint_path": _checkpoint_path(path, record.best_checkpoint_path),
        "metrics": metrics,
        # From metrics.csv, as the run computed it (run.json's copy is for reading by eye; one
        # written before reval_* keys existed held the re-validated values under val_*).
        "metrics_last": metrics.series_last,
        **plot_values(path),
    }
    if record.kind == SEARCH:
        values.update(run_files.read_search_files(path, record.metric, record.mode))
        values.update(dict.fromkeys(NOT_REOPENED_KEYS[SEARCH]))
    if lmodule_class is not None:
        values["lmodule_best"] = _load_best_module(lmodule_class, path, record, values)
    return LoadedRun.from_record(record, path, live=False, **values)


def plot_values(run_dir: Path) -> dict[str, Any]:
    """A result's ``plots`` (the PNG files present, by name) and ``redraw_plots`` (a function
    that draws them all again from the files and returns the same mapping)."""
    return {
        "plots": run_files.existing_plots(run_dir),
        "redraw_plots": functools.partial(redraw_plots, run_dir),
    }


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


def _load_best_module(
    lmodule_class: type, path: Path, record: RunRecord, values: Mapping[str, Any]
) -> Any:
    checkpoint = values["best_checkpoint_path"]
    if checkpoint is None:
        raise RunDirError(
            f"Cannot load the best model of {path}: its best checkpoint "
            f"({record.best_checkpoint_path!r}) is not in the run directory."
        )
    saved_name = str(record.lmodule_class or "")
    given_name = class_path(lmodule_class)
    if saved_name and saved_name.split(":")[-1] != lmodule_class.__qualname__:
        warnings.warn(
            f"the run trained {saved_name}, loading its weights into {given_name}", stacklevel=3
        )
    return load_module_weights(lmodule_class, record.best_config or record.config or {}, checkpoint)


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
