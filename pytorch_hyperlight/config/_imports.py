"""The optional Hydra dependency: imported only when a config feature needs it.

``import pytorch_hyperlight`` never imports Hydra, OmegaConf or hydra-zen; the command line and the
config helpers call :func:`require_hydra` first, so a missing install fails with the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: The pip extra that installs hydra-core and hydra-zen.
EXTRA = "pytorch-hyperlight[hydra]"


def require(module: str, *, feature: str = "config files and the command line") -> ModuleType:
    """Import ``module`` (``"hydra"``, ``"omegaconf"``, ``"hydra_zen"``) or say which extra installs it.

    Raises:
        ImportError: the module is not installed; the message names the extra.

    >>> require("omegaconf").__name__
    'omegaconf'
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = {"hydra": "hydra-core", "hydra_zen": "hydra-zen"}.get(module, module)
        raise ImportError(
            f"{feature} need {package}, which is not installed. Install the extra: "
            f"pip install '{EXTRA}'"
        ) from error


def require_hydra() -> ModuleType:
    """Import hydra-core (and with it OmegaConf), or raise an ImportError naming the extra."""
    require("omegaconf")
    return require("hydra")
