"""One preparation of a trial (trial/prepare.py), used by the single trial and by the search."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ray import tune

from pytorch_hyperlight import ConfigError, Runner, Settings
from pytorch_hyperlight.context import RunContext
from pytorch_hyperlight.errors import UnreadConfigKeyWarning
from pytorch_hyperlight.search import ray_session
from pytorch_hyperlight.search.checks import plan_search
from pytorch_hyperlight.trial import prepare
from pytorch_hyperlight.trial.prepare import prepare_trial
from tests.models import (
    CONFIG,
    EpochStartRecorder,
    LitDigits,
    TinyDigits,
    configure_dataloaders,
    tiny_config,
)


class FailsOnTrainStart(EpochStartRecorder):
    """A callback that fails when training starts (in the dry run already)."""

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        raise ValueError("callback failed")


SETTINGS = Settings(metric_to_optimize="val_acc", metric_opt_mode="max", verbose=0)


def _prepare(config: dict[str, Any], **options: Any) -> prepare.PreparedTrial:
    return prepare_trial(
        TinyDigits, config, SETTINGS, configure_dataloaders=configure_dataloaders, **options
    )


def test_a_prepared_trial_has_its_monitor_loaders_and_the_settings_in_its_spec() -> None:
    config = tiny_config(batch_size=128)
    prepared = _prepare(config)
    assert prepared.spec.monitor == "val_acc" and prepared.metric == "val_acc"
    assert prepared.spec.settings is SETTINGS and prepared.settings is SETTINGS
    assert prepared.loaders.batch_size == 128 and prepared.loaders.val is not None
    assert {"train_loss", "val_acc", "test_acc"} <= set(prepared.dry_run.logged)
    assert prepared.dry_run.read_keys is not None and "lr" in prepared.dry_run.read_keys


def test_the_callers_config_and_callbacks_are_copied_not_used() -> None:
    config = tiny_config()
    recorder = EpochStartRecorder()
    prepared = _prepare(config, callbacks=[recorder])
    assert prepared.spec.config == config and prepared.spec.config is not config
    assert len(prepared.user_callbacks) == 1 and prepared.user_callbacks[0] is not recorder
    assert (
        recorder.epochs_started == [] and prepared.user_callbacks[0].epochs_started == []
    )  # the dry run: copies


def test_a_searched_key_the_module_never_reads_is_an_error_a_constant_a_warning() -> None:
    config = {**CONFIG, "max_epochs": 1, "batch_size": 256, "dropout": 0.1}

    def prepare_lit(**options: Any) -> prepare.PreparedTrial:
        return prepare_trial(
            LitDigits, config, SETTINGS, configure_dataloaders=configure_dataloaders, **options
        )

    with pytest.raises(ConfigError, match=r"Search space key 'dropout' .*never read by LitDigits"):
        prepare_lit(searched_keys=["dropout"])
    with pytest.warns(UnreadConfigKeyWarning, match=r"'dropout' was never read by LitDigits"):
        prepare_lit()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadConfigKeyWarning)
        prepare_lit(reported_keys=["lr", "n_hidden"])  # only the keys asked about are reported


def test_the_dry_run_context_wraps_the_loaders_and_the_dry_run() -> None:
    entered: list[str] = []

    @contextlib.contextmanager
    def named() -> Iterator[None]:
        entered.append("in")
        try:
            yield
        except Exception as error:
            raise ConfigError(f"explained: {type(error).__name__}") from error

    def broken_loaders(batch_size: int, n_workers: int = 0) -> dict[str, Any]:
        raise OSError("no data here")

    with pytest.raises(ConfigError, match="explained: DataLoaderError"):
        prepare_trial(
            TinyDigits,
            tiny_config(),
            SETTINGS,
            configure_dataloaders=broken_loaders,
            dry_run_context=named,
        )
    with pytest.raises(ConfigError, match="explained: ValueError"):
        _prepare(tiny_config(), callbacks=[FailsOnTrainStart()], dry_run_context=named)
    assert entered == ["in", "in"]


def test_the_unread_key_warning_points_at_the_users_call() -> None:
    config = {**CONFIG, "max_epochs": 1, "batch_size": 256, "n_hiden": 8}
    with pytest.warns(UnreadConfigKeyWarning) as caught:
        Runner(configure_dataloaders).run_single_trial(LitDigits, config, {"verbose": 0})
    assert [w.filename for w in caught] == [__file__]


def test_single_trial_and_search_both_prepare_their_trial_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    real = prepare.prepare_trial

    def spy(*args: Any, **kwargs: Any) -> prepare.PreparedTrial:
        calls.append(dict(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(prepare, "prepare_trial", spy)
    monkeypatch.setattr("pytorch_hyperlight.runs.single_trial.prepare_trial", spy)
    Runner(configure_dataloaders).run_single_trial(TinyDigits, tiny_config(max_epochs=1), SETTINGS)
    context = RunContext(configure_dataloaders, run_name="plan", run_dir=tmp_path)
    monkeypatch.setattr(ray_session, "ray_session", None)  # planning never uses Ray
    plan = plan_search(TinyDigits, tiny_config(lr=tune.loguniform(1e-3, 1e-1)), SETTINGS, context)
    assert len(calls) == 2
    assert 1e-3 <= calls[1]["lr"] <= 1e-1  # the search prepares a config drawn from its space
    assert plan.spec.monitor == "val_acc" and plan.settings is SETTINGS
