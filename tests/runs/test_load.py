"""Load: a search of 40 tiny trials on 2 CPUs accounts for every trial, with bounded memory."""

from __future__ import annotations

import resource
from typing import Any

import psutil
import pytest
from ray import tune

from pytorch_hyperlight import Runner
from tests.models import TinyDigits, configure_dataloaders, tiny_config

N_TRIALS = 40
MEMORY_GROWTH_LIMIT = 3 * 1024**3  # generous: measured far below it (see the printed figures)


@pytest.mark.slow
@pytest.mark.ray
def test_forty_trial_search_accounts_for_every_trial_with_bounded_memory(ray_cluster: Any) -> None:
    process = psutil.Process()
    rss_before = process.memory_info().rss
    space = tiny_config(
        lr=tune.loguniform(1e-3, 1e-1), n_hidden=tune.choice([4, 8, 16]), max_epochs=2
    )
    settings = {
        "metric_to_optimize": "val_acc",
        "metric_opt_mode": "max",
        "n_samples": N_TRIALS,
        "seed": 3,
        "verbose": 0,
    }
    result = Runner(configure_dataloaders).run_hyper_opt(TinyDigits, space, settings)
    rss_after = process.memory_info().rss
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes
    trials = result["trials"]
    print(
        f"\n{N_TRIALS} trials: rss before {rss_before / 2**20:.0f} MiB, after "
        f"{rss_after / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB; "
        f"statuses {trials['status'].value_counts().to_dict()}"
    )
    assert len(trials) == N_TRIALS
    assert trials["trial_id"].is_unique
    assert set(trials["status"]) <= {"done", "stopped"}
    assert set(result["trial_metrics"]) == set(trials["trial_id"])
    assert all(not result["trial_metrics"][t].df.empty for t in trials["trial_id"])
    assert rss_after - rss_before < MEMORY_GROWTH_LIMIT
    assert peak - rss_before < MEMORY_GROWTH_LIMIT
