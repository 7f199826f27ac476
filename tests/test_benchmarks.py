"""The benchmark suite (``benchmarks/``): its measuring helpers, and that every script runs.

Timings are never asserted: the helpers are checked on made-up records, and the scripts in their
``--quick`` mode only have to produce every section and leave the repository as it was.
"""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import _report, _timeline
from benchmarks._processes import DRIVER, RAY_SYSTEM, TRIAL_WORKER, Samples, classify
from benchmarks._timeline import EpochRecord

ROOT = Path(__file__).resolve().parent.parent
PURE_MODULES = ("_timeline", "_report", "_processes", "_mlp", "search_quality")


@pytest.mark.parametrize("name", PURE_MODULES)
def test_benchmark_helper_examples_hold(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def _record(trial: str, epoch: int, start: float, end: float, value: float | None) -> EpochRecord:
    return EpochRecord(trial, epoch, start, end, value, batch_size=32)


def test_time_and_epochs_to_a_target_follow_the_order_epochs_ended_in() -> None:
    # b's epoch started first but a's ended first; the target is reached by b at t=14.
    records = [
        _record("b", 0, 10.0, 14.0, 0.97),
        _record("a", 0, 11.0, 12.0, 0.90),
        _record("a", 1, 12.5, 16.0, 0.99),
    ]
    assert _timeline.time_to_target(records, 0.97, start=9.0) == pytest.approx(5.0)
    assert _timeline.epochs_to_target(records, 0.97) == 2
    assert _timeline.epochs_to_target(records, 0.995) is None
    assert _timeline.time_to_target(records, 0.995, start=9.0) is None


def test_epoch_periods_skip_a_trial_s_missing_epochs() -> None:
    records = [_record("a", 0, 0.0, 1.0, None), _record("a", 2, 3.0, 4.0, None)]
    assert _timeline.epoch_periods(records) == {}
    assert _timeline.epoch_gaps(records) == []


def test_time_with_one_trial_running_counts_gaps_between_epochs_as_idle() -> None:
    records = [
        _record("a", 0, 0.0, 2.0, None),
        _record("a", 1, 3.0, 4.0, None),
        _record("b", 0, 1.0, 5.0, None),
    ]
    seconds = _timeline.time_with_running(records, start=0.0, end=5.0)
    assert seconds == {1: pytest.approx(3.0), 2: pytest.approx(2.0)}
    share = _timeline.in_epoch_share(records, start=0.0, end=5.0, slots=2)
    assert share == pytest.approx(7.0 / 10.0)


def test_cpu_seconds_of_each_kind_between_two_moments() -> None:
    samples = Samples()
    samples.kinds.update({1: DRIVER, 2: TRIAL_WORKER})
    samples.created.update({1: 0.0, 2: 10.0})
    samples.rows[1] += [(0.5, 0.0, 100), (20.0, 4.0, 300)]
    samples.rows[2] += [(11.0, 1.0, 50), (20.0, 10.0, 60)]
    used = samples.cpu_seconds(10.0, 15.0)
    # the driver: linear between its samples; the worker: 0 at its creation (t=10).
    assert used[DRIVER] == pytest.approx(4.0 * 5.0 / 19.5)
    assert used[TRIAL_WORKER] == pytest.approx(1.0 + 4.0 * 1.0)
    assert samples.peak_rss()[DRIVER] == 300


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (["ray::IDLE"], TRIAL_WORKER),
        (["ray::RuntimeEnvAgent"], RAY_SYSTEM),
        (["/venv/lib/ray/core/src/ray/raylet/raylet", "--node_ip_address=127.0.0.1"], RAY_SYSTEM),
        (["python", "-u", "/venv/lib/ray/_private/log_monitor.py"], RAY_SYSTEM),
        (["python", "-m", "multiprocessing.resource_tracker"], "other"),
    ],
)
def test_processes_are_told_apart_by_their_command_line(command: list[str], kind: str) -> None:
    assert classify(command, command[0]) == kind


def test_both_sides_search_exactly_the_same_space() -> None:
    import optuna
    from ray.tune.search import sample

    from benchmarks._mlp import SPACE, ray_space, suggest

    ray_domains = ray_space(max_epochs=27)
    trial = optuna.create_study().ask()
    suggest(trial)
    assert ray_domains["max_epochs"] == 27
    for parameter in SPACE:
        domain, distribution = ray_domains[parameter.name], trial.distributions[parameter.name]
        if parameter.kind == "choice":
            assert list(domain.categories) == list(distribution.choices)
            continue
        assert (domain.lower, domain.upper) == (distribution.low, distribution.high)
        is_log = isinstance(domain.get_sampler(), sample.LogUniform)
        assert is_log == distribution.log == (parameter.kind == "loguniform")


def test_optuna_pruning_counts_epochs_trained_like_ray_s_training_iteration() -> None:
    import torch

    from benchmarks._optuna_side import EpochsTrainedPruning

    reports: list[tuple[float, int]] = []
    asked: list[int] = []
    trial = SimpleNamespace(
        report=lambda value, step: reports.append((value, step)),
        should_prune=lambda: asked.append(reports[-1][1]) or False,
    )
    callback = EpochsTrainedPruning(trial, monitor="val_acc")  # type: ignore[arg-type]
    trainer = SimpleNamespace(
        sanity_checking=False, callback_metrics={"val_acc": torch.tensor(0.5)}, max_epochs=3
    )
    for epoch in range(3):
        callback.on_validation_end(trainer, SimpleNamespace(current_epoch=epoch))  # type: ignore[arg-type]
    assert [step for _, step in reports] == [1, 2, 3]
    assert asked == [1, 2], "a trial that trained all its epochs is never pruned"


def test_rungs_are_where_ray_s_asha_stops_trials() -> None:
    from benchmarks._mlp import Budget
    from pytorch_hyperlight.search.tuner import build_scheduler
    from pytorch_hyperlight.settings import Settings

    budget = Budget()
    scheduler = build_scheduler(
        Settings(grace_period=budget.grace_period, asha_reduction_factor=budget.reduction_factor),
        budget.max_epochs,
    )
    milestones = sorted(milestone for milestone, _ in scheduler._brackets[0]._rungs)
    assert [m for m in milestones if m < budget.max_epochs] == budget.rungs() == [1, 3, 9]


def test_our_epochs_are_read_from_what_the_trainable_reports_to_tune() -> None:
    import pandas as pd

    from benchmarks._ours_side import epoch_records
    from pytorch_hyperlight.search import results as keys

    frame = pd.DataFrame({
        "trial_id": ["t1", "t1"], keys.EPOCH: [0, 1], keys.EPOCH_STARTED_AT: [10.0, 11.0],
        keys.EPOCH_ENDED_AT: [10.5, 11.5], "val_acc": [0.5, float("nan")], "pid": [11, 11],
    })  # fmt: skip
    grid = [
        SimpleNamespace(metrics_dataframe=frame, config={"batch_size": 64}),
        SimpleNamespace(metrics_dataframe=pd.DataFrame(), config={"batch_size": 32}),  # no epochs
    ]
    assert epoch_records(grid) == [
        EpochRecord("t1", 0, 10.0, 10.5, 0.5, 64, process=11),
        EpochRecord("t1", 1, 11.0, 11.5, None, 64, process=11),
    ]


def _section(**measures: float | None) -> _report.Section:
    machine = _report.Machine(2, (1.0, 2.0, 3.0), "3.11", {"ray": "2.60.0"}, "abc", "2026-11-29")
    section = _report.Section("x.py", "a title", "python x.py", machine)
    for key, value in measures.items():
        label, _ = _report.TARGET_ROWS[key]
        target = "<= 1.0" if key != "core_efficiency" else ">= 0.88"
        section.measures.append(_report.Measure(key, label, value, target, load_average=4.0))
    return section


def test_the_summary_lists_measures_in_the_issue_s_order_and_marks_missed_targets() -> None:
    summary = _report.render_summary([_section(core_efficiency=0.5, optuna_wall=0.9)])
    rows = [
        line for line in summary.splitlines() if line.startswith("| ") and "measured" not in line
    ]
    assert len(rows) == 2
    assert rows[0].startswith("| wall time of the same 100-trial search")
    assert "| yes |" in rows[0] and "| **no** |" in rows[1]
    assert "4.0 (`x.py`)" in rows[1]


def test_rewriting_the_page_keeps_the_hand_written_text_around_the_results() -> None:
    page = f"# Benchmarks\nintro\n{_report.START_MARKER}\nold numbers\n{_report.END_MARKER}\n## Where\nkept\n"
    generated = _report.render([_section(optuna_wall=1.2)], "python benchmarks/run_all.py")
    rewritten = _report.replace_generated(page, generated)
    assert rewritten.startswith("# Benchmarks\nintro\n" + _report.START_MARKER)
    assert rewritten.endswith(_report.END_MARKER + "\n## Where\nkept\n")
    assert "old numbers" not in rewritten and "`python benchmarks/run_all.py`" in rewritten
    with pytest.raises(ValueError, match="no generated part"):
        _report.replace_generated("# a page without markers\n", generated)


def test_a_section_survives_its_json_round_trip() -> None:
    section = _section(optuna_wall=1.2, first_batch=None)
    section.notes.append("a note")
    assert _report.section_from_json(section.to_json()) == section


def test_kept_sections_render_into_the_page_without_running_anything(tmp_path: Path) -> None:
    import json

    from benchmarks import run_all

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "vs_optuna.json").write_text(json.dumps(_section(optuna_wall=0.8).to_json()))
    (kept / "command.txt").write_text("python benchmarks/run_all.py\n")
    page = tmp_path / "page.md"
    page.write_text(f"intro\n{_report.START_MARKER}\n{_report.END_MARKER}\nkept text\n")

    assert run_all.main(["--from-json", str(kept), "--output", str(page)]) == 0

    text = page.read_text()
    assert "Produced by `python benchmarks/run_all.py`" in text
    assert (
        "| wall time of the same 100-trial search / Optuna's | 1.7 | 0.8x | <= 1.0 | yes |" in text
    )
    assert text.startswith("intro\n") and text.endswith("kept text\n")


def _search_run(side: str, seed: int, wall: float, to_097: float | None) -> object:
    from benchmarks._search_run import SearchRun

    return SearchRun(
        side=side, seed=seed, load_average=1.0, wall_s=wall,
        time_to={"0.95": to_097, "0.97": to_097, "0.98": None}, epochs=300,
        epochs_to={"0.95": 10, "0.97": 20, "0.98": None}, n_trials=100, test_acc=0.97,
        best_val_acc=0.98, first_epoch_s=2.0, after_last_epoch_s=1.0, window_s=50.0,
        cores={"driver": 0.3, "ray system": 0.05, "trial worker": 1.5}, in_epoch_share=0.8,
        one_running_s=3.0, epoch_period_s={"32": 0.1}, epoch_gap_s=0.01, peak_rss_mb=600.0,
    )  # fmt: skip


def test_the_optuna_comparison_is_a_ratio_of_medians_over_seeds() -> None:
    from benchmarks import vs_optuna

    runs = [
        _search_run("ours", 0, wall=80.0, to_097=20.0),
        _search_run("ours", 1, wall=60.0, to_097=None),  # never reached 0.97
        _search_run("ours", 2, wall=70.0, to_097=10.0),
        _search_run("optuna", 0, wall=40.0, to_097=5.0),
        _search_run("optuna", 1, wall=35.0, to_097=15.0),
        _search_run("optuna", 2, wall=30.0, to_097=10.0),
    ]
    section = _section()
    vs_optuna.add_measures(section, runs)  # type: ignore[arg-type]
    vs_optuna.add_notes(section, runs)  # type: ignore[arg-type]
    measures = {measure.key: measure for measure in section.measures}
    assert measures["optuna_wall"].value == pytest.approx(70.0 / 35.0)
    assert measures["optuna_wall"].met is False
    # a seed that never got there counts as the slowest: ours 10, 20, never -> 20 s; Optuna 10 s
    assert measures["optuna_time_to_0.97"].value == pytest.approx(20.0 / 10.0)
    assert "never" in measures["optuna_time_to_0.97"].detail
    assert measures["optuna_time_to_0.98"].value is None
    assert measures["driver_cpu"].value == pytest.approx(0.3)
    assert measures["driver_cpu"].met is False
    assert any(note.startswith("ours: wall 70 s") for note in section.notes)


def test_the_layout_comparison_gives_ratios_of_medians_and_a_share_of_the_search() -> None:
    from benchmarks import figure_layout

    def timings(single: list[float], search: list[float]) -> dict[str, dict[str, list[float]]]:
        return {
            "single trial": {"wall": single, "cpu": [v / 2 for v in single]},
            "search": {"wall": search, "cpu": [v / 2 for v in search]},
        }

    results = {
        "hand-written": timings([1.0, 1.2, 1.1], [4.0, 4.4, 4.2]),
        "constrained": timings([1.5, 1.3, 1.4], [5.0, 5.4, 5.2]),
    }
    section = _section()
    figure_layout.add_measures(section, results, search_s=60.0)
    measures = {measure.key: measure for measure in section.measures}
    assert measures["figure_layout_single_trial_wall"].value == pytest.approx(1.4 / 1.1)
    assert measures["figure_layout_search_cpu"].value == pytest.approx(5.2 / 4.2)
    assert measures["figure_layout_search_share"].value == pytest.approx(1.0 / 60.0)
    assert measures["figure_layout_search_share"].met is True
    assert measures["figure_layout_search_share_cpu"].value == pytest.approx(0.5 / 60.0)
    assert measures["figure_layout_plots_share"].value == pytest.approx(5.2 / 60.0)


#: Folders that tools (not the benchmarks) write into while the test runs.
_TOOL_CACHES = (".ruff_cache/", ".mypy_cache/", ".pytest_cache/", "__pycache__/")


def _untracked_paths() -> set[str]:
    """Untracked and ignored files in the repository, tools' caches left out."""
    lines = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--ignored"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    paths = {line[3:] for line in lines if line[:2] in ("??", "!!")}
    return {path for path in paths if not any(cache in path for cache in _TOOL_CACHES)}


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 4.5 min at load 5 on 2 cores; far more on a busier machine
def test_every_benchmark_runs_in_quick_mode_and_renders_into_the_page(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    original = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    page.write_text(original, encoding="utf-8")
    before = _untracked_paths()

    completed = subprocess.run(
        [sys.executable, "benchmarks/run_all.py", "--quick", "--output", str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    rewritten = page.read_text(encoding="utf-8")
    head, _, rest = original.partition(_report.START_MARKER)
    _, _, tail = rest.partition(_report.END_MARKER)
    assert rewritten.startswith(head) and rewritten.endswith(tail)
    for script in ("import_time", "single_trial_overhead", "search_overhead", "figure_layout",
                   "core_efficiency", "epoch_overhead", "profile_search", "vs_optuna",
                   "search_quality"):  # fmt: skip
        assert f"### `{script}.py`" in rewritten, script
    for label, _ in _report.TARGET_ROWS.values():
        assert f"| {label} |" in rewritten, label
    assert "--quick: sizes too small to mean anything" in rewritten
    assert _untracked_paths() - before == set(), "the benchmarks left files in the repository"
    assert (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8") == original


def test_result_processing_runs_in_quick_mode_on_made_up_records() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "result_processing.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("result processing of 5 trials (up to 3 epochs): median ")
