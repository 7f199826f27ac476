"""The command line: ``hyperlight run|tune|show [--config-dir DIR] [--multirun] [OVERRIDE ...]``.

Also ``python -m pytorch_hyperlight ...``. Hydra composes the config from the directory (config
groups, defaults lists, interpolation, ``+key``/``~key``, ``_global_`` experiment configs); the
Runner trains it. Every check runs before any training: bad YAML, unknown keys, bad sweeps,
``_target_`` paths that do not import, a sweep given to ``run``.

Exit status: 0 done, 1 a config or run error (the message says what to fix), 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMANDS = {
    "run": "train one config; re-validate and test its best checkpoint",
    "tune": "search the sweeps (command line and search.params); test the best trial",
    "show": "print the resolved config and the parsed search space; nothing runs",
}
USAGE = (
    "usage: hyperlight {run,tune,show} [--config-dir DIR] [--config-name NAME] [--multirun] "
    "[OVERRIDE ...]"
)
_OPTIONS = """options:
  --config-dir DIR, -cd DIR     the config directory (default: ./conf)
  --config-name NAME, -cn NAME  its primary config (default: config, i.e. config.yaml)
  --multirun, -m                Hydra's outer loop: one whole run (or search) per combination of
                                the swept values, e.g. --multirun hyperlight.seed=1,2
  --help, -h                    this help; with a config directory, its groups and config

overrides (Hydra's grammar):
  key=value  +key=value (add)  ++key=value (add or change)  ~key (delete)
  group=option  +experiment=name (a # @package _global_ config)
  sweeps (tune): a,b,c  choice(a,b)  range(1,4)  interval(0,1)  int(interval(1,8))
                 tag(log, interval(1e-5,1e-3))"""


class UsageError(Exception):
    """The command line itself is wrong (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit; the caller decides
        raise UsageError(message)


@dataclass(frozen=True)
class Arguments:
    """The parsed command line."""

    command: str | None
    config_dir: str | None
    config_name: str
    multirun: bool
    help: bool
    overrides: tuple[str, ...]


def parse_arguments(argv: Sequence[str]) -> Arguments:
    """Parse the command line (options and overrides may be mixed).

    >>> parse_arguments(["tune", "--config-dir", "conf", "model=cnn", "-m", "seed=1,2"]).overrides
    ('model=cnn', 'seed=1,2')
    """
    parser = _Parser(prog="hyperlight", add_help=False)
    parser.add_argument("--config-dir", "-cd")
    parser.add_argument("--config-name", "-cn", default="config")
    parser.add_argument("--multirun", "-m", action="store_true")
    parser.add_argument("--help", "-h", action="store_true")
    parser.add_argument("words", nargs="*")
    namespace = parser.parse_intermixed_args(list(argv))
    words = list(namespace.words)
    command = words.pop(0) if words and words[0] in COMMANDS else None
    if command is None and words and "=" not in words[0] and not words[0].startswith("~"):
        from pytorch_hyperlight.config.schema import did_you_mean

        raise UsageError(f"unknown command {words[0]!r}{did_you_mean(words[0], list(COMMANDS))}")
    if command is None and not namespace.help:
        raise UsageError("say what to do: run, tune or show")
    return Arguments(
        command,
        namespace.config_dir,
        namespace.config_name,
        namespace.multirun,
        namespace.help,
        tuple(words),
    )


def _help(arguments: Arguments) -> str:
    from pytorch_hyperlight.config.render import framework_settings_table

    commands = "\n".join(f"  {name:<6} {text}" for name, text in COMMANDS.items())
    sections = [
        "hyperlight: train and tune PyTorch Lightning models from Hydra config files.",
        USAGE,
        f"commands:\n{commands}",
        _OPTIONS,
    ]
    if arguments.config_dir is not None or Path("conf").is_dir():
        sections += _config_help(arguments)
    else:
        sections.append("(pass --config-dir DIR to list its config groups and its config)")
    sections.append(
        "== Framework settings ==\nSet them in the config or on the command line "
        "(hyperlight.seed=1)\n\n" + framework_settings_table()
    )
    return "\n\n".join(sections)


def _config_help(arguments: Arguments) -> list[str]:
    from pytorch_hyperlight.config import compose as composing
    from pytorch_hyperlight.config._hydra import config_groups
    from pytorch_hyperlight.config.render import config_yaml, groups_section

    plain = [word for word in arguments.overrides if not _is_sweep(word)]
    from pytorch_hyperlight.config.commands import config_directory

    with composing.config_dir_session(config_directory(arguments)):
        groups = config_groups()
        config = composing.compose(arguments.config_name, plain)
        from omegaconf import OmegaConf

        text = config_yaml(OmegaConf.to_container(config, resolve=False))  # type: ignore[arg-type]
    return [
        groups_section(groups),
        "== Config ==\nOverride anything in the config (foo.bar=value)\n\n" + text,
    ]


def _is_sweep(text: str) -> bool:
    from pytorch_hyperlight.config.sweeps import parse_override

    return bool(parse_override(text).is_sweep_override())


def _prepare_sys_path() -> None:
    # `_target_: my_package.Model` names the user's code next to the config, as with
    # `python train.py`; a console script does not put the working directory on sys.path.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 1 for a config error, 2 for usage)."""
    from pytorch_hyperlight.errors import HyperlightError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        arguments = parse_arguments(args)
    except UsageError as error:
        print(f"{USAGE}\nhyperlight: error: {error} (hyperlight --help for more)", file=sys.stderr)
        return 2
    _prepare_sys_path()
    try:
        if arguments.help:
            print(_help(arguments))
            return 0
        from pytorch_hyperlight.config._imports import require_hydra

        require_hydra()
        assert arguments.command is not None
        return _commands()[arguments.command](arguments, ("hyperlight", *args))
    except (HyperlightError, ImportError) as error:
        print(f"hyperlight: error: {error}", file=sys.stderr)
        return 1


def _commands() -> dict[str, Callable[[Arguments, tuple[str, ...]], int]]:
    from pytorch_hyperlight.config import commands

    return {"run": commands.run, "tune": commands.tune, "show": commands.show}
