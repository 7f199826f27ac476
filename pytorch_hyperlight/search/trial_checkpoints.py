"""A trial's checkpoints: when one is written, the report kept with each, catching up after a stop.

:class:`CheckpointPolicy` decides which epochs of a search trial hand Tune a checkpoint: an epoch whose
metric improves on the trial's own best (what returning the best model needs), the trial's last
epoch (so that a resumed search knows it finished) and, for resuming after a failure, an epoch after
at most ``checkpoint_every_s`` seconds since the last checkpoint. The other epochs are reported
without one: a trial resumed from its last checkpoint trains the epochs after it again, and their
reports replace the earlier ones in its history (the last report of an epoch wins).

Each checkpoint a trial hands to Tune is a folder with the Lightning file (:data:`CHECKPOINT_FILE`)
and the epoch's report (:data:`REPORT_FILE`, with the Lightning file's size, so a copy cut short is
recognised). A trial copies each checkpoint to storage before it sends the report; when the driver
stops or dies, the reports in flight are lost to it while their checkpoints are stored. On resume,
:func:`catch_up` finds those checkpoints, reports them again and says where training goes on (or that
the trial had finished).
"""

from __future__ import annotations

import json
import math
import posixpath
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytorch_hyperlight.search import results as keys

#: The Lightning checkpoint file inside each checkpoint Tune keeps.
CHECKPOINT_FILE = "checkpoint.ckpt"
#: The epoch's report, next to the Lightning file in each checkpoint.
REPORT_FILE = "report.json"
_CHECKPOINT_DIR = re.compile(r"checkpoint_(\d+)")


#: What :meth:`CheckpointPolicy.at_epoch_end` asks for: a checkpoint of the epoch's end ...
SAVE = "save"  # ... that goes to Tune with the epoch's report
TENTATIVE = (
    "tentative"  # ... that goes to Tune if the complete row says so (CheckpointPolicy.at_record)
)
SKIP = "skip"  # ... none (the last epoch may still get one when training ends)


@dataclass(frozen=True)
class CheckpointDecision:
    """Whether an epoch's report carries a checkpoint, and the checkpoint's score for Tune.

    Attributes:
        keep: hand Tune the epoch's checkpoint with its report.
        score: the value Tune ranks the checkpoint by (:data:`~pytorch_hyperlight.search.results.
            CHECKPOINT_SCORE`): the metric, except that a checkpoint kept for another reason than an
            improvement ranks below the trial's best one (just below it on a tie), so Tune's
            ``num_to_keep`` never deletes the best epoch's checkpoint for it.
    """

    keep: bool
    score: float


@dataclass
class CheckpointPolicy:
    """Which epochs of a search trial hand Tune a checkpoint (see the module's docstring).

    The decision is made at Lightning's ``on_train_epoch_end``, where a checkpoint of the epoch's
    end is written, from the metric's value there. A metric the module logs in its own
    ``on_train_epoch_end`` hook is not final there (it is absent at epoch 0, then a step behind):
    once that is seen, every epoch's checkpoint is written tentatively and kept or dropped when the
    epoch's row is complete.

    Args:
        mode: ``'max'`` or ``'min'``.
        every_s: seconds after which a checkpoint is due anyway; 0: every epoch; None: never.
        clock: seconds of a monotonic clock (``time.monotonic``).

    >>> policy = CheckpointPolicy("max", every_s=None)
    >>> policy.at_epoch_end(0.5), policy.at_record(0.5, 0.5, SAVE, last=False).keep
    ('save', True)
    >>> policy.at_epoch_end(0.4), policy.at_record(0.4, 0.4, SKIP, last=False).keep
    ('skip', False)
    >>> policy.at_record(0.5, 0.5, SKIP, last=True)  # the last epoch ties the best: ranked below
    CheckpointDecision(keep=True, score=0.49999999999999994)
    """

    mode: str
    every_s: float | None
    clock: Callable[[], float] = time.monotonic
    best: float | None = None
    late: bool = False
    _last_at: float = field(default=math.nan, repr=False)
    _improved: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self._last_at = self.clock()

    def _better(self, value: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def _due(self) -> bool:
        return self.every_s is not None and self.clock() - self._last_at >= self.every_s

    def at_epoch_end(self, value: float | None) -> str:
        """:data:`SAVE`, :data:`TENTATIVE` or :data:`SKIP` for the epoch ending with ``value``."""
        self._improved = False
        if self.late or value is None:
            return TENTATIVE
        if self._better(value):
            self.best, self._improved = value, True
            return SAVE
        return SAVE if self._due() else SKIP

    def at_record(
        self, early: float | None, final: float | None, saved: str, *, last: bool
    ) -> CheckpointDecision:
        """The decision once the epoch's row is complete.

        Args:
            early: the metric at ``on_train_epoch_end`` (what :meth:`at_epoch_end` got).
            final: the metric in the complete row (None: not logged this epoch).
            saved: what :meth:`at_epoch_end` answered.
            last: training ends after this epoch.
        """
        if final is not None and early != final:
            self.late = True  # logged in the module's own on_train_epoch_end
        if saved == TENTATIVE and self._better(final):
            self.best, self._improved = final, True
        keep = saved == SAVE or last or (saved == TENTATIVE and (self._improved or self._due()))
        if keep:
            self._last_at = self.clock()
        return CheckpointDecision(keep=keep, score=self._score(final))

    def _score(self, value: float | None) -> float:
        worst = -math.inf if self.mode == "max" else math.inf
        if value is None or not math.isfinite(value):
            return worst
        if not self._improved and value == self.best:
            return math.nextafter(value, worst)
        return value

    def state_dict(self) -> dict[str, Any]:
        """What a Lightning checkpoint keeps: the trial's best so far, and whether it is late."""
        return {"best": self.best, "late": self.late}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a checkpoint's :meth:`state_dict` (the clock starts again)."""
        best = state.get("best")
        self.best = None if best is None else float(best)
        self.late = bool(state.get("late", False))


def write_report(
    checkpoint_dir: Path, report: Mapping[str, Any], earlier: Sequence[Mapping[str, Any]] = ()
) -> None:
    """Store the epoch's report beside its Lightning file, with that file's size (a cut copy shows).

    Args:
        checkpoint_dir: the checkpoint's folder, holding :data:`CHECKPOINT_FILE`.
        report: the report this checkpoint goes to Tune with.
        earlier: the reports sent without a checkpoint since the trial's previous one, so that
            :func:`catch_up` can send them again when the driver never got them.
    """
    size = (checkpoint_dir / CHECKPOINT_FILE).stat().st_size
    stored = {
        "report": dict(report),
        "earlier": [dict(r) for r in earlier],
        "checkpoint_bytes": size,
    }
    (checkpoint_dir / REPORT_FILE).write_text(json.dumps(stored))


def read_reports(filesystem: Any, directory: str) -> list[dict[str, Any]] | None:
    """The reports stored in a checkpoint directory, its own last; None when missing or incomplete."""
    import pyarrow.fs

    try:
        with filesystem.open_input_stream(posixpath.join(directory, REPORT_FILE)) as stream:
            stored = json.loads(stream.read())
        info = filesystem.get_file_info(posixpath.join(directory, CHECKPOINT_FILE))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict):
        return None
    report, earlier = stored.get("report"), stored.get("earlier", [])
    complete = info.type == pyarrow.fs.FileType.File and info.size == stored.get("checkpoint_bytes")
    if not complete or not isinstance(report, dict) or not isinstance(earlier, list):
        return None
    return [*(r for r in earlier if isinstance(r, dict)), report]


def checkpoint_index(path: str) -> int | None:
    """Tune's number of a checkpoint directory.

    >>> checkpoint_index("/runs/x/tune/trial_1/checkpoint_000004"), checkpoint_index("/a/b")
    (4, None)
    """
    match = _CHECKPOINT_DIR.fullmatch(posixpath.basename(path.rstrip("/")))
    return int(match.group(1)) if match else None


def later_checkpoints(checkpoint: Any) -> list[str]:
    """This trial's checkpoint directories numbered after ``checkpoint``, oldest first."""
    import pyarrow.fs

    index = checkpoint_index(checkpoint.path)
    if index is None:
        return []
    parent = posixpath.dirname(checkpoint.path.rstrip("/"))
    later = []
    for info in checkpoint.filesystem.get_file_info(pyarrow.fs.FileSelector(parent)):
        number = checkpoint_index(info.path)
        if info.type == pyarrow.fs.FileType.Directory and number is not None and number > index:
            later.append((number, info.path))
    return [path for _, path in sorted(later)]


def training_finished(report: Mapping[str, Any]) -> bool:
    """True when the report is a trial's last: early stopping ended it or its epochs are done.

    >>> training_finished({"epoch": 2, "max_epochs": 3}), training_finished({"epoch": 1, "max_epochs": 3})
    (True, False)
    """
    if report.get(keys.SHOULD_STOP):
        return True
    epoch, max_epochs = report.get(keys.EPOCH), report.get(keys.MAX_EPOCHS)
    return epoch is not None and max_epochs is not None and int(epoch) + 1 >= int(max_epochs)


def catch_up(checkpoint: Any, scratch: Path) -> tuple[Path, dict[str, Any] | None]:
    """Report again what this trial reported but Tune never registered; return where to go on from.

    A trial copies each checkpoint to storage before it sends the report. When the driver stops
    (Ctrl-C) or dies, reports in flight are lost to it, while their checkpoints are on storage; Tune
    restores the trial from the last checkpoint it registered. The later ones are reported again,
    oldest first, each with its checkpoint and after the reports sent without one before it (kept
    in the checkpoint too), so the trial's history, the scheduler and the searcher see what an
    uninterrupted search saw. Reports after the newest checkpoint are sent again when the trial
    trains those epochs again.

    Returns:
        A local copy of the newest checkpoint and its report (None for a checkpoint without one).
    """
    from ray import tune

    newest = Path(checkpoint.to_directory(str(scratch / "registered")))
    registered = read_reports(checkpoint.filesystem, checkpoint.path)
    report = registered[-1] if registered else None
    for number, path in enumerate(later_checkpoints(checkpoint)):
        stored = read_reports(checkpoint.filesystem, path)
        if stored is None:
            break  # a copy cut short: what follows it cannot be trusted
        later = tune.Checkpoint(path, filesystem=checkpoint.filesystem)
        local = Path(later.to_directory(str(scratch / f"unregistered-{number}")))
        *earlier, report = stored
        for plain in earlier:  # reports without a checkpoint between the two
            tune.report(plain)
        tune.report(report, checkpoint=tune.Checkpoint.from_directory(str(local)))
        newest = local
    return newest, report
