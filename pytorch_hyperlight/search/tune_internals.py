"""The one place that reaches into Ray Tune's private attributes and state formats.

Everything else in the package uses Ray's public API. Each function here names what it relies on;
``tests/test_tune_internals.py`` checks each against the installed Ray, so a Ray upgrade that changes
one of them fails there, loudly, instead of silently breaking resume or the results tables.
"""

from __future__ import annotations

from typing import Any

#: Keys of ``SearchGenerator.get_state()`` that resume changes to run more trials.
_TOTAL_SAMPLES = "total_samples"
_FINISHED = "finished"


def restored_configs(tuner: Any) -> tuple[Any, Any]:
    """``(TuneConfig, RunConfig)`` of a Tuner returned by ``Tuner.restore``.

    They were pickled into ``tuner.pkl`` when the search started; ``Tuner`` has no public getter.
    The objects are the ones ``fit`` will use, so changing them changes the resumed run.
    """
    internal = tuner._local_tuner
    return internal._tune_config, internal._run_config


def result_grid_trials(result_grid: Any) -> list[Any]:
    """The ``Trial`` objects behind a ResultGrid, in the grid's order (they carry the status)."""
    return list(result_grid._experiment_analysis.trials)


def set_sample_limit(search_algorithm: Any, n_trials: int) -> None:
    """Let a restored ``SearchGenerator`` create trials until ``n_trials`` exist.

    Its state (restored from the experiment directory) holds the trial count it stops at; the
    searcher inside it keeps its own state, so the search continues where it stopped.
    """
    state = search_algorithm.get_state()
    state[_TOTAL_SAMPLES] = n_trials
    state[_FINISHED] = False
    search_algorithm.set_state(state)


def sample_limit(search_algorithm: Any) -> int:
    """The number of trials a ``SearchGenerator`` creates in all."""
    return int(search_algorithm.get_state()[_TOTAL_SAMPLES])
