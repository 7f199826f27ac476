"""Config files, the command line and Hydra: run the Runner from a Hydra config.

Importing this package does not import Hydra; its functions do, and say which extra to install
(``pip install 'pytorch-hyperlight[hydra]'``) when it is missing.

- :func:`hyperlight_task`: a task function for ``@hydra.main``, ``hydra_zen.zen`` and
  ``hydra_zen.launch``; trains (or searches) the config and returns the best metric value.
- :func:`make_experiment_config`: a hydra-zen config with the framework's nodes and defaults.
- :func:`run_config`: the same as the task, returning the run's whole result dict.

The command line (``hyperlight run|tune|show``, :mod:`pytorch_hyperlight.cli`) composes configs from
a config directory; see the user guide page "Config files, command line and Hydra".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytorch_hyperlight.config.task import hyperlight_task, make_experiment_config, run_config

__all__ = ["hyperlight_task", "make_experiment_config", "run_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pytorch_hyperlight.config import task

        return getattr(task, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
