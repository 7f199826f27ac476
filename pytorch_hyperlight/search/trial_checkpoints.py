"""A trial's checkpoints on storage: the report kept with each, and catching up after a stop.

Each checkpoint a trial hands to Tune is a folder with the Lightning file (:data:`CHECKPOINT_FILE`)
and the epoch's report (:data:`REPORT_FILE`, with the Lightning file's size, so a copy cut short is
recognised). A trial copies each checkpoint to storage before it sends the report; when the driver
stops or dies, the reports in flight are lost to it while their checkpoints are stored. On resume,
:func:`catch_up` finds those checkpoints, reports them again and says where training goes on (or that
the trial had finished).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytorch_hyperlight.search import results as keys

#: The Lightning checkpoint file inside each checkpoint Tune keeps.
CHECKPOINT_FILE = "checkpoint.ckpt"
#: The epoch's report, next to the Lightning file in each checkpoint.
REPORT_FILE = "report.json"
_CHECKPOINT_DIR = re.compile(r"checkpoint_(\d+)")


def write_report(checkpoint_dir: Path, report: Mapping[str, Any]) -> None:
    """Store the epoch's report beside its Lightning file, with that file's size (a cut copy shows)."""
    size = (checkpoint_dir / CHECKPOINT_FILE).stat().st_size
    stored = {"report": dict(report), "checkpoint_bytes": size}
    (checkpoint_dir / REPORT_FILE).write_text(json.dumps(stored))


def read_report(filesystem: Any, directory: str) -> dict[str, Any] | None:
    """The report stored in a checkpoint directory; None when missing or incomplete."""
    import pyarrow.fs

    try:
        with filesystem.open_input_stream(posixpath.join(directory, REPORT_FILE)) as stream:
            stored = json.loads(stream.read())
        info = filesystem.get_file_info(posixpath.join(directory, CHECKPOINT_FILE))
    except (OSError, ValueError):
        return None
    report = stored.get("report") if isinstance(stored, dict) else None
    complete = info.type == pyarrow.fs.FileType.File and info.size == stored.get("checkpoint_bytes")
    return report if complete and isinstance(report, dict) else None


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
    oldest first, each with its checkpoint, so the trial's history, the scheduler and the searcher
    see what an uninterrupted search saw.

    Returns:
        A local copy of the newest checkpoint and its report (None for a checkpoint without one).
    """
    from ray import tune

    newest = Path(checkpoint.to_directory(str(scratch / "registered")))
    report = read_report(checkpoint.filesystem, checkpoint.path)
    for number, path in enumerate(later_checkpoints(checkpoint)):
        stored = read_report(checkpoint.filesystem, path)
        if stored is None:
            break  # a copy cut short: what follows it cannot be trusted
        later = tune.Checkpoint(path, filesystem=checkpoint.filesystem)
        local = Path(later.to_directory(str(scratch / f"unregistered-{number}")))
        tune.report(stored, checkpoint=tune.Checkpoint.from_directory(str(local)))
        newest, report = local, stored
    return newest, report
