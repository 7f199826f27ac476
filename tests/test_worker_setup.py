"""Trial processes of a library-started Ray import torch and Lightning before their first trial."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytorch_hyperlight.search import worker_setup

REPO = Path(__file__).resolve().parent.parent


def test_only_the_lightning_namespace_this_process_imported_is_preloaded() -> None:
    assert worker_setup.modules_to_preload({"torch": 1}) == ["torch"]
    both = {"lightning.pytorch": 1, "pytorch_lightning": 1}
    assert worker_setup.modules_to_preload(both) == [
        "torch",
        "lightning.pytorch",
        "pytorch_lightning",
    ]
    assert worker_setup.preload_system_config(["torch"]) == {"preload_python_modules": ["torch"]}


_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import lightning.pytorch  # as the dry run does, before Ray starts
    import ray
    from pytorch_hyperlight.search.ray_session import ray_session

    with ray_session(None) as info:
        @ray.remote(num_cpus=1)
        class Probe:
            def modules(self):
                import sys
                return [m for m in ("torch", "lightning.pytorch", "pytorch_lightning")
                        if m in sys.modules]

        probe = Probe.remote()
        print(json.dumps({"modules": ray.get(probe.modules.remote()), "here": info.started_here}))
    """
)


@pytest.mark.slow
def test_a_library_started_ray_runs_actors_in_processes_that_imported_torch_and_lightning() -> None:
    """Fails loudly when Ray's raylet no longer knows ``preload_python_modules``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env["PYTHONPATH"] = str(REPO)
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=REPO,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    # The probe imports nothing itself: what its process holds was preloaded.
    assert report == {"modules": ["torch", "lightning.pytorch"], "here": True}
