"""What a config file holds and how it becomes a run: the module, the loaders, the config, the settings.

A composed config has these top-level nodes (plain dicts here: no Hydra or OmegaConf types)::

    model:       _target_ (the LightningModule class) and its hyper-parameters
    data:        _target_ (the configure_dataloaders function), batch_size, its other arguments
    trainer:     max_epochs, gradient_clip_val
    hyperlight:  every Settings key (metric_to_optimize, seed, n_samples, ...)
    runner:      experiment_id, run_name_prefix, is_debug (the Runner's arguments)
    search:      params: the search space in Hydra's sweep grammar (key: sweep)

The module's config is ``model``'s keys plus ``batch_size``, ``max_epochs`` and
``gradient_clip_val``; ``data``'s other keys are bound to the loader function. This module is pure
apart from importing the ``_target_`` paths; it never imports Hydra.

Example:
    >>> job = job_from_config({
    ...     "model": {"_target_": "examples.digits.LitDigits", "lr": 0.01, "n_classes": 10},
    ...     "data": {"_target_": "examples.digits.configure_dataloaders", "batch_size": 64},
    ...     "trainer": {"max_epochs": 3},
    ... })
    >>> job.lmodule_class.__name__, job.module_config
    ('LitDigits', {'lr': 0.01, 'n_classes': 10, 'batch_size': 64, 'max_epochs': 3, 'gradient_clip_val': 0})
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.settings import Settings

MODEL, DATA, TRAINER, HYPERLIGHT, RUNNER, SEARCH = (
    "model",
    "data",
    "trainer",
    "hyperlight",
    "runner",
    "search",
)
ROOT_KEYS = (MODEL, DATA, TRAINER, HYPERLIGHT, RUNNER, SEARCH)
TARGET = "_target_"
#: Hydra's marker of a value that must be given (``max_epochs: ???``).
MISSING = "???"

#: ``trainer`` keys: default and description.
TRAINER_KEYS: dict[str, tuple[Any, str]] = {
    "max_epochs": (MISSING, "Epochs to train (the most, with early stopping); required."),
    "gradient_clip_val": (0, "Gradient norm clipping; 0 or null: off."),
}
#: ``runner`` keys (the Runner's arguments): default and description.
RUNNER_KEYS: dict[str, tuple[Any, str]] = {
    "experiment_id": (None, "Groups run directories under <results_dir>/<experiment_id>/."),
    "run_name_prefix": (None, "Put in front of every generated run name."),
    "is_debug": (False, "A fast smoke run: few epochs and batches, everything else unchanged."),
}


def framework_defaults() -> dict[str, Any]:
    """The nodes the framework adds under every config, with their defaults.

    >>> framework_defaults()["trainer"], framework_defaults()["hyperlight"]["metric_opt_mode"]
    ({'max_epochs': '???', 'gradient_clip_val': 0}, 'min')
    """
    return {
        TRAINER: {key: default for key, (default, _) in TRAINER_KEYS.items()},
        HYPERLIGHT: Settings().to_dict(),
        RUNNER: {key: default for key, (default, _) in RUNNER_KEYS.items()},
        SEARCH: {"params": {}},
    }


def framework_descriptions() -> dict[str, tuple[Any, str]]:
    """Every framework key (``"hyperlight.seed"``, ...) with its default and one-line description."""
    described = {f"{TRAINER}.{key}": value for key, value in TRAINER_KEYS.items()}
    described.update({f"{HYPERLIGHT}.{key}": value for key, value in Settings.describe().items()})
    described.update({f"{RUNNER}.{key}": value for key, value in RUNNER_KEYS.items()})
    described[f"{SEARCH}.params"] = (
        {},
        "The search space: config key -> sweep (a,b | choice | range | interval | tag(log, ...)).",
    )
    return described


# --- _target_ ------------------------------------------------------------------------------------
def did_you_mean(name: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string.

    >>> did_you_mean("n_hiden", ["lr", "n_hidden"])
    " (did you mean 'n_hidden'?)"
    """
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def locate(path: Any, *, where: str) -> Any:
    """The object an import path names: ``"package.module.Name"`` or ``"package.module:Name"``.

    Raises:
        ConfigError: saying which part does not resolve: the module, or the name inside it.

    >>> locate("examples.digits.configure_dataloaders", where="data._target_").__name__
    'configure_dataloaders'
    >>> locate("examples.digits.LitDigit", where="model._target_")
    Traceback (most recent call last):
    ...
    pytorch_hyperlight.errors.ConfigError: model._target_='examples.digits.LitDigit': module 'examples.digits' has no attribute 'LitDigit' (did you mean 'LitDigits'?).
    """
    if not isinstance(path, str) or not path.strip(" .:"):
        raise ConfigError(
            f"{where} must be an import path such as 'my_package.models.MyModule', got {path!r}."
        )
    module_part, _, attribute_part = path.partition(":")
    parts = module_part.split(".") + (attribute_part.split(".") if attribute_part else [])
    n_module_parts = len(module_part.split(".")) if attribute_part else len(parts)
    module, imported = None, 0
    for end in range(n_module_parts, 0, -1):
        name = ".".join(parts[:end])
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is not None and not name.startswith(error.name):
                raise ConfigError(
                    f"{where}={path!r}: importing {name!r} failed: {error}. Install the missing "
                    "package or fix the import inside that module."
                ) from error
            continue
        imported = end
        break
    if module is None:
        raise ConfigError(
            f"{where}={path!r}: no module named {parts[0]!r}. Is the package installed, or is "
            "the working directory the project root (where that package lives)?"
        )
    target: Any = module
    for index in range(imported, len(parts)):
        name = parts[index]
        if not hasattr(target, name):
            owner = ".".join(parts[:index])
            public = [n for n in dir(target) if not n.startswith("_")]
            kind = "module" if inspect.ismodule(target) else "object"
            raise ConfigError(
                f"{where}={path!r}: {kind} {owner!r} has no attribute {name!r}"
                f"{did_you_mean(name, public)}."
            )
        target = getattr(target, name)
    return target


# --- the config as a run -------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigJob:
    """What one resolved config asks the Runner to do.

    Attributes:
        lmodule_class: the class ``model._target_`` names.
        configure_dataloaders: the function ``data._target_`` names, with ``data``'s other keys
            bound (a ``functools.partial`` when there are any).
        module_config: the Runner's ``config``: ``model``'s keys, ``batch_size``, ``max_epochs``
            and ``gradient_clip_val``.
        settings: from the ``hyperlight`` node.
        runner_options: keyword arguments of the Runner (``experiment_id``, ...).
        search_params: ``search.params`` as override strings (``"model.lr=interval(0, 1)"``).
    """

    lmodule_class: type
    configure_dataloaders: Callable[..., Any]
    module_config: dict[str, Any]
    settings: Settings
    runner_options: dict[str, Any]
    search_params: tuple[str, ...]


def _node(config: Mapping[str, Any], name: str, example: str) -> dict[str, Any]:
    value = config.get(name)
    if value is None:
        raise ConfigError(f"The config has no {name!r} node. Add one, e.g. {example}")
    if not isinstance(value, Mapping):
        raise ConfigError(f"The config's {name!r} node must be a mapping, got {value!r}.")
    return dict(value)


def _check_keys(node: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in node:
        if key not in allowed:
            raise ConfigError(
                f"Unknown key {where}.{key}{did_you_mean(str(key), allowed)}. {where} holds: "
                f"{', '.join(allowed)}."
            )


def _check_meta_keys(node: Mapping[str, Any], where: str) -> None:
    meta = [k for k in node if str(k).startswith("_") and str(k).endswith("_") and k != TARGET]
    if meta:
        raise ConfigError(
            f"{where}.{meta[0]} is not used here: the framework builds {where} itself from "
            f"{where}._target_ and the other keys. Remove it."
        )


def _loader_function(data: dict[str, Any]) -> Callable[..., Any]:
    function = locate(data.pop(TARGET, None), where=f"{DATA}.{TARGET}")
    if not callable(function):
        raise ConfigError(f"{DATA}.{TARGET} must name a function, got {function!r}.")
    if "n_workers" in data:
        raise ConfigError(
            "data.n_workers is set by the framework (int(hyperlight.cpu_per_trial)); remove it "
            "and set hyperlight.cpu_per_trial instead."
        )
    if not data:
        return function
    parameters = inspect.signature(function).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for key in data:
        if not takes_any and key not in parameters:
            raise ConfigError(
                f"Unknown key data.{key}{did_you_mean(key, list(parameters))}: "
                f"{function.__qualname__}{inspect.signature(function)} takes no such argument."
            )
    return functools.partial(function, **data)


def _runner_options(runner: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(runner, list(RUNNER_KEYS), RUNNER)
    options = {key: runner.get(key, default) for key, (default, _) in RUNNER_KEYS.items()}
    for key in ("experiment_id", "run_name_prefix"):
        if options[key] is not None and not isinstance(options[key], str):
            raise ConfigError(f"{RUNNER}.{key} must be a string or null, got {options[key]!r}.")
    if not isinstance(options["is_debug"], bool):
        raise ConfigError(f"{RUNNER}.is_debug must be true or false, got {options['is_debug']!r}.")
    return options


def _settings(node: Mapping[str, Any]) -> Settings:
    try:
        return Settings.from_any(dict(node))
    except ConfigError as error:
        raise ConfigError(f"In the config's {HYPERLIGHT} node: {error}") from None


def job_from_config(config: Mapping[str, Any]) -> ConfigJob:
    """Check a resolved config and turn it into a :class:`ConfigJob`; the ``_target_`` paths are imported.

    Raises:
        ConfigError: an unknown key (with the closest valid one), a missing node, a ``_target_``
            that does not resolve (naming the part that fails), a misplaced framework key.
    """
    _check_keys(config, ROOT_KEYS, "The config's top level")
    model = _node(config, MODEL, "model: {_target_: my_package.MyLightningModule, lr: 0.01}")
    data = _node(config, DATA, "data: {_target_: my_package.configure_dataloaders, batch_size: 64}")
    trainer = {**framework_defaults()[TRAINER], **dict(config.get(TRAINER) or {})}
    _check_keys(trainer, list(TRAINER_KEYS), TRAINER)
    if trainer["max_epochs"] == MISSING:
        raise ConfigError(
            "trainer.max_epochs has no value: set it in a config file or on the command line "
            "(trainer.max_epochs=10)."
        )
    _check_meta_keys(model, MODEL)
    _check_meta_keys(data, DATA)
    lmodule_class = locate(model.pop(TARGET, None), where=f"{MODEL}.{TARGET}")
    if not isinstance(lmodule_class, type):
        raise ConfigError(
            f"{MODEL}.{TARGET} must name a LightningModule class, got {lmodule_class!r}."
        )
    for key in ("batch_size", *TRAINER_KEYS):
        if key in model:
            home = "data" if key == "batch_size" else TRAINER
            raise ConfigError(
                f"model.{key}: the framework reads {key} from {home}.{key}; move it there."
            )
    if "batch_size" not in data:
        raise ConfigError("data.batch_size is missing: add e.g. batch_size: 64 to the data node.")
    batch_size = data.pop("batch_size")
    module_config = {**model, "batch_size": batch_size, **trainer}
    search = dict(config.get(SEARCH) or {})
    _check_keys(search, ["params"], SEARCH)
    return ConfigJob(
        lmodule_class=lmodule_class,
        configure_dataloaders=_loader_function(data),
        module_config=module_config,
        settings=_settings(config.get(HYPERLIGHT) or {}),
        runner_options=_runner_options(config.get(RUNNER) or {}),
        search_params=tuple(search_overrides(search.get("params") or {})),
    )


# --- search params -------------------------------------------------------------------------------
def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_value_text(item) for item in value) + "]"
    raise ConfigError(f"search.params: cannot write {value!r} as an override value.")


def search_overrides(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``search.params`` as override strings; nested mappings are nested keys.

    >>> search_overrides({"model": {"lr": "interval(0, 1)"}, "data.batch_size": "16,32", "trainer.max_epochs": 5})
    ['model.lr=interval(0, 1)', 'data.batch_size=16,32', 'trainer.max_epochs=5']
    """
    if not isinstance(params, Mapping):
        raise ConfigError(
            f"search.params must be a mapping of config key -> sweep, got {params!r}."
        )
    overrides = []
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            overrides += search_overrides(value, f"{name}.")
        else:
            overrides.append(f"{name}={_value_text(value)}")
    return overrides


def module_path(key: str) -> tuple[str, ...]:
    """Where a searched config key lives in the module's config (the Runner's search space).

    >>> module_path("model.net.width"), module_path("data.batch_size"), module_path("+model.extra")
    (('net', 'width'), ('batch_size',), ('extra',))

    Raises:
        ConfigError: the key cannot change from trial to trial (the module class, the loader
            arguments other than batch_size, settings), with what to do instead.
    """
    parts = key.lstrip("+").split(".")
    root = parts[0]
    if len(parts) == 1:
        raise ConfigError(
            f"{key} cannot be searched: {root!r} is not a config group of this config directory "
            f"(a sweep over a group such as {root}=a,b needs its options as files: {root}/a.yaml, "
            f"{root}/b.yaml). To search a value, name it: {root}.<key>=..."
        )
    if root == MODEL and len(parts) > 1 and parts[1] != TARGET:
        return tuple(parts[1:])
    if parts == [DATA, "batch_size"]:
        return ("batch_size",)
    if root == TRAINER and len(parts) == 2 and parts[1] in TRAINER_KEYS:
        return (parts[1],)
    outer = "Loop over it with --multirun instead (each value a whole search)."
    reasons = {
        MODEL: f"the module class is the same in every trial of a search. {outer}",
        DATA: "only data.batch_size reaches each trial (configure_dataloaders(batch_size, "
        f"n_workers=...)); the other data keys are bound once per search. {outer}",
        TRAINER: f"trainer holds only {', '.join(TRAINER_KEYS)}.",
        HYPERLIGHT: f"settings are the same for every trial of a search. {outer}",
        RUNNER: f"runner options are the same for every trial of a search. {outer}",
        SEARCH: "search.params is the search space, not a value in it.",
    }
    reason = reasons.get(root, f"the config has no {root!r} node{did_you_mean(root, ROOT_KEYS)}.")
    raise ConfigError(f"{key} cannot be searched: {reason}")
