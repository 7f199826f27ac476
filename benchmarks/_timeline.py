"""Pure functions on the epochs a search trained: when each began and ended, and what it scored.

Both sides of a comparison record one :class:`EpochRecord` per trained epoch (wall-clock seconds from
``time.time()``, so records of different processes line up); everything the benchmarks report about
a search's progress is computed here, the same way for both.

Example:
    >>> records = [EpochRecord("a", 0, 10.0, 11.0, 0.90, 32), EpochRecord("a", 1, 11.5, 12.0, 0.97, 32),
    ...            EpochRecord("b", 0, 10.5, 12.5, 0.96, 64)]
    >>> time_to_target(records, 0.95, start=9.0), epochs_to_target(records, 0.95)
    (3.0, 2)
    >>> epoch_periods(records)
    {32: [1.5]}
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class EpochRecord:
    """One trained epoch of one trial.

    Attributes:
        trial: the trial's id.
        epoch: the epoch's index (from 0).
        started_at: wall-clock time the epoch's training began.
        ended_at: wall-clock time its validation ended.
        value: the validation metric at its end (higher is better), None if not logged.
        batch_size: the trial's batch size.
        process: the id of the process that trained it (None: unknown).
    """

    trial: str
    epoch: int
    started_at: float
    ended_at: float
    value: float | None
    batch_size: int | None = None
    process: int | None = None


def _by_end(records: Iterable[EpochRecord]) -> list[EpochRecord]:
    return sorted(records, key=lambda record: record.ended_at)


def time_to_target(records: Sequence[EpochRecord], target: float, *, start: float) -> float | None:
    """Seconds from ``start`` until an epoch first ended with ``value >= target`` (None: never).

    >>> time_to_target([EpochRecord("a", 0, 1.0, 2.0, 0.5)], 0.9, start=0.0) is None
    True
    """
    for record in _by_end(records):
        if record.value is not None and record.value >= target:
            return record.ended_at - start
    return None


def epochs_to_target(records: Sequence[EpochRecord], target: float) -> int | None:
    """Epochs trained (all trials, in order of their end) up to the first reaching ``target``."""
    for count, record in enumerate(_by_end(records), start=1):
        if record.value is not None and record.value >= target:
            return count
    return None


def best_value(records: Iterable[EpochRecord]) -> float | None:
    """The best validation value of any epoch (None without values).

    >>> best_value([EpochRecord("a", 0, 0, 1, 0.5), EpochRecord("b", 0, 0, 1, None)])
    0.5
    """
    values = [record.value for record in records if record.value is not None]
    return max(values) if values else None


def epoch_periods(records: Iterable[EpochRecord]) -> dict[int | None, list[float]]:
    """Seconds from one epoch's start to the next one's in the same trial, by batch size.

    This is the whole cost of an epoch as the trial sees it: training, validation and whatever
    runs between two epochs (checkpointing, reporting).
    """
    by_trial: dict[str, list[EpochRecord]] = defaultdict(list)
    for record in records:
        by_trial[record.trial].append(record)
    periods: dict[int | None, list[float]] = defaultdict(list)
    for epochs in by_trial.values():
        epochs.sort(key=lambda record: record.epoch)
        for before, after in itertools.pairwise(epochs):
            if after.epoch == before.epoch + 1:
                periods[before.batch_size].append(after.started_at - before.started_at)
    return dict(periods)


def epoch_gaps(records: Iterable[EpochRecord]) -> list[float]:
    """Seconds between one epoch's end and the next one's start in the same trial.

    >>> epoch_gaps([EpochRecord("a", 0, 0.0, 1.0, None), EpochRecord("a", 1, 1.25, 2.0, None)])
    [0.25]
    """
    by_trial: dict[str, list[EpochRecord]] = defaultdict(list)
    for record in records:
        by_trial[record.trial].append(record)
    gaps = []
    for epochs in by_trial.values():
        epochs.sort(key=lambda record: record.epoch)
        gaps += [
            after.started_at - before.ended_at
            for before, after in itertools.pairwise(epochs)
            if after.epoch == before.epoch + 1
        ]
    return gaps


def trial_switches(records: Iterable[EpochRecord]) -> list[float]:
    """Seconds from a trial's last epoch to the next trial's first one in the same process.

    The cost of switching a reused process from one trial to the next (reporting the end, asking
    the searcher, building the next trial's loaders, module and Trainer).

    >>> trial_switches([EpochRecord("a", 0, 0.0, 1.0, None, process=7),
    ...                 EpochRecord("b", 0, 1.25, 2.0, None, process=7),
    ...                 EpochRecord("c", 0, 0.0, 3.0, None, process=8)])
    [0.25]
    """
    spans: dict[tuple[int, str], list[float]] = {}
    for record in records:
        if record.process is None:
            continue
        span = spans.setdefault(
            (record.process, record.trial), [record.started_at, record.ended_at]
        )
        span[0], span[1] = min(span[0], record.started_at), max(span[1], record.ended_at)
    by_process: dict[int, list[list[float]]] = defaultdict(list)
    for (process, _), span in spans.items():
        by_process[process].append(span)
    switches = []
    for process_spans in by_process.values():
        process_spans.sort()
        switches += [after[0] - before[1] for before, after in itertools.pairwise(process_spans)]
    return switches


def median_or_none(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def in_epoch_share(
    records: Iterable[EpochRecord], *, start: float, end: float, slots: int
) -> float:
    """Share of the available trial slots' time spent inside an epoch between ``start`` and ``end``.

    >>> in_epoch_share([EpochRecord("a", 0, 0.0, 5.0, None)], start=0.0, end=10.0, slots=2)
    0.25
    """
    if end <= start or slots < 1:
        return 0.0
    busy = sum(
        max(0.0, min(record.ended_at, end) - max(record.started_at, start)) for record in records
    )
    return busy / ((end - start) * slots)


def time_with_running(
    records: Iterable[EpochRecord], *, start: float, end: float
) -> dict[int, float]:
    """Seconds between ``start`` and ``end`` during which exactly k trials were inside an epoch.

    >>> time_with_running([EpochRecord("a", 0, 0.0, 4.0, None), EpochRecord("b", 0, 2.0, 3.0, None)],
    ...                   start=0.0, end=5.0)
    {0: 1.0, 1: 3.0, 2: 1.0}
    """
    events: list[tuple[float, int]] = []
    for record in records:
        begin, finish = max(record.started_at, start), min(record.ended_at, end)
        if finish > begin:
            events += [(begin, 1), (finish, -1)]
    events.sort()
    seconds: dict[int, float] = defaultdict(float)
    running, previous = 0, start
    for moment, change in events:
        seconds[running] += moment - previous
        running, previous = running + change, moment
    seconds[running] += end - previous
    return {count: round(value, 9) for count, value in sorted(seconds.items()) if value > 0}
