"""Calling the user's ``configure_dataloaders`` and picking the loaders named by the settings.

The function is called as ``configure_dataloaders(batch_size, n_workers=int(cpu_per_trial))`` and
must return a dict. The training loader (``train_loader_name``) is required; the validation and test
loaders are optional: a ``None`` name, or the default name missing from the dict, skips that stage.
A non-default name that is missing, or a value that is not a ``DataLoader``, is an error listing the
keys that were returned.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch.utils.data import DataLoader

from pytorch_hyperlight.errors import ConfigError, DataLoaderError, HyperlightError
from pytorch_hyperlight.settings import Settings

_DEFAULT_NAMES = {
    "val_loader_name": Settings().val_loader_name,
    "test_loader_name": Settings().test_loader_name,
}


@dataclass(frozen=True)
class LoaderSet:
    """The loaders of one trial.

    Attributes:
        train: the training loader.
        val: the validation loader, or None (no validation, no re-validation).
        test: the test loader, or None (no test stage).
        batch_size: the batch size they were built with.
        returned_keys: every key ``configure_dataloaders`` returned (for error messages).
    """

    train: DataLoader
    val: DataLoader | None
    test: DataLoader | None
    batch_size: int
    returned_keys: tuple[str, ...]

    def describe(self) -> str:
        """One sentence on the loaders used, for error messages."""
        used = ", ".join(
            f"{stage}={'yes' if loader is not None else 'none'}"
            for stage, loader in (("train", self.train), ("val", self.val), ("test", self.test))
        )
        return (
            f"Loaders used: {used}; configure_dataloaders returned keys {list(self.returned_keys)}."
        )


def check_loader_function(configure_dataloaders: Callable[..., Any]) -> None:
    """Check ``configure_dataloaders`` can be called as ``f(batch_size, n_workers=...)``.

    Raises:
        ConfigError: it is not callable or does not accept the keyword argument ``n_workers``.
    """
    if not callable(configure_dataloaders):
        raise ConfigError(
            "configure_dataloaders must be a function f(batch_size, n_workers=...) returning a dict of "
            f"DataLoaders, got {type(configure_dataloaders).__name__}."
        )
    try:
        signature = inspect.signature(configure_dataloaders)
    except (TypeError, ValueError):  # builtins without a signature: let the call tell
        return
    try:
        signature.bind(64, n_workers=1)
    except TypeError as error:
        name = getattr(configure_dataloaders, "__qualname__", repr(configure_dataloaders))
        raise ConfigError(
            f"configure_dataloaders must accept f(batch_size, n_workers=...), but {name}{signature} "
            f"does not ({error}). Add an 'n_workers' keyword argument (it receives "
            "int(cpu_per_trial); pass it to DataLoader(num_workers=...) or ignore it)."
        ) from None


def _pick(
    loaders: Mapping[Any, Any], setting: str, name: str | None, *, required: bool
) -> DataLoader | None:
    keys = [str(key) for key in loaders]
    if name is None:
        return None
    if name not in loaders or loaders[name] is None:
        if not required and name == _DEFAULT_NAMES.get(setting):
            return None
        raise DataLoaderError(
            f"configure_dataloaders returned no {name!r} (the {setting} setting); it returned the keys "
            f"{keys}. Return the loader under {name!r} or set {setting} to one of those keys"
            + (" (or None to skip that stage)." if not required else ".")
        )
    loader = loaders[name]
    if not isinstance(loader, DataLoader):
        raise DataLoaderError(
            f"configure_dataloaders returned {type(loader).__name__} under {name!r} ({setting}); "
            f"expected a torch.utils.data.DataLoader. Returned keys: {keys}. Wrap the data in "
            f"DataLoader(dataset, batch_size=batch_size) before returning it."
        )
    return loader


def _check_not_empty(loader: Any, name: str) -> None:
    """A training loader must yield a batch (one without a length is trusted)."""
    try:
        n_batches = len(loader)
    except TypeError:
        return
    if n_batches == 0:
        raise DataLoaderError(
            f"The training loader {name!r} yields 0 batches (its dataset holds "
            f"{_dataset_size(loader)} samples); training needs at least one batch. Check the "
            "dataset the loader wraps (a filter that removed everything, a wrong path) or "
            "drop_last=True with batch_size larger than the dataset."
        )


def _dataset_size(loader: Any) -> str:
    try:
        return str(len(loader.dataset))
    except (TypeError, AttributeError):
        return "an unknown number of"


def load_dataloaders(
    configure_dataloaders: Callable[..., Any], batch_size: int, settings: Settings
) -> LoaderSet:
    """Call ``configure_dataloaders(batch_size, n_workers=int(cpu_per_trial))`` and pick the loaders.

    Raises:
        ConfigError: the function does not accept ``n_workers``.
        DataLoaderError: it did not return a dict, the training loader is missing, a loader named by a
            non-default setting is missing, or a value is not a DataLoader.
    """
    check_loader_function(configure_dataloaders)
    n_workers = int(settings.cpu_per_trial)
    try:
        loaders = configure_dataloaders(batch_size, n_workers=n_workers)
    except HyperlightError:
        raise
    except Exception as error:
        name = getattr(configure_dataloaders, "__qualname__", type(configure_dataloaders).__name__)
        raise DataLoaderError(
            f"{name}(batch_size={batch_size}, n_workers={n_workers}) raised "
            f"{type(error).__name__}: {str(error).strip()[:300]}\nconfigure_dataloaders must "
            "return a dict of DataLoaders; fix the function (the chained traceback shows where)."
        ) from error
    if not isinstance(loaders, Mapping):
        raise DataLoaderError(
            "configure_dataloaders must return a dict of DataLoaders such as {'train_loader': ..., "
            f"'val_loader': ..., 'test_loader': ...}}, got {type(loaders).__name__}."
        )
    train = _pick(loaders, "train_loader_name", settings.train_loader_name, required=True)
    assert train is not None  # required=True never returns None
    _check_not_empty(train, settings.train_loader_name)
    return LoaderSet(
        train=train,
        val=_pick(loaders, "val_loader_name", settings.val_loader_name, required=False),
        test=_pick(loaders, "test_loader_name", settings.test_loader_name, required=False),
        batch_size=batch_size,
        returned_keys=tuple(str(key) for key in loaders),
    )
