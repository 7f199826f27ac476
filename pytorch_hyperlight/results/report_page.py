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
import hashlib
import html
import math
import numbers
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pytorch_hyperlight import files
from pytorch_hyperlight.metric_names import stage_of
from pytorch_hyperlight.results import run_dir as run_dirs

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
_MAX_CELL = 60  # characters of a table cell; the full text is in its tooltip

_STYLE = """
body{margin:0;background:#f6f7f9;color:#1d2430;font:15px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,sans-serif}main{max-width:1320px;margin:0 auto;padding:1rem 1.5rem 3rem}
nav{position:sticky;top:0;z-index:2;background:#1d2430;padding:.45rem 1.5rem;font-size:14px}
nav a{color:#dfe6f0;margin-right:1.1rem;text-decoration:none}nav a:hover{text-decoration:underline}
h1{font-size:1.55rem;margin:.6rem 0 .1rem;overflow-wrap:anywhere}h3{font-size:1rem;margin:1rem 0 .4rem}
h2{scroll-margin-top:2.5rem;font-size:1.15rem;margin:2rem 0 .6rem;padding-bottom:.25rem;border-bottom:2px solid #d7dce4}
.sub,.note{color:#5b6675;margin:0 0 .6rem;overflow-wrap:anywhere}
.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:.8rem 0}.card span{color:#5b6675;font-size:13px}
.card{background:#fff;border:1px solid #d7dce4;border-radius:6px;padding:.45rem .8rem;min-width:8rem}
.card b{display:block;font-size:1.2rem}.tall{max-height:70vh}
.scroll{overflow:auto;background:#fff;border:1px solid #d7dce4;border-radius:6px}
table{border-collapse:collapse;font-size:13.5px;font-variant-numeric:tabular-nums;width:100%}
th,td{padding:.28rem .5rem;border-bottom:1px solid #e7eaef;text-align:left;white-space:nowrap}
th.num,td[data-sort]{text-align:right}th:first-child,td:first-child{text-align:left}thead th{position:sticky;top:0;background:#eef1f5;z-index:1}
.sortable th,.sortable td{padding:.28rem .4rem}.sortable thead th{cursor:pointer;user-select:none}.sortable thead th::after{content:" \\2195";color:#9aa4b2}
.sortable thead th[aria-sort=ascending]::after{content:" \\2191";color:#1d2430}
.sortable thead th[aria-sort=descending]::after{content:" \\2193";color:#1d2430}
tr.best td{background:#e5f4e8;font-weight:600}tr.failed td{background:#fbe9e9}tr.eval td{background:#eef3fb}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:.8rem;align-items:start}
.kv th{font-weight:500;color:#39424e;width:40%}.pairs th{width:auto}.kv td{white-space:normal;overflow-wrap:anywhere}
.changed{font-weight:700}.pairs tr{display:contents}
@media (min-width:900px){.pairs tbody{display:grid;grid-template-columns:auto 1fr auto 1fr}}.figures{display:flex;flex-wrap:wrap;gap:.8rem;align-items:flex-start}
figure{margin:0;background:#fff;border:1px solid #d7dce4;border-radius:6px;padding:.6rem;max-width:100%}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{color:#5b6675;font-size:13px;text-align:center}pre{overflow:auto;font-size:12.5px}
details{background:#fff;border:1px solid #e3b4b4;border-radius:6px;margin:.5rem 0;padding:.4rem .7rem}
footer{color:#5b6675;font-size:13px;margin-top:2.5rem;overflow-wrap:anywhere}
"""

# Clicking (or Enter on) a header of a table.sortable sorts its rows by that column; a second click
# reverses. Cells sort by data-sort (a number) when present, else by text; empty cells go last.
_SCRIPT = """
function sortTable(table, column) {
  const header = table.tHead.rows[0].cells[column];
  const ascending = header.getAttribute("aria-sort") !== "ascending";
  for (const cell of table.tHead.rows[0].cells) cell.removeAttribute("aria-sort");
  header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const key = (row) => row.cells[column].dataset.sort ?? row.cells[column].textContent.trim();
  const compare = (a, b) => {
    if (a === "" || b === "") return (a === "") - (b === "");
    const order = !isNaN(a) && !isNaN(b) ? a - b : a.localeCompare(b, undefined, {numeric: true});
    return ascending ? order : -order;
  };
  const rows = Array.from(table.tBodies[0].rows, (row) => [key(row), row]);
  rows.sort((a, b) => compare(a[0], b[0]));
  for (const [, row] of rows) table.tBodies[0].appendChild(row);
}
for (const table of document.querySelectorAll("table.sortable")) {
  Array.from(table.tHead.rows[0].cells).forEach((cell, column) => {
    cell.tabIndex = 0;
    cell.onclick = () => sortTable(table, column);
    cell.onkeydown = (event) => event.key === "Enter" && sortTable(table, column);
  });
}
"""


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
    links = [("top", "Top"), *((anchor, title) for anchor, title, _ in sections)]
    nav = "".join(f'<a href="#{anchor}">{_e(title)}</a>' for anchor, title in links)
    body = "".join(f'<h2 id="{anchor}">{_e(t)}</h2>{part}' for anchor, t, part in sections)
    policy = (
        "default-src 'none'; img-src data:; "
        f"style-src '{_sha256(_STYLE)}'; script-src '{_sha256(_SCRIPT)}'"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_e(run["run_name"])} - report</title>'
        f"<style>{_STYLE}</style></head><body><nav>{nav}</nav><main>"
        f'<h1 id="top">{_e(run["run_name"])}</h1>{_summary(run)}{body}{_footer(run)}</main>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


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
        f'<div class="card"><b>{_e(_text(value))}</b><span>{_e(label)}</span></div>'
        for label, value in cards
    )
    return f'<p class="sub">{_e(" · ".join(parts))}</p><div class="cards">{boxes}</div>'


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
        _table(header, evaluated, table_id="evaluation-table")
        if evaluated
        else '<p class="note">No validation or test loader: nothing was re-validated or tested.</p>'
    )
    return (
        f'<div class="grid"><div><h3>Configuration</h3>{_key_values(config)}</div>'
        f"<div><h3>Best checkpoint</h3>{_key_values(checkpoint)}"
        f"<h3>Best checkpoint re-validated and tested</h3>{evaluation}</div></div>"
        "<h3>Metrics per epoch</h3>"
        f"{_table(columns, rows, row_classes=classes, table_id='metrics-table')}"
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
        label = f"{_STAGE_NAMES[row['stage']]} (epoch {_text(row['epoch'])})"
        values[label] = {
            name.split("_", 1)[1]: row[name]
            for name in frame.columns
            if stage_of(name) and _text(row[name]) != ""
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
    table = _table(headers, rows, row_classes=classes, sortable=True, table_id="trials-table")
    return f'<p class="note">Click a column header to sort; the best trial is green.</p>{table}'


def _search_space(space: Mapping[str, Any]) -> str:
    rows = []
    for name, domain in space.items():
        details = dict(domain) if isinstance(domain, Mapping) else {"value": domain}
        kind = details.pop("type", "")
        rows.append([name, kind, ", ".join(f"{k}={_text(v)}" for k, v in details.items())])
    return _table(["parameter", "type", "values"], rows)


def _settings(settings: Any) -> str:
    described = type(settings).describe()  # name -> (default, help)
    values = settings.to_dict()
    changed = {name for name, value in values.items() if value != described[name][0]}
    tips = {name: help_text for name, (_, help_text) in described.items()}
    note = "In bold: values that differ from the defaults. Hover a name for its meaning."
    return f'<p class="note">{note}</p>{_key_values(values, tips=tips, bold=changed, pairs=True)}'


def _figures(figures: Mapping[str, bytes]) -> str:
    items = []
    for name, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        items.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(name)}">'
            f"<figcaption>{_e(name.replace('_', ' '))}</figcaption></figure>"
        )
    return f'<div class="figures">{"".join(items)}</div>'


def _errors(errors: Sequence[Mapping[str, Any]]) -> str:
    if not errors:
        return "<p>No trial failed.</p>"
    return "".join(
        f"<details><summary><b>trial {_e(error.get('trial_id', '?'))}</b>: "
        f"{_e(error.get('error', ''))}</summary><pre>{_e(error.get('traceback', ''))}</pre>"
        "</details>"
        for error in errors
    )


def _versions(versions: Mapping[str, str], recorded: bool) -> str:
    if recorded:
        return _key_values(versions)
    note = "The run did not record its versions: these are the ones installed when this page was built."
    return f'<p class="note">{note}</p>{_key_values(versions)}'


def _footer(run: Mapping[str, Any]) -> str:
    built = datetime.now().astimezone().isoformat(timespec="seconds")
    return (
        f"<footer>Built {_e(built)} from the files in {_e(run['run_dir'])}. Rebuild with "
        f"<code>python -m {_MODULE} RUN_DIR</code> or <code>load_run(RUN_DIR).report()</code>."
        "</footer>"
    )


# --- small pieces ----------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def _relative(path: Any, run_dir: Path) -> str:
    if not path:
        return "(removed)"
    return os.path.relpath(path, run_dir) if Path(path).is_relative_to(run_dir) else str(path)


def _is_bool(value: Any) -> bool:
    return type(value).__name__ in ("bool", "bool_")  # Python's and numpy's


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _text(value: Any) -> str:
    """A value as shown: floats with 4 significant digits, missing values empty.

    >>> _text(0.123456), _text(3), _text(None), _text(float("nan")), _text(True), _text([1, 2])
    ('0.1235', '3', '', '', 'yes', '[1, 2]')
    """
    if value is None or (_is_number(value) and math.isnan(value)) or str(value) == "<NA>":
        return ""
    if _is_bool(value):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if _is_number(value):
        return f"{float(value):.4g}"
    return str(value)


def _cell(value: Any) -> str:
    """A table cell; numbers carry their exact value in ``data-sort``; long text is shortened."""
    shown = _text(value)
    number = float(value) if _is_number(value) and shown else None
    attributes = "" if number is None else f' data-sort="{number!r}"'.replace("inf", "Infinity")
    if len(shown) > _MAX_CELL:
        attributes += f' title="{_e(shown)}"'
        shown = shown[: _MAX_CELL - 3] + "..."
    return f"<td{attributes}>{_e(shown)}</td>"


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    row_classes: Sequence[str] = (),
    sortable: bool = False,
    table_id: str | None = None,
) -> str:
    cells = [list(row) for row in rows]
    numeric = [
        all(_is_number(r[i]) or _text(r[i]) == "" for r in cells) for i in range(len(headers))
    ]
    head = "".join(
        f"<th{' class=num' * n}>{_e(h)}</th>" for h, n in zip(headers, numeric, strict=True)
    )
    body = []
    for index, row in enumerate(cells):
        row_class = row_classes[index] if index < len(row_classes) else ""
        opening = f'<tr class="{row_class}">' if row_class else "<tr>"
        body.append(opening + "".join(_cell(value) for value in row) + "</tr>")
    attributes = (f' id="{table_id}"' if table_id else "") + ' class="sortable"' * sortable
    return (
        f'<div class="scroll tall"><table{attributes}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _key_values(
    values: Mapping[str, Any],
    *,
    tips: Mapping[str, str] | None = None,
    bold: Iterable[str] = (),
    pairs: bool = False,
) -> str:
    """A name/value table; ``pairs``: two names and values per line (on wide screens)."""
    tips, bold = tips or {}, set(bold)
    rows = []
    for key, value in values.items():
        tip = f' title="{_e(tips[key])}"' if key in tips else ""
        emphasis = ' class="changed"' if key in bold else ""
        shown = "None" if value is None else _text(value)
        rows.append(f"<tr><th{tip}>{_e(key)}</th><td{emphasis}>{_e(shown)}</td></tr>")
    kind = "kv pairs" if pairs else "kv"
    return f'<div class="scroll"><table class="{kind}"><tbody>{"".join(rows)}</tbody></table></div>'
