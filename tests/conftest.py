"""Shared fixtures: a quiet, offline environment, a results dir per test, one Ray per session."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports matplotlib, wandb or Ray.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("WANDB_MODE", "offline")
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="hyperlight-tests-"))
os.environ.setdefault("WANDB_DIR", str(_SESSION_TMP / "wandb"))
# A run whose report.html cannot be built only warns (its results are saved); here it is a bug.
warnings.filterwarnings("error", message="report.html could not be written")


@pytest.fixture(autouse=True)
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its run directories under its own temporary folder."""
    path = tmp_path / "runs"
    monkeypatch.setenv("HYPERLIGHT_RESULTS_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """One local Ray for the whole session: 2 CPUs and one logical GPU, loopback, no dashboard."""
    from pytorch_hyperlight.search import ray_session

    ray_session.configure_environment()
    ray_session.shutdown_library_ray()  # a search before this fixture may have kept its own Ray
    import ray

    ray.init(
        num_cpus=2,
        num_gpus=1,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _temp_dir=str(_SESSION_TMP / "ray"),
    )
    try:
        yield ray
    finally:
        ray.shutdown()
