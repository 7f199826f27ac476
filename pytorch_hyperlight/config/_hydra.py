"""The one adapter to Hydra's less public parts (its grammar classes and the global config loader).

Everything else in :mod:`pytorch_hyperlight.config` uses Hydra's public API (``hydra.compose``,
``OverridesParser``, ``Override``). ``tests/config/test_hydra_adapter.py`` fails loudly when a Hydra
release changes what is used here.
"""

from __future__ import annotations

from typing import Any


def syntax_error_column(text: str) -> int | None:
    """Where Hydra's override grammar first fails to read ``text`` (0-based), or None if it reads it.

    Hydra's own parse error names the rejected input but not its position; the grammar's error
    listener is told the column.

    >>> syntax_error_column("lr=interval(1e-5,)")
    17
    >>> syntax_error_column("lr=interval(1e-5, 1e-3)") is None
    True
    """
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from hydra.grammar.gen.OverrideLexer import OverrideLexer
    from hydra.grammar.gen.OverrideParser import OverrideParser

    class FirstError(ErrorListener):
        column: int | None = None

        def syntaxError(
            self, recognizer: Any, symbol: Any, line: Any, column: Any, *_: Any
        ) -> None:
            if self.column is None:
                self.column = int(column)

    listener = FirstError()
    lexer = OverrideLexer(InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    parser = OverrideParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    parser.override()
    return listener.column


def plain_value(value: Any) -> Any:
    """A parsed override element as a plain Python value (Hydra's quoted strings become ``str``).

    >>> from hydra.core.override_parser.types import Quote, QuotedString
    >>> plain_value([QuotedString(text="a b", quote=Quote.single), 1, {"k": 2.5}])
    ['a b', 1, {'k': 2.5}]
    """
    from hydra.core.override_parser.types import QuotedString

    if isinstance(value, QuotedString):
        return value.text
    if isinstance(value, list):
        return [plain_value(item) for item in value]
    if isinstance(value, dict):
        return {plain_value(key): plain_value(item) for key, item in value.items()}
    return value


def config_groups() -> dict[str, list[str]]:
    """Every config group of the initialised config directory with its options (needs an active
    ``hydra.initialize_config_dir``); Hydra's own groups (``hydra/...``) are left out."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.object_type import ObjectType

    loader = GlobalHydra.instance().config_loader()
    groups: dict[str, list[str]] = {}

    def walk(parent: str) -> None:
        for name in sorted(loader.list_groups(parent)):
            group = f"{parent}/{name}" if parent else name
            if group == "hydra" or group.startswith("hydra/"):
                continue
            options = loader.get_group_options(group, results_filter=ObjectType.CONFIG)
            if options:
                groups[group] = sorted(options)
            walk(group)

    walk("")
    return groups


def config_loader() -> Any:
    """The active config loader (for ``glob(...)`` group sweeps)."""
    from hydra.core.global_hydra import GlobalHydra

    return GlobalHydra.instance().config_loader()
