"""The model and data of seed 000: y = sum_i v_i sigmoid(x w_i + b_i), fitted to cos(x)."""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

#: The training domain [-2pi, 2pi].
LOW, HIGH = -2 * math.pi, 2 * math.pi


def training_domain(n_points: int = 1000) -> torch.Tensor:
    """``n_points`` evenly spaced x values on [-2pi, 2pi], shape ``(n_points, 1)``."""
    return torch.linspace(LOW, HIGH, n_points).reshape(-1, 1)


def configure_dataloaders(batch_size: int, n_workers: int = 0, n_points: int = 1000) -> dict:
    """Train on (x, cos x) in shuffled batches; validate and test on the whole domain at once."""
    x = training_domain(n_points)
    data = TensorDataset(x, torch.cos(x))
    whole = DataLoader(data, batch_size=n_points)
    return {
        "train_loader": DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True),
        "val_loader": whole,
        "test_loader": whole,
    }


class UniversalFuncModule(pl.LightningModule):
    """One hidden layer of ``num_neurons`` sigmoids and a linear read-out without bias (the seed's).

    ``batch_size`` is only recorded (with the other hyper-parameters) to label the fit plot.
    """

    def __init__(self, num_neurons: int, lr: float = 0.01, batch_size: int | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = torch.nn.Sequential(
            torch.nn.Linear(1, num_neurons),
            torch.nn.Sigmoid(),
            torch.nn.Linear(num_neurons, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    def _loss(self, batch: Any, stage: str) -> torch.Tensor:
        x, y = batch
        loss = F.mse_loss(self(x), y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._loss(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._loss(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._loss(batch, "test")


#: The settings all three ways share: lowest val_loss wins, seeded, every configuration trained fully.
SETTINGS = {
    "metric_to_optimize": "val_loss",
    "metric_opt_mode": "min",
    "seed": 0,
    "searcher": "grid",
    "scheduler": "fifo",
    "n_samples": 1,
    "verbose": 1,
}
EPOCHS, FAST_EPOCHS = 30, 5
