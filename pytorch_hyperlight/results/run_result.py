"""RunResult: the dict a run returns, which also renders as HTML tables in a notebook."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

_SUMMARY_KEYS = (
    "kind",
    "run_name",
    "run_dir",
    "metric",
    "mode",
    "best_metric_value",
    "best_epoch",
    "best_trial_id",
    "best_checkpoint_path",
)
_MAX_TRIAL_ROWS = 50


class RunResult(dict[str, Any]):
    """A plain ``dict`` of a run's results (``result["metrics"]``, ...) with a notebook view.

    As the value of a notebook cell it shows a summary, the best config, the last metric values
    and, for a search, the trials table. Everything else behaves exactly like a ``dict``.

    Example:
        >>> result = RunResult({"run_name": "single-trial-Net", "best_epoch": 3})
        >>> result["best_epoch"], isinstance(result, dict)
        (3, True)
        >>> "single-trial-Net" in result._repr_html_()
        True
    """

    def _repr_html_(self) -> str:
        import pandas as pd

        parts = []
        summary = {key: self[key] for key in _SUMMARY_KEYS if self.get(key) is not None}
        if summary:
            parts.append(_key_value_table(summary, "run"))
        config = self.get("best_config") or self.get("config")
        if isinstance(config, Mapping) and config:
            parts.append(_key_value_table(config, "best config"))
        last = self.get("metrics_last")
        if last is not None:
            frame = pd.Series(last, dtype=object).to_frame("last value")
            parts.append("<b>last metric values</b>" + frame.to_html(float_format="{:.4g}".format))
        trials = self.get("trials")
        if isinstance(trials, pd.DataFrame):
            from pytorch_hyperlight.results.trials_table import TrialsTable

            shown = trials.view(width=None) if isinstance(trials, TrialsTable) else trials
            parts.append(
                f"<b>trials ({len(trials)})</b>"
                + shown.to_html(index=False, max_rows=_MAX_TRIAL_ROWS, float_format="{:.4g}".format)
            )
        hidden = sorted(set(self) - set(_SUMMARY_KEYS) - {"best_config", "config", "trials"})
        parts.append(f"<p>also: {html.escape(', '.join(map(str, hidden)))}</p>")
        return "\n".join(parts)


def _key_value_table(values: Mapping[str, Any], title: str) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(key))}</th>"
        f"<td style='text-align:left'>{html.escape(_short(value))}</td></tr>"
        for key, value in values.items()
    )
    return f"<b>{html.escape(title)}</b><table>{rows}</table>"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."
