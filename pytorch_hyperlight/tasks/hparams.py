"""The config keys the classification tasks read, checked when the module is built.

A task checks its keys in ``__init__``, so a missing key fails the Runner's one-batch dry run within
seconds, with a message naming the key and an example value, instead of failing in
``configure_optimizers`` after the data is loaded.

Example:
    >>> require_hparams({"lr": 0.1}, ["lr", "warmup"], owner="MyTask")
    Traceback (most recent call last):
    ...
    pytorch_hyperlight.errors.ConfigError: MyTask needs the config key(s) ['warmup']...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytorch_hyperlight.errors import ConfigError

#: An example value for each key a task reads, quoted in the error for a missing key.
EXAMPLE_VALUES: dict[str, Any] = {
    "n_classes": 10,
    "lr": 1e-3,
    "warmup": 100,
    "lr_step_epochs": 3,
    "lr_step_factor": 0.5,
    "classifier_lr": 1e-3,
    "rest_lr": 1e-5,
    "weight_decay": 0.01,
    "no_weight_decay_param_names": ["bias", "LayerNorm.weight"],
    "classifier_dropout": 0.2,
    "step_lr_step_size": 1,
    "step_lr_gamma": 0.6,
}

#: ClassificationTaskAdamStepLR's keys (the original's) and the auto-head tasks' names for the same.
STEP_LR_ALIASES = {"lr_step_epochs": "step_lr_step_size", "lr_step_factor": "step_lr_gamma"}


def require_hparams(hparams: Mapping[str, Any], keys: Sequence[str], *, owner: str) -> None:
    """Raise a :class:`ConfigError` naming every key of ``keys`` that ``hparams`` lacks.

    Args:
        hparams: the module's config.
        keys: the keys ``owner`` reads.
        owner: the class name shown in the message.
    """
    missing = [key for key in keys if key not in hparams]
    if missing:
        examples = ", ".join(f"{key!r}: {EXAMPLE_VALUES.get(key, '...')!r}" for key in missing)
        raise ConfigError(
            f"{owner} needs the config key(s) {missing}, which the config does not contain "
            f"(it has {sorted(map(str, hparams))}). Add them, e.g. {{{examples}}}."
        )


def step_lr_arguments(hparams: Mapping[str, Any], *, owner: str) -> tuple[int, float]:
    """StepLR's ``(step_size, gamma)``: ``lr_step_epochs`` / ``lr_step_factor`` (the original's keys).

    ``step_lr_step_size`` / ``step_lr_gamma`` (the auto-head tasks' names) are accepted instead.

    Raises:
        ConfigError: neither name of a value is given, or both are, with different values.

    >>> step_lr_arguments({"lr_step_epochs": 3, "step_lr_gamma": 0.5}, owner="T")
    (3, 0.5)
    """
    values = []
    for key, alias in STEP_LR_ALIASES.items():
        given = {name: hparams[name] for name in (key, alias) if name in hparams}
        if not given:
            raise ConfigError(
                f"{owner} needs the config key {key!r} (or {alias!r}), which the config does not "
                f"contain. Add e.g. {key!r}: {EXAMPLE_VALUES[key]!r}."
            )
        if len(given) == 2 and hparams[key] != hparams[alias]:
            raise ConfigError(
                f"{owner}: the config gives both {key!r}={hparams[key]!r} and {alias!r}="
                f"{hparams[alias]!r}, which name the same StepLR argument. Keep one of them."
            )
        values.append(next(iter(given.values())))
    return int(values[0]), float(values[1])
