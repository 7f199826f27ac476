"""RunResult: the dict a run returns, which also renders as HTML tables in a notebook."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from pytorch_hyperlight.results.run_record import (
    LIVE_ONLY_KEYS,
    RunRecord,
    result_keys,
    summary_fields,
)

#: Shown first in a notebook: the record's summary fields, then where the run is.
_SUMMARY_KEYS = (*summary_fields(), "run_dir")
_MAX_TRIAL_ROWS = 50


_Result = TypeVar("_Result", bound="RunResult")


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

    @classmethod
    def from_record(
        cls: type[_Result],
        record: RunRecord,
        run_dir: str | os.PathLike[str],
        *,
        live: bool,
        **values: Any,
    ) -> _Result:
        """A run's result: the record's fields, then ``values`` (the files' contents and live
        objects; a value named like a field replaces the field's plain value: ``settings`` as a
        Settings object, ``metrics_last`` as a pandas Series, ``best_checkpoint_path`` absolute).

        Args:
            record: the run's record.
            run_dir: the run directory.
            live: True for a run's own result (``lmodule_best`` and ``trainer`` required), False
                for a run read back (they may be absent).
            values: every other key of :func:`~pytorch_hyperlight.results.run_record.result_keys`.

        Raises:
            ValueError: a key that the record's kind does not declare, or one missing (a bug of
                the caller: the result keys are declared once, in the record's module).
        """
        result = {**record.result_values(), "run_dir": run_dir, **values}
        declared = result_keys(record.kind)
        optional = set() if live else set(LIVE_ONLY_KEYS)
        undeclared = [key for key in result if key not in declared]
        missing = [key for key in declared if key not in result and key not in optional]
        if undeclared or missing:
            raise ValueError(
                f"a {record.kind} result declares {declared}: undeclared {undeclared}, "
                f"missing {missing}"
            )
        return cls({key: result[key] for key in declared if key in result})

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
