"""RunRecord: what a run was and what came out of it, declared once.

Both kinds of run end in one :class:`RunRecord`, built from plain values. Everything else derives
from it: ``run.json`` is its file (:meth:`RunRecord.save`, :meth:`RunRecord.load`), the closing
console summary is :meth:`RunRecord.summary_lines`, and the result dict a run returns and
:func:`~pytorch_hyperlight.load_run` reads back is the record's fields plus the keys declared here
(:func:`result_keys`), built by :meth:`RunResult.from_record
<pytorch_hyperlight.results.run_result.RunResult.from_record>`. A new output field is added once,
here.

Example:
    >>> record = RunRecord(kind="single_trial", run_name="single-trial-Net", metric="val_acc",
    ...                    mode="max", best_epoch=2, best_metric_value=float("nan"),
    ...                    metrics_last={"val_acc": 0.9, "test_acc": float("inf")})
    >>> record.best_metric_value is None, record.metrics_last["test_acc"] is None  # one NaN rule
    (True, True)
    >>> RunRecord.from_json(record.to_json()) == record
    True
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from pytorch_hyperlight.errors import RunDirError
from pytorch_hyperlight.files import read_json, write_json_atomic
from pytorch_hyperlight.results import run_dir as run_dirs

#: The ``run.json`` format this version writes, and the newest it reads.
FORMAT_VERSION = 1
SINGLE_TRIAL = "single_trial"
SEARCH = "search"
KINDS = (SINGLE_TRIAL, SEARCH)

#: Keys of a run's result beside the record's fields: what the run directory's files hold.
FILE_KEYS: Mapping[str, tuple[str, ...]] = {
    SINGLE_TRIAL: ("run_dir", "metrics", "plots", "redraw_plots"),
    SEARCH: ("run_dir", "metrics", "plots", "redraw_plots", "trials", "trial_metrics", "errors"),
}
#: Ray's objects of a search: a run returns them; ``load_run`` cannot reopen them (None there).
NOT_REOPENED_KEYS: Mapping[str, tuple[str, ...]] = {
    SINGLE_TRIAL: (),
    SEARCH: ("analysis", "result_grid"),
}
#: Live objects only a run returns: ``load_run`` has no ``trainer``, and ``lmodule_best`` only
#: when it is given the module class.
LIVE_ONLY_KEYS = ("lmodule_best", "trainer")

_REQUIRED_KEYS = ("kind", "run_name", "metric", "mode")


# What a field is besides its value (read with ``field.metadata.get(...)``):
_SUMMARY = {"summary": True}  # shown first when a result is displayed in a notebook
_SEARCH_ONLY = {"search_only": True}  # absent from a single trial's file and result
_FILE_ONLY = {"in_result": False}  # describes the file, not the run: no key of the result


def now_iso() -> str:
    """The current time, timezone-aware, in ISO format to the second (``created``)."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def class_path(cls: type) -> str:
    """``module:QualName`` of a class, as ``run.json``'s ``lmodule_class`` names it.

    >>> class_path(Path)
    'pathlib:Path'
    """
    return f"{cls.__module__}:{cls.__qualname__}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunRecord:
    """Every field of ``run.json``, in the order it is written; plain values only.

    Values are made plain when the record is built: numpy numbers become Python numbers, tuples
    lists, paths strings, anything else JSON cannot hold its ``repr``, and every NaN or infinite
    float None (the one rule: JSON has no NaN). ``created`` is always timezone-aware (a naive time
    is taken as local time).

    Attributes:
        format_version: the ``run.json`` format (:data:`FORMAT_VERSION`).
        kind: ``"single_trial"`` or ``"search"``.
        run_name: the run's name in its Runner (``single-trial-LitDigits``, ``hyper-opt-Net@2``).
        experiment_id: the Runner's experiment id, or None.
        created: when the run started (single trial: when it finished), ISO with its UTC offset.
        lmodule_class: the LightningModule class, ``module:QualName``.
        settings: every setting (``Settings.to_dict()``).
        config: the config trained (a search: the best trial's, constants included).
        search_space: search only: the space as described by ``describe_search_space``.
        best_config: the best model's config (a single trial: its config).
        is_debug: whether the run was a fast smoke run (None: not recorded).
        metric: the optimised metric's canonical name (``val_f1``).
        monitor: the metric as the module logs it (``val_f1_epoch``), or None when not recorded.
        mode: ``"min"`` or ``"max"``.
        best_epoch: the best epoch, counting from 0.
        best_metric_value: the metric's value at the best epoch.
        best_checkpoint_path: the best checkpoint, relative to the run directory.
        metrics_last: ``metrics.series_last`` by name (for reading by eye; results read it from
            ``metrics.csv``).
        best_trial_id: search only: the best trial.
        files: each data file's ``bytes``, ``rows`` and ``sha256`` (see :meth:`save`); None in a
            record read from a run directory written before this record existed.
    """

    format_version: int = dataclasses.field(default=FORMAT_VERSION, metadata=_FILE_ONLY)
    kind: str = dataclasses.field(metadata=_SUMMARY)
    run_name: str = dataclasses.field(metadata=_SUMMARY)
    experiment_id: str | None = None
    created: str = dataclasses.field(default_factory=now_iso)
    lmodule_class: str | None = None
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    config: dict[str, Any] | None = None
    search_space: dict[str, Any] | None = dataclasses.field(default=None, metadata=_SEARCH_ONLY)
    best_config: dict[str, Any] | None = None
    is_debug: bool | None = None
    metric: str = dataclasses.field(metadata=_SUMMARY)
    monitor: str | None = None
    mode: str = dataclasses.field(metadata=_SUMMARY)
    best_epoch: int | None = dataclasses.field(default=None, metadata=_SUMMARY)
    best_metric_value: float | None = dataclasses.field(default=None, metadata=_SUMMARY)
    best_checkpoint_path: str | None = dataclasses.field(default=None, metadata=_SUMMARY)
    metrics_last: dict[str, float | None] = dataclasses.field(default_factory=dict)
    best_trial_id: str | None = dataclasses.field(default=None, metadata=_SEARCH_ONLY | _SUMMARY)
    files: dict[str, dict[str, Any]] | None = dataclasses.field(default=None, metadata=_FILE_ONLY)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "created", _aware_iso(self.created))
        for field in dataclasses.fields(self):
            value = plain_value(getattr(self, field.name))
            if field.metadata.get("search_only", False) and self.kind != SEARCH:
                value = None  # a single trial has no search space and no trials
            object.__setattr__(self, field.name, value)
        if self.kind == SEARCH and self.search_space is None:
            object.__setattr__(self, "search_space", {})

    # --- the file ---------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The JSON object ``run.json`` holds (a single trial's lacks the search-only fields)."""
        return {
            field.name: getattr(self, field.name)
            for field in _fields(self.kind)
            if not (field.name == "files" and self.files is None)
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str | os.PathLike[str] = "run.json") -> RunRecord:
        """A record from ``run.json``'s object; keys this version does not know are ignored.

        Raises:
            RunDirError: not an object, a newer ``format_version``, a required key missing, an
                unknown kind or a value that cannot be read; the message names ``source``.
        """
        if not isinstance(data, Mapping):
            raise RunDirError(f"{source} must hold a JSON object, got {type(data).__name__}.")
        version = data.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise RunDirError(
                f"{source} has format_version {version!r}; this pytorch_hyperlight reads "
                f"version {FORMAT_VERSION} or older. Upgrade pytorch_hyperlight to read it."
            )
        missing = [key for key in _REQUIRED_KEYS if key not in data]
        if missing:
            raise RunDirError(f"{source} lacks the keys {missing}; it was not written by a run.")
        if data["kind"] not in KINDS:
            raise RunDirError(f"{source}: kind must be one of {KINDS}, got {data['kind']!r}.")
        known = {field.name for field in _fields(data["kind"])}
        try:
            return cls(**{key: value for key, value in data.items() if key in known})
        except (TypeError, ValueError) as error:
            raise RunDirError(
                f"{source} holds a value this version cannot read: {error}"
            ) from error

    def save(self, run_dir: str | os.PathLike[str]) -> RunRecord:
        """Write ``run.json`` atomically, as a run's last file; return the record as saved.

        The saved record's ``files`` holds the size, row count and SHA-256 of each data file
        (:data:`~pytorch_hyperlight.results.run_dir.RECORDED_FILES`) present in ``run_dir``, so
        ``load_run`` can tell a file changed afterwards. Call it after every data file is written.
        """
        path = Path(run_dir)
        files = {
            name: run_dirs.file_record(path / name)
            for name in run_dirs.RECORDED_FILES
            if (path / name).is_file()
        }
        saved = dataclasses.replace(self, files=files)
        write_json_atomic(path / run_dirs.RUN_FILE, saved.to_json())
        return saved

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str]) -> RunRecord:
        """Read ``run_dir/run.json``.

        Raises:
            RunDirError: ``run.json`` is missing, is not JSON, or :meth:`from_json` rejects it.
        """
        path = Path(run_dir)
        run_file = path / run_dirs.RUN_FILE
        if not run_file.is_file():
            raise RunDirError(
                f"{path} is not a complete run directory: {run_dirs.RUN_FILE} is missing (a run "
                "writes it when it finishes; an interrupted search can be continued with resume=)."
            )
        try:
            data = read_json(run_file)
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError alike
            raise RunDirError(
                f"{run_file} is not valid JSON ({error}); it is written last, so the run did not "
                "finish writing it or it was changed since. Re-run, or resume= an interrupted "
                "search."
            ) from error
        return cls.from_json(data, source=run_file)

    # --- what derives from it ---------------------------------------------------------------------
    def result_values(self) -> dict[str, Any]:
        """The record's fields that are keys of the run's result, with their plain values."""
        return {
            field.name: getattr(self, field.name)
            for field in _fields(self.kind)
            if field.metadata.get("in_result", True)
        }

    def summary_lines(
        self,
        run_dir: str | os.PathLike[str],
        *,
        elapsed_s: float | None = None,
        outcome: str | None = None,
    ) -> list[str]:
        """The closing console summary: the best model, its re-validation and test, where to look.

        Args:
            run_dir: the run directory, named on the last line.
            elapsed_s: a search's duration, for a ``search done in ...`` line.
            outcome: how the trials ended (``"4 trials: 3 done, 1 stopped"``), on that line.

        >>> record = RunRecord(kind="search", run_name="s", metric="val_acc", mode="max",
        ...     best_trial_id="t1", best_epoch=3, best_metric_value=0.9,
        ...     metrics_last={"val_acc": 0.85, "reval_acc": 0.9, "test_acc": 0.8})
        >>> print("\\n".join(record.summary_lines("/runs/s", elapsed_s=12.34, outcome="2 trials")))
        best trial t1: val_acc=0.9 at epoch 3; its best checkpoint re-validated and tested:
          reval: val_acc=0.9
          test: test_acc=0.8
        search done in 12.3 s (2 trials)
        results in /runs/s
        """
        from pytorch_hyperlight.metrics.console import format_value

        value = "n/a" if self.best_metric_value is None else format_value(self.best_metric_value)
        if self.kind == SEARCH:
            head = (
                f"best trial {self.best_trial_id}: {self.metric}={value} at epoch "
                f"{self.best_epoch}; its best checkpoint re-validated and tested:"
            )
        else:
            head = (
                f"best epoch {self.best_epoch}: {self.metric}={value}; its checkpoint "
                "re-validated and tested:"
            )
        lines = [head, *self._evaluation_lines(format_value)]
        if elapsed_s is not None:
            done = f"{'search' if self.kind == SEARCH else 'trial'} done in {elapsed_s:.1f} s"
            lines.append(done + (f" ({outcome})" if outcome else ""))
        lines.append(f"results in {run_dir}")
        return lines

    def _evaluation_lines(self, format_value: Any) -> list[str]:
        """``  reval: val_acc=0.9`` and ``  test: test_acc=0.8`` from ``metrics_last``."""
        from pytorch_hyperlight.metrics.trial_metrics import REVAL_PREFIX

        stages: dict[str, dict[str, float]] = {"reval": {}, "test": {}}
        for name, value in self.metrics_last.items():
            if value is None:
                continue
            if name.startswith(REVAL_PREFIX):
                stages["reval"]["val_" + name[len(REVAL_PREFIX) :]] = value
            elif name.startswith("test_"):
                stages["test"][name] = value
        return [
            f"  {stage}: " + ", ".join(f"{k}={format_value(v)}" for k, v in sorted(values.items()))
            for stage, values in stages.items()
            if values
        ]


def result_keys(kind: str) -> tuple[str, ...]:
    """Every key of a run's result of this kind, in order; ``load_run`` returns the same keys,
    less :data:`LIVE_ONLY_KEYS` (``lmodule_best`` only when given the module class).

    >>> "trials" in result_keys("search"), "trials" in result_keys("single_trial")
    (True, False)
    """
    record_keys = [f.name for f in _fields(kind) if f.metadata.get("in_result", True)]
    return (*record_keys, *FILE_KEYS[kind], *NOT_REOPENED_KEYS[kind], *LIVE_ONLY_KEYS)


def summary_fields() -> tuple[str, ...]:
    """The fields that summarise a run (shown first in a notebook), in the record's order."""
    return tuple(f.name for f in dataclasses.fields(RunRecord) if f.metadata.get("summary", False))


def plain_value(value: Any) -> Any:
    """A value as JSON holds it: NaN and infinities None, numpy numbers Python's, tuples lists,
    paths strings, mappings dicts with string keys, anything else JSON cannot hold its ``repr``.

    >>> plain_value({"a": (1, float("nan")), 2: Path("x")})
    {'a': [1, None], '2': 'x'}
    """
    if value is None or isinstance(value, str | bool):
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return plain_value(value.tolist())  # numpy scalars and arrays
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_value(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    return repr(value)


def _fields(kind: str) -> list[dataclasses.Field[Any]]:
    """The record's fields a run of this kind has, in ``run.json``'s order."""
    return [
        field
        for field in dataclasses.fields(RunRecord)
        if kind == SEARCH or not field.metadata.get("search_only", False)
    ]


def _aware_iso(created: Any) -> str:
    """``created`` as a timezone-aware ISO string; a naive time is read as local time."""
    moment = _dt.datetime.fromisoformat(created) if isinstance(created, str) else created
    if not isinstance(moment, _dt.datetime):
        raise ValueError(f"created must be an ISO date and time, got {created!r}")
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.isoformat(timespec="seconds")
