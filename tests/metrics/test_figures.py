"""The Figure every plot is drawn on (``metrics/figures.py``): matplotlib's constrained layout,
a title that fits, a legend that wraps, the colour scale of the analysis plots, PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D

from pytorch_hyperlight.metrics import figures
from tests.figure_checks import assert_labels_readable


def test_a_new_figure_is_laid_out_by_constrained_layout_with_its_panels_row_by_row() -> None:
    figure, axes = figures.new_figure((6, 4), 2, 3, panels=4)
    assert isinstance(figure.get_layout_engine(), ConstrainedLayoutEngine)
    spans = [
        (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start) for ax in axes
    ]  # type: ignore[union-attr]
    assert spans == [(0, 0), (0, 1), (0, 2), (1, 0)]


def test_a_figure_widens_for_a_title_wider_than_itself_and_keeps_its_width_otherwise() -> None:
    narrow, (ax,) = figures.new_figure((3, 2))
    ax.plot([0, 1], [0, 1])
    figures.add_title(narrow, "a title far wider than three inches of figure, at 13 points", 13)
    assert narrow.get_size_inches()[0] > 3
    assert_labels_readable(narrow)
    wide, _ = figures.new_figure((8, 2))
    figures.add_title(wide, "short", 13)
    assert wide.get_size_inches()[0] == 8
    kept, _ = figures.new_figure((3, 2))
    figures.add_title(kept, "a title far wider than three inches of figure", 13, widen=False)
    assert kept.get_size_inches()[0] == 3


def _legend_rows(entries: int, width: float) -> int:
    figure, _ = figures.new_figure((width, 3))
    handles = [Line2D([], [], color=f"C{i}") for i in range(entries)]
    labels = [f"run number {i} with a long name" for i in range(entries)]
    legend = figures.add_legend(figure, handles, labels, size=9)
    assert_labels_readable(figure)
    return len({round(text.get_window_extent().y0) for text in legend.get_texts()})


def test_a_figure_legend_is_one_row_when_it_fits_and_wraps_into_rows_inside_the_figure() -> None:
    assert _legend_rows(2, width=12) == 1
    assert _legend_rows(6, width=5) > 1


def test_best_values_are_darkest_missing_ones_grey_in_either_direction() -> None:
    values = pd.Series([0.2, 0.9, np.nan])

    def darkness(colour: object) -> float:
        return float(1 - np.mean(to_rgba(colour)[:3]))  # type: ignore[arg-type]

    for mode, best, worst in (("max", 0.9, 0.2), ("min", 0.2, 0.9)):
        figure, (ax,) = figures.new_figure((4, 3))
        colour_of, colorbar = figures.value_colours(figure, ax, values, "best val_f1", mode)
        assert darkness(colour_of(best)) > darkness(colour_of(worst))
        assert colour_of(np.nan) == "tab:gray"
        assert colorbar is not None and colorbar.ax.get_ylabel() == "best val_f1"
    figure, (ax,) = figures.new_figure((4, 3))
    _, colorbar = figures.value_colours(figure, ax, pd.Series([np.nan]), "x", "max")
    assert colorbar is None


def test_save_figure_writes_a_png_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    figure, (ax,) = figures.new_figure((3, 2))
    ax.plot([0, 1], [1, 0])
    path = figures.save_figure(figure, tmp_path / "plots" / "a.png")
    assert path == tmp_path / "plots" / "a.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["a.png"]
