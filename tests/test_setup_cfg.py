"""setup.cfg holds tool settings only, and mypy really reads its own from there."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    assert parser.read(ROOT / "setup.cfg", encoding="utf-8"), "setup.cfg is missing"
    return parser


def test_setup_cfg_carries_no_package_metadata() -> None:
    """pyproject.toml is the one place for metadata; a second copy in setup.cfg would drift."""
    sections = _setup_cfg().sections()
    assert [s for s in sections if s in ("metadata", "options") or s.startswith("options.")] == []
    assert "mypy" in sections


def test_no_config_file_that_mypy_prefers_shadows_setup_cfg() -> None:
    """mypy takes the first of mypy.ini, .mypy.ini, pyproject.toml [tool.mypy], setup.cfg."""
    assert not (ROOT / "mypy.ini").exists() and not (ROOT / ".mypy.ini").exists()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert not re.search(r"^\[tool\.mypy[\].]", pyproject, flags=re.MULTILINE)


def test_mypy_applies_the_settings_of_setup_cfg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two errors mypy reports only when setup.cfg's check_untyped_defs and warn_unused_ignores apply."""
    from mypy import api

    settings = _setup_cfg()["mypy"]
    assert settings.getboolean("check_untyped_defs") and settings.getboolean("warn_unused_ignores")
    sample = tmp_path / "sample.py"
    sample.write_text(
        'def untyped():\n    return 1 + "a"\n\n\ncount: int = 1  # type: ignore\n', encoding="utf-8"
    )
    monkeypatch.chdir(ROOT)  # mypy looks for its configuration from the current directory

    stdout, _, exit_status = api.run(
        ["--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(sample)]
    )

    assert exit_status == 1
    assert "sample.py:2: error: Unsupported operand types" in stdout
    assert 'sample.py:5: error: Unused "type: ignore" comment' in stdout
