"""The trials table of a search, read for analysis: pure pandas, no plotting.

The searched parameters and how to show them (log, linear or categorical scale, from the search
space's description), each trial's metric, positions on normalised axes, and the importance of
each parameter (:func:`param_importance`). :mod:`pytorch_hyperlight.results.analysis` draws them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pytorch_hyperlight.errors import ConfigError

CONFIG_PREFIX = "config/"
#: Search-space types sampled on a log scale: shown on log axes.
LOG_SCALE_TYPES = frozenset({"loguniform", "qloguniform", "lograndint"})
#: Search-space types with a list of values: shown as categories.
CATEGORICAL_TYPES = frozenset({"choice", "grid"})
_TRAINING_STAGES = ("train", "val")


@dataclass(frozen=True)
class SearchParameter:
    """One searched hyper-parameter as the plots show it.

    Attributes:
        name: the parameter's name (``lr``); its trials-table column is ``config/<name>``.
        scale: ``"log"``, ``"linear"`` or ``"categorical"``.
        categories: labels of the categories, in search-space order (categorical only).
        bounds: ``(lower, upper)`` from the search space, when it gives them.
    """

    name: str
    scale: str
    categories: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None

    @property
    def column(self) -> str:
        return CONFIG_PREFIX + self.name


def category_label(value: Any) -> str:
    """The label of a category value, the same whether it came from JSON or from a CSV file.

    >>> category_label(32), category_label(32.0), category_label("relu"), category_label([0, 1])
    ('32', '32', 'relu', '[0, 1]')
    """
    if (
        isinstance(value, float | np.floating)
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        return str(int(value))
    return str(value)


def search_parameters(
    trials: pd.DataFrame, search_space: Mapping[str, Mapping[str, Any]] | None
) -> list[SearchParameter]:
    """The searched parameters found in ``trials`` (search-space order first), with their scales."""
    search_space = search_space or {}
    columns = [c for c in trials.columns if str(c).startswith(CONFIG_PREFIX)]
    names = [n for n in search_space if CONFIG_PREFIX + n in columns]
    names += [c[len(CONFIG_PREFIX) :] for c in columns if c[len(CONFIG_PREFIX) :] not in names]
    parameters = []
    for name in names:
        spec = search_space.get(name, {})
        kind = spec.get("type")
        if kind == "constant":
            continue
        values = trials[CONFIG_PREFIX + name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        bounds = None
        if "lower" in spec and "upper" in spec:
            bounds = (float(spec["lower"]), float(spec["upper"]))
        if kind in CATEGORICAL_TYPES or not numeric:
            listed = spec.get("categories", spec.get("values", []))
            labels = [category_label(v) for v in listed]
            seen = [category_label(v) for v in values.dropna()]
            labels += sorted(set(seen) - set(labels), key=_natural_key)
            parameters.append(SearchParameter(name, "categorical", tuple(dict.fromkeys(labels))))
        elif kind in LOG_SCALE_TYPES and bool((values.dropna() > 0).all()):
            parameters.append(SearchParameter(name, "log", bounds=bounds))
        else:
            parameters.append(SearchParameter(name, "linear", bounds=bounds))
    return parameters


def metric_curve(history: Any, metric: str) -> pd.Series:
    """The metric per epoch of one trial's history (a TrialMetrics or its DataFrame)."""
    frame = history.df if hasattr(history, "df") else pd.DataFrame(history)
    if metric not in frame.columns or "epoch" not in frame.columns:
        return pd.Series(dtype=float)
    if "stage" in frame.columns:
        frame = frame[frame["stage"].isin(_TRAINING_STAGES)]
    frame = frame[["epoch", metric]].dropna()
    return frame.groupby("epoch")[metric].last().astype(float).sort_index()


def metric_values(trials: pd.DataFrame) -> pd.Series:
    """Each trial's best metric value (NaN for trials without one)."""
    column = "metric_best" if "metric_best" in trials.columns else "metric_last"
    if column not in trials.columns:
        return pd.Series(np.nan, index=trials.index)
    values = pd.to_numeric(trials[column], errors="coerce").astype(float)
    return values.where(np.isfinite(values))


def param_importance(
    trials: pd.DataFrame, search_space: Mapping[str, Mapping[str, Any]] | None = None
) -> pd.Series:
    """Share of the metric's variation that each searched parameter explains on its own.

    Method (simple, marginal, one parameter at a time), over the trials with a finite
    ``metric_best``:

    - numeric parameter: the squared Spearman rank correlation between the parameter and the
      metric (rank-based, so log or linear sampling does not matter; it sees monotone effects only);
    - categorical parameter: the correlation ratio eta^2 = between-category sum of squares / total
      sum of squares of the metric;
    - the scores are then divided by their sum, so the importances add up to 1.

    Constant parameters score 0. With fewer than 3 such trials, or a metric that does not vary,
    there is nothing to explain: every importance is NaN. Interactions between parameters are not
    measured, and with few trials the scores are noisy: read them as a hint, not a test.

    Returns:
        importances by parameter name, largest first.
    """
    parameters = search_parameters(trials, search_space)
    metric = metric_values(trials)
    finite = metric.notna()
    names = [p.name for p in parameters]
    if finite.sum() < 3 or not parameters or metric[finite].nunique() < 2:
        return pd.Series(np.nan, index=names, dtype=float)
    y = metric[finite]
    scores = {}
    for parameter in parameters:
        x = trials.loc[finite, parameter.column]
        if parameter.scale == "categorical":
            scores[parameter.name] = _correlation_ratio(x.map(category_label), y)
        else:
            x = pd.to_numeric(x, errors="coerce")
            rho = _spearman(x, y) if x.nunique() > 1 else 0.0
            scores[parameter.name] = 0.0 if pd.isna(rho) else float(rho) ** 2
    result = pd.Series(scores, dtype=float)
    return (result / result.sum()).sort_values(ascending=False)


def _natural_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def bool_column(trials: pd.DataFrame, column: str) -> pd.Series:
    if column not in trials.columns:
        return pd.Series(False, index=trials.index)
    values = trials[column]
    if values.dtype == object:
        values = values.astype(str).str.lower().isin(("true", "1", "yes"))
    return values.fillna(False).astype(bool)


def check_mode(mode: str) -> None:
    """Raise ConfigError unless ``mode`` is ``"min"`` or ``"max"``."""
    if mode not in ("min", "max"):
        raise ConfigError(f"mode must be 'min' or 'max', got {mode!r}.")


def best_id(values: pd.Series, mode: str) -> Any:
    finite = values.dropna()
    if finite.empty:
        return None
    return finite.idxmax() if mode == "max" else finite.idxmin()


def positions(values: pd.Series, parameter: SearchParameter, jitter: bool) -> pd.Series:
    if parameter.scale != "categorical":
        return pd.to_numeric(values, errors="coerce")
    positions = {label: float(i) for i, label in enumerate(parameter.categories)}
    index = values.map(lambda v: positions.get(category_label(v), np.nan)).astype(float)
    if jitter:
        spread = np.random.default_rng(0).uniform(-0.12, 0.12, size=len(index))
        index = index + spread
    return index


def unit_scale(values: pd.Series, low: float, high: float) -> pd.Series:
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        return pd.Series(0.5, index=values.index)
    return ((values - low) / (high - low)).clip(0, 1)


def numeric_range(values: pd.Series, parameter: SearchParameter) -> tuple[float, float]:
    seen = values.dropna()
    low = float(seen.min()) if not seen.empty else math.nan
    high = float(seen.max()) if not seen.empty else math.nan
    if parameter.bounds is not None:
        low, high = min(parameter.bounds[0], low), max(parameter.bounds[1], high)
    return low, high


def normalised(values: pd.Series, parameter: SearchParameter) -> pd.Series:
    if parameter.scale == "categorical":
        index = positions(values, parameter, jitter=False)
        span = max(1, len(parameter.categories) - 1)
        return index / span if len(parameter.categories) > 1 else index * 0 + 0.5
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    low, high = numeric_range(numbers, parameter)
    if parameter.scale == "log":
        return unit_scale(np.log10(numbers), math.log10(low), math.log10(high))
    return unit_scale(numbers, low, high)


def _spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman's rank correlation over the pairs with both values: Pearson's on average ranks.

    The same as ``x.corr(y, method="spearman")``, which imports scipy.stats (about half a second,
    once per process) to compute it.

    >>> _spearman(pd.Series([1.0, 2.0, 3.0, 4.0]), pd.Series([10.0, 20.0, 30.0, 35.0]))
    1.0
    """
    both = x.notna() & y.notna()
    return float(x[both].rank().corr(y[both].rank()))


def _correlation_ratio(categories: pd.Series, values: pd.Series) -> float:
    """eta^2: between-group sum of squares / total sum of squares."""
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    groups = values.groupby(categories.to_numpy())
    between = float((groups.count() * (groups.mean() - values.mean()) ** 2).sum())
    return between / total
