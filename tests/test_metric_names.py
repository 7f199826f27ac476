"""Unit tests of metric-name handling (pure functions, no Lightning)."""

from __future__ import annotations

import pytest

from pytorch_hyperlight import MetricError
from pytorch_hyperlight.metric_names import (
    ResolvedMetric,
    base_name,
    canonical_name,
    canonicalize,
    check_stage_prefixes,
    names_without_stage,
    resolve_metric,
    stage_of,
)

EPOCH_METRICS = {"train_loss": "train_loss_epoch", "val_f1": "val_f1_epoch", "val_acc": "val_acc"}


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        ("val_f1_epoch", "val_f1"),
        ("val_f1", "val_f1"),
        ("val_f1_step", None),
        ("train_loss_epoch", "train_loss"),
    ],
)
def test_canonical_name_strips_epoch_and_drops_step(logged: str, expected: str | None) -> None:
    assert canonical_name(logged) == expected


def test_base_name_strips_either_suffix() -> None:
    assert [base_name(n) for n in ("a_step", "a_epoch", "a")] == ["a", "a", "a"]


@pytest.mark.parametrize(
    ("name", "stage"),
    [("train_acc", "train"), ("val_acc", "val"), ("test_f1", "test"), ("valid_acc", None),
     ("val_", None), ("accuracy", None), ("training_loss", None)],
)  # fmt: skip
def test_stage_of_reads_the_prefix(name: str, stage: str | None) -> None:
    assert stage_of(name) == stage


def test_canonicalize_prefers_the_epoch_value_over_a_plain_step_value() -> None:
    logged = {"train_loss": 9.0, "train_loss_epoch": 0.5, "train_loss_step": 0.4, "val_acc": 0.8}
    assert canonicalize(logged) == {"train_loss": 0.5, "val_acc": 0.8}


def test_canonicalize_keeps_epoch_value_whatever_the_key_order() -> None:
    assert canonicalize({"val_f1_epoch": 0.9, "val_f1": 0.1}) == {"val_f1": 0.9}


def test_names_without_stage_lists_each_offender_once_without_suffix() -> None:
    names = ["train_loss", "accuracy_step", "accuracy_epoch", "lr", "val_f1"]
    assert names_without_stage(names) == ["accuracy", "lr"]


def test_check_stage_prefixes_accepts_well_named_metrics() -> None:
    check_stage_prefixes(["train_loss_step", "train_loss_epoch", "val_acc", "test_f1"])


def test_check_stage_prefixes_names_every_offender() -> None:
    with pytest.raises(MetricError) as raised:
        check_stage_prefixes(["train_loss", "accuracy", "loss_mean_epoch"])
    message = str(raised.value)
    assert "'accuracy'" in message and "'loss_mean'" in message
    assert "'train_loss'" not in message
    assert "train_" in message and "val_" in message and "test_" in message


@pytest.mark.parametrize("given", ["val_f1_epoch", "val_f1"])
def test_resolve_metric_accepts_name_with_or_without_epoch_suffix(given: str) -> None:
    assert resolve_metric(given, EPOCH_METRICS) == ResolvedMetric("val_f1_epoch", "val_f1")


def test_resolve_metric_maps_epoch_suffix_onto_a_plain_logged_name() -> None:
    assert resolve_metric("val_acc_epoch", EPOCH_METRICS) == ResolvedMetric("val_acc", "val_acc")


def test_resolve_metric_unknown_lists_logged_metrics_and_closest_match() -> None:
    with pytest.raises(MetricError) as raised:
        resolve_metric("val_f2", EPOCH_METRICS, hint="Loaders used: val=none.")
    message = str(raised.value)
    assert "'val_f2'" in message
    assert "Did you mean 'val_f1'?" in message
    assert "'train_loss', 'val_acc', 'val_f1'" in message
    assert message.endswith("Loaders used: val=none.")


def test_resolve_metric_rejects_a_step_metric_and_suggests_the_epoch_one() -> None:
    with pytest.raises(MetricError, match=r"per-step value.*Use 'val_f1'"):
        resolve_metric("val_f1_step", EPOCH_METRICS)


def test_resolve_metric_with_nothing_logged_says_none() -> None:
    with pytest.raises(MetricError, match="during training and validation: none"):
        resolve_metric("val_loss", {})
