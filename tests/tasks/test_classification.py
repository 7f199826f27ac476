"""pytorch_hyperlight.tasks.classification: the original's classification tasks on Lightning 2.

Metrics are checked against scikit-learn, the warm-up schedule against transformers' formula
(written out here), and the tasks by real training with pytorch_lightning's Trainer and the Runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from torch import nn
from torch.utils.data import DataLoader

from examples.digits import N_CLASSES, N_FEATURES, configure_dataloaders
from pytorch_hyperlight import ConfigError, Runner
from pytorch_hyperlight.tasks.classification import (
    AAutoClsHeadClassificationTaskWDAdamWStepLR,
    AAutoClsHeadClassificationTaskWDAdamWWarmup,
    AClassificationTask,
    ClassificationTaskAdamStepLR,
    ClassificationTaskAdamWWarmup,
    FCClassifier,
    LitMetricsCalc,
    get_linear_schedule_with_warmup,
)

SKLEARN_METRICS = {
    "acc": accuracy_score,
    "f1": lambda y, p: f1_score(y, p, average="macro", zero_division=0),
    "prec": lambda y, p: precision_score(y, p, average="macro", zero_division=0),
    "rec": lambda y, p: recall_score(y, p, average="macro", zero_division=0),
}


def transformers_linear_factor(step: int, warmup: int, total: int) -> float:
    """transformers.get_linear_schedule_with_warmup's lr_lambda, as transformers 4.x writes it."""
    if step < warmup:
        return float(step) / float(max(1, warmup))
    return max(0.0, float(total - step) / float(max(1, total - warmup)))


def _accumulate(calc: LitMetricsCalc, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict:
    for logits, target in batches:
        values = calc.step(logits, target)
    return {key: float(metric.compute()) for key, metric in values.items()}


# -- LitMetricsCalc -------------------------------------------------------------------------------


def test_multiclass_metrics_accumulated_over_steps_equal_sklearn() -> None:
    generator = torch.Generator().manual_seed(0)
    sizes = [7, 13, 4]  # unequal batches: the mean of per-batch values would differ
    batches = [
        (torch.randn(n, 4, generator=generator), torch.randint(0, 4, (n,), generator=generator))
        for n in sizes
    ]
    calc = LitMetricsCalc("val", num_classes=4, metric_list=["acc", "f1", "prec", "rec"])

    values = _accumulate(calc, batches)

    predicted = torch.cat([logits.argmax(dim=1) for logits, _ in batches]).numpy()
    expected = torch.cat([target for _, target in batches]).numpy()
    assert set(values) == {"val_acc", "val_f1", "val_prec", "val_rec"}
    for name, score in SKLEARN_METRICS.items():
        assert values[f"val_{name}"] == pytest.approx(score(expected, predicted), abs=1e-6), name


@pytest.mark.parametrize("num_classes", [1, 2])
@pytest.mark.parametrize("shape", ["(N,)", "(N, 1)"])
def test_binary_single_logit_metrics_equal_sklearn_macro(num_classes: int, shape: str) -> None:
    """One logit per sample: sigmoid > 0.5 is class 1; F1/precision/recall macro over both classes."""
    logits = torch.tensor([2.0, -1.0, 0.3, -0.2, 1.5, -3.0, 0.1, -0.4, 0.7])
    target = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    if shape == "(N, 1)":
        logits = logits.unsqueeze(1)
    calc = LitMetricsCalc("test", num_classes=num_classes, metric_list=["acc", "f1", "prec", "rec"])

    values = _accumulate(calc, [(logits[:4], target[:4]), (logits[4:], target[4:])])

    predicted = (torch.sigmoid(logits.flatten()) > 0.5).long().numpy()
    expected = target.long().numpy()
    for name, score in SKLEARN_METRICS.items():
        assert values[f"test_{name}"] == pytest.approx(score(expected, predicted), abs=1e-6), name


def test_recall_is_recall_not_precision() -> None:
    """The original computed 'rec' with Precision; here it is recall."""
    target = torch.tensor([0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 0, 1, 1, 2, 2])
    logits = nn.functional.one_hot(predicted, 3).float()
    calc = LitMetricsCalc("val", num_classes=3, metric_list=["prec", "rec"])

    values = _accumulate(calc, [(logits, target)])

    expected_recall = recall_score(target, predicted, average="macro")
    expected_precision = precision_score(target, predicted, average="macro")
    assert expected_recall != pytest.approx(expected_precision)
    assert values["val_rec"] == pytest.approx(expected_recall)
    assert values["val_prec"] == pytest.approx(expected_precision)


def test_default_metrics_are_acc_and_f1_and_metric_list_restricts_them() -> None:
    logits, target = torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1])
    assert list(LitMetricsCalc("train", 3).step(logits, target)) == ["train_acc", "train_f1"]
    restricted = LitMetricsCalc("train", 3, metric_list=["f1", "acc", "prec"])
    assert list(restricted.step(logits, target)) == ["train_f1", "train_acc", "train_prec"]


def test_unknown_metric_name_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"'recall' \(did you mean 'rec'\?\)"):
        LitMetricsCalc("val", 3, metric_list=["acc", "recall"])


def test_logits_of_the_wrong_width_are_an_error_naming_n_classes() -> None:
    calc = LitMetricsCalc("val", num_classes=10)
    with pytest.raises(ConfigError, match=r"shape \(batch, 10\).*got shape \(4, 3\).*'n_classes'"):
        calc.step(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))


# -- schedules and optimizers -----------------------------------------------------------------------


def test_warmup_schedule_follows_the_transformers_formula_step_by_step() -> None:
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.5)
    scheduler = get_linear_schedule_with_warmup(optimizer, 3, 10)
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([0.5 * transformers_linear_factor(s, 3, 10) for s in range(12)])
    assert rates[3] == pytest.approx(0.5) and rates[10:] == [0.0, 0.0]


class LinearWarmupTask(ClassificationTaskAdamWWarmup):
    """The original's pattern: a subclass taking ``hparams`` that builds its model and criterion."""

    def __init__(self, hparams: dict[str, Any]) -> None:
        model = nn.Linear(N_FEATURES, hparams["n_classes"])
        super().__init__(hparams, model, nn.CrossEntropyLoss())


class LinearStepLRTask(ClassificationTaskAdamStepLR):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__(hparams, nn.Linear(N_FEATURES, 3), nn.CrossEntropyLoss())


def test_adamw_warmup_task_sizes_its_schedule_from_n_train_steps() -> None:
    module = LinearWarmupTask({"n_classes": 3, "lr": 0.01, "warmup": 5, "n_train_steps": 20})

    config = module.configure_optimizers()

    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.defaults["weight_decay"] == 0.0 and optimizer.defaults["eps"] == 1e-6
    assert scheduler["interval"] == "step"
    lr_lambda = scheduler["scheduler"].lr_lambdas[0]
    assert [lr_lambda(s) for s in (0, 2, 5, 15, 20)] == pytest.approx(
        [transformers_linear_factor(s, 5, 20) for s in (0, 2, 5, 15, 20)]
    )


@pytest.mark.parametrize(
    "keys",
    [
        {"lr_step_epochs": 2, "lr_step_factor": 0.3},  # the original's names
        {"step_lr_step_size": 2, "step_lr_gamma": 0.3},  # the auto-head tasks' names
    ],
)
def test_adam_step_lr_task_reads_the_step_lr_keys(keys: dict[str, Any]) -> None:
    module = LinearStepLRTask({"n_classes": 3, "lr": 0.01, **keys})

    config = module.configure_optimizers()

    assert isinstance(config["optimizer"], torch.optim.Adam)
    scheduler = config["lr_scheduler"]["scheduler"]
    assert (scheduler.step_size, scheduler.gamma) == (2, 0.3)
    assert config["lr_scheduler"]["interval"] == "epoch"


def test_missing_keys_fail_when_the_module_is_built() -> None:
    with pytest.raises(ConfigError, match=r"LinearWarmupTask needs .*\['warmup'\].*'warmup': 100"):
        LinearWarmupTask({"n_classes": 3, "lr": 0.01})
    with pytest.raises(ConfigError, match=r"'lr_step_epochs' \(or 'step_lr_step_size'\)"):
        LinearStepLRTask({"n_classes": 3, "lr": 0.01, "lr_step_factor": 0.5})
    with pytest.raises(ConfigError, match=r"both 'lr_step_factor'=0\.5 and 'step_lr_gamma'=0\.1"):
        LinearStepLRTask(
            {
                "n_classes": 3,
                "lr": 0.01,
                "lr_step_epochs": 1,
                "lr_step_factor": 0.5,
                "step_lr_gamma": 0.1,
            }
        )


def test_base_task_without_an_optimizer_says_which_class_to_use() -> None:
    module = AClassificationTask({"n_classes": 3}, nn.Linear(2, 3), nn.CrossEntropyLoss())
    assert isinstance(module, pl.LightningModule)
    with pytest.raises(NotImplementedError, match="ClassificationTaskAdamWWarmup"):
        module.configure_optimizers()


# -- auto-head tasks ---------------------------------------------------------------------------------


class Backbone(nn.Module):
    """A stand-in for a pre-trained network: a body with a LayerNorm, and a 1000-class head 'fc'."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(N_FEATURES, 16)
        self.LayerNorm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 1000)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.fc(self.LayerNorm(self.body(inputs)))


AUTO_HEAD_CONFIG = {
    "n_classes": 3,
    "classifier_dropout": 0.2,
    "classifier_lr": 1e-2,
    "rest_lr": 1e-4,
    "weight_decay": 0.05,
    "no_weight_decay_param_names": ["bias", "LayerNorm.weight"],
    "step_lr_step_size": 1,
    "step_lr_gamma": 0.6,
    "warmup": 2,
    "n_train_steps": 10,
}


class FineTunedStepLR(AAutoClsHeadClassificationTaskWDAdamWStepLR):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__(hparams, Backbone(), nn.CrossEntropyLoss())

    def _get_classifier_module_name(self) -> str:
        return "fc"


class FineTunedWarmup(AAutoClsHeadClassificationTaskWDAdamWWarmup):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__(hparams, Backbone(), nn.CrossEntropyLoss())

    def _get_classifier_module_name(self) -> str:
        return "fc"


def _group_names(module: Any, group: dict[str, Any]) -> set[str]:
    names = {id(param): name for name, param in module.model.named_parameters()}
    return {names[id(param)] for param in group["params"]}


@pytest.mark.parametrize("task_class", [FineTunedStepLR, FineTunedWarmup])
def test_auto_head_replaces_the_head_and_groups_lr_and_weight_decay(task_class: type) -> None:
    module = task_class(dict(AUTO_HEAD_CONFIG))

    assert isinstance(module.model.fc, FCClassifier)
    assert module(torch.zeros(2, N_FEATURES)).shape == (2, 3)
    optimizer = module.configure_optimizers()["optimizer"]
    assert isinstance(optimizer, torch.optim.AdamW)
    classifier, rest_no_decay, rest_decay = optimizer.param_groups
    assert _group_names(module, classifier) == {
        f"fc.classifier{i}.{kind}" for i in (0, 1) for kind in ("weight", "bias")
    }
    assert _group_names(module, rest_no_decay) == {
        "body.bias",
        "LayerNorm.weight",
        "LayerNorm.bias",
    }
    assert _group_names(module, rest_decay) == {"body.weight"}
    assert [group["initial_lr"] for group in optimizer.param_groups] == [1e-2, 1e-4, 1e-4]
    assert [group["weight_decay"] for group in optimizer.param_groups] == [0, 0, 0.05]


def test_auto_head_with_an_unknown_head_name_lists_the_model_children() -> None:
    class WrongHead(FineTunedStepLR):
        def _get_classifier_module_name(self) -> str:
            return "head"

    with pytest.raises(ConfigError, match=r"no such attribute.*\['body', 'LayerNorm', 'fc'\]"):
        WrongHead(dict(AUTO_HEAD_CONFIG))


def test_fc_classifier_starts_with_zero_biases_and_small_weights() -> None:
    head = FCClassifier(32, 5, dropout=0.1)
    assert head(torch.randn(4, 32)).shape == (4, 5)
    for layer in (head.classifier0, head.classifier1):
        assert torch.count_nonzero(layer.bias) == 0
        assert 0.01 < float(layer.weight.detach().std()) < 0.03


# -- training ----------------------------------------------------------------------------------------


class LearningRateRecorder(pl.Callback):
    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


def _digits_loaders(batch_size: int) -> tuple[DataLoader, DataLoader]:
    loaders = configure_dataloaders(batch_size)
    return loaders["train_loader"], loaders["val_loader"]


def test_fit_with_pl_trainer_logs_epoch_metrics_over_whole_epochs(tmp_path: Path) -> None:
    """Logged Metric objects give true epoch values; the warm-up steps per batch over the fit."""
    torch.manual_seed(0)
    train_loader, val_loader = _digits_loaders(batch_size=100)
    hparams = {"n_classes": N_CLASSES, "lr": 0.05, "warmup": 4, "metric_list": ["acc", "f1", "rec"]}
    module = LinearWarmupTask(hparams)
    recorder = LearningRateRecorder()
    trainer = pl.Trainer(
        max_epochs=2,
        limit_train_batches=5,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
        callbacks=[recorder],
    )

    trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader)

    logged = trainer.callback_metrics
    for name in ["train_f1_epoch", "train_acc_epoch", "train_rec_epoch", "train_loss_epoch"]:
        assert name in logged, name
    for name in ["val_acc_epoch", "val_f1_epoch", "val_rec_epoch", "val_loss_epoch"]:
        assert name in logged, name
    # n_train_steps not in hparams: the schedule spans the Trainer's 2 x 5 steps.
    assert recorder.rates == pytest.approx(
        [0.05 * transformers_linear_factor(s, 4, 10) for s in range(10)]
    )
    module.eval()
    with torch.no_grad():
        predicted = torch.cat([module(inputs).argmax(dim=1) for inputs, _ in val_loader])
    expected = torch.cat([target for _, target in val_loader])
    assert float(logged["val_acc_epoch"]) == pytest.approx(
        accuracy_score(expected, predicted), abs=1e-6
    )
    assert float(logged["val_f1_epoch"]) == pytest.approx(
        f1_score(expected, predicted, average="macro", zero_division=0), abs=1e-6
    )


def test_runner_single_trial_with_the_original_test_runner_pattern() -> None:
    class LitDummyModule(ClassificationTaskAdamWWarmup):
        def __init__(self, hparams: dict[str, Any]) -> None:
            model = nn.Sequential(
                nn.Linear(N_FEATURES, 16), nn.ReLU(), nn.Linear(16, hparams["n_classes"])
            )
            super().__init__(hparams, model, nn.CrossEntropyLoss())

    config = {
        "lr": 1e-2,
        "gradient_clip_val": 0,
        "max_epochs": 2,
        "batch_size": 128,
        "n_classes": N_CLASSES,
        "metric_list": ["f1", "acc", "prec"],
        "warmup": 3,
    }
    extra_config = {"seed": 16, "metric_to_optimize": "val_f1_epoch", "metric_opt_mode": "max"}
    runner = Runner(configure_dataloaders, experiment_id="classification-task")

    result = runner.run_single_trial(LitDummyModule, config, extra_config)

    assert isinstance(result["lmodule_best"], LitDummyModule)
    assert result["lmodule_best"].hparams.n_train_steps == 9 * 2  # 1,079 training digits / 128
    last = result["metrics_last"]
    for name in ["test_f1", "test_acc", "test_prec", "val_f1", "train_acc"]:
        assert 0.0 <= last[name] <= 1.0, name
    assert last["test_loss"] > 0.0
    assert last["test_acc"] > 0.3  # better than chance (0.1) after two epochs
