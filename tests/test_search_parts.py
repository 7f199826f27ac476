"""Unit tests of the search's parts without a Ray cluster: resources, searcher/scheduler choice,
per-trial settings, shipping user code to workers, and the progress view."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pytorch_hyperlight import Settings
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.search import progress as progress_module
from pytorch_hyperlight.search import trainable, tuner
from pytorch_hyperlight.search.progress import SearchProgress


# --- resources -------------------------------------------------------------------------------------
def test_a_trial_fits_when_any_one_node_has_its_cpus_and_gpus() -> None:
    nodes = [{"CPU": 2.0}, {"CPU": 8.0, "GPU": 1.0}]
    tuner.check_trial_fits(4, 0.5, nodes)
    with pytest.raises(ConfigError, match=r"largest node: 8 CPUs, 1 GPUs"):
        tuner.check_trial_fits(4, 2, nodes)


def test_gpu_request_on_a_cluster_without_gpus_suggests_cpu_training() -> None:
    with pytest.raises(ConfigError, match="Set gpu_per_trial=0 to train on CPUs"):
        tuner.check_trial_fits(1, 0.25, [{"CPU": 4.0}])


def test_more_than_one_gpu_per_trial_must_be_whole() -> None:
    with pytest.raises(ConfigError, match=r"whole number of GPUs, got 1\.5"):
        tuner.check_trial_fits(1, 1.5, [{"CPU": 4.0, "GPU": 4.0}])


def test_concurrency_fills_the_cluster_and_is_capped_by_trials_and_the_setting() -> None:
    nodes = [{"CPU": 16.0, "GPU": 1.0}]
    assert tuner.concurrency_limit(1, 0, nodes, n_trials=40) == 16
    assert tuner.concurrency_limit(1, 0.25, nodes, n_trials=40) == 4  # GPU-bound
    assert tuner.concurrency_limit(1, 0, nodes, n_trials=5) == 5
    assert tuner.concurrency_limit(1, 0, nodes, n_trials=40, requested=3) == 3
    assert tuner.concurrency_limit(32, 0, nodes, n_trials=40) == 1  # never 0


# --- searcher and scheduler ------------------------------------------------------------------------
def test_hyperopt_starts_with_half_the_trials_random_unless_set() -> None:
    assert tuner.default_n_initial_points(Settings(), 10) == 5
    assert tuner.default_n_initial_points(Settings(), 1) == 1
    assert tuner.default_n_initial_points(Settings(hyperopt_n_initial_points=3), 10) == 3


def test_build_searcher_is_seeded_and_limits_the_basic_generator() -> None:
    from ray.tune.search.basic_variant import BasicVariantGenerator
    from ray.tune.search.hyperopt import HyperOptSearch

    hyperopt = tuner.build_searcher(Settings(seed=7), n_trials=8, max_concurrent_trials=2)
    assert isinstance(hyperopt, HyperOptSearch)
    assert hyperopt.algo.keywords["n_startup_jobs"] == 4  # half of 8 trials are random
    assert hyperopt.rstate.randint(1000) == np.random.RandomState(7).randint(1000)
    random = tuner.build_searcher(
        Settings(searcher="random", seed=7), n_trials=8, max_concurrent_trials=2
    )
    assert isinstance(random, BasicVariantGenerator)
    assert random.max_concurrent == 2


def test_build_scheduler_is_asha_on_epochs_or_fifo() -> None:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    asha = tuner.build_scheduler(Settings(grace_period=2, asha_reduction_factor=4), 12)
    assert isinstance(asha, ASHAScheduler)
    assert asha._time_attr == "training_iteration"
    assert asha._max_t == 12
    assert asha._reduction_factor == 4
    assert isinstance(tuner.build_scheduler(Settings(scheduler="fifo"), 12), FIFOScheduler)


# --- one trial's settings ----------------------------------------------------------------------------
def test_a_trial_gets_one_whole_gpu_only_when_cuda_is_usable() -> None:
    fractional = Settings(gpu_per_trial=0.25, gpus=-1, verbose=2)
    assert trainable.trial_settings(fractional, cuda_usable=False).gpus == 0
    assert trainable.trial_settings(fractional, cuda_usable=True).gpus == 1
    assert trainable.trial_settings(Settings(gpus=0), cuda_usable=True).gpus == 0
    assert trainable.trial_settings(Settings(gpu_per_trial=2), cuda_usable=True).gpus == 2
    assert trainable.trial_settings(fractional, cuda_usable=False).verbose == 1


def test_torch_threads_follow_the_cpu_reservation() -> None:
    assert [trainable.trial_threads(c) for c in (0.25, 1, 2.5, 4)] == [1, 1, 2, 4]


# --- user code reaching the workers ----------------------------------------------------------------
@dataclass
class LocalThing:
    """Defined in a test module, which a fresh Python process cannot import."""

    values: list[int] = field(default_factory=lambda: [1, 2])

    def total(self) -> int:
        return sum(self.values)


def test_only_modules_outside_installed_packages_are_pickled_by_value() -> None:
    assert trainable.needs_pickle_by_value(sys.modules[__name__])
    assert not trainable.needs_pickle_by_value(pd)
    assert not trainable.needs_pickle_by_value(io)
    assert not trainable.needs_pickle_by_value(sys.modules["pytorch_hyperlight.search.tuner"])
    assert not trainable.needs_pickle_by_value(types.ModuleType("__main__"))


def test_classes_of_a_test_module_unpickle_in_a_process_that_cannot_import_it(tmp_path) -> None:
    from ray import cloudpickle

    registered = trainable.prepare_for_workers(LocalThing([3, 4]), [LocalThing])
    assert registered == [__name__]
    payload = tmp_path / "payload.pkl"
    payload.write_bytes(cloudpickle.dumps(LocalThing([3, 4])))
    code = f"import pickle; print(pickle.loads(open({str(payload)!r}, 'rb').read()).total())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "7"


def test_unpicklable_payload_is_a_config_error_with_a_fix() -> None:
    import threading

    with pytest.raises(ConfigError, match=r"cannot be sent to Ray workers.*module level"):
        trainable.prepare_for_workers({"lock": threading.Lock()}, [])


# --- the progress view -----------------------------------------------------------------------------
@dataclass
class FakeTrial:
    trial_id: str
    config: dict[str, Any]
    status: str = "RUNNING"
    last_result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    metric_analysis: dict[str, Any] = field(default_factory=dict)

    def get_error(self) -> str | None:
        return self.error


def run_events(view: SearchProgress) -> None:
    a = FakeTrial("a", {"lr": 0.1, "max_epochs": 2})
    b = FakeTrial("b", {"lr": 0.01, "max_epochs": 2})
    view.setup()
    view.on_step_begin(0, [a, b])
    for epoch, value in enumerate([0.5, 0.9]):
        a.last_result = {"epoch": epoch, "val_acc": value, "max_epochs": 2}
        view.on_trial_result(0, [a, b], a, a.last_result)
    view.on_trial_complete(0, [a, b], a)
    b.last_result = {"epoch": 0, "val_acc": 0.95, "max_epochs": 2}
    view.on_trial_result(0, [a, b], b, b.last_result)
    b.error = "Traceback...\n  File x\nRuntimeError: boom"
    view.on_trial_error(0, [a, b], b)
    view.on_experiment_end([a, b])


def test_terminal_view_writes_a_line_per_trial_event_with_the_best_so_far() -> None:
    stream = io.StringIO()
    view = SearchProgress(
        "val_acc", "max", 2, searched=["lr"], header="search: 2 trials", stream=stream,
        notebook=False,
    )  # fmt: skip
    run_events(view)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "search: 2 trials"
    assert "  trial a epoch 1  val_acc=0.9" in lines  # few trials: a row per epoch
    done = next(line for line in lines if line.startswith("[1/2]"))
    assert "trial a done" in done and "val_acc=0.9 (best, epoch 1)" in done and "lr=0.1" in done
    assert done.endswith("best so far val_acc=0.9 (a, epoch 1)")
    failed = next(line for line in lines if line.startswith("[2/2]"))
    assert "trial b ERROR" in failed and "RuntimeError: boom" in failed
    assert failed.endswith("best so far val_acc=0.95 (b, epoch 0)")
    assert lines[-1].startswith("search finished in")


def test_terminal_view_leaves_out_epoch_rows_for_many_trials_and_marks_stopped_trials() -> None:
    stream = io.StringIO()
    view = SearchProgress("val_acc", "max", 20, stream=stream, notebook=False)
    trial = FakeTrial("s", {"max_epochs": 5}, last_result={"epoch": 0, "val_acc": 0.4})
    view.on_trial_result(0, [trial], trial, trial.last_result)
    view.on_trial_complete(0, [trial], trial)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1  # no per-epoch row with 20 trials
    assert "trial s stopped" in lines[0] and "1 epoch " in lines[0]


def test_resumed_view_counts_trials_finished_before() -> None:
    stream = io.StringIO()
    view = SearchProgress("val_loss", "min", 3, stream=stream, notebook=False)
    old = FakeTrial("old", {}, status="TERMINATED", metric_analysis={"val_loss": {"min": 0.2}})
    new = FakeTrial("new", {"max_epochs": 1}, last_result={"epoch": 0, "val_loss": 0.3})
    view.on_step_begin(0, [old, new])
    view.on_trial_complete(0, [old, new], new)
    line = stream.getvalue().splitlines()[-1]
    assert line.startswith("[2/3] trial new done")
    assert line.endswith("best so far val_loss=0.2 (old)")


def test_silent_view_writes_nothing_and_pickles_without_its_stream() -> None:
    stream = io.StringIO()
    view = SearchProgress("val_acc", "max", 2, verbose=0, header="x", stream=stream, notebook=False)
    run_events(view)
    assert stream.getvalue() == ""
    restored = pickle.loads(pickle.dumps(view))
    assert restored._stream is None and restored.metric == "val_acc"


def test_notebook_view_updates_one_table_in_place(monkeypatch) -> None:
    shown: list[pd.DataFrame] = []

    class Handle:
        def update(self, frame: pd.DataFrame) -> None:
            shown.append(frame)

    def display(frame: pd.DataFrame, display_id: bool = False) -> Handle:
        shown.append(frame)
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    view = SearchProgress("val_acc", "max", 2, searched=["lr"], notebook=True)
    run_events(view)
    assert len(shown) == 5  # one display, then updates of the same output
    final = shown[-1]
    assert list(final.index) == ["a", "b"]
    assert final.loc["a", "status"] == "done" and final.loc["b", "status"] == "ERROR"
    assert final.loc["b", "best val_acc"] == 0.95


def test_progress_module_does_not_print_per_epoch_rows_above_the_limit() -> None:
    assert progress_module.PER_EPOCH_ROWS_MAX_TRIALS == 4
