"""The Figure every plot of this package is drawn on, laid out by matplotlib's constrained layout.

Figures are :class:`MetricsFigure` objects made directly rather than through pyplot: nothing is
registered globally (nothing to close, no second copy drawn in a notebook), and in a notebook they
display as PNG even when pyplot was never imported. Their margins come from matplotlib's own
layout engine (``layout="constrained"``): titles, tick labels, axis labels, colour bars and the
figure's legend get the room they need when the figure is drawn. What the engine does not do is
done here: a figure widens for a title wider than it is (:func:`add_title`), and a figure legend
wraps into as many rows as it needs to fit the figure's width (:func:`add_legend`).

``benchmarks/figure_layout.py`` measures what the layout engine costs next to the margins this
package computed by hand before (docs/benchmarks.md). This module imports matplotlib: the package
imports it only when a figure is asked for.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from pytorch_hyperlight import files

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colorbar import Colorbar
    from matplotlib.legend import Legend

#: Resolution of the PNG files (and of the figures).
DPI = 100
#: zlib level of the PNG files: level 1 encodes a one-trial figure in about two thirds of the time
#: of Pillow's default (6), for a file about 15% larger.
PNG_COMPRESS_LEVEL = 1
_COLORBAR_WIDTH = 0.22  # inches
_COLORBAR_PAD = 0.2  # inches between the plot and its colour bar
#: Constrained layout's padding around each panel's text and inside the figure's edge, in inches
#: (matplotlib's default, 3 points, crowds the figure's edge).
_PAD = 0.1
#: Constrained layout's space between panels, as a fraction of the grid's width and height.
_WSPACE, _HSPACE = 0.06, 0.04
#: Room kept between a widened figure's title and its edges, in inches.
_TITLE_MARGIN = 0.3


class MetricsFigure(Figure):
    """A matplotlib Figure with constrained layout that renders itself as PNG in notebooks.

    IPython shows it through ``_repr_png_``; where matplotlib's inline backend is active its own
    formatter is used instead. ``savefig`` writes PNG files with fast compression unless told
    otherwise. The figure draws on an Agg canvas, so its text can be measured before it is saved.

    >>> figure = MetricsFigure(figsize=(4, 3))
    >>> type(figure.get_layout_engine()).__name__
    'ConstrainedLayoutEngine'
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "layout",
            ConstrainedLayoutEngine(w_pad=_PAD, h_pad=_PAD, wspace=_WSPACE, hspace=_HSPACE),
        )
        kwargs.setdefault("dpi", DPI)
        super().__init__(*args, **kwargs)
        FigureCanvasAgg(self)

    def savefig(self, fname: Any, **kwargs: Any) -> None:
        """:meth:`matplotlib.figure.Figure.savefig`, with fast PNG compression by default."""
        fmt = kwargs.get("format")
        if fmt is None and isinstance(fname, str | os.PathLike):
            fmt = os.path.splitext(os.fspath(fname))[1][1:]
        if str(fmt or mpl.rcParams["savefig.format"]).lower() == "png":
            kwargs.setdefault("pil_kwargs", {"compress_level": PNG_COMPRESS_LEVEL})
        super().savefig(fname, **kwargs)

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def new_figure(
    size: tuple[float, float], rows: int = 1, columns: int = 1, *, panels: int | None = None
) -> tuple[MetricsFigure, list[Axes]]:
    """A figure of ``size`` inches with a grid of panels, filled row by row.

    Args:
        size: (width, height) in inches.
        rows: rows of the grid.
        columns: columns of the grid.
        panels: how many panels to add (default: the whole grid); the rest stays empty.

    >>> figure, axes = new_figure((6, 4), 2, 2, panels=3)
    >>> len(axes), len(figure.axes)
    (3, 3)
    """
    figure = MetricsFigure(figsize=size)
    grid = figure.add_gridspec(rows, columns)
    count = rows * columns if panels is None else panels
    axes = [figure.add_subplot(grid[i // columns, i % columns]) for i in range(count)]
    return figure, axes


def text_width(figure: Figure, text: str, size: float | str) -> float:
    """Width in inches of ``text`` at font ``size`` (points or a name: ``"small"``).

    >>> figure = MetricsFigure()
    >>> text_width(figure, "val_f1", 10) < text_width(figure, "val_f1_score", 10)
    True
    """
    if not text:
        return 0.0
    artist = Text(0, 0, text, fontsize=size)
    artist.set_figure(figure)
    return float(artist.get_window_extent(_renderer(figure)).width) / figure.dpi


def add_title(
    figure: Figure, title: str, size: float | str | None = None, *, widen: bool = True
) -> Text:
    """The figure's title (font ``size``, default matplotlib's ``figure.titlesize``) above the
    panels; ``widen``: a figure narrower than its title widens to hold it."""
    size = mpl.rcParams["figure.titlesize"] if size is None else size
    text = figure.suptitle(title, fontsize=size)
    needed = text_width(figure, title, size) + 2 * _TITLE_MARGIN
    width, height = figure.get_size_inches()
    if widen and needed > width:
        figure.set_size_inches(needed, height)
    return text


def add_legend(
    figure: Figure, handles: Sequence[Any], labels: Sequence[str], *, size: float | str
) -> Legend:
    """A frameless legend below the panels, in as many columns as fit the figure's width.

    Constrained layout makes room for it ("outside lower center"); its height in inches is
    ``legend.get_window_extent().height / figure.dpi`` once added.
    """
    available = figure.get_size_inches()[0] * figure.dpi
    renderer = _renderer(figure)
    for columns in range(len(handles), 0, -1):
        legend = figure.legend(
            handles, labels, loc="outside lower center", ncols=columns, fontsize=size, frameon=False
        )
        if columns == 1 or legend.get_window_extent(renderer).width <= available:
            return legend
        legend.remove()
    raise ValueError("a legend needs at least one entry")


def extent_height(figure: Figure, artist: Any) -> float:
    """Height in inches of an artist of ``figure`` (a title, a legend) as it would be drawn."""
    return float(artist.get_window_extent(_renderer(figure)).height) / figure.dpi


def value_colours(
    figure: Figure, ax: Axes, values: pd.Series, label: str, mode: str
) -> tuple[Callable[[float], Any], Colorbar | None]:
    """A function value -> colour (grey for NaN), with its colour bar beside ``ax`` (None
    without finite values).

    The best values (largest for ``mode="max"``) are dark purple, the worst light green: what
    matters stands out on white (viridis without its palest yellow end).
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    finite = values.dropna()
    colours = colormaps["viridis"](np.linspace(0.0, 0.85, 256))
    cmap = ListedColormap(colours[::-1] if mode == "max" else colours)
    low, high = (finite.min(), finite.max()) if not finite.empty else (0.0, 1.0)
    norm = Normalize(low, high if high > low else low + 1e-12)
    colorbar = None
    if not finite.empty:
        # A bar of fixed width in inches, close to the plot, however wide the figure is.
        panel_width = 0.8 * figure.get_size_inches()[0]
        colorbar = figure.colorbar(
            ScalarMappable(norm, cmap),
            ax=ax,
            label=label,
            fraction=_COLORBAR_WIDTH / panel_width,
            pad=_COLORBAR_PAD / panel_width,
        )

    def colour_of(value: float) -> Any:
        return "tab:gray" if pd.isna(value) else cmap(norm(value))

    return colour_of, colorbar


def integer_xaxis(ax: Axes) -> None:
    """Ticks on whole numbers only (epochs, trial numbers)."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def no_data(ax: Axes, message: str) -> None:
    """A grey note in the middle of a panel that has nothing to draw."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="gray")


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG atomically (:func:`pytorch_hyperlight.files.write_figure_atomic`:
    a :class:`MetricsFigure` compresses fast); returns ``path``."""
    files.write_figure_atomic(path, figure)
    return path


def _renderer(figure: Figure) -> Any:
    canvas = figure.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        raise TypeError(f"expected a MetricsFigure (drawn on an Agg canvas); got {type(figure)}")
    return canvas.get_renderer()
