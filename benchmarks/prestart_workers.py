"""Prototype, measured and not adopted: Ray worker processes that import torch + Lightning at start.

Lever #4 of docs/benchmarks.md ("Proposed changes, ranked"): a Ray the library starts could have
its worker processes import the training libraries as soon as they start (the raylet setting
``preload_python_modules``, given through ``ray.init(_system_config=...)``), so that a trial's
first ``train`` call no longer pays for them. Each variant runs in a fresh interpreter (alternated,
``--rounds`` times): ``ray.init`` on loopback with 2 CPUs, 2 s of driver work (the checks and the
Tuner's set-up), then two actors of one CPU each (as Tune places trials) import
``lightning.pytorch``. Printed per run: seconds from the start to both actors ready, whether their
processes had preloaded it, and the worker processes' count and CPU seconds.

In the search itself (``vs_optuna.py --sides ours``) the preload made the first epoch *later* in
four alternated pairs: there four worker processes start, two of them at ``Tuner.fit``, and with
the preload all four import the libraries at once on two cores (docs/benchmarks.md, "Changes
made, measured").

    python benchmarks/prestart_workers.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

VARIANTS = ("base", "preload")

_CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    os.environ.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="disabled",
                      RAY_USAGE_STATS_ENABLED="0")
    started = time.time()
    import psutil, ray
    import lightning.pytorch  # the dry run imported it before Ray starts
    config = {"preload_python_modules": ["torch", "lightning.pytorch"]} if sys.argv[1] == "preload" else {}
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", _system_config=config)
    time.sleep(2.0)

    @ray.remote(num_cpus=1)
    class Trial:
        def run(self):
            had = "lightning.pytorch" in sys.modules
            import lightning.pytorch
            return had, time.time()

    actors = [Trial.remote() for _ in range(2)]
    answers = ray.get([actor.run.remote() for actor in actors])
    workers = [p for p in psutil.Process().children(recursive=True)
               if " ".join(p.cmdline()).startswith("ray::") or "default_worker.py" in " ".join(p.cmdline())]
    print(json.dumps({
        "ready_s": round(max(t for _, t in answers) - started, 1),
        "preloaded": [had for had, _ in answers],
        "workers": len(workers),
        "worker_cpu_s": round(sum(sum(p.cpu_times()[:2]) for p in workers), 1),
    }))
    ray.shutdown()
    """
)


def run_variant(variant: str) -> dict[str, object]:
    """One variant in a fresh interpreter; its printed measures."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, variant], capture_output=True, text=True, timeout=600
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{variant} failed:\n{done.stderr[-2000:]}")
    return {"variant": variant, **json.loads(lines[-1]), "load": round(os.getloadavg()[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for _ in range(args.rounds):
        for variant in VARIANTS:
            print(json.dumps(run_variant(variant)), flush=True)


if __name__ == "__main__":
    main()
