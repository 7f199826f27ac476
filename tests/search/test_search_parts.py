"""Unit tests of the search's parts without a Ray cluster: resources, searcher/scheduler choice,
per-trial settings, shipping user code to workers, and the progress view."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
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
from pytorch_hyperlight.search import results, trainable, tuner
from pytorch_hyperlight.search.progress import SearchProgress
from pytorch_hyperlight.search.results import TrialRecord


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


def test_hyperopt_random_start_stops_at_ten_trials_in_a_large_search() -> None:
    assert tuner.default_n_initial_points(Settings(), 20) == 10
    assert tuner.default_n_initial_points(Settings(), 100) == 10  # TPE gets the other 90
    assert tuner.default_n_initial_points(Settings(hyperopt_n_initial_points=30), 100) == 30


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
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
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
    path: str | None = None

    def get_error(self) -> str | None:
        return self.error


class FakeClock:
    """Seconds set by the test: the view's times never depend on the machine's speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def report(view: SearchProgress, trials: list[FakeTrial], trial: FakeTrial, values: list) -> None:
    """One report per epoch, as the trainable sends them."""
    for epoch, value in enumerate(values):
        trial.last_result = {"epoch": epoch, "val_acc": value, "max_epochs": 2}
        view.on_trial_result(0, trials, trial, trial.last_result)


def run_events(view: SearchProgress) -> None:
    a = FakeTrial("a", {"lr": 0.1, "max_epochs": 2})
    b = FakeTrial("b", {"lr": 0.01, "max_epochs": 2})
    view.setup()
    view.on_step_begin(0, [a, b])
    view.on_trial_start(0, [a, b], a)
    view.on_trial_start(0, [a, b], b)
    report(view, [a, b], a, [0.5, 0.9])
    view.on_trial_complete(0, [a, b], a)
    report(view, [a, b], b, [0.95])
    b.error = "Traceback...\n  File x\nRuntimeError: boom"
    view.on_trial_error(0, [a, b], b)
    view.on_experiment_end([a, b])


def terminal_view(n_trials: int = 2, **kwargs: Any) -> tuple[SearchProgress, io.StringIO]:
    stream = io.StringIO()
    kwargs.setdefault("searched", ["lr"])
    kwargs.setdefault("clock", FakeClock())  # "0:00 elapsed" even when the machine stalls a second
    view = SearchProgress("val_acc", "max", n_trials, stream=stream, notebook=False, **kwargs)
    return view, stream


def test_terminal_view_writes_each_trial_its_config_and_a_new_best() -> None:
    view, stream = terminal_view(header="search: 2 trials", clock=FakeClock())
    run_events(view)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "search: 2 trials"
    assert "  trial a epoch 1  val_acc=0.9" in lines  # few trials: a row per epoch
    done = lines.index(next(line for line in lines if line.startswith("[1/2]")))
    assert lines[done : done + 3] == [
        "[1/2] a done     2 epochs  val_acc=0.9 (epoch 1)  0:00 elapsed, ~0:00 left",
        "        lr=0.1",
        "        best so far: val_acc=0.9 (a, epoch 1)",
    ]
    failed = lines.index(next(line for line in lines if line.startswith("[2/2]")))
    assert lines[failed] == "[2/2] b error    1 epoch   val_acc=0.95 (epoch 0)  0:00 elapsed"
    assert lines[failed + 2].strip() == "RuntimeError: boom"
    # an errored trial's epochs count once some trial succeeded, as in the final pick
    assert lines[failed + 3].strip() == "best so far: val_acc=0.95 (b, epoch 0)"
    assert all(len(line) <= progress_module.LINE_WIDTH for line in lines)


def test_search_end_prints_nothing_more_the_run_prints_one_closing_message() -> None:
    view, stream = terminal_view()
    trial = FakeTrial("a", {"lr": 0.1, "max_epochs": 2})
    view.on_trial_start(0, [trial], trial)
    report(view, [trial], trial, [0.5])
    before = stream.getvalue()
    # Ctrl-C: Tune marks the running trial terminated in memory and ends the experiment
    trial.status = "TERMINATED"
    view.on_experiment_end([trial])
    assert stream.getvalue() == before


def test_best_so_far_ignores_running_trials() -> None:
    view, stream = terminal_view(3)
    a = FakeTrial("a", {"lr": 0.1, "max_epochs": 2})
    running = FakeTrial("r", {"lr": 0.2, "max_epochs": 2})
    report(view, [a, running], running, [0.99])  # better, but still running
    report(view, [a, running], a, [0.5, 0.6])
    view.on_trial_complete(0, [a, running], a)
    assert stream.getvalue().splitlines()[-1].strip() == "best so far: val_acc=0.6 (a, epoch 1)"
    assert view.best is not None and view.best.record.trial_id == "a"


def test_best_so_far_breaks_ties_as_the_final_pick_does() -> None:
    view, stream = terminal_view(3)
    first, second = FakeTrial("first", {"max_epochs": 2}), FakeTrial("second", {"max_epochs": 2})
    trials = [first, second]  # Tune's order: the order in which the trials were created
    report(view, trials, second, [0.7, 0.7])
    view.on_trial_complete(0, trials, second)
    report(view, trials, first, [0.6, 0.7])
    view.on_trial_complete(0, trials, first)  # equal best value, finishes later
    shown = stream.getvalue().splitlines()[-1].strip()
    records = [
        TrialRecord(t.trial_id, "TERMINATED", t.config, pd.DataFrame(view._reports[t.trial_id]))
        for t in trials
    ]
    final = results.best_trial(records, "val_acc", "max")
    assert final is not None and final.record.trial_id == "first" and final.epoch == 1
    assert shown == "best so far: val_acc=0.7 (first, epoch 1)"


def test_resumed_view_counts_earlier_trials_and_keeps_their_best_epoch(tmp_path) -> None:
    old_dir = tmp_path / "trial_old"
    old_dir.mkdir()
    lines = [{"epoch": e, "val_loss": v, "max_epochs": 3} for e, v in enumerate([0.5, 0.2, 0.3])]
    (old_dir / "result.json").write_text("\n".join(map(json.dumps, lines)) + "\n{cut sho")
    old = FakeTrial("old", {}, status="TERMINATED", path=str(old_dir), last_result=lines[-1])
    new = FakeTrial("new", {"max_epochs": 1})
    stream = io.StringIO()
    view = SearchProgress("val_loss", "min", 3, stream=stream, notebook=False)
    view.on_step_begin(0, [old, new])
    new.last_result = {"epoch": 0, "val_loss": 0.3}
    view.on_trial_result(0, [old, new], new, new.last_result)
    view.on_trial_complete(0, [old, new], new)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "1 of 3 trials finished before; best so far: val_loss=0.2 (old, epoch 1)"
    assert lines[-1].startswith("[2/3] new done")  # the old trial stays the best
    assert view.best_text() == "best so far: val_loss=0.2 (old, epoch 1)"


def test_time_left_is_omitted_until_a_trial_finished_then_marked_approximate() -> None:
    clock = FakeClock()
    view, stream = terminal_view(4, clock=clock, concurrency=2)
    view.setup()
    a, b = FakeTrial("a", {"max_epochs": 2}), FakeTrial("b", {"max_epochs": 2})
    view.on_trial_start(0, [a, b], a)
    view.on_trial_start(0, [a, b], b)
    clock.now += 20
    assert view.time_text() == "0:20 elapsed"  # nothing finished: no estimate
    report(view, [a, b], a, [0.5, 0.6])
    view.on_trial_complete(0, [a, b], a)
    # a took 20 s; b has run 20 s (none left of the mean), 2 not started: 2 x 20 s / 2 at a time
    finished = next(line for line in stream.getvalue().splitlines() if line.startswith("[1/4]"))
    assert finished.endswith("  0:20 elapsed, ~0:20 left")


def test_time_left_estimate_uses_finished_durations_and_concurrency() -> None:
    estimate = progress_module.estimate_seconds_left
    assert estimate([60.0], running_elapsed=[], n_not_started=3, concurrency=1) == 180.0
    assert estimate([60.0], running_elapsed=[], n_not_started=3, concurrency=3) == 60.0
    assert (
        estimate([30.0, 90.0], running_elapsed=[50.0, 70.0], n_not_started=0, concurrency=2) == 5.0
    )
    assert estimate([], running_elapsed=[10.0], n_not_started=3, concurrency=1) is None
    assert progress_module.format_duration(3600 * 2 + 61) == "2:01:01"


def test_a_long_config_goes_on_lines_of_its_own_within_the_width() -> None:
    names = [f"parameter_{i}" for i in range(12)]
    view, stream = terminal_view(1, searched=names)
    trial = FakeTrial("a", {name: 0.000123456 for name in names} | {"max_epochs": 1})
    report(view, [trial], trial, [0.5])
    view.on_trial_complete(0, [trial], trial)
    lines = [line for line in stream.getvalue().splitlines() if not line.startswith("  trial")]
    assert lines[0] == "[1/1] a stopped  1 epoch   val_acc=0.5 (epoch 0)  0:00 elapsed"
    assert all(len(line) <= progress_module.LINE_WIDTH for line in lines)
    assert len(lines) > 3  # the config is wrapped
    assert " ".join(lines[1:-1]).split() == [f"{name}=0.0001235" for name in names]


def test_terminal_view_leaves_out_epoch_rows_for_many_trials_and_marks_stopped_trials() -> None:
    view, stream = terminal_view(20, searched=())
    trial = FakeTrial("s", {"max_epochs": 5}, last_result={"epoch": 0, "val_acc": 0.4})
    view.on_trial_result(0, [trial], trial, trial.last_result)
    view.on_trial_complete(0, [trial], trial)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # no per-epoch row with 20 trials; the trial, the new best
    assert lines[0].startswith("[ 1/20] s stopped  1 epoch ")


def test_silent_view_writes_nothing_and_pickles_without_its_stream() -> None:
    stream = io.StringIO()
    view = SearchProgress("val_acc", "max", 2, verbose=0, header="x", stream=stream, notebook=False)
    run_events(view)
    assert stream.getvalue() == ""
    restored = pickle.loads(pickle.dumps(view))
    assert restored._stream is None and restored.metric == "val_acc"


def test_notebook_view_updates_one_table_in_place(monkeypatch) -> None:
    shown: list[str] = []

    class Handle:
        def update(self, page: Any) -> None:
            shown.append(page.data)

    def display(page: Any, display_id: bool = False) -> Handle:
        shown.append(page.data)
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    view = SearchProgress("val_acc", "max", 2, searched=["lr"], notebook=True, clock=FakeClock())
    run_events(view)
    assert len(shown) == 5  # one display, then updates of the same output
    rows = re.findall(r"<tr>\s*<th>(\w+)</th>\s*<td>(\w+)</td>", shown[-1])  # trial, status
    assert rows == [("a", "done"), ("b", "error")]
    assert "2/2 trials finished, 0:00 elapsed; best so far: val_acc=0.95 (b, epoch 0)" in shown[-1]
    assert "left" not in shown[0]  # before the first trial finished: no estimate


def test_progress_module_does_not_print_per_epoch_rows_above_the_limit() -> None:
    assert progress_module.PER_EPOCH_ROWS_MAX_TRIALS == 4


def test_search_closes_with_one_message_in_the_trials_table_words(capsys, tmp_path) -> None:
    from pytorch_hyperlight.results.run_record import RunRecord
    from pytorch_hyperlight.runs import search as run

    record = RunRecord(
        kind="search",
        run_name="hyper-opt-Net",
        metric="val_acc",
        mode="max",
        best_trial_id="t1",
        best_epoch=3,
        best_metric_value=0.9,
        metrics_last={"val_acc": 0.85, "reval_acc": 0.9, "test_acc": 0.8},
    )
    statuses = pd.DataFrame({"status": ["stopped", "done", "error", "done"]})
    run._print_summary(record, statuses, tmp_path, 12.34)
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0]
        == "best trial t1: val_acc=0.9 at epoch 3; its best checkpoint re-validated and tested:"
    )
    assert out[1:3] == ["  reval: val_acc=0.9", "  test: test_acc=0.8"]
    assert out[3:] == [
        "search done in 12.3 s (4 trials: 2 done, 1 stopped, 1 error)",
        f"results in {tmp_path}",
    ]
    assert sum(line.startswith("search") for line in out) == 1  # no "search finished" line


def test_silent_view_does_no_work_per_result() -> None:
    view = SearchProgress("val_acc", "max", 2, verbose=0, notebook=False)
    run_events(view)
    assert view._reports == {} and view._finished == {} and view.best is None


def test_tune_adds_none_of_its_loggers_while_a_search_runs_and_the_setting_is_put_back(
    monkeypatch,
) -> None:
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    assert [type(c) for c in tuner.result_loggers()] == [CSVLoggerCallback, JsonLoggerCallback]
    monkeypatch.delenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", raising=False)

    class FakeTuner:
        def fit(self) -> str | None:
            return os.environ.get("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS")

    assert tuner.fit(FakeTuner(), verbose=0) == "1"
    assert "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS" not in os.environ
    monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0")  # the user's own value
    tuner.fit(FakeTuner(), verbose=0)
    assert os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] == "0"
