"""Building the LightningModule from a config, and checking the config before any training starts.

Two constructor styles are supported:

- ``__init__(self, hparams)`` (the seed README's): the module gets a fresh copy of the whole config
  plus two derived keys, ``n_steps_per_epoch`` (batches per training epoch) and ``n_train_steps``
  (``n_steps_per_epoch * max_epochs``), which learning-rate schedules need.
- keyword arguments (``__init__(self, lr, n_hidden=64)``): each config key is passed as the argument of
  the same name. The framework's keys (``max_epochs``, ``batch_size``, ``gradient_clip_val``) and the
  derived ones are passed only when the signature names them or takes ``**kwargs``.

A config key that is neither read by the framework nor accepted by the module is an error.

Example:
    >>> import lightning.pytorch as pl
    >>> class Net(pl.LightningModule):
    ...     def __init__(self, lr, n_hidden=8):
    ...         super().__init__()
    >>> check_config(Net, {"lr": 0.1, "max_epochs": 2, "batch_size": 8})
    >>> check_config(Net, {"lr": 0.1, "n_hiden": 4, "max_epochs": 2, "batch_size": 8})
    Traceback (most recent call last):
    ...
    pytorch_hyperlight.errors.ConfigError: Config key 'n_hiden' is neither read by the framework ...
"""

from __future__ import annotations

import copy
import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from pytorch_hyperlight.errors import ConfigError, HyperlightError
from pytorch_hyperlight.settings import FRAMEWORK_CONFIG_KEYS
from pytorch_hyperlight.trial.hparam_reads import HparamReads
from pytorch_hyperlight.trial.lightning import hparams_watched_class, namespace_of

#: Keys the framework adds for modules that can receive them.
DERIVED_KEYS = ("n_steps_per_epoch", "n_train_steps")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_framework_keys(config: Any) -> None:
    """Check the config is a dict holding valid ``batch_size``, ``max_epochs``, ``gradient_clip_val``.

    Raises:
        ConfigError: listing every problem.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"config must be a dict of hyper-parameters including 'max_epochs' and 'batch_size', "
            f"got {type(config).__name__}."
        )
    problems = []
    for key in ("batch_size", "max_epochs"):
        if key not in config:
            problems.append(
                f"{key!r} is missing: add e.g. {key!r}: {64 if key == 'batch_size' else 10}"
            )
        elif not (_is_int(config[key]) and config[key] >= 1):
            problems.append(f"{key!r}: expected an int >= 1, got {config[key]!r}")
    clip = config.get("gradient_clip_val")
    if clip is not None and not (
        isinstance(clip, int | float) and not isinstance(clip, bool) and clip >= 0
    ):
        problems.append(
            f"'gradient_clip_val': expected a number >= 0 (0 or None: off), got {clip!r}"
        )
    if problems:
        raise ConfigError(
            "Invalid config:\n  - "
            + "\n  - ".join(problems)
            + "\nFix these keys in the config (run_single_trial's config / search_space_config)."
        )


def _init_parameters(lmodule_class: type) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(lmodule_class).parameters)


def takes_hparams(lmodule_class: type) -> bool:
    """Whether the constructor takes the whole config as ``hparams`` (the seed's style)."""
    return "hparams" in _init_parameters(lmodule_class)


def _takes_var_keyword(parameters: Mapping[str, inspect.Parameter]) -> bool:
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _named(parameters: Mapping[str, inspect.Parameter]) -> list[str]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [name for name, p in parameters.items() if p.kind in kinds]


def check_config(lmodule_class: type, config: Mapping[str, Any]) -> None:
    """Check the module class and that every config key is used; raise before any training.

    Raises:
        ConfigError: not a LightningModule class; bad framework keys; a key neither read by the
            framework nor accepted by the constructor (with the closest argument name); a required
            constructor argument missing from the config.
    """
    namespace_of(lmodule_class)
    check_framework_keys(config)
    parameters = _init_parameters(lmodule_class)
    class_name = lmodule_class.__qualname__
    if "hparams" in parameters:
        other_required = [
            name
            for name, p in parameters.items()
            if name != "hparams"
            and p.default is inspect.Parameter.empty
            and name in _named(parameters)
        ]
        if other_required:
            raise ConfigError(
                f"{class_name}.__init__ takes 'hparams' and also requires {other_required}; the "
                "framework passes only hparams=<config>. Give those arguments defaults or read them "
                "from hparams."
            )
        return
    if _takes_var_keyword(parameters):
        unknown: list[str] = []
    else:
        accepted = set(_named(parameters)) | set(FRAMEWORK_CONFIG_KEYS)
        unknown = [key for key in config if key not in accepted]
    if unknown:
        messages = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), _named(parameters), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            messages.append(
                f"Config key {key!r} is neither read by the framework {FRAMEWORK_CONFIG_KEYS} nor "
                f"accepted by {class_name}.__init__{hint}."
            )
        raise ConfigError(
            " ".join(messages)
            + f" {class_name}.__init__ accepts: {_named(parameters)}. Remove the key or add it "
            "as a constructor argument (or take hparams=... to receive the whole config)."
        )
    missing = [
        name
        for name in _named(parameters)
        if parameters[name].default is inspect.Parameter.empty
        and name not in config
        and name not in DERIVED_KEYS
    ]
    if missing:
        raise ConfigError(
            f"{class_name}.__init__ requires {missing}, which the config does not contain. "
            f"Add {missing[0]!r} to the config or give the argument a default."
        )


def steps_per_epoch(n_train_batches: int, *, limit_train_batches: int | None = None) -> int:
    """Optimizer steps per epoch: the train loader's length, capped by a batch limit (debug mode).

    >>> steps_per_epoch(17), steps_per_epoch(17, limit_train_batches=3)
    (17, 3)
    """
    if limit_train_batches is not None:
        return min(n_train_batches, limit_train_batches)
    return n_train_batches


def derived_values(n_steps_per_epoch: int, max_epochs: int) -> dict[str, int]:
    """The keys the framework injects: ``n_steps_per_epoch`` and ``n_train_steps``.

    >>> derived_values(17, 10)
    {'n_steps_per_epoch': 17, 'n_train_steps': 170}
    """
    return {"n_steps_per_epoch": n_steps_per_epoch, "n_train_steps": n_steps_per_epoch * max_epochs}


def constructor_arguments(
    lmodule_class: type, config: Mapping[str, Any], derived: Mapping[str, int]
) -> dict[str, Any]:
    """The keyword arguments the module is built with (fresh copies: the caller's config is untouched)."""
    if takes_hparams(lmodule_class):
        hparams = copy.deepcopy(dict(config))
        hparams.update(derived)
        return {"hparams": hparams}
    parameters = _init_parameters(lmodule_class)
    if _takes_var_keyword(parameters):
        return copy.deepcopy({**config, **derived})
    named = set(_named(parameters))
    values = {**config, **derived}
    return copy.deepcopy({key: value for key, value in values.items() if key in named})


def build_module(
    lmodule_class: type,
    config: Mapping[str, Any],
    derived: Mapping[str, int],
    *,
    reads: HparamReads | None = None,
) -> Any:
    """A new module instance built from ``config`` and the ``derived`` values (see module docs).

    Args:
        lmodule_class: the LightningModule class.
        config: the hyper-parameters (never modified).
        derived: ``n_steps_per_epoch`` and ``n_train_steps``.
        reads: record here which keys the module reads (the dry run only; see
            :mod:`pytorch_hyperlight.trial.hparam_reads`): ``hparams`` and ``self.hparams``
            record their reads; a keyword constructor reads every argument it receives.
    """
    arguments = constructor_arguments(lmodule_class, config, derived)
    constructor: Any = lmodule_class
    if reads is not None and takes_hparams(lmodule_class):
        arguments["hparams"] = reads.recording(arguments["hparams"])
        constructor = hparams_watched_class(lmodule_class, reads.watch)
    elif reads is not None:
        reads.record_all(arguments)
    try:
        return constructor(**arguments)
    except HyperlightError:
        raise
    except Exception as error:
        raise ConfigError(
            f"{lmodule_class.__qualname__}(...) raised {type(error).__name__} in its __init__: "
            f"{_first_line(error)}\nFix the module's __init__ (the chained traceback above shows "
            "the line) or the config values it received."
        ) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line if len(line) <= 300 else line[:297] + "..."
