"""Every private Lightning API the library uses, pinned: each test fails loudly on a Lightning version
that moved it (the library itself would only fall back to a weaker answer).

The private uses live in :mod:`pytorch_hyperlight.trial.lightning` alone.
"""

from __future__ import annotations

import logging
import warnings
from types import SimpleNamespace
from typing import Any

import lightning.pytorch as lightning_pytorch
import pytest

from pytorch_hyperlight.trial.lightning import LoggedMetric, logged_metrics_of
from tests.models import TinyDigits, configure_dataloaders


@pytest.fixture(scope="module")
def fitted_and_tested() -> Any:
    """A Trainer after one tiny fit and one test of :class:`tests.models.TinyDigits`."""
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    loaders = configure_dataloaders(256)
    trainer = lightning_pytorch.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        limit_test_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    module = TinyDigits(lr=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, loaders["train_loader"], loaders["val_loader"])
        trainer.test(module, loaders["test_loader"], verbose=False)
    return trainer


def test_the_loops_result_collections_say_how_each_training_metric_was_logged(
    fitted_and_tested,
) -> None:
    """``fit_loop.epoch_loop._results``: ``train_loss`` logged on step and epoch, ``train_acc`` on
    epoch only; each entry's ``meta.name``, ``meta.on_epoch`` and ``meta.forked_name(False)``."""
    logged = logged_metrics_of(fitted_and_tested, ("train",))
    assert logged is not None, "Lightning moved fit_loop.epoch_loop._results or its entries' meta"
    assert LoggedMetric("train_loss", True, "train_loss_epoch") in logged
    assert LoggedMetric("train_acc", True, "train_acc") in logged


def test_the_validation_loops_result_collection_is_read(fitted_and_tested) -> None:
    """``fit_loop.epoch_loop.val_loop._results``."""
    logged = logged_metrics_of(fitted_and_tested, ("val",))
    assert logged is not None, "Lightning moved fit_loop.epoch_loop.val_loop._results"
    assert {m.name for m in logged} == {"val_loss", "val_acc"}
    assert all(m.on_epoch and m.epoch_key == m.name for m in logged)


def test_the_test_loops_result_collection_is_read(fitted_and_tested) -> None:
    """``test_loop._results``."""
    logged = logged_metrics_of(fitted_and_tested, ("test",))
    assert logged is not None, "Lightning moved test_loop._results"
    assert {m.name for m in logged} == {"test_loss", "test_acc"}


def test_a_trainer_without_the_internals_gives_none_so_callers_fall_back_to_names() -> None:
    assert logged_metrics_of(SimpleNamespace(callback_metrics={}), ("train", "val")) is None
