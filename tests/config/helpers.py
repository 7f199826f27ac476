"""Helpers for the config tests: a config directory written from a dict of files."""

from __future__ import annotations

import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONF = ROOT / "examples" / "conf"

#: A minimal valid config for the digits example's keyword-argument module.
BASE_CONFIG = """
    model:
      _target_: tests.models.TinyDigits
      lr: 0.05
      n_hidden: 16
    data:
      _target_: examples.digits.configure_dataloaders
      batch_size: 256
    trainer:
      max_epochs: 1
"""


def write_config_dir(root: Path, files: dict[str, str]) -> Path:
    """Write ``{"config.yaml": text, "model/a.yaml": text}`` under ``root``; returns ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root
