"""Read what wandb wrote for an offline run, without a W&B server (test helper).

An offline run keeps everything in one transaction log, ``<run dir>/run-<id>.wandb``: a LevelDB-style
log (a 7-byte ``:W&B`` header, then 32 KiB blocks of records, each record a 7-byte header and a
chunk) whose records are ``wandb.proto.wandb_internal_pb2.Record`` messages. That format is
private to wandb; this is the one place that reads it, and it fails loudly (an AssertionError naming
what it expected) when a wandb release changes it.

wandb's service process writes the log after ``run.finish()`` returns, so :func:`read_offline_run`
waits, up to a generous deadline, until the run's ``exit`` record is there.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_FILE_HEADER = struct.Struct("<4sHB")  # b":W&B", 0xBEE1, version 0
_RECORD_HEADER = struct.Struct("<IHB")  # crc32, length, type
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_DEADLINE_S = 120.0


@dataclass
class OfflineRun:
    """What one offline W&B run holds."""

    directory: Path
    run_id: str = ""
    project: str = ""
    group: str = ""
    job_type: str = ""
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    finished: bool = False

    def series(self, key: str) -> list[Any]:
        """Every logged value of ``key``, in order."""
        return [row[key] for row in self.history if key in row]


def _chunks(data: bytes) -> list[bytes]:
    magic, ident, version = _FILE_HEADER.unpack_from(data)
    assert (magic, ident, version) == (b":W&B", 0xBEE1, 0), (
        f"not a wandb transaction log this helper knows: header {data[:7]!r}"
    )
    records, pending, position = [], b"", _FILE_HEADER.size
    while position + _RECORD_HEADER.size <= len(data):
        left_in_block = _BLOCK - position % _BLOCK
        if left_in_block < _RECORD_HEADER.size:  # the block's tail is padding
            position += left_in_block
            continue
        _, length, kind = _RECORD_HEADER.unpack_from(data, position)
        start = position + _RECORD_HEADER.size
        if kind == 0 and length == 0:  # zero-filled: nothing written here yet
            break
        assert kind in (_FULL, _FIRST, _MIDDLE, _LAST), f"unknown record type {kind} at {position}"
        if start + length > len(data):  # the writer is still writing this record
            break
        pending += data[start : start + length]
        position = start + length
        if kind in (_FULL, _LAST):
            records.append(pending)
            pending = b""
    return records


def _items(items: Any) -> dict[str, Any]:
    return {(item.key or ".".join(item.nested_key)): json.loads(item.value_json) for item in items}


def parse_offline_run(directory: Path) -> OfflineRun:
    """The run in ``directory`` as far as wandb has written it."""
    from wandb.proto import wandb_internal_pb2

    (log_file,) = directory.glob("run-*.wandb")
    run = OfflineRun(directory=directory)
    data = log_file.read_bytes()
    if len(data) < _FILE_HEADER.size:
        return run
    for chunk in _chunks(data):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            info = record.run
            run.run_id, run.project, run.group = info.run_id, info.project, info.run_group
            run.job_type, run.name = info.job_type, info.display_name
            run.config.update(_items(info.config.update))
        elif kind == "config":
            run.config.update(_items(record.config.update))
        elif kind == "history":
            run.history.append(_items(record.history.item))
        elif kind == "summary":
            run.summary.update(_items(record.summary.update))
        elif kind == "exit":
            run.finished = True
    return run


def read_offline_run(directory: Path) -> OfflineRun:
    """The finished run in ``directory``, once wandb's service has written all of it."""
    deadline = time.monotonic() + _DEADLINE_S
    while True:
        run = parse_offline_run(directory)
        if run.finished or time.monotonic() > deadline:
            assert run.finished, f"wandb never finished writing {directory}"
            return run
        time.sleep(0.2)


def offline_runs(wandb_dir: Path) -> list[OfflineRun]:
    """Every finished offline run under ``<wandb_dir>/wandb/``, ordered by name."""
    directories = sorted((wandb_dir / "wandb").glob("offline-run-*"))
    return sorted((read_offline_run(d) for d in directories), key=lambda run: run.name)
