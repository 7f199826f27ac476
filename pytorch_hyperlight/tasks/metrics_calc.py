"""Per-stage classification metrics (accuracy, macro F1, precision, recall) on torchmetrics.

:class:`LitMetricsCalc` is the original's helper, ported to torchmetrics 1.x. One instance per stage
(``train``, ``val``, ``test``) accumulates over an epoch; its :meth:`LitMetricsCalc.step` returns the
torchmetrics objects under ``{prefix}_{name}`` keys, ready for
``self.log_dict(..., on_step=True, on_epoch=True)``: Lightning logs each batch's value as
``{prefix}_{name}_step`` and the value over the whole epoch as ``{prefix}_{name}_epoch``, and resets
the metrics after the epoch.

Logits of shape ``(N,)`` or ``(N, 1)`` are one logit per sample of a binary task (class 1 when its
sigmoid exceeds 0.5); logits of shape ``(N, C)`` are scores of ``C`` classes (the arg-max wins).
Either way F1, precision and recall are macro averages over the classes, as scikit-learn's
``f1_score(..., average="macro")`` computes them (also in the binary case).

Example:
    >>> import torch
    >>> calc = LitMetricsCalc("val", num_classes=3, metric_list=["acc", "rec"])
    >>> values = calc.step(torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0]]), torch.tensor([0, 2]))
    >>> sorted(values), round(float(values["val_acc"].compute()), 2)
    (['val_acc', 'val_rec'], 0.5)
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn
from torchmetrics import Metric
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from pytorch_hyperlight.errors import ConfigError

#: Every metric :class:`LitMetricsCalc` computes, by the short name used in logged keys.
METRIC_NAMES = ("acc", "f1", "prec", "rec")

#: The metrics computed when ``metric_list`` is not given (the original's default).
DEFAULT_METRIC_LIST = ("acc", "f1")


def _build_metric(name: str, num_classes: int) -> Metric:
    if name == "acc":
        # Micro-averaged multiclass accuracy: the fraction of samples classified correctly.
        return MulticlassAccuracy(num_classes=num_classes, average="micro")
    metric_class = {"f1": MulticlassF1Score, "prec": MulticlassPrecision, "rec": MulticlassRecall}
    return metric_class[name](num_classes=num_classes, average="macro")


def _check_metric_list(metric_list: Sequence[str]) -> list[str]:
    if isinstance(metric_list, str) or not isinstance(metric_list, Sequence):
        raise ConfigError(
            f"metric_list must be a list of metric names from {list(METRIC_NAMES)}, "
            f"got {metric_list!r}. Example: metric_list=['acc', 'f1']."
        )
    unknown = [name for name in metric_list if name not in METRIC_NAMES]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(str(name), METRIC_NAMES, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(
            f"Unknown metric name(s) in metric_list: {', '.join(hints)}. "
            f"Choose from {list(METRIC_NAMES)}."
        )
    if not metric_list:
        raise ConfigError(
            f"metric_list is empty: name at least one metric from {list(METRIC_NAMES)}, "
            "or leave it out for the default ['acc', 'f1']."
        )
    return list(dict.fromkeys(metric_list))


def _check_num_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(
            f"num_classes (the config's 'n_classes') must be an int >= 1, got {num_classes!r}. "
            "Use the number of classes; for a binary task with one logit per sample 1 or 2 both work."
        )
    # One logit per sample still means two classes to the metrics.
    return max(num_classes, 2)


class LitMetricsCalc(nn.Module):
    """Classification metrics of one stage, accumulated over an epoch.

    Args:
        prefix: the stage, the first part of each key (``"train"`` gives ``train_acc``, ...).
        num_classes: the number of classes (for a binary task with one logit per sample, 1 or 2).
        metric_list: which metrics to compute, from ``"acc"`` (accuracy), ``"f1"``, ``"prec"``
            (precision) and ``"rec"`` (recall), the last three macro-averaged over the classes.
            Default: ``["acc", "f1"]``, as in the original.

    Raises:
        ConfigError: ``num_classes`` is not an int >= 1; ``metric_list`` names an unknown metric.
    """

    def __init__(
        self, prefix: str, num_classes: int, metric_list: Sequence[str] | None = None
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self.num_classes = _check_num_classes(num_classes)
        names = _check_metric_list(DEFAULT_METRIC_LIST if metric_list is None else metric_list)
        self._metrics_dict = nn.ModuleDict(
            {name: _build_metric(name, self.num_classes) for name in names}
        )

    @property
    def metric_names(self) -> list[str]:
        """The short names of the metrics computed, in the order they are logged."""
        return list(self._metrics_dict.keys())

    def _predicted_classes(self, logits: torch.Tensor) -> torch.Tensor:
        if logits.ndim == 2 and logits.shape[1] == 1:
            logits = logits.squeeze(1)
        if logits.ndim == 1:
            return (torch.sigmoid(logits) > 0.5).long()
        if logits.ndim != 2 or logits.shape[1] != self.num_classes:
            raise ConfigError(
                f"LitMetricsCalc({self.prefix!r}, num_classes={self.num_classes}) expects logits of "
                f"shape (batch, {self.num_classes}), or (batch,) for one logit per sample, got shape "
                f"{tuple(logits.shape)}. Set the config's 'n_classes' to the number of outputs of "
                "the model."
            )
        return torch.softmax(logits, dim=1).argmax(dim=1)

    def step(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, Metric]:
        """Update every metric with one batch; return the metrics keyed ``{prefix}_{name}``.

        Args:
            logits: the model's outputs: ``(N, C)`` class scores, or ``(N,)`` / ``(N, 1)`` logits
                of a binary task.
            target: the ``N`` true class indices (floats 0./1. of a binary task are accepted).

        Returns:
            The torchmetrics objects, for ``LightningModule.log_dict(..., on_step=True,
            on_epoch=True)``; each also gives the epoch value so far with ``.compute()``.
        """
        predicted = self._predicted_classes(logits.detach())
        expected = target.detach().long()
        for metric in self._metrics_dict.values():
            metric(predicted, expected)
        return {f"{self.prefix}_{name}": self._metric(name) for name in self._metrics_dict}

    def _metric(self, name: str) -> Metric:
        return cast(Metric, self._metrics_dict[name])  # every entry comes from _build_metric
