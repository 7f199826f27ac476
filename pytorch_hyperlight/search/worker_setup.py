"""Trial processes that have imported torch and Lightning before their first trial.

A trial runs in a Ray worker process. Without help, that process imports only Ray when it starts
and pays for torch and Lightning (about 3 s of CPU) inside the trial's first ``train`` call, when
the trainable is unpickled: after ``Tuner.fit`` started, on the way to the first training batch.

A Ray the library starts itself pre-starts one worker process per CPU as soon as it is up (Ray's
``num_prestart_python_workers``), and Tune places the trial actors in them. With the raylet's
``preload_python_modules`` those processes import the training libraries right away, while the
calling process is still checking resources and building the Tuner, so the imports leave the
path to the first batch (measured in docs/benchmarks.md, "Proposed changes, ranked", #4).

Only the Lightning namespace that the calling process has already imported (the dry run imported
the user's) is preloaded, so a process never imports both ``lightning.pytorch`` and
``pytorch_lightning``. A module that fails to import is logged by Ray in the worker's log and
the worker goes on (``ray/_private/utils.py``, ``try_import_each_module``): the trial then imports
it as before. Ray clusters started by someone else keep their own settings.

This is the one module that names the raylet setting (a key of ``ray.init``'s private
``_system_config``); ``tests/test_worker_setup.py`` checks that Ray 's raylet still knows it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

#: The raylet setting (``RAY_preload_python_modules``): modules every Python worker imports first.
PRELOAD_SETTING = "preload_python_modules"
#: Always preloaded (every trial needs it).
TRAINING_MODULES = ("torch",)
#: Preloaded when the calling process has imported them (the user's Lightning namespace).
LIGHTNING_MODULES = ("lightning.pytorch", "pytorch_lightning")


def modules_to_preload(imported: Mapping[str, Any] | None = None) -> list[str]:
    """torch, and the Lightning namespaces that ``imported`` (``sys.modules``) holds.

    >>> modules_to_preload({"torch": 1, "pytorch_lightning": 1})
    ['torch', 'pytorch_lightning']
    >>> modules_to_preload({})
    ['torch']
    """
    imported = sys.modules if imported is None else imported
    return [*TRAINING_MODULES, *(name for name in LIGHTNING_MODULES if name in imported)]


def preload_system_config(modules: Sequence[str] | None = None) -> dict[str, Any]:
    """``ray.init(_system_config=...)`` for a Ray this library starts: workers import ``modules``.

    Args:
        modules: the modules to import in every worker process (default:
            :func:`modules_to_preload` of this process).

    >>> preload_system_config(["torch"])
    {'preload_python_modules': ['torch']}
    """
    return {PRELOAD_SETTING: list(modules_to_preload() if modules is None else modules)}
