"""Weights & Biases logging for ``Runner(..., log2wandb=True)``: the one place that talks to wandb.

What is logged, and where:

- A single trial is one W&B run (job type ``single-trial``): its config, every epoch's metrics
  (through Lightning's ``WandbLogger``) and, at the end, the re-validation and test of its best
  checkpoint (``reval_*``, ``test_*``, ``best_epoch``).
- A search is one W&B group (the run directory's name: the run name plus its start time, so two
  searches never share a group). Each trial is one W&B run (job type ``search-trial``, named
  ``<run name>-<trial id>``) with its sampled config and every epoch's metrics, and one more run,
  ``<run name>-best`` (job type ``best-model``), holds the best config and the re-validation and
  test of the best model (they happen in the calling process, after the trials' runs ended).
- The W&B project is the Runner's ``experiment_id`` (``pytorch_hyperlight`` when it is None).
  Files go to ``$WANDB_DIR`` when set, else into the run directory (``<run_dir>/wandb/``).

Online or offline (:func:`choose_mode`): ``$WANDB_MODE`` ``offline``/``disabled`` is respected;
otherwise runs go online when an API key is found (``$WANDB_API_KEY``, the original's plain-text
``~/.wandb_api_key``, or a ``wandb login`` in ``~/.netrc``) and offline when none is, with one
warning per run saying where the offline runs are and the ``wandb sync`` command that uploads
them. A key file that others can read gets a warning too.

The API key never leaves memory: it is handed to ``wandb.init`` (only for an online run), never put
into an environment variable, a config, a result, a file the library writes or anything sent to
Ray. Ray workers look the key up themselves, on their own machine.

wandb is an optional dependency (``pip install 'pytorch-hyperlight[wandb]'``), imported only when a
W&B run starts; :func:`require_wandb` checks for it when the Runner is made.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import netrc
import os
import secrets
import shlex
import stat
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

#: The environment variable and the file (in the home directory) that may hold the API key.
API_KEY_ENV = "WANDB_API_KEY"
API_KEY_FILE = ".wandb_api_key"
#: The W&B project of a Runner without an ``experiment_id``.
DEFAULT_PROJECT = "pytorch_hyperlight"
#: What ``pip install`` needs for ``log2wandb=True``.
EXTRA = "pytorch-hyperlight[wandb]"
ONLINE, OFFLINE, DISABLED = "online", "offline", "disabled"
#: W&B job types: they tell a single trial, a search's trials and its best model apart.
JOB_SINGLE_TRIAL, JOB_SEARCH_TRIAL, JOB_BEST_MODEL = "single-trial", "search-trial", "best-model"
_MISSING = (
    "Runner(log2wandb=True) needs the wandb package, which is not installed. Install the extra: "
    f"pip install '{EXTRA}' (or pass log2wandb=False)."
)


# --- the package ----------------------------------------------------------------------------------
def require_wandb() -> None:
    """Check that wandb is installed, without importing it (a Runner with ``log2wandb=True``).

    Raises:
        ImportError: wandb is not installed; the message names the extra to install.
    """
    if importlib.util.find_spec("wandb") is None:
        raise ImportError(_MISSING)


def _import_wandb() -> Any:
    try:
        import wandb
    except ImportError as error:
        raise ImportError(_MISSING) from error
    return wandb


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the user's line (the first frame outside this
    package and ``contextlib``), counted from the function that calls this one."""
    internal = (str(Path(__file__).resolve().parents[1]) + os.sep, contextlib.__file__)
    frame = inspect.currentframe()
    frame = frame.f_back if frame is not None else None  # the warning function: level 1
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(internal):
        frame, level = frame.f_back, level + 1
    return level


# --- the API key and the mode ---------------------------------------------------------------------
def _key_file() -> Path:
    return Path.home() / API_KEY_FILE


def find_api_key() -> str | None:
    """The API key from ``$WANDB_API_KEY``, else from ``~/.wandb_api_key``, or None."""
    from_env = os.environ.get(API_KEY_ENV, "").strip()
    if from_env:
        return from_env
    try:
        from_file = _key_file().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return from_file or None


def has_netrc_login() -> bool:
    """True when ``wandb login`` stored a key for the W&B server in ``~/.netrc`` (or ``$NETRC``)."""
    path = os.environ.get("NETRC") or str(Path.home() / ".netrc")
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    try:
        return host is not None and netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def is_readable_by_others(path: Path) -> bool:
    """True when the group or other users may read ``path`` (never on Windows, which has no modes)."""
    if os.name == "nt":
        return False
    return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))


def choose_mode(wandb_mode: str | None, *, has_key: bool) -> str:
    """Where W&B runs go: ``online``, ``offline`` or ``disabled``.

    ``$WANDB_MODE`` ``offline`` (or the old ``dryrun``) and ``disabled`` win; otherwise a run goes
    online only with a key to log in with.

    >>> choose_mode(None, has_key=True), choose_mode(None, has_key=False)
    ('online', 'offline')
    >>> choose_mode("offline", has_key=True), choose_mode("disabled", has_key=True)
    ('offline', 'disabled')
    >>> choose_mode("online", has_key=False)  # nothing to log in with
    'offline'
    """
    requested = (wandb_mode or "").strip().lower()
    if requested == DISABLED:
        return DISABLED
    if requested in (OFFLINE, "dryrun"):
        return OFFLINE
    return ONLINE if has_key else OFFLINE


# --- what a run logs to W&B -----------------------------------------------------------------------
@dataclass(frozen=True)
class WandbOptions:
    """How one run (a single trial or a whole search) logs to W&B. Picklable; never holds the key.

    Attributes:
        project: the W&B project (the Runner's ``experiment_id``).
        group: the W&B group: the run directory's name (unique; a search's trials share it).
        run_name: the run's name; W&B runs are named after it.
        save_dir: wandb writes its files into ``<save_dir>/wandb/``.
        mode: ``online``, ``offline`` or ``disabled`` (:func:`choose_mode`).
        id_prefix: starts the id of every W&B run of this run, so its offline directories
            (``offline-run-<time>-<id>``) can be found and synced together.
    """

    project: str
    group: str
    run_name: str
    save_dir: str
    mode: str
    id_prefix: str

    @property
    def offline_runs_pattern(self) -> str:
        """The shell pattern matching this run's offline W&B run directories (and no others).

        >>> WandbOptions("p", "g", "r", "/runs/my run", "offline", "1a2b3c4d").offline_runs_pattern
        "'/runs/my run/wandb'/offline-run-*-1a2b3c4d-*"
        """
        directory = shlex.quote(str(Path(self.save_dir) / "wandb"))
        return f"{directory}/offline-run-*-{self.id_prefix}-*"

    def where_and_how_to_sync(self) -> str:
        """Where the offline W&B runs are and the command that uploads them."""
        pattern = self.offline_runs_pattern
        return (
            f"W&B runs are logged offline to {pattern} (project {self.project!r}, group "
            f"{self.group!r}). Upload them later with: wandb sync {pattern}"
        )


def prepare_wandb(
    experiment_id: str | None, run_name: str, run_dir: str | os.PathLike[str], *, verbose: int
) -> WandbOptions:
    """The W&B options of a run, decided once in the calling process, and said once on the console.

    No key (and ``$WANDB_MODE`` not ``offline``): a warning with where the offline runs go and how
    to sync them. An explicit ``WANDB_MODE=offline`` or an online run: one line at ``verbose >= 1``.
    A ``~/.wandb_api_key`` readable by others: a warning.

    Raises:
        ImportError: wandb is not installed.
    """
    require_wandb()
    key_in_env = bool(os.environ.get(API_KEY_ENV, "").strip())
    key_in_file = not key_in_env and find_api_key() is not None
    if key_in_file and is_readable_by_others(_key_file()):
        warnings.warn(
            f"log2wandb: {_key_file()} holds your W&B API key and other users can read it. "
            f"Make it private: chmod 600 {_key_file()}",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
    has_key = key_in_env or key_in_file or has_netrc_login()
    options = WandbOptions(
        project=experiment_id or DEFAULT_PROJECT,
        group=Path(run_dir).name,
        run_name=run_name,
        save_dir=os.environ.get("WANDB_DIR") or os.fspath(run_dir),
        mode=choose_mode(os.environ.get("WANDB_MODE"), has_key=has_key),
        id_prefix=secrets.token_hex(4),
    )
    _announce(options, has_key=has_key, verbose=verbose)
    return options


def _announce(options: WandbOptions, *, has_key: bool, verbose: int) -> None:
    if options.mode == OFFLINE and not has_key:
        warnings.warn(
            f"log2wandb: no W&B API key found (${API_KEY_ENV}, ~/{API_KEY_FILE} or `wandb "
            f"login`). {options.where_and_how_to_sync()}",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
    elif verbose >= 1:
        message = {
            OFFLINE: f"WANDB_MODE=offline. {options.where_and_how_to_sync()}",
            ONLINE: f"logging online to W&B project {options.project!r}, group {options.group!r}.",
            DISABLED: "WANDB_MODE=disabled: nothing is logged to W&B.",
        }[options.mode]
        print(f"log2wandb: {message}", flush=True)


def init_arguments(
    options: WandbOptions, *, name_suffix: str, job_type: str, config: Mapping[str, Any]
) -> dict[str, Any]:
    """The arguments of ``wandb.init`` for one W&B run of ``options``' run (the key is not one).

    >>> options = WandbOptions("digits", "hyper-opt-Net_20250101-120000", "hyper-opt-Net",
    ...                        "/runs/x", "offline", "1a2b3c4d")
    >>> arguments = init_arguments(options, name_suffix="best", job_type="best-model", config={})
    >>> arguments["name"], arguments["id"], arguments["group"]
    ('hyper-opt-Net-best', '1a2b3c4d-best', 'hyper-opt-Net_20250101-120000')
    """
    return {
        "project": options.project,
        "group": options.group,
        "job_type": job_type,
        "name": f"{options.run_name}-{name_suffix}" if name_suffix else options.run_name,
        "id": f"{options.id_prefix}-{name_suffix or 'run'}",
        "config": dict(config),
        "dir": options.save_dir,
        "mode": options.mode,
    }


def _start_run(options: WandbOptions, arguments: dict[str, Any]) -> Any:
    """``wandb.init``: silent (the Runner says what matters once), the key in memory only."""
    wandb = _import_wandb()
    key = find_api_key()
    if arguments["mode"] == ONLINE and key is None and not has_netrc_login():
        # a Ray worker on a machine without the key: its run stays on that machine
        arguments = {**arguments, "mode": OFFLINE}
        warnings.warn(
            f"log2wandb: no W&B API key on this machine; {arguments['name']} is logged "
            f"offline. {options.where_and_how_to_sync()}",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
    settings = {"silent": True, "console": "off"}  # wandb must not wrap stdout (the epoch table)
    if arguments["mode"] == ONLINE and key is not None:
        settings["api_key"] = key
    if wandb.run is not None:  # the user's own run: leave it open and global (wandb >= 0.19.10)
        settings["reinit"] = "create_new"
    Path(options.save_dir).mkdir(parents=True, exist_ok=True)
    return wandb.init(**arguments, settings=wandb.Settings(**settings))


@contextlib.contextmanager
def wandb_loggers(
    namespace: Any,
    options: WandbOptions,
    *,
    name_suffix: str,
    job_type: str,
    config: Mapping[str, Any],
    required: bool = True,
) -> Iterator[list[Any]]:
    """``[WandbLogger]`` for one training run, its W&B run started now and finished on exit.

    Args:
        namespace: the module's :class:`~pytorch_hyperlight.trial.lightning.LightningNamespace`.
        options: from :func:`prepare_wandb`.
        name_suffix: added to the run name (a search trial's id); ``""`` for a single trial.
        job_type: :data:`JOB_SINGLE_TRIAL` or :data:`JOB_SEARCH_TRIAL`.
        config: the trial's config, the W&B run's config.
        required: True: a W&B run that cannot start is an error, raised before training;
            False (search trials): a warning, and the trial trains without W&B.

    Yields:
        One ``WandbLogger`` (none with ``WANDB_MODE=disabled``); the W&B run is finished when
        the block ends, marked failed when it ends with an exception.
    """
    if options.mode == DISABLED:
        yield []
        return
    arguments = init_arguments(options, name_suffix=name_suffix, job_type=job_type, config=config)
    try:
        run = _start_run(options, arguments)
    except Exception as error:
        if required:
            raise
        warnings.warn(
            f"log2wandb: W&B could not start ({type(error).__name__}: {error}); this trial "
            "trains without W&B logging.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
        yield []
        return
    # Lightning's own x axis, as WandbLogger sets it up when it starts a run itself.
    run.define_metric("trainer/global_step")
    run.define_metric("*", step_metric="trainer/global_step", step_sync=True)
    logger = namespace.module.loggers.WandbLogger(
        experiment=run, save_dir=options.save_dir, project=options.project, name=run.name
    )
    exit_code = 1
    try:
        yield [logger]
        exit_code = 0
    finally:
        run.finish(exit_code=exit_code)


def evaluation_values(metrics_last: Mapping[str, Any], best_epoch: int | None) -> dict[str, Any]:
    """What the best model's re-validation and test add to W&B: ``reval_*``, ``test_*``, ``best_epoch``.

    >>> evaluation_values({"train_loss": 0.3, "reval_acc": 0.9, "test_acc": 0.8}, 4)
    {'reval_acc': 0.9, 'test_acc': 0.8, 'best_epoch': 4}
    """
    values: dict[str, Any] = {
        str(name): float(value)
        for name, value in metrics_last.items()
        if str(name).startswith(("reval_", "test_"))
    }
    if best_epoch is not None:
        values["best_epoch"] = int(best_epoch)
    return values


def log_evaluation(loggers: list[Any], values: Mapping[str, Any]) -> None:
    """Log the best model's evaluation to the W&B run of :func:`wandb_loggers` (if it started)."""
    for logger in loggers:
        logger.experiment.log(dict(values))


def log_best_model(
    options: WandbOptions,
    *,
    config: Mapping[str, Any],
    values: Mapping[str, Any],
    best_trial_id: str,
) -> None:
    """A search's ``<run name>-best`` W&B run: the best config, its evaluation and trial id.

    The search's results are saved by then: a W&B run that cannot start is a warning.
    """
    if options.mode == DISABLED:
        return
    arguments = init_arguments(options, name_suffix="best", job_type=JOB_BEST_MODEL, config=config)
    try:
        run = _start_run(options, arguments)
    except Exception as error:
        warnings.warn(
            f"log2wandb: W&B could not start ({type(error).__name__}: {error}); the best model's "
            "re-validation and test are in the run directory but not in W&B.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
        return
    try:
        run.log(dict(values))
        run.summary["best_trial_id"] = best_trial_id
    finally:
        run.finish()
