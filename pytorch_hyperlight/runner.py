"""The Runner: the one object a user talks to. It holds state and delegates the work.

- :meth:`Runner.run_single_trial` -> :func:`pytorch_hyperlight.runs.single_trial.run_single_trial`
- :meth:`Runner.run_hyper_opt` -> :func:`pytorch_hyperlight.runs.search.run_hyper_opt`
- :meth:`Runner.get_metrics` / :meth:`Runner.show_metric_report` -> :mod:`pytorch_hyperlight.results.compare`
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytorch_hyperlight.context import RunContext
from pytorch_hyperlight.errors import ConfigError, RunDirError
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.config_record import ConfigRecord
from pytorch_hyperlight.results.run_result import RunResult
from pytorch_hyperlight.settings import Settings

SettingsLike = Settings | Mapping[str, Any] | None


class Runner:
    """Trains and tunes LightningModule classes on data from one ``configure_dataloaders`` function.

    Args:
        configure_dataloaders: ``f(batch_size, n_workers=...)`` returning a dict of DataLoaders
            (``train_loader`` and optionally ``val_loader``, ``test_loader``; names are settings).
        pl_callbacks: Lightning callbacks added to every training run (copied fresh for each run).
        pl_loggers: Lightning loggers for every single trial and every trial of a search, made
            fresh per run from the ones given (which stay unused); CSV and TensorBoard loggers
            write into the run's (or trial's) directory.
        experiment_id: groups run directories under ``<results_dir>/<experiment_id>/``; also the
            W&B project with ``log2wandb``.
        log2wandb: also log every training run to Weights & Biases through Lightning's
            ``WandbLogger``: one W&B run per single trial, per search trial and for a search's
            best model, grouped per run (offline, with a warning saying how to ``wandb sync``,
            when no API key is found in ``$WANDB_API_KEY`` or ``~/.wandb_api_key``); see
            :mod:`pytorch_hyperlight.integrations.wandb`. Needs the ``wandb`` extra: an
            ImportError naming it is raised here when wandb is not installed.
        is_debug: fast smoke runs: few epochs and batches, everything else unchanged.
        run_name_prefix: put in front of every generated run name.

    The Runner does no work until a run starts.

    Example:
        >>> from pytorch_hyperlight import Runner
        >>> runner = Runner(lambda batch_size, n_workers=0: {}, experiment_id="demo")
        >>> runner.run_names
        []
    """

    def __init__(
        self,
        configure_dataloaders: Callable[..., Any],
        *,
        pl_callbacks: Sequence[Any] | None = None,
        pl_loggers: Sequence[Any] | None = None,
        experiment_id: str | None = None,
        log2wandb: bool = False,
        is_debug: bool = False,
        run_name_prefix: str | None = None,
    ) -> None:
        if not callable(configure_dataloaders):
            raise ConfigError(
                "configure_dataloaders must be a function f(batch_size, n_workers=...) returning a "
                f"dict of DataLoaders, got {type(configure_dataloaders).__name__}."
            )
        if not isinstance(log2wandb, bool):
            raise ConfigError(f"log2wandb must be True or False, got {log2wandb!r}.")
        if log2wandb:  # an optional dependency: say which extra to install now, not mid-run
            from pytorch_hyperlight.integrations.wandb import require_wandb

            require_wandb()
        self._log2wandb = log2wandb
        self._configure_dataloaders = configure_dataloaders
        self._pl_callbacks = tuple(pl_callbacks or ())
        self._pl_loggers = tuple(pl_loggers or ())
        self._experiment_id = experiment_id
        self._is_debug = is_debug
        self._run_name_prefix = run_name_prefix
        self._runs: dict[str, dict[str, Any]] = {}

    # --- runs ------------------------------------------------------------------------------------
    def run_single_trial(
        self,
        lmodule_class: type,
        config: Mapping[str, Any],
        extra_config: SettingsLike = None,
        *,
        run_name: str | None = None,
        extra_run_name_prefix: str = "",
        config_record: ConfigRecord | None = None,
    ) -> dict[str, Any]:
        """Train one configuration, re-validate and test its best checkpoint.

        Args:
            lmodule_class: a LightningModule class (``pytorch_lightning`` or ``lightning.pytorch``).
            config: the model's hyper-parameters plus ``max_epochs``, ``batch_size`` and
                optionally ``gradient_clip_val``.
            extra_config: a dict of settings keys (the seed's ``EXTRA_CONFIG``) or a
                :class:`~pytorch_hyperlight.Settings`.
            run_name: explicit name of this run (must be unique within this Runner); default:
                ``single-trial-<ClassName>``, then ``...@2``, ``...@3`` for repeats.
            extra_run_name_prefix: put in front of the default name (the original's
                ``extra_run_name_prefix="full-train-"``); cannot be combined with ``run_name``.
            config_record: the config file the run came from, saved into the run directory (set
                by the command line and ``pytorch_hyperlight.config.hyperlight_task``).

        Returns:
            A dict with ``lmodule_best``, ``best_epoch``, ``best_checkpoint_path``, ``trainer``,
            ``metrics`` (a :class:`~pytorch_hyperlight.TrialMetrics`), ``metrics_last``,
            ``run_dir`` and ``run_name``.
        """
        from pytorch_hyperlight.runs.single_trial import run_single_trial

        settings = Settings.from_any(extra_config)
        name = self._allocate_run_name(
            "single-trial", lmodule_class, run_name, extra_run_name_prefix
        )
        context = self._context(name, settings, config_record=config_record)
        with _removed_if_left_empty(context.run_dir):
            # run_single_trial checks the config's type itself and copies it: pass it as given.
            result = RunResult(run_single_trial(lmodule_class, config, settings, context))  # type: ignore[arg-type]
        self._runs[name] = result
        return result

    def run_hyper_opt(
        self,
        lmodule_class: type,
        search_space_config: Mapping[str, Any],
        tune_config: SettingsLike = None,
        *,
        resume: bool | str | Path | None = None,
        run_name: str | None = None,
        extra_run_name_prefix: str = "",
        config_record: ConfigRecord | None = None,
    ) -> dict[str, Any]:
        """Search hyper-parameters with Ray Tune, then load, re-validate and test the best model.

        Args:
            lmodule_class: a LightningModule class.
            search_space_config: the config with Ray Tune domains (``tune.uniform``, ``choice``, ...)
                mixed with constants.
            tune_config: a dict of settings keys (the seed's ``TUNE_CONFIG``) or a
                :class:`~pytorch_hyperlight.Settings`.
            resume: a run directory of an interrupted search to continue, or True for this
                experiment's latest search of this module class.
            run_name: explicit name of this run (must be unique within this Runner); default:
                ``hyper-opt-<ClassName>``, then ``...@2``, ``...@3`` for repeats.
            extra_run_name_prefix: put in front of the default name; cannot be combined with
                ``run_name``.
            config_record: the config file the run came from, saved into the run directory and,
                per trial, into each trial's directory (set by the command line).

        Returns:
            A dict with ``lmodule_best``, ``best_config``, ``best_epoch``, ``best_checkpoint_path``,
            ``trainer``, ``metrics``, ``metrics_last``, ``trials``, ``trial_metrics``, ``analysis``
            (Ray Tune's ``ExperimentAnalysis``), ``result_grid`` (Ray Tune's ``ResultGrid``),
            ``errors``, ``run_dir`` and ``run_name``.
        """
        from pytorch_hyperlight.runs.search import run_hyper_opt

        if not isinstance(search_space_config, Mapping):
            raise ConfigError(
                "search_space_config must be a dict of hyper-parameters and Ray Tune domains, got "
                f"{type(search_space_config).__name__}."
            )
        settings = Settings.from_any(tune_config)
        name = self._allocate_run_name("hyper-opt", lmodule_class, run_name, extra_run_name_prefix)
        resume_dir = self._resolve_resume(resume, lmodule_class, settings, extra_run_name_prefix)
        context = self._context(
            name, settings, existing_dir=resume_dir, config_record=config_record
        )
        with _removed_if_left_empty(context.run_dir):
            result = RunResult(
                run_hyper_opt(
                    lmodule_class,
                    dict(search_space_config),
                    settings,
                    context,
                    resume=resume_dir is not None,
                )
            )
        self._runs[name] = result
        return result

    # --- comparing runs ----------------------------------------------------------------------------
    @property
    def run_names(self) -> list[str]:
        """Names of the runs this Runner made, in order."""
        return list(self._runs)

    def get_runs(self) -> dict[str, dict[str, Any]]:
        """Every run's result dict by run name (a shallow copy of the Runner's record)."""
        return dict(self._runs)

    def get_metrics(self, keep_train_val_only: bool = False) -> dict[str, Any]:
        """Last values across runs (one row per run) and all epoch metrics merged, as the original.

        Args:
            keep_train_val_only: leave out the ``reval_*``/``test_*`` values (and the ``reval`` and
                ``test`` rows of the merged table).

        Returns:
            ``run_x_last_metric_df``: a DataFrame, one row per run with its ``series_last`` (last
            epoch's ``train_*``/``val_*``, ``reval_*``, ``test_*``) and a ``run`` column;
            ``epoch_x_stage_run_metric``: a TrialMetrics of all runs with a ``run`` column.
            Also ``run_metrics_last`` (the same values indexed by run) and ``metrics`` (the same
            TrialMetrics). Without runs: an empty DataFrame and an empty TrialMetrics.
        """
        from pytorch_hyperlight.results.compare import collect_metrics

        return collect_metrics(self._runs, keep_train_val_only=keep_train_val_only)

    def show_metric_report(
        self,
        sort_by_metric_list: Sequence[str] | None = None,
        figsize: tuple[float, float] | None = None,
        keep_train_val_only: bool = False,
        *,
        higher_is_better: Mapping[str, bool] | None = None,
    ) -> dict[str, Any] | None:
        """Show the runs' last-value table sorted by ``sort_by_metric_list`` and a comparison figure.

        Args:
            sort_by_metric_list: metrics to sort by, best run first, then the run name; None
                keeps the runs' order. Each metric's direction is declared, not guessed: see
                :mod:`pytorch_hyperlight.metric_direction`; a footnote under the table names
                the rule behind each one.
            figsize: the figure's (width, height) in inches; default: sized from its panels.
            keep_train_val_only: leave the ``reval``/``test`` values out of the figure and the
                table (except the metrics sorted by).
            higher_is_better: which way is better per metric, ahead of the runs' own
                declarations (e.g. ``{"perplexity": False}``).

        Returns:
            ``{"table", "figure", "directions", "footnote"}``; None (nothing shown) without runs.
        """
        from pytorch_hyperlight.results.compare import show_metric_report

        return show_metric_report(
            self._runs,
            sort_by_metric_list=sort_by_metric_list,
            figsize=figsize,
            keep_train_val_only=keep_train_val_only,
            higher_is_better=higher_is_better,
        )

    # --- helpers -----------------------------------------------------------------------------------
    def _allocate_run_name(
        self, kind: str, lmodule_class: type, run_name: str | None, extra_prefix: str = ""
    ) -> str:
        if not isinstance(extra_prefix, str):
            raise ConfigError(
                f"extra_run_name_prefix must be a string such as 'full-train-', got {extra_prefix!r}."
            )
        if run_name is not None:
            if not isinstance(run_name, str) or not run_name:
                raise ConfigError(f"run_name must be a non-empty string, got {run_name!r}.")
            if extra_prefix:
                raise ConfigError(
                    f"run_name={run_name!r} cannot be combined with extra_run_name_prefix="
                    f"{extra_prefix!r}: pass the full name as run_name, or only the prefix."
                )
            if run_name in self._runs:
                raise RunDirError(
                    f"run_name {run_name!r} is already used by a run of this Runner; "
                    f"pick another name (taken: {sorted(self._runs)})."
                )
            return run_name
        return run_dirs.unique_run_name(
            self._base_run_name(kind, lmodule_class, extra_prefix), self._runs
        )

    def _base_run_name(self, kind: str, lmodule_class: type, extra_prefix: str) -> str:
        class_name = getattr(lmodule_class, "__name__", type(lmodule_class).__name__)
        return extra_prefix + run_dirs.base_run_name(kind, class_name, self._run_name_prefix)

    def _context(
        self,
        run_name: str,
        settings: Settings,
        existing_dir: Path | None = None,
        config_record: ConfigRecord | None = None,
    ) -> RunContext:
        run_dir = existing_dir or run_dirs.create_run_dir(
            settings.results_dir, self._experiment_id, run_name
        )
        return RunContext(
            configure_dataloaders=self._configure_dataloaders,
            run_name=run_name,
            run_dir=run_dir,
            experiment_id=self._experiment_id,
            is_debug=self._is_debug,
            pl_callbacks=self._pl_callbacks,
            pl_loggers=self._pl_loggers,
            log2wandb=self._log2wandb,
            config_record=config_record,
        )

    def _resolve_resume(
        self,
        resume: bool | str | Path | None,
        lmodule_class: type,
        settings: Settings,
        extra_prefix: str = "",
    ) -> Path | None:
        if resume is None or resume is False:
            return None
        if resume is True:
            prefix = self._base_run_name("hyper-opt", lmodule_class, extra_prefix)
            latest = run_dirs.latest_run_dir(settings.results_dir, self._experiment_id, prefix)
            if latest is None:
                raise RunDirError(
                    f"resume=True found no earlier search run {prefix!r} of experiment "
                    f"{self._experiment_id!r} under {run_dirs.default_results_dir(settings.results_dir)}."
                    " Pass the run directory explicitly: resume='<path>'."
                )
            return latest
        path = Path(resume).expanduser()
        if not (path / run_dirs.TUNE_DIR).is_dir():
            raise RunDirError(
                f"resume={str(resume)!r} is not the run directory of a search (no "
                f"{run_dirs.TUNE_DIR}/ folder inside). Pass the run_dir of an earlier run_hyper_opt."
            )
        return path


@contextlib.contextmanager
def _removed_if_left_empty(run_dir: Path) -> Iterator[None]:
    """Remove a run directory that a failed run left empty (bad input found before any work)."""
    try:
        yield
    except BaseException:
        if run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()
        raise
