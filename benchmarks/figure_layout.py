"""Matplotlib's constrained layout against the hand-written layout it replaced, on the plots a
digits search saves, and what the layout engine costs as a share of that search (issue 8: keep
matplotlib's own layout unless it costs more than 10 % of a search on the digits demo).

1. Runs the digits demo search (``examples/digits.py``: LitDigits, its search space and settings,
   10 trials; ``--quick``: 2 trials of a few batches) and times the call.
2. Reopens the run (``load_run``) and hands its tables to fresh interpreters of two kinds,
   alternated over ``--rounds`` rounds:
   - constrained: this checkout's package (``layout="constrained"``);
   - hand-written: the package at commit ``HAND_LAYOUT_COMMIT``, the last one with
     ``metrics/figure_layout.py`` (margins computed from font metrics, one draw per save), taken
     from the git history with ``git archive`` into a temporary directory.
   Each draws and saves into a temporary directory what a single trial saves (``metrics.png``) and
   what a search saves (``metrics.png`` and the five plots in ``plots/``): once to warm up (fonts,
   caches), then ``--repeats`` times; the median of its repeats is its time for the round.
3. Prints, per kind, the medians over the rounds (wall and CPU time), their ratio, and the extra
   time of the constrained layout as a share of the search's wall time.

    python benchmarks/figure_layout.py              # 10-trial search, 5 rounds x 3 repeats
    python benchmarks/figure_layout.py --quick
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/

from benchmarks._report import (
    ROOT,
    Measure,
    add_common_arguments,
    finish_section,
    median,
    start_section,
)
from benchmarks._report import ratio as ratio_of

#: The last commit whose figures were laid out by hand (``metrics/figure_layout.py``).
HAND_LAYOUT_COMMIT = "cd91cf54bed647329744f8839c53b06c7084c4bf"
KINDS = ("hand-written", "constrained")
#: What each kind of run saves: a single trial its metrics figure; a search also its analysis plots.
SAVES = ("single trial", "search")


def run_demo_search(workdir: Path, quick: bool) -> tuple[float, Path, float | None]:
    """The digits demo search: its wall time, its run directory, and its own plot step's time."""
    from benchmarks._environment import quiet

    quiet()
    from examples.digits import LitDigits, configure_dataloaders, search_space_config, tune_config
    from pytorch_hyperlight import Runner
    from pytorch_hyperlight.runs import search as search_run

    phases: dict[str, float] = {}
    if hasattr(search_run, "_save_plots"):  # the search's own plot step, when it has one
        from benchmarks._timing import record_phases

        record_phases(search_run, ("_save_plots",), phases)
    runner = Runner(configure_dataloaders, experiment_id="figure-layout", is_debug=quick)
    settings = {**tune_config(2 if quick else 10), "results_dir": str(workdir)}
    started = time.perf_counter()
    result = runner.run_hyper_opt(LitDigits, search_space_config(), settings)
    return time.perf_counter() - started, Path(result["run_dir"]), phases.get("_save_plots")


def plot_data(run_dir: Path) -> dict[str, Any]:
    """What both kinds draw, as plain pandas objects (picklable for either package version)."""
    from pytorch_hyperlight import load_run
    from pytorch_hyperlight.metrics.plotting import run_title

    run = load_run(run_dir)
    return {
        "metrics": run["metrics"].df,
        "title": run_title(
            str(run["run_name"]),
            str(run["metric"]),
            run.get("best_epoch"),
            run.get("best_metric_value"),
            trial_id=run.get("best_trial_id"),
        ),
        "trials": run["trials"],
        "trial_metrics": {key: value.df for key, value in run["trial_metrics"].items()},
        "search_space": run["search_space"],
        "metric": run["metric"],
        "mode": run["mode"],
    }


def extract_hand_layout(target: Path) -> Path | None:
    """The package at ``HAND_LAYOUT_COMMIT``, from this checkout's git history, under ``target``;
    None (with a message) in a checkout without that history, e.g. a shallow clone."""
    archive = target / "package.tar"
    command = ["git", "-C", str(ROOT), "archive", "-o", str(archive), HAND_LAYOUT_COMMIT]
    completed = subprocess.run([*command, "pytorch_hyperlight"], capture_output=True, text=True)
    if completed.returncode != 0:
        print(
            f"the hand-written layout is compared from git history (commit {HAND_LAYOUT_COMMIT}), "
            f"which this checkout lacks: {completed.stderr.strip()}. Run in a full clone to "
            "compare; only the constrained layout is measured now.",
            file=sys.stderr,
        )
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


# --- one fresh interpreter drawing one kind ------------------------------------------------------
def child_main(package_root: str, data_path: str, repeats: int, out: str) -> None:
    """Draw and save the plots with the package under ``package_root``; write the timings."""
    sys.path.insert(0, package_root)
    import pytorch_hyperlight

    if not Path(pytorch_hyperlight.__file__).resolve().is_relative_to(Path(package_root).resolve()):
        raise SystemExit(f"imported {pytorch_hyperlight.__file__}, not the one in {package_root}")
    from pytorch_hyperlight.metrics.plotting import plot_trial_metrics
    from pytorch_hyperlight.results import analysis

    data = pickle.loads(Path(data_path).read_bytes())

    def single(folder: Path) -> None:
        figure = plot_trial_metrics(data["metrics"], title=data["title"])
        analysis.save_figure(figure, folder / "metrics.png")

    def search(folder: Path) -> None:
        single(folder)
        analysis.save_search_plots(
            folder, data["trials"], data["trial_metrics"], data["search_space"],
            data["metric"], data["mode"],
        )  # fmt: skip

    timings: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="hyperlight-bench-figures-") as folder:
        for name, draw in (("single trial", single), ("search", search)):
            draw(Path(folder))  # warm-up: fonts, caches, first imports
            runs = [_timed(draw, Path(folder)) for _ in range(repeats)]
            timings[name] = {
                "wall": statistics.median(wall for wall, _ in runs),
                "cpu": statistics.median(cpu for _, cpu in runs),
            }
    Path(out).write_text(json.dumps(timings), encoding="utf-8")


def _timed(draw: Callable[[Path], None], folder: Path) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    draw(folder)
    return time.perf_counter() - wall, time.process_time() - cpu


def run_child(package_root: Path, data: Path, repeats: int, workdir: Path) -> dict[str, Any]:
    """One fresh interpreter drawing with the package under ``package_root``: its timings."""
    out = workdir / "timings.json"
    command = [sys.executable, __file__, "--child", str(package_root), str(data), str(repeats)]
    subprocess.run([*command, str(out)], cwd=workdir, check=True)
    return json.loads(out.read_text(encoding="utf-8"))


# --- the comparison --------------------------------------------------------------------------------
def compare(
    roots: dict[str, Path], data: Path, rounds: int, repeats: int, workdir: Path
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """kind -> saves -> wall/cpu -> one median per round, the kinds alternated (A B, B A, ...)."""
    results: dict[str, dict[str, dict[str, list[float]]]] = {
        kind: {save: {"wall": [], "cpu": []} for save in SAVES} for kind in roots
    }
    for round_index in range(rounds):
        order = KINDS if round_index % 2 == 0 else tuple(reversed(KINDS))
        for kind in (kind for kind in order if kind in roots):
            timings = run_child(roots[kind], data, repeats, workdir)
            for save in SAVES:
                for clock in ("wall", "cpu"):
                    results[kind][save][clock].append(timings[save][clock])
            line = ", ".join(f"{save} {timings[save]['wall']:.3f} s" for save in SAVES)
            print(f"round {round_index + 1}  {kind:<13} {line}", flush=True)
    return results


def add_measures(
    section: Any, results: dict[str, dict[str, dict[str, list[float]]]], search_s: float
) -> None:
    """The ratios per save and clock, and the constrained layout's extra time per search."""
    for save in SAVES:
        for clock in ("wall", "cpu"):
            ours = median(results["constrained"][save][clock])
            base = median(results["hand-written"][save][clock])
            section.add(Measure(
                key=f"figure_layout_{save.replace(' ', '_')}_{clock}",
                label=f"plots a {save} saves: constrained layout / hand-written layout ({clock} time)",
                value=ratio_of(ours, base), ours=ours, reference=base,
                detail=", ".join(f"{v:.3f}" for v in results["constrained"][save][clock])
                + " s vs " + ", ".join(f"{v:.3f}" for v in results["hand-written"][save][clock])
                + " s",
            ))  # fmt: skip
    ours = median(results["constrained"]["search"]["wall"]) or 0.0
    base = median(results["hand-written"]["search"]["wall"]) or 0.0
    section.add(Measure(
        key="figure_layout_search_share", label="extra time of the constrained layout / the "
        "demo search's wall time (issue 8: use matplotlib's layout unless > 0.1)",
        value=(ours - base) / search_s, target="<= 0.1", unit="", ours=ours - base,
        reference=search_s, detail=f"search plots {ours:.3f} s vs {base:.3f} s; "
        f"the search took {search_s:.1f} s",
    ))  # fmt: skip
    extra_cpu = (median(results["constrained"]["search"]["cpu"]) or 0.0) - (
        median(results["hand-written"]["search"]["cpu"]) or 0.0
    )
    section.add(Measure(
        key="figure_layout_search_share_cpu", label="the same with the extra CPU time (what the "
        "extra wall time is on an idle machine; steadier on a busy one)", value=extra_cpu / search_s,
        target="<= 0.1", unit="", ours=extra_cpu, reference=search_s,
    ))  # fmt: skip
    section.add(Measure(
        key="figure_layout_plots_share", label="all the search's plots with constrained layout / "
        "the demo search's wall time", value=ours / search_s, unit="", ours=ours,
        reference=search_s,
    ))  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        root, data, repeats, out = sys.argv[2:6]
        child_main(root, data, int(repeats), out)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="timed draws per interpreter")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.repeats = 1, 1
    section = start_section(
        "figure_layout.py",
        f"matplotlib's constrained layout vs the hand-written layout: the plots of the digits "
        f"demo search, {args.rounds} alternated rounds x {args.repeats} draws",
        args.quick,
    )
    with tempfile.TemporaryDirectory(prefix="hyperlight-bench-layout-") as tmp:
        workdir = Path(tmp)
        search_s, run_dir, own_plots_s = run_demo_search(workdir / "runs", args.quick)
        data = workdir / "plot_data.pkl"
        data.write_bytes(pickle.dumps(plot_data(run_dir)))
        (workdir / "old").mkdir()
        old = extract_hand_layout(workdir / "old")
        roots = {"constrained": ROOT} if old is None else {"hand-written": old, "constrained": ROOT}
        results = compare(roots, data, args.rounds, args.repeats, workdir)
    if old is None:
        section.note("hand-written layout not measured: this checkout lacks the git history")
    else:
        add_measures(section, results, search_s)
    section.note(f"the demo search (examples/digits.py) took {search_s:.1f} s wall time")
    if own_plots_s is not None:
        section.note(f"the search's own plot step (constrained layout) took {own_plots_s:.2f} s")
    section.note(f"hand-written layout: the package at commit {HAND_LAYOUT_COMMIT[:7]}")
    finish_section(section, args.json)


if __name__ == "__main__":
    main()
