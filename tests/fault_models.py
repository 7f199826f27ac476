"""A module and loaders for the resume and fault tests (importable by drivers run as subprocesses).

:class:`EventLogDigits` writes what each trial does to a log file (fit starts, every epoch, the end
of training once its last report went out; from the Ray workers only) and can send a signal at a chosen point: to the driver (Ctrl-C, SIGKILL)
or to its own worker process. :func:`ordered_loaders` never shuffles, so a trial continued from a
checkpoint trains on exactly the batches an uninterrupted trial would have seen.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader

from examples.digits import configure_dataloaders
from tests.models import TinyDigits


def ordered_loaders(batch_size: int, n_workers: int = 0) -> dict[str, Any]:
    """The digits loaders without shuffling: each epoch sees the same batches in the same order."""
    loaders = configure_dataloaders(batch_size, n_workers=n_workers)
    loaders["train_loader"] = DataLoader(loaders["train_dataset"], batch_size=batch_size)
    return loaders


class EventLogDigits(TinyDigits):
    """Logs ``<event> <trial key> <epoch>`` lines and sends one signal when told to.

    Args:
        log_file: where the lines go (appended by every worker).
        driver_pid: the search's process; its one-batch dry run logs nothing.
        signal_at: ``"<k>:<epoch>:<signal>:<target>"``: the first fit numbered k or later to
            reach the end of an epoch numbered ``epoch`` or later (fits are numbered by their start
            in the log, 1-based, a resumed trial's too; ``*``: any fit) sends ``signal``
            (``SIGINT`` or ``SIGKILL``) to ``target``; each signal once per log file. Targets:
            ``driver``, ``self`` (the trial's worker process) or ``node@<ip>`` (from a trial running
            on the node with that address: its raylet, then the trial's own worker, as when the
            machine goes down). Empty: never.

    A fit's number is the position of its own start line in the log (lines are appended whole), so
    it does not depend on what other trials do meanwhile.
    """

    def __init__(
        self,
        lr: float,
        n_hidden: int,
        log_file: str,
        driver_pid: int,
        signal_at: str = "",
    ) -> None:
        super().__init__(lr=lr, n_hidden=n_hidden)
        self.key = f"{n_hidden}/{lr!r}"
        self.log_file = log_file
        self.driver_pid = driver_pid
        self.signal_at = signal_at
        self.fit_number = 0

    def _log(self, event: str, tag: str = "") -> None:
        with open(self.log_file, "a") as handle:
            handle.write(f"{event} {self.key} {self.current_epoch} {tag}".rstrip() + "\n")

    def _in_worker(self) -> bool:
        return os.getpid() != self.driver_pid

    def on_fit_start(self) -> None:
        if self._in_worker():
            tag = f"#{os.getpid()}-{time.time_ns()}"
            self._log("start", tag)
            lines = Path(self.log_file).read_text().splitlines()
            starts = [line for line in lines if line.startswith("start ")]
            self.fit_number = next(i for i, line in enumerate(starts, 1) if line.endswith(tag))

    def on_train_end(self) -> None:
        # Runs after the reporter's last report went out: the trial has finished training.
        if self._in_worker():
            self._log("finished")

    def on_train_epoch_start(self) -> None:
        if self._in_worker():
            self._log("epoch")

    def on_train_epoch_end(self) -> None:
        if not self._in_worker() or not self.signal_at:
            return
        nth, epoch, name, target = self.signal_at.split(":")
        marker = Path(f"{self.log_file}.{name}-{target}")
        if (nth != "*" and self.fit_number < int(nth)) or self.current_epoch < int(epoch):
            return
        if marker.exists():
            return
        pids = {"driver": [self.driver_pid], "self": [os.getpid()]}.get(target)
        if target.startswith("node@"):
            import ray

            if ray.util.get_node_ip_address() != target.split("@")[1]:
                return
            pids = [os.getppid(), os.getpid()]  # a Ray worker's parent is its node's raylet
        assert pids is not None, f"unknown signal target {target!r}"
        marker.touch()
        self._log(f"signal-{name}-{target}")
        for pid in pids:
            os.kill(pid, getattr(signal, name))


class EventLogConstantMetric(EventLogDigits):
    """Also logs ``val_const`` = 1.0 every epoch: as the metric to optimise it improves only at
    epoch 0, so a trial hands Tune checkpoints at epoch 0 and its last epoch alone."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        super().validation_step(batch, batch_idx)
        self.log("val_const", 1.0)


def read_events(log_file: str | Path) -> Iterator[tuple[str, str, int]]:
    """``(event, trial key, epoch)`` for each line of an :class:`EventLogDigits` log."""
    path = Path(log_file)
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        event, key, epoch = line.split()[:3]
        yield event, key, int(epoch)


def fault_space(
    log_file: str | Path, driver_pid: int, signal_at: str = "", max_epochs: int = 4
) -> dict[str, Any]:
    """``max_epochs`` epochs of up to five batches; the searcher picks learning rate and width."""
    from ray import tune

    return {
        "lr": tune.loguniform(1e-3, 0.3),
        "n_hidden": tune.choice([4, 8, 16, 32]),
        "max_epochs": max_epochs,
        "batch_size": 256,
        "log_file": str(log_file),
        "driver_pid": driver_pid,
        "signal_at": signal_at,
    }


#: One trial at a time, so the same seed gives the same search; ASHA rungs at epochs 1, 2 and 4.
FAULT_SETTINGS: dict[str, Any] = {
    "metric_to_optimize": "val_acc",
    "metric_opt_mode": "max",
    "seed": 3,
    "n_samples": 6,
    "max_concurrent_trials": 1,
    "hyperopt_n_initial_points": 3,
    "grace_period": 1,
    "asha_reduction_factor": 2,
    "cpu_per_trial": 1,
    "verbose": 0,
}
