"""Seed 000 with hydra-zen: ``launch`` runs ``hyperlight_task`` over Hydra's basic sweeper.

    python -m examples.cos_fit.zen [--fast]

Each of the four jobs is one trial (Hydra's jobs, each in its own output directory, holding the
run directory with the config it ran with); the task returns the best val_loss, so the jobs can be
compared, and the plot reads every job's best checkpoint.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from examples.cos_fit.model import (
    EPOCHS,
    FAST_EPOCHS,
    SETTINGS,
    UniversalFuncModule,
    configure_dataloaders,
)
from examples.cos_fit.plot import PLOT_FILE, checkpoints_of, save_fit_plot

OVERRIDES = ["data.batch_size=20,200", "model.num_neurons=10,100"]


def experiment_config(max_epochs: int = EPOCHS) -> Any:
    """The seed's ExperimentConfig: the module and the loaders as hydra-zen ``builds``."""
    from hydra_zen import builds

    from pytorch_hyperlight.config import make_experiment_config

    return make_experiment_config(
        model=builds(UniversalFuncModule, num_neurons=10, lr=0.01),
        data=builds(configure_dataloaders, batch_size=25),
        trainer={"max_epochs": max_epochs},
        hyperlight=SETTINGS,
        runner={"experiment_id": "cos_fit"},
    )


def main(argv: Sequence[str] | None = None) -> list[Any]:
    """Launch the four jobs, print each one's best val_loss, save the fit plot; returns the jobs."""
    from hydra_zen import launch

    from pytorch_hyperlight.config import hyperlight_task

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--fast", action="store_true", help=f"{FAST_EPOCHS} epochs, not {EPOCHS}")
    args = parser.parse_args(argv)

    config = experiment_config(FAST_EPOCHS if args.fast else EPOCHS)
    (jobs,) = launch(
        config, hyperlight_task, overrides=OVERRIDES, multirun=True, version_base="1.3"
    )
    for job in jobs:
        print(f"{' '.join(job.overrides)}: best val_loss={job.return_value:.4g}")
    best = min(jobs, key=lambda job: job.return_value)
    print(f"best fit: {' '.join(best.overrides)}")
    output_dirs = [Path(job.hydra_cfg.hydra.runtime.output_dir) for job in jobs]
    checkpoints = [
        c for d in output_dirs for run_dir in d.glob("*/*/") for c in checkpoints_of(run_dir)
    ]
    print(f"fit plot: {save_fit_plot(checkpoints, output_dirs[0].parent / PLOT_FILE)}")
    return list(jobs)


if __name__ == "__main__":
    main()
