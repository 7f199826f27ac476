"""Bad input to Runner.run_single_trial: each gets a clear error, before any training starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from pytorch_hyperlight import (
    ConfigError,
    DataLoaderError,
    MetricError,
    NonFiniteMetricError,
    Runner,
)
from tests.models import (
    CONFIG,
    EXTRA_CONFIG,
    BadlyNamedMetrics,
    LitDigits,
    NaNAfterEpochs,
    OldStyleEpochStartCallback,
    RaisesInTrainingStep,
    TinyDigits,
    configure_dataloaders,
    tiny_config,
)

QUIET = {"verbose": 0}


def _checkpoints_written(results_dir: Path) -> list[Path]:
    return list(results_dir.rglob("*.ckpt"))


def _run(
    module: Any, config: dict, settings: Any = None, loaders_fn: Any = None, **runner_args: Any
):
    runner = Runner(loaders_fn or configure_dataloaders, **runner_args)
    return runner.run_single_trial(module, config, settings if settings is not None else QUIET)


def test_unknown_settings_key_suggests_the_closest_one() -> None:
    with pytest.raises(
        ConfigError, match="'metric_to_optimise' \\(did you mean 'metric_to_optimize'"
    ):
        _run(LitDigits, CONFIG, {**EXTRA_CONFIG, "metric_to_optimise": "val_f1"})


def test_unknown_config_key_is_named_before_training(results_dir: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        _run(TinyDigits, tiny_config(n_hiden=8))
    assert "'n_hiden'" in str(raised.value) and "did you mean 'n_hidden'?" in str(raised.value)
    assert _checkpoints_written(results_dir) == []


def test_bad_input_leaves_no_empty_run_directory_behind(results_dir: Path) -> None:
    with pytest.raises(ConfigError):
        _run(TinyDigits, tiny_config(n_hiden=8))
    assert [p for p in results_dir.rglob("*") if p.is_dir() and "trial" in p.name] == []


def test_missing_metric_lists_the_logged_metrics_before_training(results_dir: Path) -> None:
    with pytest.raises(MetricError) as raised:
        _run(LitDigits, CONFIG, {**EXTRA_CONFIG, "metric_to_optimize": "val_f2_epoch", **QUIET})
    message = str(raised.value)
    assert "'val_f2_epoch'" in message and "Did you mean 'val_f1'?" in message
    for name in ("train_acc", "train_loss", "val_acc", "val_f1", "val_loss", "val_rec"):
        assert f"'{name}'" in message
    assert "test_acc" not in message.split("Loaders used")[0]  # test metrics cannot be optimised
    assert _checkpoints_written(results_dir) == []


def test_val_metric_without_val_loader_says_which_loaders_were_used() -> None:
    with pytest.raises(MetricError, match=r"val=none.*returned keys \['train_dataset'"):
        _run(TinyDigits, tiny_config(), {"metric_to_optimize": "val_loss", "val_loader_name": None})


def test_badly_named_metrics_are_reported_by_name(results_dir: Path) -> None:
    with pytest.raises(MetricError) as raised:
        _run(BadlyNamedMetrics, tiny_config(), {"metric_to_optimize": "train_loss"})
    assert "'accuracy', 'loss_mean'" in str(raised.value)
    assert _checkpoints_written(results_dir) == []


def test_loaders_function_must_return_a_dict() -> None:
    def configure(batch_size: int, n_workers: int = 0) -> list:
        return [configure_dataloaders(batch_size)["train_loader"]]

    with pytest.raises(DataLoaderError, match=r"must return a dict of DataLoaders.*got list"):
        _run(TinyDigits, tiny_config(), loaders_fn=configure)


def test_missing_train_loader_lists_the_returned_keys() -> None:
    def configure(batch_size: int, n_workers: int = 0) -> dict:
        loaders = configure_dataloaders(batch_size)
        return {"training": loaders["train_loader"], "val_loader": loaders["val_loader"]}

    with pytest.raises(DataLoaderError) as raised:
        _run(TinyDigits, tiny_config(), loaders_fn=configure)
    assert "no 'train_loader' (the train_loader_name setting)" in str(raised.value)
    assert "['training', 'val_loader']" in str(raised.value)


def test_a_value_that_is_not_a_dataloader_is_rejected() -> None:
    def configure(batch_size: int, n_workers: int = 0) -> dict:
        loaders = configure_dataloaders(batch_size)
        return {"train_loader": loaders["train_loader"], "val_loader": loaders["val_dataset"]}

    with pytest.raises(DataLoaderError) as raised:
        _run(TinyDigits, tiny_config(), loaders_fn=configure)
    message = str(raised.value)
    assert "returned TensorDataset under 'val_loader'" in message
    assert "expected a torch.utils.data.DataLoader" in message
    assert "['train_loader', 'val_loader']" in message


def test_loaders_function_without_n_workers_is_rejected() -> None:
    def configure(batch_size: int) -> dict:
        return configure_dataloaders(batch_size)

    with pytest.raises(ConfigError, match=r"must accept f\(batch_size, n_workers=\.\.\.\)"):
        _run(TinyDigits, tiny_config(), loaders_fn=configure)


@pytest.mark.parametrize("not_a_module_class", [torch.nn.Linear, "TinyDigits"])
def test_not_a_lightning_module_class_is_rejected(not_a_module_class: Any) -> None:
    with pytest.raises(
        ConfigError, match=r"must be a subclass of pytorch_lightning\.LightningModule"
    ):
        _run(not_a_module_class, tiny_config())


def test_module_instance_instead_of_class_is_rejected() -> None:
    with pytest.raises(ConfigError, match="Pass the class itself, not an instance"):
        _run(TinyDigits(lr=0.1), tiny_config())


def test_config_without_batch_size_is_rejected() -> None:
    config = tiny_config()
    del config["batch_size"]
    with pytest.raises(ConfigError, match="'batch_size' is missing"):
        _run(TinyDigits, config)


def test_seed_style_on_epoch_start_callback_is_rejected(results_dir: Path) -> None:
    with pytest.raises(ConfigError, match="on_epoch_start\\(\\), which Lightning 2 never calls"):
        _run(TinyDigits, tiny_config(), pl_callbacks=[OldStyleEpochStartCallback()])
    assert _checkpoints_written(results_dir) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpus_asked_for_without_cuda_is_rejected() -> None:
    with pytest.raises(ConfigError, match="gpus=1 asks for GPUs, but CUDA is not usable"):
        _run(TinyDigits, tiny_config(), {"gpus": 1})


def test_error_in_training_step_surfaces_from_the_dry_run() -> None:
    with pytest.raises(RuntimeError, match="boom in training_step") as raised:
        _run(RaisesInTrainingStep, tiny_config())
    notes = getattr(raised.value, "__notes__", ["dry run"])
    assert any("dry run" in note for note in notes)


def test_loss_becoming_nan_stops_the_trial_with_a_clear_error() -> None:
    with pytest.raises(
        NonFiniteMetricError, match=r"^train_loss=nan, val_loss=nan at epoch 1: training diverged"
    ):
        _run(NaNAfterEpochs, tiny_config(max_epochs=4, nan_after_epoch=1))


def test_dataloader_fn_returning_none_loader_for_train_is_reported() -> None:
    def configure(batch_size: int, n_workers: int = 0) -> dict[str, DataLoader | None]:
        return {"train_loader": None}

    with pytest.raises(DataLoaderError, match="returned no 'train_loader'"):
        _run(TinyDigits, tiny_config(), loaders_fn=configure)
