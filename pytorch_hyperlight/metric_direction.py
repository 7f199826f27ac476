"""Which way is better for a metric: declared by the user or the run, never guessed from a substring.

A metric's direction is resolved from these rules, in order; the first that applies wins:

1. ``higher_is_better`` (a :class:`~pytorch_hyperlight.Settings` field, or an argument of the
   comparison report): ``{"perplexity": False}`` declares the metric at every stage;
   ``{"val_perplexity": False}`` only that name (and its re-validation, ``reval_perplexity``).
2. The run's ``metric_to_optimize`` and ``metric_opt_mode``: ``val_f1`` with ``"max"`` makes
   ``f1`` higher-is-better at every stage (``train_f1``, ``reval_f1``, ``test_f1``).
3. The default rule: the words of the name after its stage (split at ``_``), read from the
   last one back; the first word found in :data:`LOWER_IS_BETTER_WORDS` or
   :data:`HIGHER_IS_BETTER_WORDS` decides. Whole words only, and the last one first, because the
   last word names what the metric is: ``val_dice_loss`` is a loss, ``test_top1_error`` an
   error, ``val_f1_macro`` an F1 score.
4. Otherwise the direction is unknown: the report does not sort by the metric and says so.

Everything here is pure: no Lightning, no I/O.

Example:
    >>> print(metric_direction("val_perplexity"))
    val_perplexity lower (default rule: 'perplexity')
    >>> print(metric_direction("test_acc", metric_to_optimize="val_acc", metric_opt_mode="max"))
    test_acc higher (metric_opt_mode='max' of val_acc)
    >>> print(metric_direction("val_bleu_drop", higher_is_better={"bleu_drop": False}))
    val_bleu_drop lower (higher_is_better['bleu_drop'])
    >>> print(metric_direction("val_novelty"))
    val_novelty unknown (no rule matches; declare it with higher_is_better={'novelty': ...})
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, get_args

from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.metric_names import STEP_SUFFIX, base_name

#: Words that name a metric where smaller values are better (rule 3).
LOWER_IS_BETTER_WORDS = frozenset(
    {
        "loss", "losses", "logloss", "nll", "ce", "bce", "xent", "crossentropy",
        "error", "errors", "err", "wer", "cer", "eer", "ece", "brier", "hamming",
        "perplexity", "ppl", "mse", "rmse", "msle", "rmsle", "mae", "mape", "smape",
        "kl", "kld", "divergence", "fid", "regret",
    }
)  # fmt: skip
#: Words that name a metric where larger values are better (rule 3).
HIGHER_IS_BETTER_WORDS = frozenset(
    {
        "acc", "accuracy", "top1", "top5", "f1", "f2", "fbeta", "fscore",
        "prec", "precision", "rec", "recall", "sensitivity", "specificity", "tpr", "tnr",
        "auc", "auroc", "auprc", "ap", "map", "iou", "miou", "jaccard", "dice",
        "r2", "mcc", "kappa", "bleu", "rouge", "meteor", "psnr", "ssim", "ndcg", "mrr",
    }
)  # fmt: skip

#: The rule that decided a direction; strongest first (a source's position is its precedence).
Source = Literal["higher_is_better", "metric_opt_mode", "default", "unknown"]
SOURCES: tuple[Source, ...] = get_args(Source)
#: Stage prefixes a metric name may carry in tables (``reval`` is the best model's re-validation).
_STAGES = ("reval", "train", "val", "test")
_WORD_SEPARATORS = re.compile(r"[^0-9a-z]+")


class MetricDirection(NamedTuple):
    """Which way is better for one metric, and the rule that says so.

    Attributes:
        metric: the metric's name (``val_perplexity``).
        higher_is_better: True, False, or None when unknown.
        source: the rule that decided: one of :data:`SOURCES`.
        detail: what in that rule decided, e.g. ``"default rule: 'perplexity'"``.
    """

    metric: str
    higher_is_better: bool | None
    source: Source
    detail: str

    @property
    def known(self) -> bool:
        """Whether a rule decided the direction (else the metric is not sorted by)."""
        return self.higher_is_better is not None

    @property
    def word(self) -> str:
        """``"higher"``, ``"lower"`` or ``"unknown"``."""
        if self.higher_is_better is None:
            return "unknown"
        return "higher" if self.higher_is_better else "lower"

    def describe(self) -> str:
        """The direction and its rule: ``"lower (default rule: 'perplexity')"``."""
        return f"{self.word} ({self.detail})"

    def __str__(self) -> str:
        return f"{self.metric} {self.describe()}"


def split_stage(metric: str) -> tuple[str | None, str]:
    """``(stage, name without stage)``; the ``_epoch`` suffix is dropped.

    >>> split_stage("reval_f1_epoch"), split_stage("val_loss"), split_stage("lr")
    (('reval', 'f1'), ('val', 'loss'), (None, 'lr'))
    """
    name = base_name(metric)
    for stage in _STAGES:
        if name.startswith(stage + "_") and len(name) > len(stage) + 1:
            return stage, name[len(stage) + 1 :]
    return None, name


def declared_direction(
    metric: str, higher_is_better: Mapping[str, bool] | None
) -> MetricDirection | None:
    """Rule 1: the user's ``higher_is_better`` entry for ``metric``; None when it has none.

    The full name wins over the name without stage; a ``reval_`` metric also reads ``val_`` keys.

    >>> print(declared_direction("reval_score", {"val_score": True, "score": False}))
    reval_score higher (higher_is_better['val_score'])
    >>> declared_direction("val_score", None) is None
    True
    """
    if not higher_is_better:
        return None
    declared = {base_name(key): (key, value) for key, value in higher_is_better.items()}
    stage, name = split_stage(metric)
    candidates = [f"{stage}_{name}"] if stage else []
    if stage == "reval":
        candidates.append(f"val_{name}")
    for candidate in [*candidates, name]:
        if candidate in declared:
            key, value = declared[candidate]
            return MetricDirection(
                metric, bool(value), "higher_is_better", f"higher_is_better[{key!r}]"
            )
    return None


def optimized_direction(
    metric: str, metric_to_optimize: str | None, metric_opt_mode: str | None
) -> MetricDirection | None:
    """Rule 2: the run's optimised metric and its mode, at every stage; None for other metrics.

    >>> print(optimized_direction("test_f1", "val_f1_epoch", "max"))
    test_f1 higher (metric_opt_mode='max' of val_f1)
    >>> optimized_direction("test_acc", "val_f1", "max") is None
    True

    Raises:
        ConfigError: ``metric_opt_mode`` is not ``"min"`` or ``"max"``.
    """
    if metric_to_optimize is None:
        return None
    if metric_opt_mode not in ("min", "max"):
        raise ConfigError(
            f"metric_opt_mode must be 'min' or 'max' (the direction of {metric_to_optimize!r}), "
            f"got {metric_opt_mode!r}."
        )
    if split_stage(metric)[1] != split_stage(metric_to_optimize)[1]:
        return None
    detail = f"metric_opt_mode={metric_opt_mode!r} of {base_name(metric_to_optimize)}"
    return MetricDirection(metric, metric_opt_mode == "max", "metric_opt_mode", detail)


def default_direction(metric: str) -> MetricDirection:
    """Rules 3 and 4: the documented word tables, else unknown.

    >>> [default_direction(m).word for m in ("val_dice_loss", "val_f1_macro", "val_dice", "lr")]
    ['lower', 'higher', 'higher', 'unknown']
    """
    name = split_stage(metric)[1]
    for word in reversed(_WORD_SEPARATORS.split(name.lower())):
        for words, higher in ((LOWER_IS_BETTER_WORDS, False), (HIGHER_IS_BETTER_WORDS, True)):
            if word in words:
                return MetricDirection(metric, higher, "default", f"default rule: {word!r}")
    detail = f"no rule matches; declare it with higher_is_better={{{name!r}: ...}}"
    return MetricDirection(metric, None, "unknown", detail)


def metric_direction(
    metric: str,
    *,
    higher_is_better: Mapping[str, bool] | None = None,
    metric_to_optimize: str | None = None,
    metric_opt_mode: str | None = None,
) -> MetricDirection:
    """Which way is better for ``metric``, by the rules of the module docstring, in order.

    Args:
        metric: a metric name, with or without stage prefix and ``_epoch`` suffix.
        higher_is_better: the user's declarations (rule 1), e.g. ``Settings.higher_is_better``.
        metric_to_optimize: the run's optimised metric (rule 2); None: no run to consult.
        metric_opt_mode: ``"min"`` or ``"max"``, the direction of ``metric_to_optimize``.

    Returns:
        The direction and the rule that decided it (``higher_is_better`` None when unknown).

    >>> metric_direction("val_loss", metric_to_optimize="val_loss", metric_opt_mode="max").word
    'higher'
    """
    return (
        declared_direction(metric, higher_is_better)
        or optimized_direction(metric, metric_to_optimize, metric_opt_mode)
        or default_direction(metric)
    )


def agreed_direction(metric: str, directions: Iterable[MetricDirection]) -> MetricDirection:
    """One direction for ``metric`` from several runs' resolutions: the strongest rule wins.

    Among the directions of the strongest rule present, all must agree; when they do not
    (one run optimised ``val_score`` with ``"max"``, another with ``"min"``) the direction is
    unknown and the detail says who disagrees. No directions: the default rule.

    >>> a = metric_direction("val_score", metric_to_optimize="val_score", metric_opt_mode="max")
    >>> b = metric_direction("val_score", metric_to_optimize="val_score", metric_opt_mode="min")
    >>> print(agreed_direction("val_score", [a, metric_direction("val_score")]))
    val_score higher (metric_opt_mode='max' of val_score)
    >>> print(agreed_direction("val_score", [a, b]))
    val_score unknown (runs disagree: higher (metric_opt_mode='max' of val_score), lower (metric_opt_mode='min' of val_score))
    """
    known = [d for d in directions if d.known]
    if not known:
        return default_direction(metric)
    strongest = min(SOURCES.index(d.source) for d in known)
    top = list({d.describe(): d for d in known if SOURCES.index(d.source) == strongest}.values())
    if len({d.higher_is_better for d in top}) == 1:
        return top[0]._replace(metric=metric)
    detail = "runs disagree: " + ", ".join(d.describe() for d in top)
    return MetricDirection(metric, None, "unknown", detail)


def higher_is_better_problems(value: Any, name: str = "higher_is_better") -> list[str]:
    """Every problem with a ``higher_is_better`` value (empty when it is valid).

    >>> higher_is_better_problems({"perplexity": False, "val_bleu": True})
    []
    >>> higher_is_better_problems({"val_loss_step": False, "acc": "yes"})  # doctest: +NORMALIZE_WHITESPACE
    ["higher_is_better: 'val_loss_step' is a per-step name; use the epoch metric's name 'val_loss'",
     "higher_is_better: expected True or False for 'acc', got 'yes'"]
    """
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [
            f"{name}: expected a dict of metric name -> True/False such as "
            f"{{'perplexity': False}}, got {value!r}"
        ]
    problems = []
    seen: dict[str, tuple[str, Any]] = {}
    for key, higher in value.items():
        if not isinstance(key, str) or not key:
            problems.append(f"{name}: keys must be metric names such as 'perplexity', got {key!r}")
            continue
        if key.endswith(STEP_SUFFIX):
            problems.append(
                f"{name}: {key!r} is a per-step name; use the epoch metric's name "
                f"{base_name(key)!r}"
            )
        if not isinstance(higher, bool):
            problems.append(f"{name}: expected True or False for {key!r}, got {higher!r}")
            continue
        earlier = seen.setdefault(base_name(key), (key, higher))
        if earlier[1] != higher:
            problems.append(f"{name}: {earlier[0]!r} and {key!r} name one metric but disagree")
    return problems


def format_directions(directions: Sequence[MetricDirection], width: int = 100) -> str:
    """The report's footnote: each metric's direction and rule, wrapped to ``width`` columns
    between entries (an entry is never split).

    A metric whose every stage resolves alike is listed once, without stage.

    >>> rows = [metric_direction(m, metric_to_optimize="val_acc", metric_opt_mode="max")
    ...         for m in ("val_perplexity", "val_acc", "test_acc", "val_novelty")]
    >>> print(format_directions(rows, width=200))
    direction: perplexity lower (default rule: 'perplexity'); acc higher (metric_opt_mode='max' of val_acc); novelty unknown (no rule matches; declare it with higher_is_better={'novelty': ...})
    """
    by_name: dict[str, list[MetricDirection]] = {}
    for direction in directions:
        by_name.setdefault(split_stage(direction.metric)[1], []).append(direction)
    entries = []
    for name, group in by_name.items():
        if len({d.describe() for d in group}) == 1:
            entries.append(f"{name} {group[0].describe()}")
        else:
            entries.extend(str(d) for d in group)
    pieces = [entry + ";" for entry in entries[:-1]] + entries[-1:]
    lines = ["direction:"]
    for piece in pieces:
        if lines[-1] != "direction:" and len(lines[-1]) + 1 + len(piece) > width:
            lines.append("   ")
        lines[-1] += " " + piece
    return "\n".join(lines)
