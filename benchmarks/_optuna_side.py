"""Optuna's side of the comparison: TPE + asynchronous successive halving + Lightning pruning.

Each trial is a plain Lightning fit of the same :class:`DigitsMLP` with a ``ModelCheckpoint`` that
keeps the best epoch (as ours does) and Optuna's ``PyTorchLightningPruningCallback`` reporting
``val_acc`` each epoch to a :class:`~optuna.pruners.SuccessiveHalvingPruner` with the same rungs as
Ray's ASHA. The best trial's best checkpoint is then re-validated and tested in the calling process.

Two ways to run trials in parallel:

- :func:`run_processes` (the fair setting): ``budget.workers`` fresh worker processes share one
  study in a ``JournalStorage`` file, each with its own seeded TPE sampler, until the study holds
  ``n_trials`` trials (Optuna's ``MaxTrialsCallback``).
- :func:`run_threads` (for reference): ``study.optimize(n_jobs=workers)`` in this process; the
  trials share one interpreter and its GIL.

Rungs: Optuna's Lightning callback reports ``step = current_epoch`` (from 0), so a pruner rung at
step 1 would judge a trial after 2 epochs while Ray's ASHA judges it after 1
(``training_iteration`` counts from 1). :class:`EpochsTrainedPruning` reports epochs trained
instead, so both judge at 1, 3, 9 epochs trained; a trial that trained all its epochs is never
pruned (Ray's ASHA stops it at ``max_t`` as finished).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import optuna
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from optuna_integration import PyTorchLightningPruningCallback

from benchmarks._environment import quiet
from benchmarks._mlp import Budget, DigitsMLP, configure_dataloaders, model_arguments, suggest
from benchmarks._timeline import EpochRecord

METRIC = "val_acc"
STUDY_NAME = "benchmark"


class EpochsTrainedPruning(PyTorchLightningPruningCallback):
    """Optuna's pruning callback, reporting epochs trained (``current_epoch + 1``) as the step."""

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is None:
            return
        trained = pl_module.current_epoch + 1
        self._trial.report(float(score), step=trained)
        if trained < trainer.max_epochs and self._trial.should_prune():
            raise optuna.TrialPruned(f"Trial was pruned after {trained} epochs.")


class EpochLog(pl.Callback):
    """Appends an :class:`EpochRecord` per epoch to a list (cheap: no I/O during training).

    The record is taken at ``on_validation_end``, before the pruning callback may stop the trial.
    """

    def __init__(self, trial: str, batch_size: int, records: list[EpochRecord]) -> None:
        self.trial = trial
        self.batch_size = batch_size
        self.records = records
        self._started_at = time.time()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started_at = time.time()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(METRIC)
        self.records.append(
            EpochRecord(
                trial=self.trial,
                epoch=pl_module.current_epoch,
                started_at=self._started_at,
                ended_at=time.time(),
                value=None if value is None else float(value),
                batch_size=self.batch_size,
                process=os.getpid(),
            )
        )


def _trainer(max_epochs: int, callbacks: list[Any]) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=max_epochs,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
        accelerator="cpu",
        devices=1,
    )


def make_objective(
    budget: Budget, checkpoints: Path, records: list[EpochRecord]
) -> Callable[[optuna.Trial], float]:
    """The objective a user writes: fit, keep the best epoch, report to the pruner each epoch."""

    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial)
        loaders = configure_dataloaders(config["batch_size"])
        pl.seed_everything(budget.seed, workers=True, verbose=False)
        model = DigitsMLP(**model_arguments(config))
        best = ModelCheckpoint(
            dirpath=checkpoints / f"trial_{trial.number}", monitor=METRIC, mode="max", save_top_k=1
        )
        callbacks = [
            EpochLog(str(trial.number), config["batch_size"], records),
            EpochsTrainedPruning(trial, monitor=METRIC),
            best,
        ]
        _trainer(budget.max_epochs, callbacks).fit(
            model, loaders["train_loader"], loaders["val_loader"]
        )
        trial.set_user_attr("checkpoint", best.best_model_path)
        return float(best.best_model_score)

    return objective


def _sampler(budget: Budget, worker: int) -> optuna.samplers.BaseSampler:
    # One sampler per worker process: their random starts must differ, so the seeds differ.
    return optuna.samplers.TPESampler(
        seed=budget.seed * 1000 + worker, n_startup_trials=budget.n_startup_trials
    )


def _pruner(budget: Budget) -> optuna.pruners.BasePruner:
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=budget.grace_period, reduction_factor=budget.reduction_factor
    )


def _storage(journal: Path) -> optuna.storages.BaseStorage:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(journal)))


def worker_main(budget_fields: dict[str, Any], worker: int, workdir: str) -> None:
    """One worker process: optimise the shared study until it holds ``n_trials`` trials."""
    quiet()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    budget = Budget(**budget_fields)
    root = Path(workdir)
    study = optuna.load_study(
        study_name=STUDY_NAME,
        storage=_storage(root / "journal.log"),
        sampler=_sampler(budget, worker),
        pruner=_pruner(budget),
    )
    records: list[EpochRecord] = []
    try:
        study.optimize(
            make_objective(budget, root / "checkpoints", records),
            callbacks=[optuna.study.MaxTrialsCallback(budget.n_trials, states=None)],
        )
    finally:
        lines = [json.dumps(dataclasses.asdict(record)) for record in records]
        (root / f"epochs_{worker}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def evaluate_best(study: optuna.Study, batch_size: int) -> tuple[float, float]:
    """Re-validate and test the best trial's best checkpoint: ``(val_acc, test_acc)``."""
    model = DigitsMLP.load_from_checkpoint(study.best_trial.user_attrs["checkpoint"])
    loaders = configure_dataloaders(batch_size)
    trainer = _trainer(1, [])
    validated = trainer.validate(model, loaders["val_loader"], verbose=False)
    tested = trainer.test(model, loaders["test_loader"], verbose=False)
    return float(validated[0]["val_acc"]), float(tested[0]["test_acc"])


def _outcome(side: str, budget: Budget, called: float, study: optuna.Study,
             records: list[EpochRecord]) -> dict[str, Any]:  # fmt: skip
    best_val, test_acc = evaluate_best(study, budget.batch_size_main)
    return {
        "side": side,
        "budget": dataclasses.asdict(budget),
        "called": called,
        "done": time.time(),
        "calls": [],
        "epochs": [dataclasses.asdict(record) for record in records],
        "n_trials_run": len(study.trials),
        "test_acc": test_acc,
        "best_val_acc": best_val,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run_processes(budget: Budget, workdir: Path) -> dict[str, Any]:
    """The study in a journal file, ``budget.workers`` worker processes (spawned: fresh imports)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    called = time.time()
    optuna.create_study(
        study_name=STUDY_NAME, storage=_storage(workdir / "journal.log"), direction="maximize"
    )
    context = multiprocessing.get_context("spawn")
    fields = dataclasses.asdict(budget)
    workers = [
        context.Process(target=worker_main, args=(fields, index, str(workdir)))
        for index in range(budget.workers)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join()
    if any(process.exitcode != 0 for process in workers):
        raise RuntimeError(f"an Optuna worker failed: {[p.exitcode for p in workers]}")
    study = optuna.load_study(study_name=STUDY_NAME, storage=_storage(workdir / "journal.log"))
    records = []
    for path in sorted(workdir.glob("epochs_*.jsonl")):
        records += [
            EpochRecord(**json.loads(line)) for line in path.read_text().split("\n") if line
        ]
    return _outcome("optuna", budget, called, study, records)


def run_threads(budget: Budget, workdir: Path) -> dict[str, Any]:
    """One process, an in-memory study, ``study.optimize(n_jobs=budget.workers)``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    records: list[EpochRecord] = []
    called = time.time()
    study = optuna.create_study(
        direction="maximize", sampler=_sampler(budget, 0), pruner=_pruner(budget)
    )
    study.optimize(
        make_objective(budget, workdir / "checkpoints", records),
        n_trials=budget.n_trials,
        n_jobs=budget.workers,
    )
    return _outcome("optuna-threads", budget, called, study, records)
