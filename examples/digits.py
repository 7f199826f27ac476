"""The main job: tune a digits classifier (scikit-learn's bundled 8x8 digits, offline).

Written in the seed README's style: a function that returns DataLoaders, a LightningModule class
that takes ``hparams`` and logs train/val/test accuracy, F1 and loss through torchmetrics.

    python3 dev.py demo             # set up once, then run this file
    python examples/digits.py       # inside the environment
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchmetrics
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

EXPERIMENT_ID = "digits"
N_CLASSES = 10
N_FEATURES = 64


def create_datasets(val_size: float = 0.2, test_size: float = 0.2, seed: int = 16) -> dict:
    """Split the 1,797 digit images into train / val / test tensors (a fixed split)."""
    digits = load_digits()
    features = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    targets = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(seed))
    n_test = int(len(order) * test_size)
    n_val = int(len(order) * val_size)
    test_idx, val_idx, train_idx = (
        order[:n_test],
        order[n_test : n_test + n_val],
        order[n_test + n_val :],
    )
    full_train_idx = torch.cat([train_idx, val_idx])
    return {
        "train_dataset": TensorDataset(features[train_idx], targets[train_idx]),
        "val_dataset": TensorDataset(features[val_idx], targets[val_idx]),
        "test_dataset": TensorDataset(features[test_idx], targets[test_idx]),
        "full_train_dataset": TensorDataset(features[full_train_idx], targets[full_train_idx]),
        "n_classes": N_CLASSES,
    }


def configure_dataloaders(batch_size: int, n_workers: int = 0, val_size: float = 0.2) -> dict:
    """The seed's contract: a dict of loaders; ``n_workers`` is unused for in-memory tensors."""
    result = create_datasets(val_size)
    for prefix in ["train", "full_train"]:
        result[f"{prefix}_loader"] = DataLoader(
            result[f"{prefix}_dataset"], batch_size=batch_size, shuffle=True
        )
    for prefix in ["val", "test"]:
        result[f"{prefix}_loader"] = DataLoader(
            result[f"{prefix}_dataset"], batch_size=batch_size, shuffle=False
        )
    return result


class LitMetricsCalc(torch.nn.Module):
    """Accuracy, macro F1, precision and recall for one stage (the seed's helper, on torchmetrics)."""

    def __init__(self, prefix: str, num_classes: int) -> None:
        super().__init__()
        kwargs = {"task": "multiclass", "num_classes": num_classes}
        self.acc = torchmetrics.Accuracy(**kwargs)
        self.f1 = torchmetrics.F1Score(average="macro", **kwargs)
        self.prec = torchmetrics.Precision(average="macro", **kwargs)
        self.rec = torchmetrics.Recall(average="macro", **kwargs)
        self.prefix = prefix

    def step(self, logit: torch.Tensor, target: torch.Tensor) -> dict:
        probs = torch.softmax(logit, dim=1)
        for metric in (self.acc, self.f1, self.prec, self.rec):
            metric(probs, target)
        prefix = self.prefix
        return {
            f"{prefix}_acc": self.acc,
            f"{prefix}_f1": self.f1,
            f"{prefix}_prec": self.prec,
            f"{prefix}_rec": self.rec,
        }


class DigitsNet(torch.nn.Module):
    def __init__(self, n_classes: int, n_hidden: int) -> None:
        super().__init__()
        self.l0 = torch.nn.Linear(N_FEATURES, n_hidden)
        self.l1 = torch.nn.Linear(n_hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l1(torch.relu(self.l0(x)))


class LitDigits(pl.LightningModule):
    """The seed's LitBoringMNIST, modernised: ``save_hyperparameters`` and torchmetrics."""

    def __init__(self, hparams: dict) -> None:
        super().__init__()
        self.save_hyperparameters(hparams)
        self.model = DigitsNet(self.hparams.n_classes, self.hparams.get("n_hidden", 64))
        self.train_metric_calc = LitMetricsCalc("train", num_classes=self.hparams.n_classes)
        self.val_metric_calc = LitMetricsCalc("val", num_classes=self.hparams.n_classes)
        self.test_metric_calc = LitMetricsCalc("test", num_classes=self.hparams.n_classes)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.hparams.lr)
        # n_train_steps is injected by the Runner (steps per epoch x max_epochs).
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.hparams.lr, total_steps=self.hparams.n_train_steps
        )
        return [optimizer], [{"scheduler": scheduler, "interval": "step", "frequency": 1}]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs)

    def _stage_step(self, metric_calc: LitMetricsCalc, batch, stage: str) -> torch.Tensor:
        logits = self(batch[0])
        self.log_dict(metric_calc.step(logits, batch[1]), on_step=True, on_epoch=True)
        loss = F.cross_entropy(logits, batch[1])
        self.log(f"{stage}_loss", loss, on_step=True, on_epoch=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._stage_step(self.train_metric_calc, batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._stage_step(self.val_metric_calc, batch, "val")

    def test_step(self, batch, batch_idx):
        return self._stage_step(self.test_metric_calc, batch, "test")


CONFIG = {
    "lr": 1e-2,
    "n_hidden": 64,
    "gradient_clip_val": 0,
    "max_epochs": 10,
    "batch_size": 64,
    "n_classes": N_CLASSES,
}

EXTRA_CONFIG = {
    "seed": 16,
    "metric_to_optimize": "val_f1_epoch",
    "metric_opt_mode": "max",
    "ptl_early_stopping_patience": 3,
    "ptl_early_stopping_grace_period": 3,
}


def main() -> None:
    from pytorch_hyperlight import Runner

    runner = Runner(configure_dataloaders, experiment_id=EXPERIMENT_ID)
    result = runner.run_single_trial(LitDigits, CONFIG, EXTRA_CONFIG)
    print(result["metrics_last"])
    print(f"Run directory: {result['run_dir']}")


if __name__ == "__main__":
    main()
