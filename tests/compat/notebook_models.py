"""The definition cells of the original ``examples/image_classification/boring_mnist.ipynb``.

Cells 4 (``create_datasets``), 6 (``configure_dataloaders``), 13 (``LitMetricsCalc``), 14
(``LeNetBoringMNIST``), 15 (``LitBoringMNIST``) and 18 (``UnfreezeModelTailCallback``), moved out of the
test module because a search sends them to Ray workers, which import them by module name.
``boring_mnist_model_comparison.ipynb`` has the same loader and LeNet cells and imports them from here.

Changed only where today's libraries force it:

- MNIST (torchvision, downloaded) -> scikit-learn's bundled digits as ``1 x 8 x 8`` images
  (:func:`tests.compat.replacements.digits_train_test`); ``MNIST.classes`` -> ``DIGITS_CLASSES``.
- LeNet's convolutions pad by 1 and ``fc1`` takes ``16 * 2 * 2`` inputs: without padding an 8x8 image
  shrinks to nothing before the second pooling (MNIST's 28x28 left ``16 * 5 * 5``).
- ``pytorch_lightning.metrics.classification.{Accuracy, F1}`` -> torchmetrics' ``Accuracy`` and
  ``F1Score`` with ``task="multiclass"``.
- ``transformers.AdamW`` / ``get_linear_schedule_with_warmup`` -> ``torch.optim.AdamW`` and the same
  schedule on ``LambdaLR``.
- ``self.hparams = hparams`` (an error in Lightning 2) -> ``self.save_hyperparameters(hparams)``.
- ``Callback.on_epoch_start`` (never called by Lightning 2) -> ``on_train_epoch_start``.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchmetrics
from pytorch_lightning import Callback
from torch import nn
from torch.utils.data import DataLoader, random_split

from tests.compat.replacements import (
    DIGITS_CLASSES,
    digits_train_test,
    get_linear_schedule_with_warmup,
)

# ruff: noqa: UP008  (super(LitMetricsCalc, self) is the original's spelling)

# [cell 3]
SEED = 16


# [cell 4]
# a dedicated function for creating datasets
# please note how 'full_train_dataset' is created along with train,
# val and test datasets
def create_datasets(val_size=0.2):
    pl.seed_everything(SEED)
    #
    full_train_dataset, test_dataset = digits_train_test()
    n_full_train_samples = len(full_train_dataset)
    n_val_samples = int(n_full_train_samples * val_size)
    train_dataset, val_dataset = random_split(
        full_train_dataset, [n_full_train_samples - n_val_samples, n_val_samples]
    )

    n_classes = len(DIGITS_CLASSES)

    return {
        "full_train_dataset": full_train_dataset,
        "train_dataset": train_dataset,
        "val_dataset": val_dataset,
        "test_dataset": test_dataset,
        "n_classes": n_classes,
    }


# [cell 6]
# a dedicated function for creating dataloaders
# 'full_train_loader' is created along with standard 3 loaderers
# for training, validation and testing datasets
def configure_dataloaders(batch_size, n_workers=4, val_size=0.2):
    #
    SHUFFLE = True
    SAMPLER = None
    #
    result_dict = create_datasets(val_size)
    #
    for prefix in ["train", "full_train"]:
        result_dict[f"{prefix}_loader"] = DataLoader(
            result_dict[f"{prefix}_dataset"],
            batch_size=batch_size,
            shuffle=SHUFFLE,
            sampler=SAMPLER,
            num_workers=n_workers,
            pin_memory=True,
        )
    #
    for prefix in ["val", "test"]:
        result_dict[f"{prefix}_loader"] = DataLoader(
            result_dict[f"{prefix}_dataset"],
            batch_size=batch_size,
            shuffle=False,
            num_workers=n_workers,
            pin_memory=True,
        )

    return result_dict


# [cell 13]
class LitMetricsCalc(torch.nn.Module):
    def __init__(self, prefix, num_classes):
        super(LitMetricsCalc, self).__init__()
        self.acc = torchmetrics.classification.Accuracy(task="multiclass", num_classes=num_classes)
        self.f1 = torchmetrics.classification.F1Score(
            task="multiclass", num_classes=num_classes, average="macro"
        )
        self.prefix = prefix

    def step(self, logit, target):
        probs = torch.softmax(logit, dim=1)
        prefix = self.prefix
        self.acc(probs, target)
        self.f1(probs, target)

        return {
            f"{prefix}_acc": self.acc,
            f"{prefix}_f1": self.f1,
        }


# [cell 14]
class LeNetBoringMNIST(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 2 * 2, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, n_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, int(x.nelement() / x.shape[0]))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


# [cell 15]
class LitBoringMNIST(pl.LightningModule):
    def __init__(self, hparams):
        super().__init__()
        self.save_hyperparameters(hparams)
        #
        n_classes = self.hparams.n_classes
        #
        model = LeNetBoringMNIST(n_classes)
        #
        self.model = model
        self.train_metric_calc = LitMetricsCalc("train", num_classes=n_classes)
        self.val_metric_calc = LitMetricsCalc("val", num_classes=n_classes)
        self.test_metric_calc = LitMetricsCalc("test", num_classes=n_classes)
        self.freeze()

    def freeze(self):
        for param in self.model.parameters():
            param.requires_grad = False

    def unfreeze(self):
        for param in self.model.parameters():
            param.requires_grad = True

    def unfreeze_tail(self, ind_layer):
        assert ind_layer >= 0
        ind = ind_layer
        while True:
            if ind == 0:
                for param in self.model.fc3.parameters():
                    param.requires_grad = True
            elif ind == 1:
                for param in self.model.fc2.parameters():
                    param.requires_grad = True
            elif ind == 2:
                for param in self.model.fc1.parameters():
                    param.requires_grad = True
            ind -= 1
            if ind < 0:
                break

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=self.hparams.lr,
        )

        scheduler = get_linear_schedule_with_warmup(
            optimizer, self.hparams.warmup, self.hparams.n_train_steps
        )
        return [optimizer], [{"scheduler": scheduler, "interval": "step", "frequency": 1}]

    def forward(self, inputs):
        logits = self.model(inputs)
        return logits

    def forward_batch(self, batch):
        inputs = batch[0]
        return self(inputs)

    def __calc_loss(self, logits, target, log_label):
        loss = F.cross_entropy(logits, target)
        self.log(f"{log_label}_loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        return loss

    def __stage_step(self, metric_calc, batch, batch_idx, stage):
        logits = self.forward_batch(batch)
        mval_dict = metric_calc.step(logits, batch[1])
        self.log_dict(mval_dict, prog_bar=True, on_step=True, on_epoch=True)
        loss = self.__calc_loss(logits, batch[1], stage)
        return loss

    def training_step(self, batch, batch_idx):
        return self.__stage_step(self.train_metric_calc, batch, batch_idx, "train")

    def test_step(self, batch, batch_idx):
        return self.__stage_step(self.test_metric_calc, batch, batch_idx, "test")

    def validation_step(self, batch, batch_idx):
        return self.__stage_step(self.val_metric_calc, batch, batch_idx, "val")


# [cell 18]
class UnfreezeModelTailCallback(Callback):
    def __init__(self, epoch_vec):
        super().__init__()
        self.epoch_vec = epoch_vec

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch <= self.epoch_vec[0]:
            pl_module.unfreeze_tail(0)
        elif trainer.current_epoch <= self.epoch_vec[1]:
            pl_module.unfreeze_tail(1)
        else:
            pl_module.unfreeze()
