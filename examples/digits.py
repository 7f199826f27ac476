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


def search_space_config() -> dict:
    """The seed's SEARCH_SPACE_CONFIG for digits: Ray Tune domains mixed with constants."""
    from ray import tune

    return {
        "lr": tune.loguniform(1e-3, 1e-1),
        "n_hidden": tune.choice([16, 32, 64, 128]),
        "gradient_clip_val": 0,
        "max_epochs": tune.choice([8, 12]),
        "batch_size": tune.choice([32, 64]),
        "n_classes": N_CLASSES,
    }


def tune_config(n_samples: int = 10) -> dict:
    """The seed's TUNE_CONFIG: the single-trial keys plus the search keys."""
    return {
        **EXTRA_CONFIG,
        "ray_metrics_to_show": ["val_loss_epoch", "val_f1_epoch", "val_acc_epoch"],
        "cpu_per_trial": 1,
        "gpu_per_trial": 0.25 * torch.cuda.is_available(),
        "n_checkpoints_to_keep": 1,
        "grace_period": 2,
        "n_samples": n_samples,
        "batch_size_main": 256,
    }


def main(argv: list[str] | None = None) -> dict:
    """Search digits hyper-parameters (ASHA + HyperOpt), then show the trials and the best model."""
    import argparse

    from tabulate import tabulate

    from pytorch_hyperlight import Runner

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--n-samples", type=int, default=10, help="trials to run (default 10)")
    parser.add_argument("--debug", action="store_true", help="a fast smoke run: few batches")
    args = parser.parse_args(argv)

    runner = Runner(configure_dataloaders, experiment_id=EXPERIMENT_ID, is_debug=args.debug)
    result = runner.run_hyper_opt(LitDigits, search_space_config(), tune_config(args.n_samples))

    # A pandas DataFrame that prints short: searched parameters and the metric, rounded.
    trials = result["trials"].sort_values("metric_best", ascending=False, na_position="last")
    print(f"\nTrials, best first ({result['metric']}):")
    print(trials)
    metrics = result["metrics"].df
    test = metrics[metrics["stage"] == "test"].dropna(axis=1, how="all")
    print(
        f"\nBest model (trial {result['best_trial_id']}, epoch {result['best_epoch']}) on the test set:"
    )
    print(tabulate(test, headers="keys", tablefmt="github", showindex=False, floatfmt=".4f"))
    run_dir = result["run_dir"]
    plots = sorted([run_dir / "metrics.png", *(run_dir / "plots").glob("*.png")])
    print("\nPlots:")
    for plot in plots:
        print(f"  {plot}")
    print(f"Run directory (reopen with pytorch_hyperlight.load_run): {run_dir}")
    return result


if __name__ == "__main__":
    main()
