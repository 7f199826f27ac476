"""Tiny LightningModules, loader functions and callbacks shared by the tests (importable by Ray workers).

The seed-style module and loaders are the example's own (``examples/digits.py``); the variants here
cover the other constructor style, the other Lightning namespace and the failure modes.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as lightning_pytorch
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from examples.digits import CONFIG, EXTRA_CONFIG, LitDigits, configure_dataloaders

__all__ = [
    "CONFIG",
    "EXTRA_CONFIG",
    "BadlyNamedMetrics",
    "ConstantValMetric",
    "EpochStartRecorder",
    "LitDigits",
    "LogsInEpochEndHook",
    "NaNAfterEpochs",
    "OldStyleEpochStartCallback",
    "RaisesInTrainingStep",
    "TinyDigits",
    "configure_dataloaders",
    "loaders_named_ldr",
    "loaders_without_val",
    "tiny_config",
]


def tiny_config(**changes: Any) -> dict[str, Any]:
    """A config for :class:`TinyDigits`-style modules: 2 epochs of 5 batches of 256 digits."""
    return {"lr": 0.05, "n_hidden": 16, "max_epochs": 2, "batch_size": 256, **changes}


def loaders_without_val(batch_size: int, n_workers: int = 0) -> dict[str, Any]:
    """The seed's "retrain on the full training data" pattern: train and test loaders, no val."""
    loaders = configure_dataloaders(batch_size, n_workers=n_workers)
    return {
        "train_loader": DataLoader(
            loaders["full_train_dataset"], batch_size=batch_size, shuffle=True
        ),
        "test_loader": loaders["test_loader"],
    }


def loaders_named_ldr(batch_size: int, n_workers: int = 0) -> dict[str, Any]:
    """The original happy-path test's loader names: ``train_ldr``, ``val_ldr``, ``test_ldr``."""
    loaders = configure_dataloaders(batch_size, n_workers=n_workers)
    return {
        **{k: v for k, v in loaders.items() if not k.endswith("_loader")},
        **{k.replace("_loader", "_ldr"): v for k, v in loaders.items() if k.endswith("_loader")},
    }


class TinyDigits(lightning_pytorch.LightningModule):
    """Keyword-argument constructor, ``lightning.pytorch`` namespace, plain ``self.log`` metrics.

    Logs ``train_loss`` on step and epoch, ``train_acc``/``val_loss``/``val_acc``/``test_acc`` on
    epoch only. Keeps the derived ``n_train_steps`` it receives, so tests can check it.
    """

    def __init__(self, lr: float, n_hidden: int = 16, n_train_steps: int | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.lr = lr
        self.n_train_steps = n_train_steps
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, n_hidden), torch.nn.ReLU(), torch.nn.Linear(n_hidden, 10)
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(inputs)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def _accuracy(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (logits.argmax(dim=1) == target).float().mean()

    def loss(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch[0])
        return F.cross_entropy(logits, batch[1]), self._accuracy(logits, batch[1])

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, acc = self.loss(batch)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        self.log("train_acc", acc, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        loss, acc = self.loss(batch)
        self.log("val_loss", loss)
        self.log("val_acc", acc)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        loss, acc = self.loss(batch)
        self.log("test_loss", loss)
        self.log("test_acc", acc)


class ConstantValMetric(TinyDigits):
    """Logs ``val_const`` = 1.0 every epoch: a monitored metric that never improves."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        super().validation_step(batch, batch_idx)
        self.log("val_const", 1.0)


class LogsInEpochEndHook(TinyDigits):
    """Also logs ``train_epoch_number`` from its own ``on_train_epoch_end`` hook."""

    def on_train_epoch_end(self) -> None:
        self.log("train_epoch_number", float(self.current_epoch))


class BadlyNamedMetrics(TinyDigits):
    """Logs ``accuracy`` and ``loss_step_mean``: names without a stage prefix."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, acc = self.loss(batch)
        self.log("train_loss", loss)
        self.log("accuracy", acc)
        self.log("loss_mean", loss, on_step=True, on_epoch=True)
        return loss


class NaNAfterEpochs(TinyDigits):
    """Its training loss becomes NaN from epoch ``nan_after_epoch`` on (counting from 0)."""

    def __init__(self, lr: float, n_hidden: int = 16, nan_after_epoch: int = 1) -> None:
        super().__init__(lr=lr, n_hidden=n_hidden)
        self.nan_after_epoch = nan_after_epoch

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        if self.current_epoch >= self.nan_after_epoch:
            loss = loss * float("nan")
            self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss


class RaisesInTrainingStep(TinyDigits):
    """Raises ``RuntimeError('boom in training_step')`` from epoch ``fail_at_epoch`` on."""

    def __init__(self, lr: float, n_hidden: int = 16, fail_at_epoch: int = 0) -> None:
        super().__init__(lr=lr, n_hidden=n_hidden)
        self.fail_at_epoch = fail_at_epoch

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.current_epoch >= self.fail_at_epoch:
            raise RuntimeError("boom in training_step")
        return super().training_step(batch, batch_idx)


class EpochStartRecorder(pl.Callback):
    """The seed's "unfreeze the tail" callback, reduced to what tests observe: epochs it saw start.

    Freezes the first layer of LitDigits until ``unfreeze_epoch`` (as the seed's callback did).
    """

    def __init__(self, unfreeze_epoch: int = 1) -> None:
        super().__init__()
        self.unfreeze_epoch = unfreeze_epoch
        self.epochs_started: list[int] = []

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.epochs_started.append(trainer.current_epoch)
        layer = getattr(getattr(pl_module, "model", None), "l0", None)
        if layer is not None:
            layer.requires_grad_(trainer.current_epoch >= self.unfreeze_epoch)


class OldStyleEpochStartCallback(pl.Callback):
    """Uses ``on_epoch_start``, which Lightning 2 never calls (the seed README's callback did)."""

    def on_epoch_start(self, trainer: Any, pl_module: Any) -> None:  # pragma: no cover
        raise AssertionError("never called by Lightning 2")
