"""The HTML of ``report.html``: its style, its sorting script, the page around the sections, and
the tables the sections are made of (:mod:`pytorch_hyperlight.results.report` builds the sections).

Everything shown is HTML-escaped here; the page may load nothing (a Content-Security-Policy allows
only its own inline style and script, by hash, and ``data:`` images).
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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


def page(
    title: str, heading: str, sections: Sequence[tuple[str, str, str]], *, footer: str = ""
) -> str:
    """The whole page: ``title`` (escaped here), then HTML: ``heading`` above the sections, the
    sections as (anchor, title, HTML), each linked from the navigation bar, and ``footer``."""
    links = [("top", "Top"), *((anchor, name) for anchor, name, _ in sections)]
    nav = "".join(f'<a href="#{anchor}">{escape(name)}</a>' for anchor, name in links)
    body = "".join(
        f'<h2 id="{anchor}">{escape(name)}</h2>{part}' for anchor, name, part in sections
    )
    policy = (
        "default-src 'none'; img-src data:; "
        f"style-src '{_sha256(_STYLE)}'; script-src '{_sha256(_SCRIPT)}'"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><nav>{nav}</nav><main>{heading}{body}{footer}</main>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def escape(value: Any) -> str:
    """``value`` as text, HTML-escaped (quotes too)."""
    return html.escape(str(value), quote=True)


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def _is_bool(value: Any) -> bool:
    return type(value).__name__ in ("bool", "bool_")  # Python's and numpy's


def is_number(value: Any) -> bool:
    """A real number, not a bool (numpy's included)."""
    return isinstance(value, numbers.Real) and not _is_bool(value)


def text(value: Any) -> str:
    """A value as shown: floats with 4 significant digits, missing values empty.

    >>> text(0.123456), text(3), text(None), text(float("nan")), text(True), text([1, 2])
    ('0.1235', '3', '', '', 'yes', '[1, 2]')
    """
    if value is None or (is_number(value) and math.isnan(value)) or str(value) == "<NA>":
        return ""
    if _is_bool(value):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if is_number(value):
        return f"{float(value):.4g}"
    return str(value)


def _cell(value: Any) -> str:
    """A table cell; numbers carry their exact value in ``data-sort``; long text is shortened."""
    shown = text(value)
    number = float(value) if is_number(value) and shown else None
    attributes = "" if number is None else f' data-sort="{number!r}"'.replace("inf", "Infinity")
    if len(shown) > _MAX_CELL:
        attributes += f' title="{escape(shown)}"'
        shown = shown[: _MAX_CELL - 3] + "..."
    return f"<td{attributes}>{escape(shown)}</td>"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    row_classes: Sequence[str] = (),
    sortable: bool = False,
    table_id: str | None = None,
) -> str:
    cells = [list(row) for row in rows]
    numeric = [all(is_number(r[i]) or text(r[i]) == "" for r in cells) for i in range(len(headers))]
    head = "".join(
        f"<th{' class=num' * n}>{escape(h)}</th>" for h, n in zip(headers, numeric, strict=True)
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


def key_values(
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
        tip = f' title="{escape(tips[key])}"' if key in tips else ""
        emphasis = ' class="changed"' if key in bold else ""
        shown = "None" if value is None else text(value)
        rows.append(f"<tr><th{tip}>{escape(key)}</th><td{emphasis}>{escape(shown)}</td></tr>")
    kind = "kv pairs" if pairs else "kv"
    return f'<div class="scroll"><table class="{kind}"><tbody>{"".join(rows)}</tbody></table></div>'
