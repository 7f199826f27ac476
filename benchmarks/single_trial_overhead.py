"""Overhead of ``Runner.run_single_trial`` over a hand-written Lightning script doing the same work.

Both sides train the same module (``examples/digits.py``'s LitDigits) on the same data for the same
number of epochs with the same seed, keep the best epoch by ``val_f1`` in a ModelCheckpoint, then
re-validate and test the best checkpoint. ``run_single_trial`` additionally runs its one-batch dry
run, collects the epoch metrics, and writes metrics.csv, metrics.png and run.json. The two are
alternated (A B, B A, A B, ...) in one process after one untimed warm-up each, so imports and
machine-load drift affect both alike. Timings are printed, never asserted.

    python benchmarks/single_trial_overhead.py            # 3 rounds, 80 epochs (a 10 s trial)
    python benchmarks/single_trial_overhead.py --rounds 5 --epochs 25
    python benchmarks/single_trial_overhead.py --quick    # proves it works
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/ from a checkout

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

from benchmarks._environment import quiet
from benchmarks._report import Measure, add_common_arguments, finish_section, median, start_section
from benchmarks._report import ratio as ratio_of
from benchmarks._timing import record_phases
from examples.digits import CONFIG, LitDigits, configure_dataloaders

SEED = 16


def hand_written(epochs: int, workdir: Path) -> float:
    """The Lightning script a user would write by hand for fit + re-validation + test."""
    pl.seed_everything(SEED, workers=True, verbose=False)
    loaders = configure_dataloaders(CONFIG["batch_size"])
    n_steps = len(loaders["train_loader"])
    hparams = {**CONFIG, "max_epochs": epochs, "n_steps_per_epoch": n_steps,
               "n_train_steps": n_steps * epochs}  # fmt: skip
    model = LitDigits(hparams)
    checkpoint = ModelCheckpoint(dirpath=workdir, monitor="val_f1_epoch", mode="max", save_top_k=1)
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=[checkpoint],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
        accelerator="cpu",
        devices=1,
        default_root_dir=workdir,
    )
    trainer.fit(model, loaders["train_loader"], loaders["val_loader"])
    trainer.validate(model, loaders["val_loader"], ckpt_path="best", verbose=False)
    result = trainer.test(model, loaders["test_loader"], ckpt_path="best", verbose=False)
    return float(result[0]["test_acc_epoch"])


def hyperlight(epochs: int, workdir: Path) -> float:
    """The same through pytorch_hyperlight."""
    from pytorch_hyperlight import Runner

    runner = Runner(configure_dataloaders, experiment_id="benchmark")
    result = runner.run_single_trial(
        LitDigits,
        {**CONFIG, "max_epochs": epochs},
        {"seed": SEED, "metric_to_optimize": "val_f1_epoch", "metric_opt_mode": "max",
         "results_dir": str(workdir), "verbose": 0, "gpus": 0},
    )  # fmt: skip
    return float(result["metrics_last"]["test_acc"])


def _timed(run: Callable[[int, Path], float], epochs: int) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds of this process, and the test accuracy reached."""
    with tempfile.TemporaryDirectory(prefix="hyperlight-bench-") as workdir:
        started, started_cpu = time.perf_counter(), time.process_time()
        test_acc = run(epochs, Path(workdir))
        return time.perf_counter() - started, time.process_time() - started_cpu, test_acc


def _record_phases(phases: dict[str, float]) -> None:
    """Time the steps of run_single_trial (by wrapping the functions it calls)."""
    from pytorch_hyperlight.runs import single_trial as single

    record_phases(single, ("prepare_trial", "fit_trial", "evaluate_checkpoint", "_save"), phases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=80, help="about 10 s per trial on 2 cores")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0: torch's default")
    args = parser.parse_args()
    quiet()
    if args.quick:
        args.rounds, args.epochs = 1, 2
    section = start_section(
        "single_trial_overhead.py",
        f"run_single_trial vs a hand-written Lightning fit + re-validation + test: {args.epochs} "
        f"epochs of LitDigits, {args.rounds} alternated rounds",
        args.quick,
    )
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    phases: dict[str, float] = {}
    _record_phases(phases)
    sides = {"hand-written": hand_written, "run_single_trial": hyperlight}
    for run in sides.values():  # warm-up: imports, first Trainer, matplotlib
        _timed(run, 1)
    wall: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    for round_index in range(args.rounds):
        order = list(sides) if round_index % 2 == 0 else list(reversed(sides))
        for name in order:
            seconds, cpu_seconds, test_acc = _timed(sides[name], args.epochs)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
            print(f"round {round_index + 1}  {name:<16} wall {seconds:6.2f} s  "
                  f"cpu {cpu_seconds:6.2f} s  test_acc={test_acc:.4f}", flush=True)  # fmt: skip
    hand, ours = "hand-written", "run_single_trial"
    for label, values in (("wall", wall), ("cpu", cpu)):
        base, mine = median(values[hand]), median(values[ours])
        section.add(Measure(
            key=f"single_trial_{label}", target="<= 1.03" if label == "wall" else "",
            label=f"run_single_trial / hand-written Lightning fit + reval + test ({label} time)",
            value=ratio_of(mine, base), ours=mine, reference=base,
            detail=f"{args.epochs} epochs; ours " + ", ".join(f"{v:.2f}" for v in values[ours])
            + " s, hand-written " + ", ".join(f"{v:.2f}" for v in values[hand]) + " s",
        ))  # fmt: skip
    section.note(
        "last run_single_trial by step: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())
    )
    finish_section(section, args.json)


if __name__ == "__main__":
    main()
