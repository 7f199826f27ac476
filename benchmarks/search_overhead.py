"""Overhead of ``Runner.run_hyper_opt`` over a hand-written Ray Tune script doing the same search.

Both sides run an 8-trial ASHA + HyperOpt search of ``examples/digits.py``'s LitDigits on the
same space with the same seeds, two trials at a time (1 CPU each), ``reuse_actors=True``, one
report and one checkpoint per epoch, the best checkpoint kept per trial; then, in this process,
load the best trial's best checkpoint, re-validate and test it. The hand-written side uses Ray's
``TuneReportCheckpointCallback``; ``run_hyper_opt`` additionally runs its checks and one-batch dry
run, builds the trials table and histories, and writes its result files and plots. The ratio is
printed for the whole call and without the plot drawing (which the hand-written side does not do).

One Ray (``ray.init``) is shared by both sides, so its start-up is counted by neither. The sides
are alternated (A B, B A, ...) so machine-load drift affects both alike. Timings are printed,
never asserted.

    python benchmarks/search_overhead.py              # 3 rounds
    python benchmarks/search_overhead.py --quick      # proves it works
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/ from a checkout

from benchmarks._environment import quiet
from benchmarks._report import Measure, add_common_arguments, finish_section, median, start_section
from benchmarks._report import ratio as ratio_of
from benchmarks._timing import record_phases
from examples.digits import N_CLASSES, LitDigits, configure_dataloaders

SEED = 16
N_SAMPLES = 8
CONCURRENCY = 2
BATCH_SIZE_MAIN = 256


@dataclass(frozen=True)
class Plan:
    """The search both sides run: trials, and the choice of max_epochs (ASHA's max_t: the largest)."""

    n_samples: int = N_SAMPLES
    epochs: tuple[int, ...] = (6, 8)
    grace_period: int = 2
    concurrency: int = CONCURRENCY


def search_space(plan: Plan) -> dict[str, Any]:
    from ray import tune

    return {
        "lr": tune.loguniform(1e-3, 1e-1),
        "n_hidden": tune.choice([32, 64, 128]),
        "gradient_clip_val": 0,
        "max_epochs": tune.choice(list(plan.epochs)),
        "batch_size": tune.choice([32, 64]),
        "n_classes": N_CLASSES,
    }


# --- the hand-written Ray Tune script --------------------------------------------------------------
def _hparams(config: dict[str, Any], n_steps: int) -> dict[str, Any]:
    return {**config, "n_steps_per_epoch": n_steps, "n_train_steps": n_steps * config["max_epochs"]}


def _trainer(max_epochs: int, callbacks: list[Any]) -> Any:
    import pytorch_lightning as pl

    return pl.Trainer(
        max_epochs=max_epochs,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        deterministic=True,
        accelerator="cpu",
        devices=1,
    )


def train_digits(config: dict[str, Any]) -> None:
    """The function trainable a user writes: Lightning + Ray's report-and-checkpoint callback."""
    import pytorch_lightning as pl
    import torch
    from ray.tune.integration.pytorch_lightning import TuneReportCheckpointCallback

    torch.set_num_threads(1)
    pl.seed_everything(SEED, workers=True, verbose=False)
    loaders = configure_dataloaders(config["batch_size"])
    model = LitDigits(_hparams(config, len(loaders["train_loader"])))
    report = TuneReportCheckpointCallback(
        metrics={"val_f1": "val_f1_epoch", "val_loss": "val_loss_epoch"},
        filename="checkpoint.ckpt",
        on="train_epoch_end",
    )
    trainer = _trainer(config["max_epochs"], [report])
    trainer.fit(model, loaders["train_loader"], loaders["val_loader"])


def hand_written(workdir: Path, plan: Plan) -> float:
    import torch
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.hyperopt import HyperOptSearch

    tuner = tune.Tuner(
        tune.with_resources(train_digits, {"cpu": 1}),
        param_space=search_space(plan),
        tune_config=tune.TuneConfig(
            metric="val_f1",
            mode="max",
            search_alg=HyperOptSearch(
                n_initial_points=max(1, plan.n_samples // 2), random_state_seed=SEED
            ),
            scheduler=ASHAScheduler(
                time_attr="training_iteration",
                max_t=max(plan.epochs),
                grace_period=plan.grace_period,
                reduction_factor=3,
            ),
            num_samples=plan.n_samples,
            max_concurrent_trials=plan.concurrency,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            storage_path=str(workdir),
            name="tune",
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=1, checkpoint_score_attribute="val_f1", checkpoint_score_order="max"
            ),
        ),
    )
    results = tuner.fit()
    best = results.get_best_result("val_f1", "max", scope="all")
    checkpoint = best.get_best_checkpoint("val_f1", "max")
    loaders = configure_dataloaders(BATCH_SIZE_MAIN)
    with checkpoint.as_directory() as directory:
        state = torch.load(Path(directory) / "checkpoint.ckpt", map_location="cpu")
    config = best.config
    n_steps = len(configure_dataloaders(config["batch_size"])["train_loader"])
    model = LitDigits(_hparams(config, n_steps))
    model.load_state_dict(state["state_dict"])
    trainer = _trainer(config["max_epochs"], [])
    trainer.validate(model, loaders["val_loader"], verbose=False)
    test = trainer.test(model, loaders["test_loader"], verbose=False)
    return float(test[0]["test_acc_epoch"])


# --- the same through pytorch_hyperlight -----------------------------------------------------------
def hyperlight(workdir: Path, plan: Plan) -> float:
    from pytorch_hyperlight import Runner

    runner = Runner(configure_dataloaders, experiment_id="benchmark")
    result = runner.run_hyper_opt(
        LitDigits,
        search_space(plan),
        {
            "seed": SEED,
            "metric_to_optimize": "val_f1_epoch",
            "metric_opt_mode": "max",
            "n_samples": plan.n_samples,
            "hyperopt_n_initial_points": max(1, plan.n_samples // 2),
            "cpu_per_trial": 1,
            "grace_period": plan.grace_period,
            "epoch_upper_limit": max(plan.epochs),
            "max_concurrent_trials": plan.concurrency,
            "batch_size_main": BATCH_SIZE_MAIN,
            "results_dir": str(workdir),
            "verbose": 0,
            "gpus": 0,
        },
    )
    return float(result["metrics_last"]["test_acc"])


def _timed(run: Callable[[Path, Plan], float], plan: Plan) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="hyperlight-bench-") as workdir:
        started = time.perf_counter()
        test_acc = run(Path(workdir), plan)
        return time.perf_counter() - started, test_acc


def _record_phases(phases: dict[str, float]) -> None:
    """Time the steps of run_hyper_opt (by wrapping the functions it calls)."""
    from pytorch_hyperlight.runs import search as run

    record_phases(run, ("plan_search", "_search", "_evaluate", "_save_plots"), phases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    quiet()
    plan = Plan(n_samples=1, epochs=(1, 2), grace_period=1, concurrency=1) if args.quick else Plan()
    if args.quick:
        args.rounds = 1
    section = start_section(
        "search_overhead.py",
        f"run_hyper_opt vs a hand-written Tuner + TuneReportCheckpointCallback: {plan.n_samples} "
        f"trials ASHA + HyperOpt, {plan.concurrency} at a time, {args.rounds} alternated rounds",
        args.quick,
    )
    import pytorch_lightning  # noqa: F401  (imports outside the timings)
    import ray
    import ray.tune.search.hyperopt

    ray.init(num_cpus=plan.concurrency, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)  # fmt: skip
    phases: dict[str, float] = {}
    _record_phases(phases)
    sides = {"hand-written": hand_written, "run_hyper_opt": hyperlight}
    wall: dict[str, list[float]] = {name: [] for name in sides}
    plots: list[float] = []
    try:
        for round_index in range(args.rounds):
            order = list(sides) if round_index % 2 == 0 else list(reversed(sides))
            for name in order:
                seconds, test_acc = _timed(sides[name], plan)
                wall[name].append(seconds)
                print(f"round {round_index + 1}  {name:<13} wall {seconds:6.2f} s  "
                      f"test_acc={test_acc:.4f}", flush=True)  # fmt: skip
                if name == "run_hyper_opt":
                    plots.append(phases["_save_plots"])
                    section.note("run_hyper_opt by step: "
                                 + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))  # fmt: skip
    finally:
        ray.shutdown()
    base, mine = median(wall["hand-written"]), median(wall["run_hyper_opt"])
    raw = (" s; ours " + ", ".join(f"{v:.2f}" for v in wall["run_hyper_opt"]) + " s, hand-written "
           + ", ".join(f"{v:.2f}" for v in wall["hand-written"]) + " s")  # fmt: skip
    section.add(Measure(
        key="search_vs_tuner", target="<= 1.03", ours=mine, reference=base,
        label="run_hyper_opt / hand-written Tuner + TuneReportCheckpointCallback, incl. reload + test",
        value=ratio_of(mine, base), detail="one Ray shared by both (its start-up counted by neither)"
        + raw,
    ))  # fmt: skip
    without_plots = median(w - p for w, p in zip(wall["run_hyper_opt"], plots))
    section.add(Measure(
        key="search_vs_tuner_no_plots", ours=without_plots, reference=base,
        label="the same, without drawing the plots (work the hand-written script does not do)",
        value=ratio_of(without_plots, base), detail="plots: " + ", ".join(f"{p:.2f}" for p in plots)
        + " s",
    ))  # fmt: skip
    finish_section(section, args.json)


if __name__ == "__main__":
    main()
