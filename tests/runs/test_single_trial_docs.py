"""The single-trial user guide stays in step with the code it documents."""

from __future__ import annotations

import re
from pathlib import Path

from pytorch_hyperlight import Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "single-trial.md"


def _settings_table_keys() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    table = text.split("| key | default | meaning |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)


def test_settings_table_lists_every_single_trial_key_in_order() -> None:
    single_trial_keys = [
        key for key, (_, help_text) in Settings.describe().items()
        if not help_text.startswith("search:")
    ]  # fmt: skip
    assert _settings_table_keys() == single_trial_keys


def test_settings_table_defaults_match_the_code() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for key, (default, _) in Settings.describe().items():
        row = re.search(rf"^\| `{key}` \| `([^`]*)` \|", text, flags=re.MULTILINE)
        if row is not None:
            assert row.group(1) == repr(default), key
