"""The seed's figure: every fitted network against cos(x) on the training domain.

    python -m examples.cos_fit.plot <run_dir> [<run_dir> ...]

A search's run directory holds each trial's best checkpoint (``tune/trial_*/checkpoint_*``); a
single trial's holds ``checkpoints/best.ckpt``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from examples.cos_fit.model import UniversalFuncModule, training_domain

PLOT_FILE = "cos_fit.png"


def checkpoints_of(run_dir: str | Path) -> list[Path]:
    """Every best checkpoint in a run directory: each trial's of a search, or the single trial's."""
    run_dir = Path(run_dir)
    found = sorted(run_dir.glob("tune/trial_*/checkpoint_*/checkpoint.ckpt"))
    return found or sorted(run_dir.glob("checkpoints/best.ckpt"))


def _label(module: UniversalFuncModule) -> str:
    return f"batch_size={module.hparams.batch_size}, num_neurons={module.hparams.num_neurons}"


def save_fit_plot(checkpoints: Sequence[Path], path: str | Path) -> Path:
    """Plot each checkpoint's fit and the truth (dashed); returns the PNG's path."""
    import matplotlib.pyplot as plt

    x = training_domain()
    figure, axes = plt.subplots(figsize=(9, 4.5))
    axes.plot(x.ravel(), torch.cos(x).ravel(), ls="--", color="black", label="True")
    modules = [
        UniversalFuncModule.load_from_checkpoint(str(c), map_location="cpu") for c in checkpoints
    ]
    for module in sorted(modules, key=_label):
        with torch.no_grad():
            axes.plot(x.ravel(), module.eval()(x).ravel(), label=_label(module))
    axes.grid(True)
    axes.set(xlabel="x", ylabel="y", title="single-layer sigmoid networks fitting cos(x)")
    axes.legend(bbox_to_anchor=(1.04, 1), loc="upper left")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> Path:
    """Plot the fits of the given run directories into the first one's ``plots/cos_fit.png``."""
    run_dirs = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    if not run_dirs:
        raise SystemExit("usage: python -m examples.cos_fit.plot <run_dir> [<run_dir> ...]")
    checkpoints = [c for run_dir in run_dirs for c in checkpoints_of(run_dir)]
    path = save_fit_plot(checkpoints, run_dirs[0] / "plots" / PLOT_FILE)
    print(f"fit plot: {path}")
    return path


if __name__ == "__main__":
    main()
