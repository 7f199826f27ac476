"""The code the original ``test_happy_path_usage.py`` defined inside its ``boring_mnist`` fixture.

Moved here because a search sends the module class, the loader function and the callbacks to Ray
workers, which import them by module name (a class defined inside a fixture is not importable).
The code is the original's, changed only where today's libraries force it:

- MNIST (torchvision, downloaded) -> scikit-learn's bundled digits as ``1 x 8 x 8`` images
  (:func:`tests.compat.replacements.digits_train_test`); ``MNIST.classes`` -> ``DIGITS_CLASSES``;
  the first layer takes ``8 * 8`` inputs instead of ``28 * 28``; ``DATASETS_PATH`` (the download
  folder) is gone.
- ``pytorch_lightning.metrics.classification.{Accuracy, F1, Recall, Precision}`` -> torchmetrics'
  ``Accuracy``, ``F1Score``, ``Recall``, ``Precision`` with ``task="multiclass"`` (torchmetrics 1.x needs
  the task; ``Accuracy`` also needs ``num_classes``).
- ``transformers.AdamW`` / ``get_linear_schedule_with_warmup`` -> ``torch.optim.AdamW`` and the same
  schedule on ``LambdaLR`` (:func:`tests.compat.replacements.get_linear_schedule_with_warmup`).
- ``self.hparams = hparams`` (an error in Lightning 2) -> ``self.save_hyperparameters(hparams)``.
- ``Callback.on_epoch_start`` (removed in Lightning 2, silently never called) -> ``on_train_epoch_start``.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchmetrics
from pytorch_lightning import Callback
from torch.utils.data import DataLoader, random_split

from tests.compat.replacements import (
    DIGITS_CLASSES,
    digits_train_test,
    get_linear_schedule_with_warmup,
)

# ruff: noqa: UP008  (super(LitMetricsCalc, self) is the original's spelling)


# a dedicated function for creating datasets
# please note how 'full_train_dataset' is created along with train,
# val and test datasets
def create_datasets(val_size=0.2):
    #
    full_train_dataset, test_dataset = digits_train_test()
    n_full_train_samples = len(full_train_dataset)
    n_val_samples = int(n_full_train_samples * val_size)
    train_dataset, val_dataset = random_split(
        full_train_dataset,
        [n_full_train_samples - n_val_samples, n_val_samples],
    )

    n_classes = len(DIGITS_CLASSES)

    return {
        "full_train_dataset": full_train_dataset,
        "train_dataset": train_dataset,
        "val_dataset": val_dataset,
        "test_dataset": test_dataset,
        "n_classes": n_classes,
    }


# a dedicated function for creating dataloaders
# 'full_train_loader' is created along with standard 3 loaders
# for training, validation and testing datasets
# noinspection PyUnusedLocal,DuplicatedCode,PyShadowingNames
def configure_dataloaders(batch_size, n_workers=4, val_size=0.2):
    #
    SHUFFLE = True
    SAMPLER = None
    #
    dataset_dict = create_datasets(val_size)
    #
    loaders_dict = dataset_dict
    for prefix in ["train", "full_train"]:
        loaders_dict[f"{prefix}_ldr"] = DataLoader(
            dataset_dict[f"{prefix}_dataset"],
            batch_size=batch_size,
            shuffle=SHUFFLE,
            sampler=SAMPLER,
            # num_workers=n_workers, # this is commented out to make debugging work in PyCharm
            # see https://stackoverflow.com/questions/62341906/pytorch-dataloader-doesnt-work-with-remote-interpreter
            pin_memory=True,
        )
    #
    for prefix in ["val", "test"]:
        loaders_dict[f"{prefix}_ldr"] = DataLoader(
            dataset_dict[f"{prefix}_dataset"],
            batch_size=batch_size,
            shuffle=False,
            # num_workers=n_workers,
            pin_memory=True,
        )

    return loaders_dict


class LitMetricsCalc(torch.nn.Module):
    def __init__(self, prefix, num_classes):
        super(LitMetricsCalc, self).__init__()
        self.acc = torchmetrics.classification.Accuracy(task="multiclass", num_classes=num_classes)
        # compute_on_step=True,
        self.f1 = torchmetrics.classification.F1Score(
            task="multiclass", num_classes=num_classes, average="macro"
        )
        self.rec = torchmetrics.classification.Recall(
            task="multiclass", num_classes=num_classes, average="macro"
        )
        self.prec = torchmetrics.classification.Precision(
            task="multiclass", num_classes=num_classes, average="macro"
        )
        self.prefix = prefix

    def step(self, logit, target):
        probs = torch.softmax(logit, dim=1)
        prefix = self.prefix
        self.acc(probs, target)
        self.f1(probs, target)
        self.prec(probs, target)
        self.rec(probs, target)

        return {
            # f"{prefix}_acc": self.acc(preds, target),
            f"{prefix}_acc": self.acc,
            f"{prefix}_f1": self.f1,
            f"{prefix}_prec": self.prec,
            f"{prefix}_rec": self.rec,
        }


# %%


class BoringMNIST(torch.nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.l0 = torch.nn.Linear(8 * 8, 256)
        self.l1 = torch.nn.Linear(256, 128)
        self.l2 = torch.nn.Linear(128, n_classes)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = torch.relu(self.l0(x))
        x = torch.relu(self.l1(x))
        x = torch.relu(self.l2(x))
        return x


# %%


# noinspection PyCallingNonCallable
class LitBoringMNIST(pl.LightningModule):
    def __init__(self, hparams):
        super().__init__()
        self.save_hyperparameters(hparams)
        #
        n_classes = self.hparams.n_classes
        #
        model = BoringMNIST(n_classes)
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

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=self.hparams.lr,
            betas=(0.9, 0.999),
            eps=1e-8,
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
        self.log(
            f"{log_label}_loss",
            loss,
            prog_bar=True,
            on_step=True,
            on_epoch=True,
        )
        return loss

    # noinspection PyUnusedLocal
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
