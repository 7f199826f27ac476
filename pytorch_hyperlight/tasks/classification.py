"""Classification tasks: ready LightningModules for classifiers (the original's import path).

``from pytorch_hyperlight.tasks.classification import ClassificationTaskAdamWWarmup`` works as in
pytorch-hyperlight 0.3.0, on Lightning 2 and torchmetrics 1.x, without transformers. The code lives in
small modules next to this one:

- :mod:`~pytorch_hyperlight.tasks.metrics_calc`: :class:`LitMetricsCalc`, per-stage metrics.
- :mod:`~pytorch_hyperlight.tasks.classification_task`: :class:`AClassificationTask` and the
  ready :class:`ClassificationTaskAdamStepLR` and :class:`ClassificationTaskAdamWWarmup`.
- :mod:`~pytorch_hyperlight.tasks.auto_head`: :class:`FCClassifier` and the tasks that put it on a
  pre-trained model, with their own learning rates and weight decay per parameter group.
- :mod:`~pytorch_hyperlight.tasks.schedules`: :func:`get_linear_schedule_with_warmup`.

Example:
    >>> from torch import nn
    >>> class LitDigits(ClassificationTaskAdamStepLR):
    ...     def __init__(self, hparams):
    ...         model = nn.Linear(64, hparams["n_classes"])
    ...         super().__init__(hparams, model, nn.CrossEntropyLoss())
    >>> config = {"n_classes": 10, "lr": 1e-3, "lr_step_epochs": 3, "lr_step_factor": 0.5}
    >>> LitDigits(config).hparams.lr
    0.001
"""

from __future__ import annotations

from pytorch_hyperlight.tasks.auto_head import (
    AAutoClsHeadClassificationTaskWDAdamWStepLR,
    AAutoClsHeadClassificationTaskWDAdamWWarmup,
    AAutoClsHeadClassificationWeightDecayTask,
    FCClassifier,
)
from pytorch_hyperlight.tasks.classification_task import (
    AClassificationTask,
    ClassificationTaskAdamStepLR,
    ClassificationTaskAdamWWarmup,
)
from pytorch_hyperlight.tasks.metrics_calc import LitMetricsCalc
from pytorch_hyperlight.tasks.schedules import get_linear_schedule_with_warmup

__all__ = [
    "AAutoClsHeadClassificationTaskWDAdamWStepLR",
    "AAutoClsHeadClassificationTaskWDAdamWWarmup",
    "AAutoClsHeadClassificationWeightDecayTask",
    "AClassificationTask",
    "ClassificationTaskAdamStepLR",
    "ClassificationTaskAdamWWarmup",
    "FCClassifier",
    "LitMetricsCalc",
    "get_linear_schedule_with_warmup",
]
