"""A LightningModule for classification around any ``nn.Module``, and two ready optimizer set-ups.

:class:`AClassificationTask` does the training, validation and test steps: it runs the model on the
batch, logs ``{stage}_loss`` and the :class:`~pytorch_hyperlight.tasks.metrics_calc.LitMetricsCalc`
metrics (``{stage}_acc``, ``{stage}_f1``, ...) on step and on epoch. A subclass builds the model and
the criterion from ``hparams`` and chooses the optimizer:

- :class:`ClassificationTaskAdamStepLR`: Adam with ``lr``, the rate multiplied by
  ``lr_step_factor`` every ``lr_step_epochs`` epochs.
- :class:`ClassificationTaskAdamWWarmup`: AdamW with ``lr``, a linear warm-up over ``warmup`` steps,
  then a linear decay to 0 at ``n_train_steps`` (injected by the Runner).

The base class is ``pytorch_lightning.LightningModule`` (the original's namespace), so these modules
are trained by ``pytorch_lightning.Trainer``; the Runner picks that namespace by itself.

Example:
    >>> from torch import nn
    >>> class LitDigits(ClassificationTaskAdamWWarmup):
    ...     def __init__(self, hparams):
    ...         model = nn.Linear(64, hparams["n_classes"])
    ...         super().__init__(hparams, model, nn.CrossEntropyLoss())
    >>> module = LitDigits({"n_classes": 10, "lr": 1e-3, "warmup": 10, "metric_list": ["acc"]})
    >>> module.val_metric_calc.metric_names
    ['acc']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.types import OptimizerLRScheduler
from torch import nn

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.tasks.hparams import require_hparams, step_lr_arguments
from pytorch_hyperlight.tasks.metrics_calc import LitMetricsCalc
from pytorch_hyperlight.tasks.schedules import get_linear_schedule_with_warmup

#: A loss: ``criterion(logits, target) -> scalar tensor`` (``nn.CrossEntropyLoss()``, ...).
Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class AClassificationTask(pl.LightningModule):
    """Training, validation and test steps of a classifier; subclasses add ``configure_optimizers``.

    Each step logs ``{stage}_loss`` and the metrics of ``hparams["metric_list"]`` (default
    ``["acc", "f1"]``) with ``on_step=True, on_epoch=True``, so the epoch values are
    ``val_f1_epoch``, ``val_loss_epoch``, ... .

    Override :meth:`_forward_batch` and :meth:`_get_target_from_batch` for batches that are not
    ``(inputs, target)`` pairs.

    Args:
        hparams: the config; needs ``n_classes`` (plus the keys of the optimizer set-up, see
            :attr:`required_hparams`); optional ``metric_list``. Saved with
            ``save_hyperparameters``, so ``self.hparams.lr`` etc. work.
        model: the network; its output is the logits.
        criterion: the loss, called as ``criterion(logits, target)``.

    Raises:
        ConfigError: a key the task reads is missing, or ``n_classes``/``metric_list`` is invalid.
    """

    #: The config keys this class reads (checked in ``__init__``).
    required_hparams: ClassVar[tuple[str, ...]] = ("n_classes",)

    def __init__(self, hparams: Mapping[str, Any], model: nn.Module, criterion: Criterion) -> None:
        super().__init__()
        if not isinstance(hparams, Mapping):
            raise ConfigError(
                f"{type(self).__name__} takes the config dict as hparams, got "
                f"{type(hparams).__name__}. Call super().__init__(hparams, model, criterion)."
            )
        self._check_hparams(hparams)
        self.save_hyperparameters(dict(hparams))
        self.model = model
        self.criterion = criterion
        metric_kwargs = {}
        if "metric_list" in self.hparams:
            metric_kwargs["metric_list"] = self.hparams["metric_list"]
        n_classes = self.hparams["n_classes"]
        self.train_metric_calc = LitMetricsCalc("train", num_classes=n_classes, **metric_kwargs)
        self.val_metric_calc = LitMetricsCalc("val", num_classes=n_classes, **metric_kwargs)
        self.test_metric_calc = LitMetricsCalc("test", num_classes=n_classes, **metric_kwargs)

    def _check_hparams(self, hparams: Mapping[str, Any]) -> None:
        """Raise a ConfigError for a missing or invalid key (extend it for keys of a subclass)."""
        require_hparams(hparams, self.required_hparams, owner=type(self).__name__)

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """Abstract: a subclass returns its optimizer (and scheduler)."""
        raise NotImplementedError(
            f"{type(self).__name__} must define configure_optimizers, or subclass a ready task such "
            "as ClassificationTaskAdamWWarmup or ClassificationTaskAdamStepLR."
        )

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The model's logits."""
        return self.model(*args, **kwargs)

    def _forward_batch(self, batch: Any) -> torch.Tensor:
        """The logits of a batch (default: the model applied to ``batch[0]``)."""
        return self(batch[0])

    @staticmethod
    def _get_target_from_batch(batch: Any) -> torch.Tensor:
        """The true classes of a batch (default: ``batch[1]``)."""
        return batch[1]

    def _n_train_steps(self) -> int:
        """Optimizer steps of the whole training: ``n_train_steps`` (from the Runner) or the Trainer's."""
        if "n_train_steps" in self.hparams:
            return int(self.hparams["n_train_steps"])
        estimated = self.trainer.estimated_stepping_batches
        if not math.isfinite(estimated):
            raise ConfigError(
                f"{type(self).__name__} cannot size its learning-rate schedule: the config has no "
                "'n_train_steps' and the Trainer has no max_epochs or max_steps. Train it with the "
                "Runner (which adds 'n_train_steps'), or add 'n_train_steps' to the config."
            )
        return int(estimated)

    def _stage_step(self, metric_calc: LitMetricsCalc, batch: Any, stage: str) -> torch.Tensor:
        logits = self._forward_batch(batch)
        target = self._get_target_from_batch(batch)
        batch_size = len(target)
        self.log_dict(
            metric_calc.step(logits, target),
            prog_bar=True,
            on_step=True,
            on_epoch=True,
            batch_size=batch_size,
        )
        loss = self.criterion(logits, target)
        self.log(
            f"{stage}_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=batch_size
        )
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Loss of one training batch; logs ``train_loss`` and the ``train_*`` metrics."""
        return self._stage_step(self.train_metric_calc, batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Loss of one validation batch; logs ``val_loss`` and the ``val_*`` metrics."""
        return self._stage_step(self.val_metric_calc, batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Loss of one test batch; logs ``test_loss`` and the ``test_*`` metrics."""
        return self._stage_step(self.test_metric_calc, batch, "test")


class ClassificationTaskAdamStepLR(AClassificationTask):
    """Adam on the model's parameters; the rate times ``lr_step_factor`` every ``lr_step_epochs``.

    Config keys: ``n_classes``, ``lr``, ``lr_step_epochs`` and ``lr_step_factor`` (the original's;
    ``step_lr_step_size`` and ``step_lr_gamma``, the auto-head tasks' names, are accepted instead).
    """

    required_hparams: ClassVar[tuple[str, ...]] = ("n_classes", "lr")

    def _check_hparams(self, hparams: Mapping[str, Any]) -> None:
        super()._check_hparams(hparams)
        step_lr_arguments(hparams, owner=type(self).__name__)

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """``torch.optim.Adam`` and a per-epoch ``StepLR``."""
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.hparams["lr"])
        step_size, gamma = step_lr_arguments(self.hparams, owner=type(self).__name__)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch", "frequency": 1},
        }


class ClassificationTaskAdamWWarmup(AClassificationTask):
    """AdamW on the model's parameters; a linear warm-up over ``warmup`` steps, then a linear decay.

    The rate reaches ``lr`` after ``warmup`` optimizer steps and 0 at ``n_train_steps`` (which the
    Runner adds to the config; with a plain Trainer, the Trainer's estimate is used), stepping per
    batch. The optimizer is ``torch.optim.AdamW`` with the original ``transformers.AdamW``'s
    defaults (``eps=1e-6``, no weight decay).

    Config keys: ``n_classes``, ``lr``, ``warmup``.
    """

    required_hparams: ClassVar[tuple[str, ...]] = ("n_classes", "lr", "warmup")

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """``torch.optim.AdamW`` and a per-step linear warm-up/decay schedule."""
        optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=self.hparams["lr"], eps=1e-6, weight_decay=0.0
        )
        scheduler = get_linear_schedule_with_warmup(
            optimizer, self.hparams["warmup"], self._n_train_steps()
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
        }
