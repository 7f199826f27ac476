"""Composing a config from a config directory with Hydra's compose API, and setting values in it.

The user's primary config (``config.yaml``) is composed under a small root config that adds the
framework's nodes with their defaults (``trainer``, ``hyperlight``, ``runner``, ``search``), so
``hyperlight.seed=3`` works even when the user's files never mention ``hyperlight``. Config groups,
defaults lists, interpolation, ``+key``/``++key``/``~key`` and ``_global_`` experiment configs are
Hydra's own. Hydra's errors become :class:`~pytorch_hyperlight.errors.ConfigError` with the file and
line of bad YAML and the closest valid key or option.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytorch_hyperlight.config._imports import require_hydra
from pytorch_hyperlight.config.schema import did_you_mean, framework_defaults
from pytorch_hyperlight.errors import ConfigError

#: Name of the root config (in Hydra's ConfigStore) that puts the framework's nodes under the user's.
ROOT_CONFIG = "_hyperlight_root_"
_ABSENT = object()


@contextlib.contextmanager
def config_dir_session(config_dir: str | Path) -> Iterator[Path]:
    """Hydra initialised on ``config_dir`` for the ``with`` block; yields the absolute directory.

    Raises:
        ConfigError: the directory does not exist.
    """
    require_hydra()
    from hydra import initialize_config_dir

    path = Path(config_dir).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(
            f"--config-dir {config_dir}: no such directory ({path}). Point it at the folder that "
            "holds config.yaml and the config groups (model/, data/, ...)."
        )
    with initialize_config_dir(config_dir=str(path), version_base="1.3", job_name="hyperlight"):
        yield path


def compose(config_name: str, overrides: Sequence[str] = ()) -> Any:
    """The composed config (an OmegaConf DictConfig) of ``config_name`` with ``overrides`` applied.

    Must run inside :func:`config_dir_session`.

    Raises:
        ConfigError: bad YAML (file, line), an unknown config or group option (with the options),
            an override of a key that does not exist (with the closest key and the ``+`` form).
    """
    import yaml
    from hydra import compose as hydra_compose
    from hydra.core.config_store import ConfigStore
    from hydra.errors import (
        ConfigCompositionException,
        HydraException,
        MissingConfigException,
    )

    root = {"defaults": ["_self_", f"{config_name}@_global_"], **framework_defaults()}
    ConfigStore.instance().store(name=ROOT_CONFIG, node=root)
    try:
        return hydra_compose(config_name=ROOT_CONFIG, overrides=list(overrides))
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_message(error)) from None
    except MissingConfigException as error:
        raise ConfigError(_missing_config_message(error, config_name)) from None
    except ConfigCompositionException as error:
        raise ConfigError(_composition_message(error)) from None
    except HydraException as error:
        raise ConfigError(f"Hydra could not compose the config: {error}") from None


def _yaml_message(error: Any) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return f"Bad YAML in a config file: {error}"
    return (
        f"Bad YAML in {mark.name}, line {mark.line + 1}, column {mark.column + 1}: {problem}. "
        "(Indentation nests keys; a value with ': ' or '#' needs quotes.)"
    )


def _missing_config_message(error: Any, config_name: str) -> str:
    text = str(error).split("\nConfig search path:", 1)[0].strip()
    text = text.replace(f"In '{ROOT_CONFIG}': ", "")
    if f"Could not load '{config_name}'" in text:
        return (
            f"No primary config {config_name!r} ({config_name}.yaml) in the config directory. "
            "Pass --config-name NAME for another file, or --config-dir DIR for another directory."
        )
    missing = str(getattr(error, "missing_cfg_file", "") or "")
    options = [str(option) for option in getattr(error, "options", None) or []]
    hint = did_you_mean(missing.rsplit("/", 1)[-1], options) if missing and options else ""
    first, _, rest = text.replace("\n\n", "\n").partition("\n")
    return f"{first}{hint}\n{rest}".strip()


def _composition_message(error: Any) -> str:
    text = str(error)
    cause = error.__cause__
    key = getattr(cause, "key", None)
    parent = getattr(cause, "parent_node", None)
    full_key = getattr(cause, "full_key", None)
    if text.startswith("Could not override") and key is not None and parent is not None:
        prefix = full_key.rsplit(".", 1)[0] + "." if full_key and "." in full_key else ""
        candidates = [f"{prefix}{name}" for name in parent]
        hint = did_you_mean(f"{prefix}{key}", candidates)
        first, _, rest = text.partition("\n")
        return f"{first} The config has no key {full_key!r}{hint}. {rest}".strip()
    return text


def resolve(config: Any, *, where: str = "the config") -> dict[str, Any]:
    """The config as plain dicts and lists, interpolations resolved.

    Raises:
        ConfigError: a value is missing (``???``) or an interpolation does not resolve.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    try:
        plain = OmegaConf.to_container(config, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as error:
        key = getattr(error, "full_key", "") or "a key"
        raise ConfigError(
            f"{key} has no value (??? in {where}): set it in a config file or on the command "
            f"line ({key}=...)."
        ) from None
    except OmegaConfBaseException as error:
        raise ConfigError(f"Could not resolve {where}: {error}") from None
    assert isinstance(plain, dict)
    return in_root_order({str(key): value for key, value in plain.items()})


def in_root_order(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config's top-level nodes in the documented order (model, data, trainer, ...), then others.

    >>> list(in_root_order({"hyperlight": {}, "trainer": {}, "model": {}, "x": 1}))
    ['model', 'trainer', 'hyperlight', 'x']
    """
    from pytorch_hyperlight.config.schema import ROOT_KEYS

    known = [key for key in ROOT_KEYS if key in config]
    return {str(key): config[key] for key in known + [k for k in config if k not in ROOT_KEYS]}


def to_config(value: Any) -> Any:
    """A DictConfig from a DictConfig, a dict, or a dataclass config (type or instance)."""
    require_hydra()
    from omegaconf import DictConfig, OmegaConf

    if isinstance(value, DictConfig):
        return value
    if isinstance(value, Mapping):
        return OmegaConf.create(dict(value))
    return OmegaConf.structured(value)


def _select(config: Any, key: str) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.select(config, key, default=_ABSENT, throw_on_missing=False)


def set_values(config: Any, assignments: Sequence[tuple[Any, Any]]) -> Any:
    """A copy of ``config`` with each ``(override, value)`` set, following Hydra's ``+``/``++`` rules.

    ``key=v`` changes an existing key, ``+key=v`` adds a new one, ``++key=v`` does either.

    Raises:
        ConfigError: changing a key that does not exist (closest key, and the ``+`` form), or
            adding one that exists.
    """
    from omegaconf import OmegaConf

    result = copy.deepcopy(config)
    for override, value in assignments:
        key = override.key_or_group
        exists = _select(result, key) is not _ABSENT
        if override.is_add() and exists:
            raise ConfigError(
                f"Could not add +{key}: the config already has {key}. Drop the '+' to change it."
            )
        if not (override.is_add() or override.is_force_add()) and not exists:
            parent_key = key.rpartition(".")[0]
            parent = _select(result, parent_key) if parent_key else result
            names = [
                f"{parent_key}.{k}" if parent_key else str(k)
                for k in getattr(parent, "keys", list)()
            ]
            raise ConfigError(
                f"Could not override {key!r}: the config has no such key{did_you_mean(key, names)}. "
                f"To add a new key use +{key}=..."
            )
        OmegaConf.update(result, key, value, merge=False, force_add=True)
    return result


def is_group(override: Any, groups: Mapping[str, Sequence[str]]) -> bool:
    """Whether an override selects a config group option (``model=cnn``) rather than a value."""
    return str(override.key_or_group) in groups
