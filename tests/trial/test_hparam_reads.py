"""Watching which hyper-parameter keys a module reads (no training): the recording mappings, the
one adapter to Lightning's ``hparams``, and the unread-key report."""

from __future__ import annotations

import copy
import inspect
import pickle
import warnings
from typing import Any

import lightning.pytorch as lightning_pytorch
import pytest
import pytorch_lightning as pl

from examples.digits import CONFIG, LitDigits
from pytorch_hyperlight.errors import ConfigError, UnreadConfigKeyWarning
from pytorch_hyperlight.trial.building import build_module
from pytorch_hyperlight.trial.hparam_reads import (
    HparamReads,
    closest_read_key,
    report_unread_keys,
    unread_keys,
)
from pytorch_hyperlight.trial.lightning import hparams_watched_class
from tests.models import TinyDigits, tiny_config

DERIVED = {"n_steps_per_epoch": 3, "n_train_steps": 6}


# --- the recording mapping -----------------------------------------------------------------------
def test_item_get_membership_and_setdefault_are_reads() -> None:
    reads = HparamReads()
    hparams = reads.recording({"a": 1, "b": 2, "c": 3, "d": 4, "unused": 5})
    assert (hparams["a"], hparams.get("b"), "c" in hparams, hparams.setdefault("d", 0)) == (
        1,
        2,
        True,
        4,
    )
    assert hparams.get("absent", 7) == 7  # a read of a key the config lacks still counts
    assert reads.read_keys() == {"a", "b", "c", "d", "absent"}


def test_copies_made_without_calling_a_method_are_not_reads() -> None:
    """dict(h), {**h}, update(h) and f(**h) take CPython's fast path: what Lightning does."""
    reads = HparamReads()
    hparams = reads.recording({"a": 1, "b": 2})
    target: dict[str, Any] = {}
    target.update(hparams)
    assert dict(hparams) == {**hparams} == target == (lambda **kw: kw)(**hparams)
    assert reads.read_keys() == frozenset()


def test_items_or_values_read_every_key() -> None:
    reads = HparamReads()
    hparams = reads.recording({"a": 1})
    assert list(hparams.items()) == [("a", 1)]
    assert reads.read_keys() is None  # any key may have been read: none can be reported


def test_copies_keep_recording_into_the_same_reads() -> None:
    reads = HparamReads()
    hparams = reads.recording({"a": 1, "b": 2, "nested": {"c": 3}})
    deep = copy.deepcopy(hparams)
    deep["nested"]["c"] = 99
    assert (hparams.copy()["a"], copy.copy(hparams)["b"], deep["nested"]) == (1, 2, {"c": 99})
    assert hparams["nested"] == {"c": 3}  # a deep copy, not a view
    assert reads.read_keys() == {"a", "b", "nested"}


def test_a_pickled_recording_mapping_is_the_plain_dict_it_stands_for() -> None:
    reads = HparamReads()
    restored = pickle.loads(pickle.dumps(reads.recording({"a": 1})))
    assert type(restored) is dict and restored == {"a": 1}


def test_watch_changes_an_attribute_dict_in_place_and_keeps_its_behaviour() -> None:
    from lightning.fabric.utilities.data import AttributeDict

    reads = HparamReads()
    stored = AttributeDict({"lr": 0.1, "n": 2})
    assert reads.watch(stored) is stored and isinstance(stored, AttributeDict)
    stored.extra = 5  # attribute writes still set keys
    assert (stored.lr, stored["n"], stored["extra"]) == (0.1, 2, 5)
    assert reads.read_keys() == {"lr", "n", "extra"}


def test_a_mapping_that_cannot_be_watched_makes_the_reads_unknown() -> None:
    reads = HparamReads()
    reads.watch(("not", "a", "dict"))
    assert reads.read_keys() is None


# --- the adapter to Lightning's hparams (fails loudly if Lightning changes how it keeps them) ------
@pytest.mark.parametrize("namespace", [pl, lightning_pytorch], ids=lambda ns: ns.__name__)
def test_lightning_keeps_hparams_in_the_mapping_its_property_returns(namespace: Any) -> None:
    class SavesHparams(namespace.LightningModule):
        """Docstring kept."""

        def __init__(self, hparams: dict[str, Any]) -> None:
            super().__init__()
            self.save_hyperparameters(hparams)
            self.width = self.hparams.width

    assert isinstance(inspect.getattr_static(namespace.LightningModule, "hparams"), property)
    reads = HparamReads()
    watched = hparams_watched_class(SavesHparams, reads.watch)
    module = watched(reads.recording({"width": 4, "unused": 1}))
    assert isinstance(module, SavesHparams) and watched.__qualname__ == SavesHparams.__qualname__
    assert watched.__doc__ == "Docstring kept." and watched.__module__ == __name__
    # save_hyperparameters stored into the watched mapping (read nothing while copying it) ...
    assert reads.read_keys() == {"width"}
    assert module.hparams_initial == {"width": 4, "unused": 1}
    assert dict(module.hparams) == {"width": 4, "unused": 1}
    # ... and later reads, by attribute or key, are recorded.
    assert module.hparams.get("unused") == 1
    assert reads.read_keys() == {"width", "unused"}


# --- building the module with reads watched ------------------------------------------------------
def test_hparams_module_saving_hyperparameters_reports_what_it_reads() -> None:
    reads = HparamReads()
    build_module(LitDigits, {**CONFIG, "n_hiden": 8}, DERIVED, reads=reads)
    assert reads.read_keys() == {"n_classes", "n_hidden"}  # lr and n_train_steps: optimizers


def test_keyword_module_reads_every_argument_it_receives() -> None:
    reads = HparamReads()
    build_module(TinyDigits, tiny_config(), DERIVED, reads=reads)
    assert reads.read_keys() == {"lr", "n_hidden", "n_train_steps"}


def test_building_without_reads_passes_a_plain_dict() -> None:
    class Checks(pl.LightningModule):
        def __init__(self, hparams: dict[str, Any]) -> None:
            super().__init__()
            self.kind = type(hparams)

    assert build_module(Checks, {"max_epochs": 1, "batch_size": 2}, DERIVED).kind is dict


# --- the report ----------------------------------------------------------------------------------
def test_framework_keys_count_as_read() -> None:
    keys = ["lr", "max_epochs", "batch_size", "gradient_clip_val", "colour"]
    assert unread_keys(keys, {"lr"}) == ["colour"]


def test_the_closest_read_key_is_suggested_only_when_close() -> None:
    assert closest_read_key("n_hiden", {"lr", "n_hidden"}) == "n_hidden"
    assert closest_read_key("batchsize", {"lr"}) == "batch_size"
    assert closest_read_key("dropout", {"lr", "n_hidden"}) is None


def test_an_unread_searched_key_is_an_error_naming_key_and_suggestion() -> None:
    with pytest.raises(ConfigError) as raised:
        report_unread_keys(
            ["lr", "n_hiden", "note"],
            frozenset({"lr", "n_hidden"}),
            class_name="LitDigits",
            searched=["lr", "n_hiden"],
        )
    message = str(raised.value)
    assert "Search space key 'n_hiden' (did you mean 'n_hidden'?) is never read by LitDigits" in (
        message
    )
    assert "'note'" not in message  # unread constants are not errors
    assert "remove it from the search space" in message


def test_an_unread_constant_or_config_key_is_a_warning() -> None:
    with pytest.warns(UnreadConfigKeyWarning, match=r"'unfreeze_epochs' was never read by Lit"):
        report_unread_keys(
            ["lr", "unfreeze_epochs"], frozenset({"lr"}), class_name="Lit", searched=["lr"]
        )


def test_several_unread_searched_keys_are_named_in_one_error() -> None:
    pattern = r"keys 'n_hiden' \(did you mean 'n_hidden'\?\), 'colour' are never read by Lit:"
    with pytest.raises(ConfigError, match=pattern):
        report_unread_keys(
            ["n_hiden", "colour"], {"n_hidden"}, class_name="Lit", searched=["n_hiden", "colour"]
        )


def test_nothing_is_reported_when_everything_was_read_or_reads_are_unknown() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report_unread_keys(["lr", "batch_size"], frozenset({"lr"}), class_name="Lit")
        report_unread_keys(["typo"], None, class_name="Lit", searched=["typo"])
