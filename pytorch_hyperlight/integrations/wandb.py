"""Weights & Biases logging for ``Runner(..., log2wandb=True)``, through Lightning's ``WandbLogger``.

A single trial is one W&B run named after the run (project: the Runner's ``experiment_id``); in a
search each trial is one W&B run named ``<run name>-<trial id>``, grouped under the run name.

The API key is looked up where the original looked: ``$WANDB_API_KEY``, else the file
``~/.wandb_api_key``. Without one, runs are logged offline, with a warning saying where the files
are and how to upload them (``wandb sync``). The key is handed to wandb in memory only: it is never
put into a config, a result, a run directory or a log, and never sent to Ray workers (a worker
looks the key up on its own machine). ``$WANDB_MODE`` (``offline``, ``disabled``) is respected.
Files go to ``$WANDB_DIR`` when set, else into the run directory (``<run_dir>/wandb/``).

wandb is imported only when a W&B logger is made.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The environment variable and the file (in the home directory) that may hold the API key.
API_KEY_ENV = "WANDB_API_KEY"
API_KEY_FILE = ".wandb_api_key"
#: The W&B project of a Runner without an ``experiment_id``.
DEFAULT_PROJECT = "pytorch_hyperlight"
_OFFLINE_MODES = ("offline", "dryrun")


@dataclass(frozen=True)
class WandbOptions:
    """Where and how one run logs to W&B (picklable; it never holds the API key).

    Attributes:
        project: the W&B project (the Runner's ``experiment_id``).
        group: the W&B group: the run name (a search's trials share it).
        save_dir: the directory wandb writes its files into (under ``wandb/``).
        silent: no wandb console output (``verbose=0``).
    """

    project: str
    group: str
    save_dir: str
    silent: bool = False


def wandb_options(
    experiment_id: str | None, run_name: str, run_dir: str | os.PathLike[str], verbose: int
) -> WandbOptions:
    """The options of one run: project = experiment id, group = run name, files in ``$WANDB_DIR``
    or the run directory.

    >>> wandb_options("digits", "single-trial-Net", "/runs/x", verbose=0).project
    'digits'
    """
    save_dir = os.environ.get("WANDB_DIR") or os.fspath(run_dir)
    return WandbOptions(
        project=experiment_id or DEFAULT_PROJECT,
        group=run_name,
        save_dir=save_dir,
        silent=verbose == 0,
    )


def find_api_key() -> str | None:
    """The API key from ``$WANDB_API_KEY`` or ``~/.wandb_api_key``, or None."""
    from_env = os.environ.get(API_KEY_ENV, "").strip()
    if from_env:
        return from_env
    key_file = Path.home() / API_KEY_FILE
    try:
        from_file = key_file.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return from_file or None


def warn_if_offline(options: WandbOptions) -> bool:
    """Warn that runs are logged offline when no API key is found; True when they are."""
    if find_api_key() is not None or os.environ.get("WANDB_MODE") == "disabled":
        return False
    runs = Path(options.save_dir) / "wandb"
    warnings.warn(
        f"log2wandb: no Weights & Biases API key found (${API_KEY_ENV} or ~/{API_KEY_FILE}), so "
        f"runs are logged offline under {runs}/. Upload them later with: wandb sync "
        f"{runs}/offline-run-*",
        UserWarning,
        stacklevel=2,
    )
    return True


def _import_wandb() -> Any:
    try:
        import wandb
    except ImportError as error:  # pragma: no cover - wandb is a dependency of the package
        raise ImportError(
            "Runner(log2wandb=True) needs the wandb package: pip install wandb"
        ) from error
    return wandb


def make_logger(namespace: Any, options: WandbOptions, name: str) -> Any:
    """A ``WandbLogger`` of the module's Lightning namespace for one W&B run named ``name``."""
    wandb = _import_wandb()
    key = find_api_key()
    init: dict[str, Any] = {}
    if key is None and os.environ.get("WANDB_MODE") not in (*_OFFLINE_MODES, "disabled"):
        init["mode"] = "offline"  # without a key there is nothing to log in with
    # console="off": wandb must not wrap the process's stdout (the epoch table writes there).
    settings = wandb.Settings(api_key=key, silent=options.silent, console="off")
    Path(options.save_dir).mkdir(parents=True, exist_ok=True)
    return namespace.module.loggers.WandbLogger(
        project=options.project,
        name=name,
        group=options.group,
        save_dir=options.save_dir,
        settings=settings,
        **init,
    )


@contextlib.contextmanager
def wandb_loggers(
    namespace: Any, options: WandbOptions, name: str, *, required: bool = True
) -> Iterator[list[Any]]:
    """``[WandbLogger]`` for one training run, its W&B run started now and finished on exit.

    Args:
        namespace: the module's :class:`~pytorch_hyperlight.trial.lightning.LightningNamespace`.
        options: from :func:`wandb_options`.
        name: the W&B run's name.
        required: True: a W&B run that cannot start is an error, raised before training;
            False (search trials): a warning, and the trial trains without W&B.
    """
    logger = make_logger(namespace, options, name)
    try:
        experiment = logger.experiment  # start now: a refused login fails before training
    except Exception as error:
        if required:
            raise
        warnings.warn(
            f"log2wandb: W&B could not start ({type(error).__name__}: {error}); this trial "
            "trains without W&B logging.",
            UserWarning,
            stacklevel=3,
        )
        yield []
        return
    try:
        yield [logger]
    finally:
        experiment.finish()
