"""The config a run came from, saved in its run directory (runs started from config files).

Runs started by the command line, by :func:`pytorch_hyperlight.config.hyperlight_task` or with a
``config_record`` get these files next to ``run.json``::

    config.yaml                   the resolved config the run ran with; re-run it with
                                  ``hyperlight run --config-dir <run_dir>``
    overrides.yaml                the overrides it was given (command line or hydra_zen.launch)
    command.json                  command line, working directory, config directory and name,
                                  Python and library versions, time
    tune/trial_<id>/config.yaml   search only: each trial's own resolved config

Plain data only (no Hydra or OmegaConf types), so this module imports neither.

Example:
    >>> record = ConfigRecord(
    ...     config={"model": {"lr": 0.1}, "search": {"params": {"model.lr": "interval(0, 1)"}}},
    ...     trial_bases={"": {"model": {"lr": 0.0}}},
    ...     searched={"model.lr": ("lr",)},
    ... )
    >>> trial_config(record, {"lr": 0.25})
    {'model': {'lr': 0.25}}
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytorch_hyperlight import files
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.trial.variants import VARIANT_KEY

CONFIG_FILE = "config.yaml"
OVERRIDES_FILE = "overrides.yaml"
COMMAND_FILE = "command.json"

#: Distributions whose versions go into command.json.
_VERSIONED = (
    "pytorch-hyperlight",
    "torch",
    "lightning",
    "pytorch-lightning",
    "ray",
    "hyperopt",
    "hydra-core",
    "hydra-zen",
    "omegaconf",
)


@dataclass(frozen=True)
class ConfigRecord:
    """What to save about the config a run came from.

    Attributes:
        config: the resolved config, plain dicts and lists (``model``, ``data``, ``trainer``,
            ``hyperlight``, ``runner``, ``search``).
        overrides: the overrides as given (``["model=cnn", "data.batch_size=32"]``).
        command: the command line (``sys.argv``), or None outside a command line.
        config_dir: the config directory the config was composed from, if any.
        config_name: the primary config's name, if any.
        trial_bases: search only: each config variant's resolved config (key ``""`` without a
            config-group sweep); a trial's config is its variant's with the trial's values set.
        searched: search only: each searched config key (``"model.lr"``) and where the trial's
            parameters hold its value (``("lr",)``).
        variant_key: the trial parameter that names a trial's variant.
    """

    config: Mapping[str, Any]
    overrides: tuple[str, ...] = ()
    command: tuple[str, ...] | None = None
    config_dir: str | None = None
    config_name: str | None = None
    trial_bases: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    searched: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    variant_key: str = VARIANT_KEY


def _lookup(values: Mapping[str, Any], path: Sequence[str]) -> Any:
    for part in path:
        values = values[part]
    return values


def _assign(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.lstrip("+").split(".")
    for part in parents:
        values = values.setdefault(part, {})
    values[last] = value


def trial_config(record: ConfigRecord, params: Mapping[str, Any]) -> dict[str, Any]:
    """One trial's resolved config: its variant's config with the trial's searched values set.

    Args:
        record: the search's record.
        params: the trial's parameters as Ray Tune recorded them.
    """
    import copy

    variant = str(params.get(record.variant_key, ""))
    base = record.trial_bases.get(variant) or record.trial_bases.get("") or record.config
    config = copy.deepcopy(dict(base))
    config.pop("search", None)
    for key, path in record.searched.items():
        try:
            value = _lookup(params, path)
        except (KeyError, TypeError):
            continue
        _assign(config, key, copy.deepcopy(value))
    return config


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def to_yaml(data: Any, **options: Any) -> str:
    """YAML of plain data; any other value (a ``Path``, an enum member) is written as its ``str``.

    >>> from pathlib import PurePosixPath
    >>> print(to_yaml({"root": PurePosixPath("/data"), "n": [1, 2]}), end="")
    root: /data
    n:
    - 1
    - 2
    """
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_multi_representer(object, lambda dumper, value: dumper.represent_str(str(value)))
    settings = {"sort_keys": False, "default_flow_style": False, "allow_unicode": True, **options}
    return yaml.dump(data, Dumper=Dumper, **settings)


def save_config_record(
    run_dir: Path,
    record: ConfigRecord | None,
    trials: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write the record's files into ``run_dir`` (nothing when ``record`` is None).

    Args:
        run_dir: the run's directory.
        record: what to save.
        trials: search only, after the search: each trial's parameters by trial id; each trial's
            resolved config goes into ``run_dir/tune/trial_<id>/config.yaml``.
    """
    if record is None:
        return
    run_dir = Path(run_dir)
    if trials is not None:
        for trial_id, params in trials.items():
            trial_dir = run_dir / run_dirs.TUNE_DIR / f"trial_{trial_id}"
            if trial_dir.is_dir():
                text = to_yaml(trial_config(record, params))
                files.write_text_atomic(trial_dir / CONFIG_FILE, text)
        return
    files.write_text_atomic(run_dir / CONFIG_FILE, to_yaml(dict(record.config)))
    files.write_text_atomic(run_dir / OVERRIDES_FILE, to_yaml(list(record.overrides)))
    files.write_json_atomic(
        run_dir / COMMAND_FILE,
        {
            "command": list(record.command) if record.command is not None else None,
            "cwd": os.getcwd(),
            "config_dir": record.config_dir,
            "config_name": record.config_name,
            "executable": sys.executable,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "versions": _versions(),
        },
    )
