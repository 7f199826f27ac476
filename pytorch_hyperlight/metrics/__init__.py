"""Epoch metrics: the TrialMetrics table, the per-epoch console display and the figures.

The figure functions load matplotlib, so they are imported on first use.
"""

from typing import Any

from pytorch_hyperlight.metrics.console import EpochDisplay, make_epoch_display
from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

__all__ = [
    "EpochDisplay",
    "TrialMetrics",
    "make_epoch_display",
    "plot_runs_comparison",
    "plot_trial_metrics",
]

_PLOTTING_NAMES = ("plot_runs_comparison", "plot_trial_metrics")


def __getattr__(name: str) -> Any:
    if name in _PLOTTING_NAMES:
        from pytorch_hyperlight.metrics import plotting

        return getattr(plotting, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
