"""The few Hydra internals the library uses (one adapter module): fail loudly if Hydra changes them."""

from __future__ import annotations

from pytorch_hyperlight.config import _hydra
from pytorch_hyperlight.config import compose as composing
from tests.config.helpers import EXAMPLE_CONF


def test_syntax_error_column_finds_where_the_grammar_stops() -> None:
    assert _hydra.syntax_error_column("a=choice(1,,2)") == 11
    assert _hydra.syntax_error_column("a=interval(1,2") == 14  # end of input
    assert _hydra.syntax_error_column("a=1)") == 3
    assert _hydra.syntax_error_column("a='x") == 2
    assert _hydra.syntax_error_column("a=tag(log, interval(1e-5, 1e-3))") is None


def test_config_groups_lists_the_directory_groups_without_hydras_own() -> None:
    with composing.config_dir_session(EXAMPLE_CONF):
        groups = _hydra.config_groups()
    assert groups == {
        "data": ["digits", "digits_small_batches"],
        "experiment": ["good_run"],
        "model": ["cnn", "mlp"],
        "search": ["mlp_width"],
    }
