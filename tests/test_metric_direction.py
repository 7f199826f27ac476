"""Which way is better for a metric: declared by the user or the run, never guessed from a substring.

Pure unit tests of :mod:`pytorch_hyperlight.metric_direction`, of the Settings field that declares
directions, and of the comparison report that sorts by them (fake result dicts, no training).
"""

from __future__ import annotations

import pandas as pd
import pytest

from pytorch_hyperlight import ConfigError, Settings, TrialMetrics
from pytorch_hyperlight.metric_direction import (
    agreed_direction,
    format_directions,
    metric_direction,
)
from pytorch_hyperlight.results import compare


def fake_run(
    val_perplexity: float,
    val_acc: float,
    *,
    metric: str = "val_acc",
    mode: str = "max",
    higher_is_better: dict[str, bool] | None = None,
    **extra_val: float,
) -> dict:
    """A run's result dict with one epoch of val metrics, as a Runner records it."""
    row = {"stage": "val", "epoch": 0, "val_perplexity": val_perplexity, "val_acc": val_acc}
    metrics = TrialMetrics(pd.DataFrame([{**row, **extra_val}]))
    settings = Settings(
        metric_to_optimize=metric, metric_opt_mode=mode, higher_is_better=higher_is_better
    )
    return {"metrics": metrics, "metric": metric, "mode": mode, "settings": settings}


def order(runs: dict, sort_by: list[str], **kwargs) -> list[str]:
    table = compare.collect_metrics(runs)["run_metrics_last"]
    directions = compare.metric_directions(runs, table.columns, **kwargs)
    return list(compare.sort_runs(table, sort_by, directions).index)


# --- the rules, one at a time --------------------------------------------------------------------
def test_val_perplexity_sorts_best_first():
    runs = {"high": fake_run(40.0, 0.5), "low": fake_run(12.0, 0.4), "mid": fake_run(20.0, 0.6)}
    assert order(runs, ["val_perplexity"]) == ["low", "mid", "high"]
    direction = metric_direction("val_perplexity")
    assert (direction.higher_is_better, direction.source) == (False, "default")


@pytest.mark.parametrize(
    ("metric", "word"),
    [
        ("val_loss", "lower"),
        ("test_error_rate", "lower"),
        ("val_dice_loss", "lower"),  # the last word names what it is: a loss
        ("test_top1_error", "lower"),
        ("val_rmse", "lower"),
        ("val_f1_macro", "higher"),
        ("reval_acc", "higher"),
        ("test_auroc", "higher"),
        ("val_dice", "higher"),
        ("val_r2", "higher"),
    ],
)
def test_the_default_rule_reads_whole_words_last_word_first(metric, word):
    assert metric_direction(metric).word == word


def test_a_word_inside_another_word_does_not_count():
    # The old substring rule sorted these as losses/errors ("gloss" contains "loss").
    for metric in ("val_glossiness", "val_terror_count", "val_maestro"):
        direction = metric_direction(metric)
        assert (direction.word, direction.source) == ("unknown", "unknown")


def test_the_optimised_metric_follows_metric_opt_mode_at_every_stage():
    # 'score' is in no default table: only the run's mode can say which way is better.
    for stage in ("train", "val", "reval", "test"):
        direction = metric_direction(
            f"{stage}_score", metric_to_optimize="val_score_epoch", metric_opt_mode="max"
        )
        assert (direction.higher_is_better, direction.source) == (True, "metric_opt_mode")
    # The run's mode beats the default rule for the optimised metric.
    flipped = metric_direction("val_loss", metric_to_optimize="val_loss", metric_opt_mode="max")
    assert flipped.higher_is_better is True


@pytest.mark.parametrize(("mode", "expected"), [("max", ["b", "c", "a"]), ("min", ["a", "c", "b"])])
def test_the_runs_optimised_metric_sorts_the_report(mode, expected):
    runs = {
        name: fake_run(10.0, 0.1, metric="val_score", mode=mode, val_score=score)
        for name, score in (("a", 0.2), ("b", 0.9), ("c", 0.5))
    }
    assert order(runs, ["val_score"]) == expected


def test_a_single_trial_result_declares_its_metric_through_its_settings():
    # run_single_trial returns the Settings, not metric/mode keys (run.json and searches have them)
    runs = {name: fake_run(10.0, 0.1, val_score=score) for name, score in (("a", 0.2), ("b", 0.9))}
    for run in runs.values():
        del run["metric"], run["mode"]
        run["settings"] = Settings(metric_to_optimize="val_score_epoch", metric_opt_mode="min")
    assert order(runs, ["val_score"]) == ["a", "b"]


def test_a_user_declaration_wins_over_the_default_rule_and_the_runs_mode():
    declared = {"perplexity": True}  # say, a model that should be surprised
    assert metric_direction("val_perplexity", higher_is_better=declared).higher_is_better
    runs = {"high": fake_run(40.0, 0.5), "low": fake_run(12.0, 0.4)}
    assert order(runs, ["val_perplexity"], higher_is_better=declared) == ["high", "low"]
    # ... and the report's argument over the runs' own metric_opt_mode
    assert order(runs, ["val_acc"], higher_is_better={"acc": False}) == ["low", "high"]


def test_a_declaration_in_the_runs_settings_sorts_the_report():
    runs = {
        "a": fake_run(1.0, 0.5, higher_is_better={"novelty": True}, val_novelty=0.3),
        "b": fake_run(1.0, 0.5, higher_is_better={"novelty": True}, val_novelty=0.7),
    }
    assert order(runs, ["val_novelty"]) == ["b", "a"]


def test_a_key_with_a_stage_names_that_metric_and_its_revalidation_only():
    declared = {"val_novelty": True}
    assert metric_direction("val_novelty", higher_is_better=declared).word == "higher"
    assert metric_direction("reval_novelty", higher_is_better=declared).word == "higher"
    assert metric_direction("test_novelty", higher_is_better=declared).word == "unknown"
    both = {"val_novelty": True, "novelty": False}  # the full name wins over the bare one
    assert metric_direction("val_novelty", higher_is_better=both).word == "higher"
    assert metric_direction("test_novelty", higher_is_better=both).word == "lower"


# --- unknown and disagreeing ---------------------------------------------------------------------
def test_an_unknown_metric_is_reported_unknown_and_not_sorted_by():
    direction = metric_direction("val_novelty")
    assert (direction.higher_is_better, direction.word) == (None, "unknown")
    assert "higher_is_better={'novelty': ...}" in direction.detail
    runs = {"a": fake_run(1.0, 0.5, val_novelty=0.3), "b": fake_run(1.0, 0.5, val_novelty=0.7)}
    table = compare.collect_metrics(runs)["run_metrics_last"]
    with pytest.warns(UserWarning, match=r"Not sorting by 'val_novelty'.*higher_is_better="):
        ordered = compare.sort_runs(table, ["val_novelty"])
    assert list(ordered.index) == ["a", "b"]  # the runs' order, not a guess
    assert next(iter(ordered.columns)) == "val_novelty"  # still shown first


def test_an_unknown_first_sort_metric_leaves_the_known_ones_sorting():
    runs = {"a": fake_run(30.0, 0.5, val_novelty=0.3), "b": fake_run(10.0, 0.5, val_novelty=0.7)}
    with pytest.warns(UserWarning, match="val_novelty"):
        assert order(runs, ["val_novelty", "val_perplexity"]) == ["b", "a"]


def test_runs_that_disagree_leave_the_direction_unknown():
    a = metric_direction("val_score", metric_to_optimize="val_score", metric_opt_mode="max")
    b = metric_direction("val_score", metric_to_optimize="val_score", metric_opt_mode="min")
    disagreed = agreed_direction("val_score", [a, b])
    assert disagreed.word == "unknown" and "runs disagree" in disagreed.detail


def test_across_runs_the_strongest_rule_wins():
    declared = metric_direction("val_perplexity", higher_is_better={"perplexity": True})
    default = metric_direction("val_perplexity")
    assert agreed_direction("val_perplexity", [default, declared]).source == "higher_is_better"
    assert agreed_direction("test_perplexity", []).word == "lower"


# --- the report says which rule it used ----------------------------------------------------------
def test_the_compare_report_prints_the_rule_for_each_metric(capsys):
    runs = {"high": fake_run(40.0, 0.5), "low": fake_run(12.0, 0.4, val_novelty=1.0)}
    report = compare.show_metric_report(runs, ["val_perplexity"])
    printed = " ".join(capsys.readouterr().out.split())  # the footnote wraps at the width
    assert "direction: perplexity lower (default rule: 'perplexity')" in printed
    assert "acc higher (metric_opt_mode='max' of val_acc)" in printed
    assert "novelty unknown (no rule matches" in printed
    assert report["directions"]["val_perplexity"].word == "lower"
    assert list(report["table"].index) == ["low", "high"]


def test_the_footnote_lists_stages_separately_only_when_their_rules_differ():
    directions = [
        metric_direction(name, higher_is_better={"val_novelty": True})
        for name in ("val_novelty", "test_novelty", "val_loss", "test_loss")
    ]
    footnote = format_directions(directions, width=1000)
    assert "val_novelty higher (higher_is_better['val_novelty'])" in footnote
    assert "test_novelty unknown" in footnote
    assert "; loss lower (default rule: 'loss')" in footnote


def test_the_report_rejects_a_malformed_declaration():
    runs = {"a": fake_run(1.0, 0.5)}
    with pytest.raises(ConfigError, match="expected True or False for 'perplexity', got 'no'"):
        compare.show_metric_report(runs, higher_is_better={"perplexity": "no"}, display=False)


# --- the Settings field --------------------------------------------------------------------------
def test_settings_declare_directions_and_keep_the_callers_dict_apart():
    declared = {"perplexity": False, "val_bleu": True}
    settings = Settings.from_any({"higher_is_better": declared})
    declared["perplexity"] = True
    assert settings.higher_is_better == {"perplexity": False, "val_bleu": True}
    assert Settings.from_any(settings.to_dict()) == settings
    assert Settings().higher_is_better is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["perplexity"], "expected a dict of metric name -> True/False"),
        ({"perplexity": 0}, "expected True or False for 'perplexity', got 0"),
        ({"val_loss_step": False}, "'val_loss_step' is a per-step name; use .*'val_loss'"),
        ({"bleu": True, "bleu_epoch": False}, "'bleu' and 'bleu_epoch' name one metric"),
        ({3: True}, "keys must be metric names"),
    ],
)
def test_settings_reject_a_malformed_declaration(value, message):
    with pytest.raises(ConfigError, match=message):
        Settings(higher_is_better=value)


def test_settings_reject_a_declaration_that_contradicts_metric_opt_mode():
    with pytest.raises(ConfigError, match=r"'val_loss'.*metric_opt_mode='min'"):
        Settings(metric_to_optimize="val_loss", higher_is_better={"loss": True})
    agreeing = Settings(metric_to_optimize="val_f1_epoch", metric_opt_mode="max",
                        higher_is_better={"f1": True})  # fmt: skip
    assert agreeing.higher_is_better == {"f1": True}
