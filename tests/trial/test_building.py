"""Unit tests of module building, config checks, loader picking and Trainer options (no training)."""

from __future__ import annotations

import copy
from typing import Any

import lightning.pytorch as lightning_pytorch
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from pytorch_hyperlight import ConfigError, DataLoaderError, Settings
from pytorch_hyperlight.trial.building import (
    build_module,
    check_config,
    constructor_arguments,
    derived_values,
    steps_per_epoch,
    takes_hparams,
)
from pytorch_hyperlight.trial.callbacks import check_callbacks
from pytorch_hyperlight.trial.data import check_loader_function, load_dataloaders
from pytorch_hyperlight.trial.lightning import (
    accelerator_options,
    namespace_of,
    precision_option,
    trainer_options,
)
from tests.models import EpochStartRecorder, LitDigits, OldStyleEpochStartCallback, TinyDigits

DERIVED = {"n_steps_per_epoch": 5, "n_train_steps": 10}
BASE = {"max_epochs": 2, "batch_size": 8}


class HparamsModule(pl.LightningModule):
    def __init__(self, hparams: dict) -> None:
        super().__init__()
        self.received = hparams


class KeywordModule(lightning_pytorch.LightningModule):
    def __init__(self, lr: float, n_hidden: int = 8, max_epochs: int | None = None) -> None:
        super().__init__()
        self.received = {"lr": lr, "n_hidden": n_hidden, "max_epochs": max_epochs}


class VarKeywordModule(lightning_pytorch.LightningModule):
    def __init__(self, lr: float, **kwargs: Any) -> None:
        super().__init__()
        self.received = {"lr": lr, **kwargs}


class HparamsAndRequired(pl.LightningModule):
    def __init__(self, hparams: dict, width: int) -> None:
        super().__init__()


# --- namespaces -----------------------------------------------------------------------------------
def test_namespace_of_tells_the_two_lightning_namespaces_apart() -> None:
    assert namespace_of(LitDigits).name == "pytorch_lightning"
    assert namespace_of(TinyDigits).name == "lightning.pytorch"
    assert namespace_of(LitDigits).Trainer is pl.Trainer
    assert namespace_of(TinyDigits).ModelCheckpoint is lightning_pytorch.callbacks.ModelCheckpoint


@pytest.mark.parametrize("not_a_module", [torch.nn.Linear, dict, "LitDigits"])
def test_namespace_of_rejects_what_is_not_a_lightning_module_class(not_a_module: Any) -> None:
    with pytest.raises(ConfigError, match=r"must be a .*LightningModule"):
        namespace_of(not_a_module)


def test_namespace_of_an_instance_says_to_pass_the_class() -> None:
    with pytest.raises(ConfigError, match="Pass the class itself, not an instance"):
        namespace_of(KeywordModule(lr=0.1))


def test_bound_callbacks_subclass_the_namespace_callback() -> None:
    from pytorch_hyperlight.trial.epoch_recorder import EpochRecorder, epoch_recorder

    recorder = epoch_recorder(namespace_of(LitDigits), "val_acc")
    assert isinstance(recorder, pl.Callback) and isinstance(recorder, EpochRecorder)
    assert not isinstance(recorder, lightning_pytorch.Callback)
    assert namespace_of(LitDigits).bind(EpochRecorder) is type(recorder)  # cached


# --- config checks --------------------------------------------------------------------------------
def test_check_config_accepts_any_key_for_hparams_modules() -> None:
    check_config(HparamsModule, {**BASE, "anything": 1, "n_classes": 10})


def test_check_config_names_an_unknown_key_with_did_you_mean() -> None:
    with pytest.raises(ConfigError) as raised:
        check_config(KeywordModule, {**BASE, "lr": 0.1, "n_hiden": 4})
    message = str(raised.value)
    assert "'n_hiden'" in message and "did you mean 'n_hidden'?" in message
    assert "['lr', 'n_hidden', 'max_epochs']" in message


def test_check_config_accepts_framework_keys_the_module_does_not_take() -> None:
    check_config(KeywordModule, {**BASE, "lr": 0.1, "gradient_clip_val": 0.5})


def test_check_config_accepts_everything_with_var_keyword() -> None:
    check_config(VarKeywordModule, {**BASE, "lr": 0.1, "whatever": 3})


def test_check_config_names_a_required_argument_missing_from_the_config() -> None:
    with pytest.raises(ConfigError, match=r"requires \['lr'\]"):
        check_config(KeywordModule, {**BASE, "n_hidden": 4})


def test_check_config_rejects_hparams_module_with_other_required_arguments() -> None:
    with pytest.raises(ConfigError, match=r"also requires \['width'\]"):
        check_config(HparamsAndRequired, BASE)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"batch_size": 8}, "'max_epochs' is missing"),
        ({"max_epochs": 2}, "'batch_size' is missing"),
        ({"max_epochs": 0, "batch_size": 8}, "'max_epochs': expected an int >= 1, got 0"),
        ({"max_epochs": 2, "batch_size": 8.0}, "'batch_size': expected an int >= 1, got 8.0"),
        ({**BASE, "gradient_clip_val": -1}, "'gradient_clip_val': expected a number >= 0"),
        ([("max_epochs", 2)], "config must be a dict"),
    ],
)
def test_check_config_rejects_bad_framework_keys(config: Any, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace("[", r"\[")):
        check_config(HparamsModule, config)


# --- building --------------------------------------------------------------------------------------
def test_hparams_module_gets_a_copy_of_the_config_plus_derived_keys() -> None:
    config = {**BASE, "layers": [4, 4]}
    snapshot = copy.deepcopy(config)
    module = build_module(HparamsModule, config, DERIVED)
    assert module.received == {**snapshot, **DERIVED}
    module.received["layers"].append(99)
    assert config == snapshot


def test_keyword_module_gets_only_its_arguments() -> None:
    assert takes_hparams(HparamsModule) and not takes_hparams(KeywordModule)
    arguments = constructor_arguments(
        KeywordModule, {**BASE, "lr": 0.1, "gradient_clip_val": 0}, DERIVED
    )
    assert arguments == {"lr": 0.1, "max_epochs": 2}


def test_var_keyword_module_gets_every_key_and_the_derived_ones() -> None:
    module = build_module(VarKeywordModule, {**BASE, "lr": 0.1, "extra": "x"}, DERIVED)
    assert module.received == {**BASE, "lr": 0.1, "extra": "x", **DERIVED}


def test_keyword_module_naming_a_derived_key_receives_it() -> None:
    module = build_module(TinyDigits, {**BASE, "lr": 0.1}, DERIVED)
    assert module.n_train_steps == 10


def test_derived_values_follow_steps_and_epochs() -> None:
    assert steps_per_epoch(17, limit_train_batches=3) == 3
    assert derived_values(steps_per_epoch(17), 4) == {"n_steps_per_epoch": 17, "n_train_steps": 68}


# --- loaders ---------------------------------------------------------------------------------------
def _loader() -> DataLoader:
    return DataLoader(TensorDataset(torch.zeros(4, 2)), batch_size=2)


def test_loader_function_without_n_workers_is_a_config_error() -> None:
    def configure(batch_size: int) -> dict:
        return {}

    with pytest.raises(ConfigError, match="Add an 'n_workers' keyword argument"):
        check_loader_function(configure)


def test_loaders_are_called_with_batch_size_and_n_workers_from_cpu_per_trial() -> None:
    calls = []

    def configure(batch_size: int, n_workers: int = 0) -> dict:
        calls.append((batch_size, n_workers))
        return {"train_loader": _loader(), "val_loader": _loader()}

    loaders = load_dataloaders(configure, 16, Settings(cpu_per_trial=3.5))
    assert calls == [(16, 3)]
    assert loaders.val is not None and loaders.test is None  # default test name absent: skipped


def test_non_default_loader_name_missing_lists_returned_keys() -> None:
    def configure(batch_size: int, n_workers: int = 0) -> dict:
        return {"train_loader": _loader(), "valid": _loader()}

    with pytest.raises(DataLoaderError) as raised:
        load_dataloaders(configure, 8, Settings(val_loader_name="validation_loader"))
    assert "'validation_loader'" in str(raised.value)
    assert "['train_loader', 'valid']" in str(raised.value)


def test_trainer_options_in_debug_mode_cap_epochs_and_batches() -> None:
    options = trainer_options(Settings(gpus=0), is_debug=True, max_epochs=30)
    assert options["max_epochs"] == 2 and options["limit_train_batches"] == 3
    assert options["accelerator"] == "cpu" and options["num_sanity_val_steps"] == 0
    assert options["enable_progress_bar"] is False
    assert trainer_options(Settings(verbose=2), is_debug=False, max_epochs=5)["max_epochs"] == 5


def test_precision_uses_lightning_2_spelling() -> None:
    assert [precision_option(p) for p in (32, 16, "bf16", "bf16-mixed")] == [
        "32-true", "16-mixed", "bf16-mixed", "bf16-mixed"
    ]  # fmt: skip


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpus_without_cuda_is_a_config_error_and_auto_means_cpu() -> None:
    with pytest.raises(ConfigError, match="gpus=1 asks for GPUs, but CUDA is not usable"):
        accelerator_options(1)
    assert accelerator_options(-1) == {"accelerator": "cpu", "devices": 1}


def test_callback_with_a_hook_lightning_2_removed_is_a_config_error() -> None:
    check_callbacks([EpochStartRecorder()])
    with pytest.raises(ConfigError, match=r"defines on_epoch_start\(\).*on_train_epoch_start"):
        check_callbacks([EpochStartRecorder(), OldStyleEpochStartCallback()])


def test_epoch_metric_keys_fall_back_to_names_without_lightning_internals() -> None:
    from types import SimpleNamespace

    from pytorch_hyperlight.trial.epoch_recorder import current_epoch_metrics, epoch_metric_keys

    trainer = SimpleNamespace(
        callback_metrics={
            "train_loss": torch.tensor(9.0),
            "train_loss_epoch": torch.tensor(0.5),
            "train_loss_step": torch.tensor(0.4),
            "val_acc": torch.tensor(0.75),
        }
    )
    assert epoch_metric_keys(trainer) == {"train_loss": "train_loss_epoch", "val_acc": "val_acc"}
    assert current_epoch_metrics(trainer) == {"train_loss": 0.5, "val_acc": 0.75}
