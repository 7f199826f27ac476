"""The private Ray Tune attributes and developer APIs the library relies on, against the installed Ray.

Each test names what :mod:`pytorch_hyperlight.search.tune_internals` reads or writes; when a Ray
upgrade renames or removes one, it fails here, loudly, instead of breaking resume, the search-space
checks or the trials table.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from ray import tune

from pytorch_hyperlight.search import tune_internals
from pytorch_hyperlight.search import tuner as tuners
from pytorch_hyperlight.settings import Settings


def _trainable(config: dict) -> None:  # never run: the Tuner is only built and restored
    pass


def _restored_tuner(tmp_path: Path) -> tune.Tuner:
    settings = Settings(metric_to_optimize="val_acc", metric_opt_mode="max", n_samples=3)
    trainable = tuners.with_trial_resources(_trainable, settings)
    tuners.build_tuner(
        trainable, {"x": tune.uniform(0, 1)}, settings, metric="val_acc", n_trials=3,
        max_concurrent_trials=1, epoch_upper_limit=4, storage_path=tmp_path,
    )  # fmt: skip
    return tune.Tuner.restore(str(tmp_path / tuners.TUNE_EXPERIMENT_NAME), trainable)


def test_a_restored_tuner_exposes_the_configs_it_will_run_with(tmp_path: Path) -> None:
    """``Tuner._local_tuner._tune_config`` / ``._run_config`` after ``Tuner.restore``."""
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import SearchGenerator

    from pytorch_hyperlight.search.search_state import SearchStateKeeper

    restored = _restored_tuner(tmp_path)
    tune_config, run_config = tune_internals.restored_configs(restored)
    assert isinstance(tune_config, tune.TuneConfig) and isinstance(run_config, tune.RunConfig)
    assert (tune_config.metric, tune_config.mode, tune_config.num_samples) == ("val_acc", "max", 3)
    assert isinstance(tune_config.scheduler, ASHAScheduler)
    assert isinstance(tune_config.search_alg, SearchGenerator)
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    # the keeper first (Tune matches saved callback states by position), then the result files
    assert [type(c) for c in run_config.callbacks] == [
        SearchStateKeeper,
        CSVLoggerCallback,
        JsonLoggerCallback,
    ]
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


def test_a_restored_tuners_callbacks_are_replaced_by_live_ones(tmp_path: Path) -> None:
    """``run_config.callbacks`` written on the restored RunConfig is what ``fit`` hands to Tune.

    Ray 2.60's ``Tuner.restore`` takes no callbacks; if a later Ray adds a public way, this test
    still passes and the adapter's docstring says where to switch.
    """

    class Live(tune.Callback):
        pass

    restored = _restored_tuner(tmp_path)
    live = [Live(), Live()]
    tune_internals.replace_restored_callbacks(restored, live)
    _, run_config = tune_internals.restored_configs(restored)
    assert run_config.callbacks == live
    assert restored._local_tuner.get_run_config().callbacks == live  # what fit() reads


@pytest.mark.parametrize("name", tune_internals.SAMPLE_CLASSES)
def test_each_sample_class_is_in_ray_and_is_what_tune_builds(name: str) -> None:
    """``ray.tune.search.sample.<name>`` (a developer API): present, and the class of its domain."""
    from ray.tune.search import sample

    cls = getattr(tune_internals, name)
    assert cls is getattr(sample, name) and isinstance(cls, type)
    built = {
        "Categorical": tune.choice([1, 2]),
        "Domain": tune.uniform(0, 1),
        "Float": tune.uniform(0, 1),
        "Function": tune.sample_from(lambda _: 1),
        "Integer": tune.randint(1, 3),
        "LogUniform": tune.loguniform(1e-3, 1e-1).get_sampler(),
        "Normal": tune.randn(0, 1).get_sampler(),
        "Quantized": tune.quniform(0, 1, 0.5).get_sampler(),
    }[name]
    assert isinstance(built, cls)


def test_parse_spec_vars_splits_a_space_into_constants_domains_and_grids() -> None:
    """``variant_generator.parse_spec_vars(spec) -> (resolved, domain_vars, grid_vars)``."""
    space = {"lr": tune.uniform(0, 1), "net": {"w": tune.grid_search([1, 2])}, "n": 3}
    resolved, domain_vars, grid_vars = tune_internals.parse_spec_vars(space)
    assert resolved == [(("n",), 3)] and [path for path, _ in domain_vars] == [("lr",)]
    assert [path for path, _ in grid_vars] == [("net", "w")]


def test_assign_value_sets_a_nested_path_in_place() -> None:
    """``variant_generator.assign_value(spec, path, value)``."""
    space = {"net": {"w": 1}}
    tune_internals.assign_value(space, ("net", "w"), 5)
    assert space == {"net": {"w": 5}}


def test_generate_variants_yields_resolved_configs_seeded() -> None:
    """``variant_generator.generate_variants(unresolved, random_state=...)`` -> ``(vars, spec)``."""
    unresolved = {"config": {"lr": tune.uniform(0, 1), "w": tune.grid_search([4, 8])}}
    first = [
        spec["config"] for _, spec in tune_internals.generate_variants(unresolved, random_state=0)
    ]
    again = [
        spec["config"] for _, spec in tune_internals.generate_variants(unresolved, random_state=0)
    ]
    assert [c["w"] for c in first] == [4, 8] and first == again
    assert all(0 <= c["lr"] <= 1 for c in first)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Uniform'"):
        tune_internals.Uniform  # noqa: B018


def test_ray_init_still_takes_the_private_loopback_argument() -> None:
    """``ray.init(_node_ip_address=...)``: the private argument a library-started Ray listens with."""
    import inspect

    import ray

    # ray.init takes its private arguments through **kwargs and pops them by name
    source = inspect.getsource(ray.init)
    for name in tune_internals.loopback_init_options():
        assert f'kwargs.pop("{name}"' in source, f"ray.init no longer reads {name}"


def test_no_other_module_reaches_into_ray_tune() -> None:
    """The adapter is the only module naming Ray Tune's private attributes or developer modules."""
    import re

    import pytorch_hyperlight

    private = re.compile(
        r"(from|import) ray\.tune\.search\.(sample|variant_generator)\b|ray\._private|\._local_tuner|"
        r"\._experiment_analysis|\._tune_config|\._run_config|\b_node_ip_address"
    )
    package = Path(pytorch_hyperlight.__file__).parent
    offenders = [
        f"{path.relative_to(package.parent)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "tune_internals.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if private.search(line) and not line.lstrip().startswith("#")
    ]
    assert not offenders, "private Ray Tune use outside search/tune_internals.py:\n" + "\n".join(
        offenders
    )
