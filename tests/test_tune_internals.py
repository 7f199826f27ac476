"""The private Ray Tune attributes the library relies on, checked against the installed Ray.

Each test names what :mod:`pytorch_hyperlight.search.tune_internals` reads; when a Ray upgrade
renames or removes one, it fails here, loudly, instead of breaking resume or the trials table.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from ray import tune

from pytorch_hyperlight.search import tune_internals
from pytorch_hyperlight.search import tuner as tuners
from pytorch_hyperlight.settings import Settings


def _trainable(config: dict) -> None:  # never run: the Tuner is only built and restored
    pass


def test_a_restored_tuner_exposes_the_configs_it_will_run_with(tmp_path: Path) -> None:
    """``Tuner._local_tuner._tune_config`` / ``._run_config`` after ``Tuner.restore``."""
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import SearchGenerator

    from pytorch_hyperlight.search.search_state import SearchStateKeeper

    settings = Settings(metric_to_optimize="val_acc", metric_opt_mode="max", n_samples=3)
    trainable = tuners.with_trial_resources(_trainable, settings)
    tuners.build_tuner(
        trainable, {"x": tune.uniform(0, 1)}, settings, metric="val_acc", n_trials=3,
        max_concurrent_trials=1, epoch_upper_limit=4, storage_path=tmp_path,
    )  # fmt: skip
    restored = tune.Tuner.restore(str(tmp_path / tuners.TUNE_EXPERIMENT_NAME), trainable)
    tune_config, run_config = tune_internals.restored_configs(restored)
    assert isinstance(tune_config, tune.TuneConfig) and isinstance(run_config, tune.RunConfig)
    assert (tune_config.metric, tune_config.mode, tune_config.num_samples) == ("val_acc", "max", 3)
    assert isinstance(tune_config.scheduler, ASHAScheduler)
    assert isinstance(tune_config.search_alg, SearchGenerator)
    assert [type(c) for c in run_config.callbacks] == [SearchStateKeeper]
    assert tuners.restored_objective(restored) == ("val_acc", "max")


def test_a_result_grid_keeps_its_trials_in_the_experiment_analysis() -> None:
    """``ResultGrid._experiment_analysis.trials``."""
    from ray.tune import ResultGrid

    grid = ResultGrid(SimpleNamespace(trials=[]))
    assert tune_internals.result_grid_trials(grid) == []


def test_a_search_generators_state_holds_its_trial_target() -> None:
    """``SearchGenerator.get_state()["total_samples"]`` and ``["finished"]``."""
    from ray.tune.search import ConcurrencyLimiter, SearchGenerator
    from ray.tune.search.hyperopt import HyperOptSearch

    generator = SearchGenerator(ConcurrencyLimiter(HyperOptSearch(), max_concurrent=1))
    generator.set_finished()
    tune_internals.set_sample_limit(generator, 7)
    assert generator.total_samples == tune_internals.sample_limit(generator) == 7
    assert not generator.is_finished()
