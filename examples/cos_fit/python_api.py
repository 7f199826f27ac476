"""Seed 000 with the Runner's grid search in Python: 2 batch sizes x 2 widths, one trial each.

python -m examples.cos_fit.python_api [--fast]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from examples.cos_fit.model import (
    EPOCHS,
    FAST_EPOCHS,
    SETTINGS,
    UniversalFuncModule,
    configure_dataloaders,
)
from examples.cos_fit.plot import PLOT_FILE, checkpoints_of, save_fit_plot


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the grid, print the best configuration and save the fit plot."""
    from ray import tune

    from pytorch_hyperlight import Runner

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--fast", action="store_true", help=f"{FAST_EPOCHS} epochs, not {EPOCHS}")
    args = parser.parse_args(argv)

    space = {
        "batch_size": tune.grid_search([20, 200]),
        "num_neurons": tune.grid_search([10, 100]),
        "lr": 0.01,
        "max_epochs": FAST_EPOCHS if args.fast else EPOCHS,
    }
    runner = Runner(configure_dataloaders, experiment_id="cos_fit")
    result = runner.run_hyper_opt(UniversalFuncModule, space, SETTINGS)
    best = result["best_config"]
    print(f"best fit: batch_size={best['batch_size']}, num_neurons={best['num_neurons']}")
    run_dir = result["run_dir"]
    print(f"fit plot: {save_fit_plot(checkpoints_of(run_dir), run_dir / 'plots' / PLOT_FILE)}")
    return result


if __name__ == "__main__":
    main()
