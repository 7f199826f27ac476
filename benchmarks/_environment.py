"""Shared by the benchmarks: a quiet, offline process that stays on loopback.

Call :func:`quiet` first thing in a benchmark process (before Ray, matplotlib or Lightning print
anything); everything it sets only fills in what the user has not set.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIGHTNING_LOGGERS = (
    "lightning.pytorch",
    "pytorch_lightning",
    "lightning_fabric",
    "lightning.fabric",
)


def importable_checkout() -> None:
    """Make ``examples`` and ``benchmarks`` importable from a checkout (scripts run by path)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def quiet() -> None:
    """Offline, no plots on screen, Ray on loopback and silent, Lightning and Optuna warnings only.

    Imports Lightning (every benchmark process trains), so do it before the timed part.
    """
    importable_checkout()
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("WANDB_MODE", "offline")
    from pytorch_hyperlight.search import ray_session

    ray_session.configure_environment()
    warnings.filterwarnings("ignore")
    import lightning.pytorch  # noqa: F401  (it sets its loggers to INFO when imported)

    for name in (*LIGHTNING_LOGGERS, "optuna"):
        logging.getLogger(name).setLevel(logging.WARNING)
