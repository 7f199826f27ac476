"""The digits task for config files: one LightningModule whose network is a config node.

``examples/conf/model/mlp.yaml`` and ``cnn.yaml`` both name :class:`LitDigitsNet` and differ in its
``net`` node (``_target_: examples.digits_hydra.MLP`` or ``...CNN``): the pattern of Hydra projects
that swap networks by config. The module builds its network from that node with
``hydra.utils.instantiate``. The loaders are ``examples.digits.configure_dataloaders``.

    hyperlight run  --config-dir examples/conf model=cnn
    hyperlight tune --config-dir examples/conf +search=mlp_width
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from examples.digits import N_CLASSES, N_FEATURES, LitMetricsCalc


class MLP(torch.nn.Module):
    """One hidden layer on the 64 pixels."""

    def __init__(
        self, n_hidden: int = 64, dropout: float = 0.0, n_classes: int = N_CLASSES
    ) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(N_FEATURES, n_hidden),
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
            torch.nn.Linear(n_hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class CNN(torch.nn.Module):
    """One convolution on the 8x8 image, max-pooled to 4x4, then a linear layer."""

    def __init__(
        self, n_channels: int = 8, kernel_size: int = 3, n_classes: int = N_CLASSES
    ) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, n_channels, kernel_size, padding=kernel_size // 2)
        self.head = torch.nn.Linear(n_channels * 16, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x.view(-1, 1, 8, 8)
        features = F.max_pool2d(torch.relu(self.conv(image)), 2)
        return self.head(features.flatten(1))


class LitDigitsNet(pl.LightningModule):
    """Digits classification with the network given as a config node (``{"_target_": ..., ...}``)."""

    def __init__(self, net: dict[str, Any], lr: float = 1e-2, weight_decay: float = 0.0) -> None:
        from hydra.utils import instantiate

        super().__init__()
        self.save_hyperparameters()
        self.net = instantiate(net)
        self.metric_calcs = torch.nn.ModuleDict(
            {
                f"{stage}_metrics": LitMetricsCalc(stage, N_CLASSES)
                for stage in ("train", "val", "test")
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        logits = self(batch[0])
        self.log_dict(
            self.metric_calcs[f"{stage}_metrics"].step(logits, batch[1]),
            on_step=True,
            on_epoch=True,
        )
        loss = F.cross_entropy(logits, batch[1])
        self.log(f"{stage}_loss", loss, on_step=True, on_epoch=True)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")
