"""The public surface is small and pinned; importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import pytorch_hyperlight


def test_public_names_are_pinned() -> None:
    assert sorted(pytorch_hyperlight.__all__) == sorted(
        [
            "ConfigError",
            "DataLoaderError",
            "HyperlightError",
            "MetricError",
            "NonFiniteMetricError",
            "RayConnectionError",
            "RunDirError",
            "UnreadConfigKeyWarning",
            "Runner",
            "SearchError",
            "Settings",
            "TrialMetrics",
            "__version__",
            "load_run",
        ]
    )
    for name in pytorch_hyperlight.__all__:
        assert hasattr(pytorch_hyperlight, name), name


def test_every_library_error_derives_from_the_root() -> None:
    for name in pytorch_hyperlight.__all__:
        value = getattr(pytorch_hyperlight, name)
        if isinstance(value, type) and issubclass(value, Exception):
            if issubclass(value, Warning):  # warnings are filtered by category, not caught
                continue
            assert issubclass(value, pytorch_hyperlight.HyperlightError)


def test_import_does_not_load_ray_wandb_hyperopt_or_matplotlib() -> None:
    code = (
        "import sys, pytorch_hyperlight\n"
        "heavy = [m for m in ('ray', 'wandb', 'hyperopt', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == ""
