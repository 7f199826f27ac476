"""The one-batch dry run is the real first epoch (the user's callbacks included) and leaves nothing
behind; the search pre-flight rejects a searched key that the module never reads."""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any, ClassVar

import lightning.pytorch as lightning_pytorch
import numpy
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from ray import tune

from examples.digits import CONFIG, N_CLASSES, LitDigits, configure_dataloaders
from pytorch_hyperlight import ConfigError, Runner, Settings
from pytorch_hyperlight.context import RunContext
from pytorch_hyperlight.errors import UnreadConfigKeyWarning
from pytorch_hyperlight.search import ray_session
from pytorch_hyperlight.search.checks import plan_search
from pytorch_hyperlight.trial.dry_run import DRY_RUN_NOTE
from pytorch_hyperlight.trial.fit import TrialSpec, dry_run
from tests.models import TinyDigits, tiny_config
from tests.seed_module import LitBoringDigits, UnfreezeModelTailCallback

QUIET = {"metric_to_optimize": "val_acc", "metric_opt_mode": "max", "verbose": 0}


def _spec(module: type, config: dict[str, Any], **settings: Any) -> TrialSpec:
    return TrialSpec(
        lmodule_class=module,
        configure_dataloaders=configure_dataloaders,
        config=config,
        settings=Settings.from_any({**QUIET, **settings}),
    )


def _seed_config(**changes: Any) -> dict[str, Any]:
    return {"lr": 1e-3, "warmup": 2, "max_epochs": 2, "batch_size": 256, "n_classes": 10, **changes}


# --- callbacks that let the tests see what ran ---------------------------------------------------
class EpochStartLog(lightning_pytorch.Callback):
    """Counts its own ``on_train_epoch_start`` calls, and logs (object id, epoch) class-wide, so a
    test can see calls made on deep copies of it."""

    log: ClassVar[list[tuple[int, int]]] = []

    def __init__(self) -> None:
        self.calls = 0

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.calls += 1
        EpochStartLog.log.append((id(self), trainer.current_epoch))


class RaisesAtEpochStart(pl.Callback):
    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        raise RuntimeError("boom in on_train_epoch_start")


class FirstStepRecorder(lightning_pytorch.Callback):
    """Records, class-wide, what the first training step of each run saw."""

    runs: ClassVar[list[dict[str, Any]]] = []

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        FirstStepRecorder.runs.append(
            {
                "weights": pl_module.net[0].weight.detach().clone(),
                "n_train_steps": pl_module.n_train_steps,
                "gradient_clip_val": trainer.gradient_clip_val,
                "precision": trainer.precision,
                "deterministic": torch.are_deterministic_algorithms_enabled(),
                "max_epochs": trainer.max_epochs,
            }
        )

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        FirstStepRecorder.runs[-1].setdefault("first_batch", batch[0].clone())


@pytest.fixture(autouse=True)
def clear_logs() -> None:
    EpochStartLog.log.clear()
    FirstStepRecorder.runs.clear()


# --- the dry run is the first epoch --------------------------------------------------------------
def test_seed_module_needs_its_unfreeze_callback_in_the_dry_run() -> None:
    """The seed freezes every layer in __init__; only its callback makes a training step possible."""
    spec = _spec(LitBoringDigits, _seed_config())
    with pytest.raises(RuntimeError, match="does not require grad") as raised:
        dry_run(spec)
    assert DRY_RUN_NOTE in raised.value.__notes__
    report = dry_run(spec, callbacks=[UnfreezeModelTailCallback([0, 1])])
    assert report.monitor == "val_acc_epoch"
    assert report.read_keys == {"lr", "warmup", "n_classes", "n_train_steps"}


def test_callback_raising_in_the_first_epoch_fails_the_dry_run_with_a_note(
    results_dir: Path,
) -> None:
    with pytest.raises(RuntimeError, match="boom in on_train_epoch_start") as raised:
        dry_run(_spec(LitDigits, {**CONFIG, "max_epochs": 1}), callbacks=[RaisesAtEpochStart()])
    assert DRY_RUN_NOTE in raised.value.__notes__
    runner = Runner(configure_dataloaders, pl_callbacks=[RaisesAtEpochStart()])
    with pytest.raises(RuntimeError, match="boom in on_train_epoch_start") as raised:
        runner.run_single_trial(LitDigits, {**CONFIG, "max_epochs": 1}, QUIET)
    assert DRY_RUN_NOTE in raised.value.__notes__  # before training: nothing was written
    assert list(results_dir.rglob("*.ckpt")) == []


def test_dry_run_calls_a_fresh_copy_of_each_callback_never_the_object_given() -> None:
    counter = EpochStartLog()
    dry_run(_spec(TinyDigits, tiny_config()), callbacks=[counter])
    assert counter.calls == 0
    ((copy_id, epoch),) = EpochStartLog.log
    assert copy_id != id(counter) and epoch == 0


def test_single_trial_runs_one_copy_in_the_dry_run_and_another_in_training() -> None:
    counter = EpochStartLog()
    Runner(configure_dataloaders, pl_callbacks=[counter]).run_single_trial(
        TinyDigits, tiny_config(max_epochs=2), QUIET
    )
    assert counter.calls == 0
    (dry_id, dry_epoch), *fit_calls = EpochStartLog.log
    fit_ids = {object_id for object_id, _ in fit_calls}
    assert dry_epoch == 0 and [epoch for _, epoch in fit_calls] == [0, 1]
    assert len(fit_ids) == 1 and dry_id not in fit_ids and id(counter) not in fit_ids | {dry_id}


def test_dry_run_starts_exactly_as_the_fit_does() -> None:
    """Same seeded weights, first batch, clipping, precision, deterministic mode, n_train_steps."""
    config = tiny_config(max_epochs=3, gradient_clip_val=0.5)
    runner = Runner(configure_dataloaders, pl_callbacks=[FirstStepRecorder()])
    runner.run_single_trial(TinyDigits, config, {**QUIET, "seed": 7})
    dry, fit = FirstStepRecorder.runs
    assert torch.equal(dry.pop("weights"), fit.pop("weights"))
    assert torch.equal(dry.pop("first_batch"), fit.pop("first_batch"))
    assert (dry.pop("max_epochs"), fit.pop("max_epochs")) == (1, 3)  # the dry run's one change
    assert (
        dry
        == fit
        == {
            "n_train_steps": 5 * 3,  # 1,079 training digits in batches of 256, times max_epochs
            "gradient_clip_val": 0.5,
            "precision": "32-true",
            "deterministic": True,
        }
    )


def test_dry_run_gives_back_the_random_state_and_deterministic_mode() -> None:
    random.seed(1)
    numpy.random.seed(2)
    torch.manual_seed(3)
    before = (random.getstate(), numpy.random.get_state()[1].copy(), torch.get_rng_state())
    variables = {name: os.environ.get(name) for name in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")}
    deterministic = torch.are_deterministic_algorithms_enabled()
    dry_run(_spec(TinyDigits, tiny_config(), seed=11))
    assert random.getstate() == before[0]
    assert (numpy.random.get_state()[1] == before[1]).all()
    assert torch.equal(torch.get_rng_state(), before[2])
    assert {name: os.environ.get(name) for name in variables} == variables
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_checkpoint_callbacks_write_nothing_in_the_dry_run(tmp_path: Path) -> None:
    checkpoint = lightning_pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "checkpoints")
    dry_run(_spec(TinyDigits, tiny_config()), callbacks=[checkpoint])
    assert not (tmp_path / "checkpoints").exists()


def test_callback_needing_a_logger_runs_when_the_fit_has_loggers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in logger in a temporary directory; without loggers it fails as training would."""
    monitor = lightning_pytorch.callbacks.LearningRateMonitor()
    monkeypatch.chdir(tmp_path)
    dry_run(_spec(TinyDigits, tiny_config()), callbacks=[monitor], with_logger=True)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(Exception, match=r"LearningRateMonitor.*no logger"):
        dry_run(_spec(TinyDigits, tiny_config()), callbacks=[monitor])


# --- modules reading their hyper-parameters in each constructor style ----------------------------
class _Net(lightning_pytorch.LightningModule):
    """A digits classifier; each subclass reads ``lr`` and ``n_hidden`` in its own way."""

    def _build(self, lr: float, n_hidden: int) -> None:
        self.lr = lr
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, n_hidden), torch.nn.ReLU(), torch.nn.Linear(n_hidden, N_CLASSES)
        )

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def _loss(self, batch: Any, stage: str) -> torch.Tensor:
        logits = self.net(batch[0])
        loss = F.cross_entropy(logits, batch[1])
        self.log(f"{stage}_loss", loss)
        self.log(f"{stage}_acc", (logits.argmax(dim=1) == batch[1]).float().mean())
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._loss(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._loss(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._loss(batch, "test")


class ReadsItems(_Net):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self._build(hparams["lr"], hparams["n_hidden"])


class ReadsWithGet(_Net):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self._build(hparams.get("lr", 0.05), hparams.get("n_hidden", 16))


class ReadsWithIn(_Net):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self._build(hparams["lr"], 32 if "n_hidden" in hparams else 16)  # only a membership test


class SavesThenReadsAttributes(_Net):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters(hparams)
        self._build(self.hparams.lr, self.hparams.n_hidden)


class SavesAllThenReadsNested(_Net):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters()  # self.hparams.hparams is the dict passed in
        self._build(self.hparams.hparams["lr"], self.hparams.hparams["n_hidden"])


class ReadsMomentumInOptimizers(_Net):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self.config = hparams
        self._build(hparams["lr"], hparams["n_hidden"])

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.config["momentum"])


class NeedsAnExactDict(_Net):
    """Code that accepts only an exact dict (as OmegaConf.create and yaml.safe_dump do)."""

    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        if type(hparams) is not dict:
            raise TypeError(f"expected a dict, got {type(hparams).__name__}")
        self._build(hparams["lr"], 16)


class ReadsAnAttributeOfThePlainDict(_Net):
    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self._build(hparams.lr, 16)  # type: ignore[attr-defined]


HPARAMS_STYLES = [
    (ReadsItems, {}),
    (ReadsWithGet, {}),
    (ReadsWithIn, {}),
    (SavesThenReadsAttributes, {}),
    (SavesAllThenReadsNested, {}),
    (LitDigits, {"n_classes": N_CLASSES}),  # the README's: save_hyperparameters + self.hparams.get
]
STYLE_IDS = [module.__name__ for module, _ in HPARAMS_STYLES]


def _space(**changes: Any) -> dict[str, Any]:
    return {
        "lr": tune.loguniform(1e-3, 1e-1),
        "n_hidden": 16,
        "max_epochs": 2,
        "batch_size": 256,
        **changes,
    }


def _plan(module: type, space: dict[str, Any], tmp_path: Path) -> Any:
    """The search pre-flight alone: everything checked before Ray starts (no trial can run)."""
    settings = Settings.from_any({**QUIET, "n_samples": 2})
    context = RunContext(configure_dataloaders, run_name="pre-flight", run_dir=tmp_path)
    return plan_search(module, space, settings, context)


@pytest.mark.parametrize(("module", "constants"), HPARAMS_STYLES, ids=STYLE_IDS)
def test_searched_key_the_module_never_reads_is_an_error_naming_the_read_key(
    module: type, constants: dict[str, Any], tmp_path: Path
) -> None:
    space = _space(n_hiden=tune.choice([8, 32]), **constants)
    with pytest.raises(ConfigError, match=r"'n_hiden' \(did you mean 'n_hidden'\?\) is never read"):
        _plan(module, space, tmp_path)


@pytest.mark.parametrize(("module", "constants"), HPARAMS_STYLES, ids=STYLE_IDS)
def test_correctly_spelled_search_space_passes(
    module: type, constants: dict[str, Any], tmp_path: Path
) -> None:
    space = _space(n_hidden=tune.choice([8, 32]), **constants)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadConfigKeyWarning)
        plan = _plan(module, space, tmp_path)
    assert plan.metric == "val_acc"


def test_keyword_constructor_rejects_the_misspelt_key_before_the_dry_run(tmp_path: Path) -> None:
    space = tiny_config(lr=tune.loguniform(1e-3, 1e-1), n_hiden=tune.choice([8, 32]))
    with pytest.raises(ConfigError, match=r"'n_hiden' is neither read.*did you mean 'n_hidden'"):
        _plan(TinyDigits, space, tmp_path)


def test_key_read_only_in_configure_optimizers_counts_as_read(tmp_path: Path) -> None:
    _plan(ReadsMomentumInOptimizers, _space(momentum=tune.uniform(0.5, 0.9)), tmp_path)
    misspelt = _space(momentum=0.9, momentun=tune.uniform(0.5, 0.9))
    with pytest.raises(ConfigError, match=r"'momentun' \(did you mean 'momentum'\?\)"):
        _plan(ReadsMomentumInOptimizers, misspelt, tmp_path)


def test_constant_the_module_never_reads_is_only_a_warning(tmp_path: Path) -> None:
    """The seed's 'unfreeze_epochs' is read by its callback, not by the module."""
    space = _space(unfreeze_epochs=[0, 1])
    with pytest.warns(UnreadConfigKeyWarning, match=r"'unfreeze_epochs' was never read by Reads"):
        _plan(ReadsItems, space, tmp_path)


def test_module_needing_an_exact_dict_passes_the_dry_run_with_reads_unknown(
    tmp_path: Path,
) -> None:
    assert dry_run(_spec(NeedsAnExactDict, tiny_config())).read_keys is None
    _plan(NeedsAnExactDict, _space(n_hiden=tune.choice([8, 32])), tmp_path)  # nothing to report


def test_attribute_read_of_the_hparams_dict_fails_as_in_training() -> None:
    """hparams is a plain dict in training; the dry run raises the same error, early (as a
    ConfigError naming the module, the AttributeError chained as its cause)."""
    with pytest.raises(ConfigError, match="'dict' object has no attribute 'lr'") as raised:
        dry_run(_spec(ReadsAnAttributeOfThePlainDict, tiny_config()))
    assert isinstance(raised.value.__cause__, AttributeError)
    assert DRY_RUN_NOTE in raised.value.__notes__


def test_readme_module_with_misspelt_searched_key_fails_before_ray(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Ray work started before the misspelt key was reported")

    monkeypatch.setattr(ray_session, "ray_session", refuse)
    space = _space(n_classes=N_CLASSES, n_hiden=tune.choice([32, 64]))
    with pytest.raises(ConfigError, match=r"'n_hiden' \(did you mean 'n_hidden'\?\)"):
        Runner(configure_dataloaders).run_hyper_opt(LitDigits, space, {**QUIET, "n_samples": 2})


def test_single_trial_warns_about_a_config_key_the_module_never_reads() -> None:
    config = {**CONFIG, "max_epochs": 1, "batch_size": 256, "n_hiden": 8}
    with pytest.warns(UnreadConfigKeyWarning, match=r"'n_hiden' \(did you mean 'n_hidden'\?\)"):
        result = Runner(configure_dataloaders).run_single_trial(LitDigits, config, QUIET)
    assert result["best_epoch"] == 0  # a warning: training went on
