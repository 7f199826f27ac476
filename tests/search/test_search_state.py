"""The scheduler's state kept with Tune's snapshot (no Ray cluster needed: the scheduler is fed
results directly, as Tune's controller would)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from pytorch_hyperlight.errors import SearchError
from pytorch_hyperlight.search.search_state import SearchStateKeeper
from pytorch_hyperlight.search.tuner import build_scheduler
from pytorch_hyperlight.settings import Settings


def asha() -> object:
    scheduler = build_scheduler(Settings(grace_period=1, asha_reduction_factor=2), 4)
    scheduler.set_search_properties("val_acc", "max")
    return scheduler


def report(scheduler, trial_id: str, value: float) -> str:
    """One trial's first epoch reported to the scheduler; returns its decision."""
    trial = SimpleNamespace(trial_id=trial_id)
    scheduler.on_trial_add(None, trial)
    return scheduler.on_trial_result(None, trial, {"training_iteration": 1, "val_acc": value})


def test_a_restored_scheduler_stops_what_the_original_would_stop() -> None:
    original = asha()
    for trial_id, value in [("a", 0.9), ("b", 0.8), ("c", 0.7)]:
        report(original, trial_id, value)
    saved = SearchStateKeeper(original, None, n_trials=4).get_state()

    restored = asha()
    SearchStateKeeper(restored, None, n_trials=4, resuming=True).set_state(saved)

    # A weak fourth trial is stopped at the first rung by the original and by the restored
    # scheduler; a scheduler that lost its rungs (as after a plain Tuner.restore) lets it go on.
    assert report(original, "d", 0.1) == TrialScheduler.STOP
    assert report(restored, "d", 0.1) == TrialScheduler.STOP
    assert report(asha(), "d", 0.1) == TrialScheduler.CONTINUE


def test_a_stateless_scheduler_saves_nothing_and_restores_fine() -> None:
    keeper = SearchStateKeeper(FIFOScheduler(), None, n_trials=3, resuming=True)
    state = keeper.get_state()
    assert state == {"scheduler": None, "n_trials": 3}
    keeper.set_state(state)
    keeper.setup()  # restored: no error


def test_a_resume_whose_state_was_not_restored_stops_before_any_trial() -> None:
    """Tune would log the failure and start the search from scratch; the keeper refuses."""
    keeper = SearchStateKeeper(asha(), None, n_trials=3, resuming=True)
    keeper.set_state({"scheduler": b"not a pickle", "n_trials": 3})  # never raises inside Tune
    with pytest.raises(SearchError, match=r"resume could not restore the saved search \("):
        keeper.setup()
    with pytest.raises(SearchError, match="missing or could not be read"):
        SearchStateKeeper(asha(), None, n_trials=3, resuming=True).setup()
    SearchStateKeeper(asha(), None, n_trials=3).setup()  # a new search has nothing to restore
