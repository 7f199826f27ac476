"""The seed README's example, steps 4-8, with its module and callback as written there (modernised only
where Lightning 2 forces it, see ``tests/seed_module.py``) and its configs shrunk for speed.

The module freezes every layer in ``__init__``; ``UnfreezeModelTailCallback`` unfreezes the last layer
at epoch 0, the one before it from epoch ``unfreeze_epochs[0] + 1`` and the rest from
``unfreeze_epochs[1] + 1``. So a trained best model has changed exactly the layers its callback had
unfrozen by its best epoch, and no other.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from ray import tune

from pytorch_hyperlight import Runner
from pytorch_hyperlight.errors import UnreadConfigKeyWarning
from tests.seed_module import (
    CONFIG,
    EXPERIMENT_ID,
    EXTRA_CONFIG,
    LMODULE_CLASS,
    N_CLASSES,
    UnfreezeModelTailCallback,
    configure_dataloaders,
)

#: The seed's CONFIG and EXTRA_CONFIG, shrunk: two epochs, a short warm-up, a 2-CPU machine.
SHRUNK_CONFIG = {**CONFIG, "max_epochs": 2, "warmup": 5}
SHRUNK_EXTRA_CONFIG = {
    **EXTRA_CONFIG,
    "cpu_per_trial": 1,
    "gpu_per_trial": 0,
    "n_samples": 2,
    "grace_period": 1,
    "epoch_upper_limit": 3,
}


def shrunk_search_space() -> dict[str, Any]:
    """The seed's SEARCH_SPACE_CONFIG with fewer epochs and warm-up steps."""
    return {
        "unfreeze_epochs": [0, 1],
        "lr": tune.uniform(1e-5, 1e-4),
        "warmup": tune.choice([2, 5]),
        "gradient_clip_val": 0,
        "max_epochs": tune.choice([2, 3]),
        "batch_size": tune.choice([64, 128]),
        "n_classes": N_CLASSES,
    }


def initial_weights() -> dict[str, torch.Tensor]:
    """The module's weights before training: the settings' seed fixes them, in every trial too."""
    pl.seed_everything(EXTRA_CONFIG["seed"], verbose=False)
    module = LMODULE_CLASS(dict(SHRUNK_CONFIG))
    return {name: value.detach().clone() for name, value in module.model.named_parameters()}


def changed_layers(module: Any, initial: dict[str, torch.Tensor]) -> set[str]:
    parameters = dict(module.model.named_parameters())
    return {
        name.split(".")[0] for name in initial if not torch.equal(parameters[name], initial[name])
    }


def unfrozen_by(epoch: int, unfreeze_epochs: list[int]) -> set[str]:
    """The layers the seed's callback has unfrozen at some epoch up to ``epoch``."""
    layers = {"l2"}
    if epoch > unfreeze_epochs[0]:
        layers.add("l1")
    if epoch > unfreeze_epochs[1]:
        layers.add("l0")
    return layers


def test_seed_readme_steps_4_to_6_single_trial_trains_what_the_callback_unfreezes() -> None:
    callback = UnfreezeModelTailCallback(CONFIG["unfreeze_epochs"])
    runner = Runner(configure_dataloaders, pl_callbacks=[callback], experiment_id=EXPERIMENT_ID)
    # the module never reads 'unfreeze_epochs' (the callback does): a warning, not an error
    with pytest.warns(UnreadConfigKeyWarning, match="'unfreeze_epochs' was never read"):
        best_result = runner.run_single_trial(LMODULE_CLASS, SHRUNK_CONFIG, SHRUNK_EXTRA_CONFIG)

    best_epoch = best_result["best_epoch"]
    assert best_epoch in (0, 1)
    trained = changed_layers(best_result["lmodule_best"], initial_weights())
    assert trained == unfrozen_by(best_epoch, [0, 1])  # l0 (unfrozen from epoch 2) never changed
    assert callback.epoch_vec is CONFIG["unfreeze_epochs"] == [0, 1]  # the caller's callback
    assert best_result["metrics"].plot() is not None
    df = best_result["metrics"].df
    assert list(df["stage"]) == ["train", "val", "train", "val", "reval", "test"]
    assert 0.0 <= best_result["metrics"].series_last["test_f1"] <= 1.0


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.usefixtures("ray_cluster")
def test_seed_readme_steps_7_8_search_trains_what_the_callback_unfreezes() -> None:
    callback = UnfreezeModelTailCallback(CONFIG["unfreeze_epochs"])
    runner = Runner(configure_dataloaders, pl_callbacks=[callback], experiment_id=EXPERIMENT_ID)
    with pytest.warns(UnreadConfigKeyWarning, match="'unfreeze_epochs' was never read"):
        best_result = runner.run_hyper_opt(
            LMODULE_CLASS, shrunk_search_space(), SHRUNK_EXTRA_CONFIG
        )

    assert best_result["errors"] == []  # every trial trained: the callback ran in each
    assert len(best_result["trials"]) == 2
    best_epoch = best_result["best_epoch"]
    trained = changed_layers(best_result["lmodule_best"], initial_weights())
    assert trained == unfrozen_by(best_epoch, [0, 1])
    assert callback.epoch_vec == [0, 1]
    assert {"val_f1", "test_f1"} <= set(best_result["metrics_last"].index)
    assert best_result["analysis"] is not None
