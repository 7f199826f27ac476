"""Shared by the benchmarks: what a script measured, on which machine, and how it is written down.

Every script fills one :class:`Section` (its command, the machine and its load average when it
started, the versions, one :class:`Measure` per ratio of issue 12's target table, and notes on where
the time went), prints it, and with ``--json PATH`` saves it for ``run_all.py``, which renders all
sections into ``docs/benchmarks.md`` between two markers (the hand-written analysis around them is
kept). Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The generated part of docs/benchmarks.md lies between these two lines.
START_MARKER = "<!-- benchmarks:start (written by benchmarks/run_all.py; edit outside) -->"
END_MARKER = "<!-- benchmarks:end -->"
VERSIONED = ("torch", "lightning", "ray", "hyperopt", "optuna", "optuna-integration", "psutil")


@dataclass(frozen=True)
class Machine:
    """The machine a section ran on, and how busy it was when it started.

    Attributes:
        cores: logical CPUs.
        load_average: the 1, 5 and 15 minute load averages at the start.
        python: the Python version.
        versions: package name -> version.
        commit: the repository's commit (``git rev-parse --short HEAD``), or empty.
        date: when the section started (ISO, seconds).
    """

    cores: int
    load_average: tuple[float, float, float]
    python: str
    versions: dict[str, str]
    commit: str
    date: str

    def describe(self) -> str:
        """One line: cores, load, Python and the versions that matter."""
        load = "/".join(f"{value:.1f}" for value in self.load_average)
        packages = ", ".join(f"{name} {version}" for name, version in self.versions.items())
        commit = f", commit {self.commit}" if self.commit else ""
        return (
            f"{self.cores} cores, load average {load} (1/5/15 min) at start; Python {self.python}; "
            f"{packages}{commit}; {self.date}"
        )


def machine_now() -> Machine:
    """Snapshot of this machine: call it when a measurement starts."""
    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    load = os.getloadavg()
    return Machine(
        cores=os.cpu_count() or 1,
        load_average=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
        python=platform.python_version(),
        versions=versions,
        commit=commit,
        date=_dt.datetime.now().isoformat(timespec="seconds"),
    )


@dataclass(frozen=True)
class Measure:
    """One line of issue 12's target table, as measured.

    Attributes:
        key: stable identifier (``"optuna_time_to_097"``).
        label: what is measured, in words.
        value: the number compared with the target (a ratio, cores, seconds, MB); None: not reached.
        target: the target as written in the issue (``"<= 0.7"``), or empty for report-only lines.
        unit: the value's unit (``"x"`` for a ratio).
        ours: raw median of ours (or of the only side), in ``reference_unit``.
        reference: raw median of the reference side, or None.
        reference_unit: unit of ``ours`` and ``reference`` (``"s"``).
        detail: how it was measured and the raw numbers (per round or seed).
        load_average: the 1-minute load average when this measure's runs started.
    """

    key: str
    label: str
    value: float | None
    target: str = ""
    unit: str = "x"
    ours: float | None = None
    reference: float | None = None
    reference_unit: str = "s"
    detail: str = ""
    load_average: float | None = None

    @property
    def met(self) -> bool | None:
        """Whether ``value`` meets ``target`` (None without a target or a value)."""
        return target_met(self.value, self.target)


@dataclass
class Section:
    """What one benchmark script measured.

    Attributes:
        script: the file name (``vs_optuna.py``).
        title: one line saying what is compared.
        command: the command line that produced it.
        machine: the machine when the script started.
        measures: the measured lines.
        notes: where the time went (phases, profiles), one line each.
        seconds: how long the script ran.
        quick: True for a ``--quick`` run (sizes too small to mean anything).
    """

    script: str
    title: str
    command: str
    machine: Machine
    measures: list[Measure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    quick: bool = False
    _started: float = field(default_factory=time.perf_counter, repr=False, compare=False)

    def add(self, measure: Measure) -> None:
        """Add a measure, stamping the current load average if it has none."""
        if measure.load_average is None:
            measure = dataclasses.replace(measure, load_average=round(os.getloadavg()[0], 2))
        self.measures.append(measure)
        print(format_measure(measure), flush=True)

    def note(self, line: str) -> None:
        """Add a line of analysis (printed now, rendered under the section's table)."""
        self.notes.append(line)
        print(f"  note: {line}", flush=True)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (read back by :func:`section_from_json`)."""
        data = dataclasses.asdict(self)
        del data["_started"]
        return data


def section_from_json(data: dict[str, Any]) -> Section:
    """The :class:`Section` saved by :meth:`Section.to_json`."""
    machine = dict(data["machine"])
    machine["load_average"] = tuple(machine["load_average"])
    return Section(
        script=data["script"],
        title=data["title"],
        command=data["command"],
        machine=Machine(**machine),
        measures=[Measure(**measure) for measure in data["measures"]],
        notes=list(data["notes"]),
        seconds=float(data["seconds"]),
        quick=bool(data["quick"]),
    )


# --- numbers ---------------------------------------------------------------------------------------
def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that are not None (None if there are none).

    >>> median([3.0, None, 1.0, 2.0])
    2.0
    >>> median([None]) is None
    True
    """
    present = [float(value) for value in values if value is not None]
    return statistics.median(present) if present else None


def median_unreached_last(values: list[float | None]) -> float | None:
    """Median where a search that never got there counts as worst (None if that is the median).

    >>> median_unreached_last([0.1, None, 0.3]), median_unreached_last([0.1, None, None])
    (0.3, None)
    """
    ranked = sorted(values, key=lambda v: math.inf if v is None else v)
    return ranked[len(ranked) // 2] if ranked else None


def ratio(ours: float | None, reference: float | None) -> float | None:
    """``ours / reference``, or None when either is missing or the reference is 0.

    >>> ratio(3.0, 2.0)
    1.5
    >>> ratio(None, 2.0) is None
    True
    """
    if ours is None or reference is None or reference == 0:
        return None
    return ours / reference


def target_met(value: float | None, target: str) -> bool | None:
    """Whether ``value`` meets a target written ``"<= 0.7"`` or ``">= 0.88"``.

    >>> target_met(0.5, "<= 0.7"), target_met(0.9, ">= 0.88"), target_met(1.2, "<= 1.0")
    (True, True, False)
    >>> target_met(None, "<= 1") is None, target_met(1.0, "") is None
    (True, True)
    """
    if value is None or not target:
        return None
    operator, _, bound = target.strip().partition(" ")
    if operator == "<=":
        return value <= float(bound)
    if operator == ">=":
        return value >= float(bound)
    raise ValueError(f"a target must read '<= N' or '>= N', got {target!r}")


def format_number(value: float | None, unit: str = "") -> str:
    """A short rendering: 3 significant digits, the unit after it; ``n/a`` for None.

    >>> format_number(0.12345, "s"), format_number(12.0, "x"), format_number(None)
    ('0.123 s', '12.0x', 'n/a')
    """
    if value is None:
        return "n/a"
    text = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    if "." not in text and "e" not in text and abs(value) < 100:
        text = f"{value:.1f}"
    if unit == "x":
        return f"{text}x"
    return f"{text} {unit}".strip()


def format_measure(measure: Measure) -> str:
    """One printed line: label, value, target, raw medians, load."""
    met = {True: "met", False: "MISSED", None: ""}[measure.met]
    target = f" (target {measure.target}{', ' + met if met else ''})" if measure.target else ""
    raw = ""
    if measure.ours is not None or measure.reference is not None:
        raw = f"; ours {format_number(measure.ours, measure.reference_unit)}"
        if measure.reference is not None:
            raw += f", reference {format_number(measure.reference, measure.reference_unit)}"
    load = "" if measure.load_average is None else f"; load {measure.load_average:.1f}"
    return f"{measure.label}: {format_number(measure.value, measure.unit)}{target}{raw}{load}"


# --- the command line shared by the scripts --------------------------------------------------------
def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--quick`` and ``--json``, the same in every script."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes that only prove the script works (numbers mean nothing)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also save the section here")


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed, relative to the repository root."""
    args = list(sys.argv if argv is None else argv)
    script = Path(args[0])
    if script.is_absolute() and script.is_relative_to(ROOT):
        script = script.relative_to(ROOT)
    return shlex.join(["python", str(script), *args[1:]])


def start_section(script: str, title: str, quick: bool) -> Section:
    """A section stamped with the command, the machine and the start time."""
    section = Section(
        script=script, title=title, command=command_line(), machine=machine_now(), quick=quick
    )
    print(f"== {script}: {title}\n   {section.machine.describe()}\n   $ {section.command}")
    return section


def finish_section(section: Section, json_path: Path | None) -> None:
    """Stamp the duration, print the summary, save the JSON when asked."""
    section.seconds = round(time.perf_counter() - section._started, 2)
    print(f"== {section.script} done in {section.seconds:.1f} s", flush=True)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(section.to_json(), indent=1) + "\n", encoding="utf-8")


# --- docs/benchmarks.md ----------------------------------------------------------------------------
#: Issue 12's target table: measure key -> (what, value before the issue's work).
TARGET_ROWS: dict[str, tuple[str, str]] = {
    "optuna_time_to_0.97": ("time to 0.97 validation accuracy / Optuna's (median of seeds)", "1.8"),
    "optuna_time_to_0.95": ("time to 0.95 validation accuracy / Optuna's", ""),
    "optuna_time_to_0.98": ("time to 0.98 validation accuracy / Optuna's", ""),
    "optuna_wall": ("wall time of the same 100-trial search / Optuna's", "1.7"),
    "epoch_ratio_32": ("an epoch inside a search trial / a bare Lightning loop's (batch 32)", "1.4"),
    "epoch_ratio_64": ("the same, batch 64", "1.9"),
    "driver_cpu": ("CPU used by the search's driver process while trials run", "~0.55 core"),
    "first_batch": ("seconds from run_hyper_opt called to the first training batch", "5-9.5"),
    "core_efficiency": ("core efficiency of the whole run_hyper_opt call, 8 trials of ~8 s", "0.73"),
    "single_trial_wall": ("run_single_trial / hand-written fit + reval + test, 10 s trial", "1.11-1.16"),
    "search_vs_tuner": ("run_hyper_opt / hand-written Tuner + TuneReportCheckpointCallback", "1.08"),
    "import_wall": ("import pytorch_hyperlight / import lightning.pytorch", "0.10"),
    "peak_rss": ("peak RSS of the calling process during a 100-trial search", "not measured"),
    "quality_hyperopt": ("ASHA+HyperOpt epochs to within 0.5 points of the grid's best / grid's", "not measured"),
}  # fmt: skip


def shown_command(command: str) -> str:
    """The command as a reader would type it: without the ``--json PATH`` that run_all adds.

    >>> shown_command("python benchmarks/vs_optuna.py --json /tmp/x/vs_optuna.json --quick")
    'python benchmarks/vs_optuna.py --quick'
    """
    words = shlex.split(command)
    kept = [
        w for i, w in enumerate(words) if w != "--json" and (i == 0 or words[i - 1] != "--json")
    ]
    return shlex.join(kept)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_summary(sections: Sequence[Section]) -> str:
    """Issue 12's target table with the measured values (rows in the issue's order)."""
    measures = {
        measure.key: (measure, section) for section in sections for measure in section.measures
    }
    lines = [
        "| measure | before (issue 12) | measured | target | met | load when measured (script) |",
        "|---|---|---|---|---|---|",
    ]
    for key, (label, before) in TARGET_ROWS.items():
        if key not in measures:  # every target stays in the table, measured or not
            lines.append(f"| {_cell(label)} | {before} | not measured in this run |  |  |  |")
            continue
        measure, section = measures[key]
        met = {True: "yes", False: "**no**", None: ""}[measure.met]
        load = "" if measure.load_average is None else f"{measure.load_average:.1f}"
        lines.append(
            f"| {_cell(label)} | {before} | {format_number(measure.value, measure.unit)} | "
            f"{measure.target} | {met} | {load} (`{section.script}`) |"
        )
    return "\n".join(lines)


def render_section(section: Section) -> str:
    """One script's results: machine, command, a table of its measures, details and notes."""
    quick = " (**--quick: sizes too small to mean anything**)" if section.quick else ""
    lines = [
        f"### `{section.script}`: {section.title}{quick}",
        "",
        f"Machine: {section.machine.describe()}. Ran {section.seconds:.0f} s.",
        "",
        f"```bash\n{shown_command(section.command)}\n```",
        "",
        "| measure | value | target | ours (median) | reference (median) | load when measured |",
        "|---|---|---|---|---|---|",
    ]
    for measure in section.measures:
        load = "" if measure.load_average is None else f"{measure.load_average:.1f}"
        lines.append(
            f"| {_cell(measure.label)} | {format_number(measure.value, measure.unit)} | "
            f"{measure.target} | {format_number(measure.ours, measure.reference_unit)} | "
            f"{format_number(measure.reference, measure.reference_unit)} | {load} |"
        )
    details = [f"- {m.label}: {m.detail}" for m in section.measures if m.detail]
    notes = [f"- {note}" for note in section.notes]
    if details or notes:
        lines += ["", *details, *notes]
    return "\n".join(lines)


def render(sections: Sequence[Section], command: str, failures: Sequence[str] = ()) -> str:
    """The generated part of docs/benchmarks.md."""
    parts = [
        START_MARKER,
        "",
        "## Results",
        "",
        f"Produced by `{command}`; every number below comes from that run (medians of alternated "
        "rounds or seeds). Load averages are 1-minute ones: each script's at its start, and each "
        "line's when it was measured (the end of its runs).",
        "",
        render_summary(sections),
    ]
    if failures:
        parts += ["", "Scripts that failed in this run: " + ", ".join(f"`{f}`" for f in failures)]
    for section in sections:
        parts += ["", render_section(section)]
    parts += ["", END_MARKER]
    return "\n".join(parts)


def replace_generated(page: str, generated: str) -> str:
    """``page`` with the text between (and including) the markers replaced by ``generated``.

    >>> replace_generated(f"intro\\n{START_MARKER}\\nold\\n{END_MARKER}\\nafter", "NEW")
    'intro\\nNEW\\nafter'
    """
    start, end = page.find(START_MARKER), page.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(
            f"the page has no generated part: add a line {START_MARKER!r} and, below it, a line "
            f"{END_MARKER!r} where the results go"
        )
    return page[:start] + generated + page[end + len(END_MARKER) :]
