"""``report.html``'s page: one self-contained page per run, rendered from a loaded run.

The page shows the run's settings and search space, the trials table (sorted by clicking a header),
the best model's per-epoch metrics with its re-validation and test, every figure the run saved, the
errors of failed trials and the versions used. It needs nothing but the file: figures are embedded
as ``data:`` URIs, the style and the small sorting script are inline, and a Content-Security-Policy
forbids the page to load anything else. Every value from the run is HTML-escaped; nothing from the
environment is read, so no key or token can reach the page.

This module renders and writes a run already loaded; :mod:`pytorch_hyperlight.results.report`
(above :mod:`~pytorch_hyperlight.results.load`) rebuilds the page from a run directory and is the
command line.
"""

from __future__ import annotations

import base64
import os
import platform
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pytorch_hyperlight import files
from pytorch_hyperlight.metric_names import stage_of
from pytorch_hyperlight.results import run_dir as run_dirs
from pytorch_hyperlight.results.report_html import escape, key_values, page, table, text

_MODULE = "pytorch_hyperlight.results.report"  # the command line that rebuilds the page
_PACKAGES = ("pytorch-hyperlight", "torch", "lightning", "pytorch-lightning", "ray", "hyperopt")
_STAGE_NAMES = {"reval": "re-validation", "test": "test"}
_FAILED_STATUS = (
    "error",
    "ERROR",
)  # "ERROR": the word trials.csv used before 0.1.0 settled on "error"
_TRIAL_HEADERS = {
    "trial_id": "trial",
    "best_epoch": "best epoch",
    "stopped_early": "stopped",
    "training_time_s": "time (s)",
    "completion_order": "finished #",
}


# --- writing ---------------------------------------------------------------------------------------
def write_report_page(run: Mapping[str, Any]) -> Path:
    """Build ``report.html`` from a loaded run (:func:`~pytorch_hyperlight.load_run`) and its files.

    The versions come from the run's ``versions.json`` (else this environment's), the figures from
    its PNG files; the page is written atomically into the run directory.

    Returns:
        The path of the written ``report.html``.
    """
    path: Path = run["run_dir"]
    versions_file = path / run_dirs.VERSIONS_FILE
    recorded = versions_file.is_file()
    versions = files.read_json(versions_file) if recorded else installed_versions()
    figures = {name: Path(png).read_bytes() for name, png in run["plots"].items()}
    page = render_report(run, versions, figures, versions_recorded=recorded)
    report = path / run_dirs.REPORT_FILE
    files.write_text_atomic(report, page)
    return report


def installed_versions() -> dict[str, str]:
    """Python's and the main packages' versions in this environment.

    >>> sorted(installed_versions())[:3]
    ['hyperopt', 'lightning', 'python']
    """
    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


# --- the page --------------------------------------------------------------------------------------
def render_report(
    run: Mapping[str, Any],
    versions: Mapping[str, str],
    figures: Mapping[str, bytes],
    *,
    versions_recorded: bool = True,
) -> str:
    """The page of a run as :func:`~pytorch_hyperlight.load_run` returns it, with the versions
    (package -> version; ``versions_recorded`` False: not the run's own) and figures (name -> PNG)."""
    search = run["kind"] == "search"
    sections = [("best-model", "Best model", _best_model(run))]
    if search:
        sections.append(("trials", f"Trials ({len(run['trials'])})", _trials(run)))
    if figures:
        sections.append(("figures", f"Figures ({len(figures)})", _figures(figures)))
    if search:
        sections.append(("errors", f"Errors ({len(run['errors'])})", _errors(run["errors"])))
        sections.append(("search-space", "Search space", _search_space(run["search_space"])))
    sections.append(("settings", "Settings", _settings(run["settings"])))
    sections.append(("versions", "Versions", _versions(versions, versions_recorded)))
    heading = f'<h1 id="top">{escape(run["run_name"])}</h1>{_summary(run)}'
    return page(f"{run['run_name']} - report", heading, sections, footer=_footer(run))


def _summary(run: Mapping[str, Any]) -> str:
    kind = "hyper-parameter search" if run["kind"] == "search" else "single trial"
    parts = [kind, f"experiment {run.get('experiment_id') or 'default'}"]
    parts += [f"module {run['lmodule_class']}"] if run.get("lmodule_class") else []
    parts += [f"created {run['created']}"] if run.get("created") else []
    cards = [
        (f"best {run['metric']} ({run['mode']})", run.get("best_metric_value")),
        ("best epoch", run.get("best_epoch")),
    ]
    if run["kind"] == "search":
        failed = int(run["trials"]["status"].isin(_FAILED_STATUS).sum())
        cards.append(("best trial", run.get("best_trial_id")))
        cards.append(("trials / failed", f"{len(run['trials'])} / {failed}"))
    test_metric = "test_" + str(run["metric"]).split("_", 1)[-1]  # val_f1 -> test_f1
    if test_metric in run["metrics_last"]:
        cards.append((f"{test_metric} of the best model", run["metrics_last"][test_metric]))
    boxes = "".join(
        f'<div class="card"><b>{escape(text(value))}</b><span>{escape(label)}</span></div>'
        for label, value in cards
    )
    return f'<p class="sub">{escape(" · ".join(parts))}</p><div class="cards">{boxes}</div>'


def _best_model(run: Mapping[str, Any]) -> str:
    config = run.get("best_config") or run.get("config") or {}
    checkpoint = {
        "best epoch": run.get("best_epoch"),
        **({"best trial": run["best_trial_id"]} if run.get("best_trial_id") else {}),
        "checkpoint": _relative(run.get("best_checkpoint_path"), run["run_dir"]),
    }
    frame, best_epoch = run["metrics"].df, run.get("best_epoch")
    columns, rows = _epoch_rows(frame)
    classes = ["best" if row[0] == best_epoch else "" for row in rows]
    header, evaluated = _evaluation_rows(frame)
    evaluation = (
        table(header, evaluated, table_id="evaluation-table")
        if evaluated
        else '<p class="note">No validation or test loader: nothing was re-validated or tested.</p>'
    )
    return (
        f'<div class="grid"><div><h3>Configuration</h3>{key_values(config)}</div>'
        f"<div><h3>Best checkpoint</h3>{key_values(checkpoint)}"
        f"<h3>Best checkpoint re-validated and tested</h3>{evaluation}</div></div>"
        "<h3>Metrics per epoch</h3>"
        f"{table(columns, rows, row_classes=classes, table_id='metrics-table')}"
    )


def _epoch_rows(frame: Any) -> tuple[list[str], list[list[Any]]]:
    """One row per epoch, its train and val metrics side by side."""
    training = frame[frame["stage"].isin(["train", "val"])].dropna(axis="columns", how="all")
    metrics = [c for c in training.columns if c not in ("run", "stage", "epoch")]
    rows = [
        [
            int(epoch),
            *(group[m].dropna().iloc[0] if group[m].notna().any() else None for m in metrics),
        ]
        for epoch, group in training.groupby("epoch", sort=True)
    ]
    return ["epoch", *metrics], rows


def _evaluation_rows(frame: Any) -> tuple[list[str], list[list[Any]]]:
    """The re-validation and test rows, their metrics aligned by name without the stage prefix."""
    evaluations = frame[frame["stage"].isin(list(_STAGE_NAMES))]
    values: dict[str, dict[str, Any]] = {}
    for _, row in evaluations.iterrows():
        label = f"{_STAGE_NAMES[row['stage']]} (epoch {text(row['epoch'])})"
        values[label] = {
            name.split("_", 1)[1]: row[name]
            for name in frame.columns
            if stage_of(name) and text(row[name]) != ""
        }
    names = list(dict.fromkeys(name for named in values.values() for name in named))
    return ["", *names], [
        [label, *(named.get(n) for n in names)] for label, named in values.items()
    ]


def _trials(run: Mapping[str, Any]) -> str:
    trials = run["trials"]
    if "error" in trials and not trials["error"].astype(str).str.strip().any():
        trials = trials.drop(columns="error")  # nothing failed: the column would stay empty
    renamed = {
        **_TRIAL_HEADERS,
        "metric_best": f"best {run['metric']}",
        "metric_last": f"last {run['metric']}",
    }
    headers = [renamed.get(c, c.removeprefix("config/")) for c in trials.columns]
    best = trials["trial_id"] == run.get("best_trial_id")
    failed = trials["status"].isin(_FAILED_STATUS)
    classes = ["best" if b else "failed" if f else "" for b, f in zip(best, failed, strict=True)]
    rows = list(trials.itertuples(index=False))
    trials_table = table(headers, rows, row_classes=classes, sortable=True, table_id="trials-table")
    return (
        f'<p class="note">Click a column header to sort; the best trial is green.</p>{trials_table}'
    )


def _search_space(space: Mapping[str, Any]) -> str:
    rows = []
    for name, domain in space.items():
        details = dict(domain) if isinstance(domain, Mapping) else {"value": domain}
        kind = details.pop("type", "")
        rows.append([name, kind, ", ".join(f"{k}={text(v)}" for k, v in details.items())])
    return table(["parameter", "type", "values"], rows)


def _settings(settings: Any) -> str:
    described = type(settings).describe()  # name -> (default, help)
    values = settings.to_dict()
    changed = {name for name, value in values.items() if value != described[name][0]}
    tips = {name: help_text for name, (_, help_text) in described.items()}
    note = "In bold: values that differ from the defaults. Hover a name for its meaning."
    return f'<p class="note">{note}</p>{key_values(values, tips=tips, bold=changed, pairs=True)}'


def _figures(figures: Mapping[str, bytes]) -> str:
    items = []
    for name, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        items.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{escape(name)}">'
            f"<figcaption>{escape(name.replace('_', ' '))}</figcaption></figure>"
        )
    return f'<div class="figures">{"".join(items)}</div>'


def _errors(errors: Sequence[Mapping[str, Any]]) -> str:
    if not errors:
        return "<p>No trial failed.</p>"
    return "".join(
        f"<details><summary><b>trial {escape(error.get('trial_id', '?'))}</b>: "
        f"{escape(error.get('error', ''))}</summary><pre>{escape(error.get('traceback', ''))}</pre>"
        "</details>"
        for error in errors
    )


def _versions(versions: Mapping[str, str], recorded: bool) -> str:
    if recorded:
        return key_values(versions)
    note = "The run did not record its versions: these are the ones installed when this page was built."
    return f'<p class="note">{note}</p>{key_values(versions)}'


def _footer(run: Mapping[str, Any]) -> str:
    built = datetime.now().astimezone().isoformat(timespec="seconds")
    return (
        f"<footer>Built {escape(built)} from the files in {escape(run['run_dir'])}. Rebuild with "
        f"<code>python -m {_MODULE} RUN_DIR</code> or <code>load_run(RUN_DIR).report()</code>."
        "</footer>"
    )


# --- small pieces ----------------------------------------------------------------------------------
def _relative(path: Any, run_dir: Path) -> str:
    if not path:
        return "(removed)"
    return os.path.relpath(path, run_dir) if Path(path).is_relative_to(run_dir) else str(path)


# --- command line ----------------------------------------------------------------------------------
