"""Fixtures of the ported original tests: figures closed after each test, one helper kept out of collection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# Imports pytorch_hyperlight.tasks.classification at import time; collecting it for doctests would
# turn a missing feature into a collection error that stops the whole session.
collect_ignore = ["comparison_models.py"]


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    """The original tests draw many figures and never close them; close them after each test."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
