"""Resume and reproducibility, checked against an uninterrupted search of the same seed.

With one trial at a time (``max_concurrent_trials=1``), a seed fixes HyperOpt's suggestions, every
trial's training and therefore ASHA's decisions. A search that is interrupted and resumed must then
end exactly like the uninterrupted one: the same configurations, the same epochs per trial (every
stop decision at every rung the same) and the same metrics.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pytorch_hyperlight import Runner
from tests.fault_models import (
    FAULT_SETTINGS,
    EventLogDigits,
    fault_space,
    ordered_loaders,
    read_events,
)

# Several whole searches per test: far beyond the default per-test limit on a busy machine.
pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(1200)]

#: Ctrl-C at the end of epoch 1 of the third trial (with seed 3 that trial runs all 4 epochs).
INTERRUPT = "3:1:SIGINT:driver"
DECISIONS = ["config/n_hidden", "config/lr", "epochs", "stopped_early"]
METRICS = ["metric_best", "metric_last", "best_epoch"]


def search(folder: Path, settings: dict[str, Any], signal_at: str = "", **kwargs: Any) -> Any:
    runner = Runner(ordered_loaders, experiment_id=folder.name)
    space = fault_space(folder / "events.log", os.getpid(), signal_at)
    return runner.run_hyper_opt(
        EventLogDigits, space, {**settings, "results_dir": str(folder / "runs")}, **kwargs
    )


def by_config(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials in a fixed order (trial ids and the order of a restored grid differ)."""
    ordered = trials.sort_values(["config/n_hidden", "config/lr"])
    return ordered[DECISIONS + METRICS].reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(ray_cluster, tmp_path_factory) -> pd.DataFrame:
    """The uninterrupted search: six trials, one at a time."""
    return search(tmp_path_factory.mktemp("reference"), FAULT_SETTINGS)["trials"]


@pytest.fixture(scope="module")
def resumed(ray_cluster, tmp_path_factory) -> dict[str, Any]:
    """The same search started with n_samples=4, Ctrl-C in its third trial, resumed asking for 6."""
    folder = tmp_path_factory.mktemp("resumed")
    first = {**FAULT_SETTINGS, "n_samples": 4}
    with pytest.raises(KeyboardInterrupt, match="resume=") as interrupted:
        search(folder, first, INTERRUPT)
    events_before = list(read_events(folder / "events.log"))
    result = search(folder, {**first, "n_samples": 6}, INTERRUPT, resume=True)
    return {
        "result": result,
        "message": str(interrupted.value),
        "before": events_before,
        "events": list(read_events(folder / "events.log")),
    }


def test_the_same_seed_repeats_the_same_search_exactly(reference, tmp_path) -> None:
    """One trial at a time: same configurations in the same order, same stops, same metrics."""
    again = search(tmp_path, FAULT_SETTINGS)["trials"]
    assert again[DECISIONS].equals(reference[DECISIONS])
    pd.testing.assert_frame_equal(again[METRICS], reference[METRICS], rtol=1e-6)


def test_a_resumed_search_decides_like_an_uninterrupted_one(reference, resumed) -> None:
    """HyperOpt's suggestions after resume and ASHA's stops at every rung match the reference."""
    # The check has teeth: a trial created after the resume was stopped by ASHA in the reference,
    # a decision that needs the rung records of the trials before the interruption.
    assert reference["stopped_early"].iloc[3:].any()
    trials = resumed["result"]["trials"]
    assert len(trials) == 6 and set(trials["status"]) <= {"done", "stopped"}
    assert by_config(trials)[DECISIONS].equals(by_config(reference)[DECISIONS])
    pd.testing.assert_frame_equal(
        by_config(trials)[METRICS], by_config(reference)[METRICS], rtol=1e-6
    )


def test_resume_never_retrains_a_finished_trial_and_continues_the_interrupted_one(
    resumed,
) -> None:
    before, events = resumed["before"], resumed["events"]
    assert str(resumed["result"]["run_dir"]) in resumed["message"]
    signal_at = next(i for i, (event, _, _) in enumerate(before) if event.startswith("signal-"))
    interrupted_key = before[signal_at][1]
    # one trial at a time: the trials started before the interrupted one had finished
    started_before = [key for event, key, _ in before[:signal_at] if event == "start"]
    finished_before = set(started_before) - {interrupted_key}
    assert len(finished_before) == 2
    starts = Counter(key for event, key, _ in events if event == "start")
    assert all(starts[key] == 1 for key in finished_before), starts
    assert starts[interrupted_key] == 2  # once before Ctrl-C, once to continue
    assert len(starts) == 6 and sum(starts.values()) == 7
    # continued from a checkpoint: epoch 0 (reported before Ctrl-C) was not trained again
    interrupted_epochs = Counter(
        epoch for event, key, epoch in events if (event, key) == ("epoch", interrupted_key)
    )
    assert interrupted_epochs[0] == 1, interrupted_epochs


def test_a_resumed_trial_keeps_one_history_row_per_epoch(resumed) -> None:
    result = resumed["result"]
    for trial_id, metrics in result["trial_metrics"].items():
        epochs = metrics.df.query("stage == 'val'")["epoch"].tolist()
        assert epochs == list(range(len(epochs))), (trial_id, epochs)
