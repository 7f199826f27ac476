"""pytorch_hyperlight: train and tune PyTorch Lightning models with one Runner.

Importing the package is light: Ray, wandb, hyperopt and matplotlib load only when a feature needs them.

Example:
    >>> import pytorch_hyperlight as ph
    >>> sorted(ph.__all__)[:3]
    ['ConfigError', 'DataLoaderError', 'HyperlightError']
"""

from pytorch_hyperlight.errors import (
    ConfigError,
    DataLoaderError,
    HyperlightError,
    MetricError,
    NonFiniteMetricError,
    RayConnectionError,
    RunDirError,
    SearchError,
    UnreadConfigKeyWarning,
)
from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics
from pytorch_hyperlight.results.load import load_run
from pytorch_hyperlight.runner import Runner
from pytorch_hyperlight.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataLoaderError",
    "HyperlightError",
    "MetricError",
    "NonFiniteMetricError",
    "RayConnectionError",
    "RunDirError",
    "Runner",
    "SearchError",
    "Settings",
    "TrialMetrics",
    "UnreadConfigKeyWarning",
    "__version__",
    "load_run",
]
