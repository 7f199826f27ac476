"""Metric names: stage prefixes, ``_epoch``/``_step`` suffixes and resolving ``metric_to_optimize``.

Lightning names a metric logged with ``on_step=True, on_epoch=True`` twice: ``x_step`` (one value per
batch) and ``x_epoch`` (the epoch aggregate); a metric logged once per epoch keeps its plain name
``x``. The library keeps epoch values only and names them *canonically*, without the suffix::

    val_f1_epoch -> val_f1        val_loss -> val_loss        train_loss_step -> (ignored)

Every metric name starts with its stage: ``train_``, ``val_`` or ``test_`` (the seed README's
convention). Everything here is pure: no Lightning, no I/O.

Example:
    >>> canonical_name("val_f1_epoch")
    'val_f1'
    >>> canonical_name("train_loss_step") is None
    True
    >>> stage_of("val_f1")
    'val'
    >>> resolve_metric("val_f1_epoch", {"val_f1": "val_f1_epoch", "train_loss": "train_loss_epoch"})
    ResolvedMetric(monitor='val_f1_epoch', metric='val_f1')
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from pytorch_hyperlight.errors import MetricError

#: The stages a metric name may start with, in display order.
STAGES = ("train", "val", "test")
EPOCH_SUFFIX = "_epoch"
STEP_SUFFIX = "_step"


class ResolvedMetric(NamedTuple):
    """``metric_to_optimize`` matched to what the module logs.

    Attributes:
        monitor: the key as Lightning logs it (``val_f1_epoch``), for ModelCheckpoint/EarlyStopping.
        metric: the canonical name (``val_f1``), for tables, plots and run.json.
    """

    monitor: str
    metric: str


def canonical_name(logged_name: str) -> str | None:
    """The canonical name of a logged epoch-level metric; ``None`` for a per-step value.

    >>> canonical_name("val_acc_epoch"), canonical_name("val_acc"), canonical_name("val_acc_step")
    ('val_acc', 'val_acc', None)
    """
    if logged_name.endswith(STEP_SUFFIX):
        return None
    if logged_name.endswith(EPOCH_SUFFIX):
        return logged_name[: -len(EPOCH_SUFFIX)]
    return logged_name


def base_name(logged_name: str) -> str:
    """The name without an ``_epoch`` or ``_step`` suffix (for checks on every logged name).

    >>> base_name("train_loss_step"), base_name("train_loss_epoch"), base_name("train_loss")
    ('train_loss', 'train_loss', 'train_loss')
    """
    for suffix in (EPOCH_SUFFIX, STEP_SUFFIX):
        if logged_name.endswith(suffix):
            return logged_name[: -len(suffix)]
    return logged_name


def stage_of(name: str) -> str | None:
    """``'train'``, ``'val'`` or ``'test'`` from the name's prefix; ``None`` without a valid prefix.

    >>> stage_of("test_f1"), stage_of("validation_f1"), stage_of("lr")
    ('test', None, None)
    """
    for stage in STAGES:
        if name.startswith(stage + "_") and len(name) > len(stage) + 1:
            return stage
    return None


def canonicalize(logged: Mapping[str, float]) -> dict[str, float]:
    """Epoch-level values keyed by canonical name; ``_step`` entries are dropped.

    When both ``x`` and ``x_epoch`` are present (Lightning's callback metrics hold both for a metric
    logged on step and on epoch) the ``x_epoch`` value wins, since plain ``x`` may be a step value.

    >>> canonicalize({"val_acc_epoch": 0.9, "val_acc": 0.5, "val_acc_step": 0.1, "val_loss": 0.3})
    {'val_acc': 0.9, 'val_loss': 0.3}
    """
    result: dict[str, float] = {}
    for name, value in logged.items():
        canonical = canonical_name(name)
        if canonical is None:
            continue
        if name.endswith(EPOCH_SUFFIX) or canonical not in result:
            result[canonical] = value
    return result


def names_without_stage(names: Iterable[str]) -> list[str]:
    """The names (suffixes removed, each once, sorted) that lack a ``train_``/``val_``/``test_`` prefix.

    >>> names_without_stage(["train_loss_step", "lr", "val_acc", "accuracy_epoch", "lr"])
    ['accuracy', 'lr']
    """
    return sorted({base_name(name) for name in names if stage_of(base_name(name)) is None})


def check_stage_prefixes(logged_names: Iterable[str]) -> None:
    """Raise :class:`MetricError` naming every logged metric without a stage prefix.

    >>> check_stage_prefixes(["train_loss_epoch", "val_acc"])
    >>> check_stage_prefixes(["train_loss", "accuracy"])
    Traceback (most recent call last):
    ...
    pytorch_hyperlight.errors.MetricError: Logged metric names must start with 'train_', 'val_' or 'test_', but the module logs: 'accuracy'. ...
    """
    offenders = names_without_stage(logged_names)
    if offenders:
        listed = ", ".join(repr(name) for name in offenders)
        raise MetricError(
            f"Logged metric names must start with 'train_', 'val_' or 'test_', but the module logs: "
            f"{listed}. Rename them in your LightningModule's self.log(...) calls, e.g. "
            f"'{offenders[0]}' -> 'val_{offenders[0]}' when it is logged during validation."
        )


def resolve_metric(
    metric_to_optimize: str, epoch_metrics: Mapping[str, str], *, hint: str = ""
) -> ResolvedMetric:
    """Match ``metric_to_optimize`` (with or without ``_epoch``) to the module's epoch metrics.

    Args:
        metric_to_optimize: the user's setting, e.g. ``'val_f1_epoch'`` or ``'val_f1'``.
        epoch_metrics: canonical name -> key as logged (``{'val_f1': 'val_f1_epoch'}``), for the
            metrics logged with ``on_epoch=True`` during training and validation.
        hint: an extra sentence for the error message (e.g. which loaders were used).

    Returns:
        The logged key to monitor and the canonical name.

    Raises:
        MetricError: the metric is a per-step value, or is not logged at epoch level; the message lists
            the logged metrics and the closest match.

    >>> resolve_metric("val_loss", {"val_loss": "val_loss"}).monitor
    'val_loss'
    >>> resolve_metric("val_f1", {"val_f1": "val_f1_epoch"}).monitor
    'val_f1_epoch'
    """
    available = sorted(epoch_metrics)
    listed = ", ".join(repr(name) for name in available) or "none"
    if metric_to_optimize.endswith(STEP_SUFFIX):
        suggestion = base_name(metric_to_optimize)
        raise MetricError(
            f"metric_to_optimize={metric_to_optimize!r} is a per-step value; only epoch values are "
            f"used to pick the best epoch. Use {suggestion!r} (or {suggestion + EPOCH_SUFFIX!r}). "
            f"Epoch metrics logged by the module: {listed}."
        )
    canonical = canonical_name(metric_to_optimize)
    if canonical is not None and canonical in epoch_metrics:
        return ResolvedMetric(monitor=epoch_metrics[canonical], metric=canonical)
    if (canonical or metric_to_optimize).startswith("test_"):
        validation = "val_" + (canonical or metric_to_optimize).removeprefix("test_")
        raise MetricError(
            f"metric_to_optimize={metric_to_optimize!r} is a test metric: it is logged only when the "
            "best checkpoint is tested after training, so it cannot select epochs or trials. "
            f"Optimise a val_ metric (e.g. {validation!r}); epoch metrics logged: {listed}."
        )
    close = difflib.get_close_matches(canonical or metric_to_optimize, available, n=1, cutoff=0.6)
    did_you_mean = f" Did you mean {close[0]!r}?" if close else ""
    raise MetricError(
        f"metric_to_optimize={metric_to_optimize!r} is not logged at epoch level by the module."
        f"{did_you_mean} Epoch metrics it logs during training and validation: {listed}. "
        "Log it with self.log(name, value, on_epoch=True) or set metric_to_optimize to one of these."
        + (f" {hint}" if hint else "")
    )
