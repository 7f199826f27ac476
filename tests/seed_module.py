"""The seed README's module, callback and configs (steps 1-3), on digits instead of MNIST.

Written as the seed README writes them, modernised only where Lightning 2 forces it:

- scikit-learn's bundled 8x8 digits (64 inputs) instead of MNIST (no downloads here): the loader
  function is the example's own, :func:`examples.digits.configure_dataloaders`;
- ``torchmetrics`` instead of ``pytorch_lightning.metrics``;
- ``torch.optim.AdamW`` and a linear warm-up ``LambdaLR`` instead of ``transformers``' ``AdamW`` and
  ``get_linear_schedule_with_warmup``;
- ``self.save_hyperparameters(hparams)`` instead of ``self.hparams = hparams``;
- ``on_train_epoch_start`` instead of ``on_epoch_start`` (which Lightning 2 never calls).

The module freezes every layer in ``__init__``; :class:`UnfreezeModelTailCallback` unfreezes the
tail at the start of each epoch. Kept in an importable module so that Ray workers can load it.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchmetrics
from pytorch_lightning import Callback

from examples.digits import configure_dataloaders

__all__ = [
    "CONFIG",
    "EXPERIMENT_ID",
    "EXTRA_CONFIG",
    "LMODULE_CLASS",
    "N_CLASSES",
    "BoringDigits",
    "LitBoringDigits",
    "UnfreezeModelTailCallback",
    "configure_dataloaders",
    "linear_schedule_with_warmup",
    "search_space_config",
]

EXPERIMENT_ID = "boring-digits"
N_CLASSES = 10
N_FEATURES = 8 * 8


def linear_schedule_with_warmup(
    optimizer: torch.optim.Optimizer, n_warmup_steps: int, n_training_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """``transformers.get_linear_schedule_with_warmup``: 0 -> lr over the warm-up, then down to 0."""

    def factor(step: int) -> float:
        if step < n_warmup_steps:
            return step / max(1, n_warmup_steps)
        return max(0.0, (n_training_steps - step) / max(1, n_training_steps - n_warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class LitMetricsCalc(torch.nn.Module):
    def __init__(self, prefix: str, num_classes: int) -> None:
        super().__init__()
        kwargs: dict[str, Any] = {"task": "multiclass", "num_classes": num_classes}
        self.acc = torchmetrics.Accuracy(**kwargs)
        self.f1 = torchmetrics.F1Score(average="macro", **kwargs)
        self.rec = torchmetrics.Recall(average="macro", **kwargs)
        self.prec = torchmetrics.Precision(average="macro", **kwargs)
        self.prefix = prefix

    def step(self, logit: torch.Tensor, target: torch.Tensor) -> dict[str, Any]:
        probs = torch.softmax(logit, dim=1)
        prefix = self.prefix
        self.acc(probs, target)
        self.f1(probs, target)
        self.prec(probs, target)
        self.rec(probs, target)

        return {
            f"{prefix}_acc": self.acc,
            f"{prefix}_f1": self.f1,
            f"{prefix}_prec": self.prec,
            f"{prefix}_rec": self.rec,
        }


class BoringDigits(torch.nn.Module):
    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.l0 = torch.nn.Linear(N_FEATURES, 256)
        self.l1 = torch.nn.Linear(256, 128)
        self.l2 = torch.nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.size(0), -1)
        x = torch.relu(self.l0(x))
        x = torch.relu(self.l1(x))
        x = torch.relu(self.l2(x))
        return x


class LitBoringDigits(pl.LightningModule):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters(hparams)

        n_classes = self.hparams.n_classes

        model = BoringDigits(n_classes)

        self.model = model
        self.train_metric_calc = LitMetricsCalc("train", num_classes=n_classes)
        self.val_metric_calc = LitMetricsCalc("val", num_classes=n_classes)
        self.test_metric_calc = LitMetricsCalc("test", num_classes=n_classes)
        self.freeze()

    def freeze(self) -> None:
        for param in self.model.parameters():
            param.requires_grad = False

    def unfreeze(self) -> None:
        for param in self.model.parameters():
            param.requires_grad = True

    def unfreeze_tail(self, ind_layer: int) -> None:
        assert ind_layer >= 0
        ind = ind_layer
        while True:
            if ind == 0:
                for param in self.model.l2.parameters():
                    param.requires_grad = True
            elif ind == 1:
                for param in self.model.l1.parameters():
                    param.requires_grad = True
            elif ind == 2:
                for param in self.model.l0.parameters():
                    param.requires_grad = True
            ind -= 1
            if ind < 0:
                break

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=self.hparams.lr,
            betas=(0.9, 0.999),
            eps=1e-8,
        )

        scheduler = linear_schedule_with_warmup(
            optimizer, self.hparams.warmup, self.hparams.n_train_steps
        )
        return [optimizer], [{"scheduler": scheduler, "interval": "step", "frequency": 1}]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits = self.model(inputs)
        return logits

    def forward_batch(self, batch: Any) -> torch.Tensor:
        inputs = batch[0]
        return self(inputs)

    def __calc_loss(self, logits: torch.Tensor, target: torch.Tensor, log_label: str) -> Any:
        loss = F.cross_entropy(logits, target)
        self.log(
            f"{log_label}_loss",
            loss,
            prog_bar=True,
            on_step=True,
            on_epoch=True,
        )
        return loss

    def __stage_step(self, metric_calc: LitMetricsCalc, batch: Any, batch_idx: int, stage: str):
        logits = self.forward_batch(batch)
        mval_dict = metric_calc.step(logits, batch[1])
        self.log_dict(mval_dict, prog_bar=True, on_step=True, on_epoch=True)
        loss = self.__calc_loss(logits, batch[1], stage)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        return self.__stage_step(self.train_metric_calc, batch, batch_idx, "train")

    def test_step(self, batch: Any, batch_idx: int) -> Any:
        return self.__stage_step(self.test_metric_calc, batch, batch_idx, "test")

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return self.__stage_step(self.val_metric_calc, batch, batch_idx, "val")


LMODULE_CLASS = LitBoringDigits


class UnfreezeModelTailCallback(Callback):
    def __init__(self, epoch_vec: list[int]) -> None:
        super().__init__()
        self.epoch_vec = epoch_vec

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch <= self.epoch_vec[0]:
            pl_module.unfreeze_tail(0)
        elif trainer.current_epoch <= self.epoch_vec[1]:
            pl_module.unfreeze_tail(1)
        else:
            pl_module.unfreeze()


CONFIG: dict[str, Any] = {
    "lr": 6.2e-5,  # Initial learning rate
    "warmup": 200,  # For LinearSchedulerWihtWarmup
    "gradient_clip_val": 0,
    "max_epochs": 30,  # the actual number can be less due to early stopping
    "batch_size": 64,
    "n_classes": N_CLASSES,
    "unfreeze_epochs": [0, 1],  # 2-phase unfreeze,
    #    unfreeze the tip of the tail at the start of epoch 0,
    #    then unfreeze one more layer at epoch 1,
}

EXTRA_CONFIG: dict[str, Any] = {
    "seed": 16,  # just remove this if you do not want determenistic behavior
    "metric_to_optimize": "val_f1_epoch",  # Ray + PTL Trainer
    "ray_metrics_to_show": [
        "val_loss_epoch",
        "val_f1_epoch",
        "val_acc_epoch",
    ],  # for Ray Tune
    "metric_opt_mode": "max",  # Ray + PTL Trainer
    "cpu_per_trial": 3,  # Ray + DataLoaders
    "gpu_per_trial": 0.3 * torch.cuda.is_available(),  # for Ray Tune
    "n_checkpoints_to_keep": 1,  # for Ray Tune
    "grace_period": 6,  # for Ray Tune
    "epoch_upper_limit": 45,  # for Ray Tune
    "n_samples": 40,  # for Ray Tune
    "ptl_early_stopping_patience": 7,  # for PTL Trainer
    "ptl_early_stopping_grace_period": 7,  # for PTL Trainer
    "ptl_precision": 32,  # or 16, for PTL Trainer
    "train_loader_name": "train_loader",
    "val_loader_name": "val_loader",
    "test_loader_name": "test_loader",
    "batch_size_main": 32,  # batch size for revalidation and test phases
    #    that run in the main process after all Ray Tune child processes are finished
    "gpus": -1,  # -1 - use GPU if available, 0 - use CPU, 1 - use single GPU,
    # >=2 - use multiple GPUs
}


def search_space_config() -> dict[str, Any]:
    """The seed's SEARCH_SPACE_CONFIG (Ray Tune is imported only when a search is set up)."""
    from ray import tune

    return {
        "unfreeze_epochs": [0, 1],
        "lr": tune.uniform(1e-5, 1e-4),
        "warmup": tune.choice([200, 500, 600, 1000]),
        "gradient_clip_val": 0,
        "max_epochs": tune.choice([10, 20, 30]),
        "batch_size": tune.choice([16, 32, 64]),
        "n_classes": N_CLASSES,
    }
