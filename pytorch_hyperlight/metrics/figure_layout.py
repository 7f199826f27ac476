"""Figures laid out once, in inches, from the text they hold: one draw per save.

A matplotlib layout engine (``layout="constrained"`` or ``"tight"``) makes ``savefig`` draw a
figure twice (once to measure every tick label's extent, once to render it); for the small figures
written after each run that was most of the cost of saving them. The figures of this package have
no layout engine instead: once their content is drawn, :func:`fit_grid` sets the margins around
their grid of panels from the widths of the tick labels, titles and axis labels they hold (font
metrics, nothing rendered), so labels are neither clipped nor overlapping. This module imports
matplotlib: the package imports it only when a figure is asked for.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.colorbar import Colorbar

POINTS_PER_INCH = 72.0
#: Space between the outermost text and the edge of the figure, in inches.
EDGE = 0.1
#: zlib level of the PNG files: level 1 encodes a one-trial figure in about two thirds of the time
#: of Pillow's default (6), for a file about 15% larger.
PNG_COMPRESS_LEVEL = 1
_LINE_SPACING = 1.2  # a text line's height relative to its font size


class MetricsFigure(Figure):
    """A matplotlib Figure that renders itself as PNG in notebooks (IPython's ``_repr_png_``).

    Where matplotlib's inline backend is active its own formatter is used instead; either way the
    figure is drawn once. ``savefig`` writes PNG files with fast compression unless told otherwise.
    """

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


def text_width(text: str, size: float | str) -> float:
    """Width in inches of one line of ``text`` at font ``size`` (points or a name: ``"small"``)."""
    from matplotlib.textpath import text_to_path

    if not text:
        return 0.0
    ismath = text.count("$") >= 2 and text.count("$") % 2 == 0
    width, _, _ = text_to_path.get_text_width_height_descent(
        text, FontProperties(size=size), ismath=ismath
    )
    return float(width) / POINTS_PER_INCH


def line_height(size: float | str) -> float:
    """Height in inches of one line of text at font ``size``."""
    return FontProperties(size=size).get_size_in_points() * _LINE_SPACING / POINTS_PER_INCH


def tick_labels(axis: Axis) -> list[str]:
    """The major tick labels the axis will draw for its current view (formatter applied)."""
    low, high = sorted(axis.get_view_interval())
    slack = (high - low) * 1e-9
    locs = [loc for loc in axis.get_majorticklocs() if low - slack <= loc <= high + slack]
    return [label for label in axis.get_major_formatter().format_ticks(locs) if label]


def _tick_label_size(axis: Axis) -> float:
    return float(axis.get_major_ticks(1)[0].label1.get_fontsize())


def _tick_space(axis: Axis) -> float:
    """Inches from the spine to the tick labels: tick length plus its padding."""
    tick = axis.get_major_ticks(1)[0]
    pad: Any = tick.get_pad()  # type: ignore[func-returns-value]  # the stub says None
    return (max(tick.get_tick_padding(), 0.0) + float(pad)) / POINTS_PER_INCH


def ytick_block(ax: Axes) -> float:
    """Inches left of a panel taken by its y tick labels and y label."""
    axis = ax.yaxis
    labels = tick_labels(axis)
    width = 0.0
    if labels:
        size = _tick_label_size(axis)
        width = max(text_width(label, size) for label in labels) + _tick_space(axis)
    return width + _axis_label_block(axis)


def xtick_block(ax: Axes) -> float:
    """Inches below a panel taken by its x tick labels (rotated ones too) and x label."""
    axis = ax.xaxis
    labels = tick_labels(axis)
    height = 0.0
    if labels:
        size = _tick_label_size(axis)
        rotation = math.radians(axis.get_major_ticks(1)[0].label1.get_rotation())
        width = max(text_width(label, size) for label in labels)
        rows = max(label.count("\n") + 1 for label in labels)
        height = abs(width * math.sin(rotation)) + rows * line_height(size) * abs(
            math.cos(rotation)
        )
        height += _tick_space(axis)
    return height + _axis_label_block(axis)


def _axis_label_block(axis: Axis) -> float:
    label = axis.label
    if not label.get_visible() or not label.get_text():
        return 0.0
    return line_height(label.get_fontsize()) + axis.labelpad / POINTS_PER_INCH


def title_block(ax: Axes) -> float:
    """Inches above a panel taken by its title."""
    if not ax.get_title():
        return 0.0
    pad = mpl.rcParams["axes.titlepad"] / POINTS_PER_INCH
    return line_height(ax.title.get_fontsize()) + pad


def colorbar_block(colorbar: Colorbar) -> float:
    """Inches right of a colour bar taken by its tick labels and label."""
    return ytick_block(colorbar.ax)


def fit_grid(
    figure: Figure,
    axes: Sequence[Axes],
    rows: int,
    columns: int,
    *,
    top: float = 0.0,
    bottom: float = 0.0,
    right: float = 0.0,
) -> None:
    """Set the margins of ``figure``'s grid of panels (one GridSpec) to fit their text.

    Every panel gets room for the largest tick labels, axis labels and titles of all panels, so
    the grid stays regular. A title wider than the figure widens the figure.

    Args:
        figure: a figure without a layout engine.
        axes: the panels holding text (hidden spare panels left out).
        rows: the rows of the grid.
        columns: the columns of the grid.
        top: inches reserved above the grid (e.g. for a figure title).
        bottom: inches reserved below the grid (e.g. for a figure legend).
        right: inches reserved right of the grid (e.g. for a colour bar's labels).
    """
    shown = [ax for ax in axes if ax.axison]
    for _ in range(2):  # tick locators depend on the panel size: measure again once placed
        left_overhang, right_overhang = _xtick_overhangs(shown)
        left_block = max(max((ytick_block(ax) for ax in shown), default=0.0), left_overhang)
        below = max((xtick_block(ax) for ax in shown), default=0.0)
        above = max((title_block(ax) for ax in axes), default=0.0)
        right_block = max(right_overhang, right)
        width, height = figure.get_size_inches()
        if rows == columns == 1 and axes:
            # A lone panel's title is centred on the panel: widen the figure to keep it inside.
            title_width = text_width(axes[0].get_title(), axes[0].title.get_fontsize())
            needed = title_width + abs(left_block - right_block) + 2 * EDGE
            if needed > width:
                width = needed
                figure.set_size_inches(width, height)
        left_in, right_in = EDGE + left_block, EDGE + right_block
        top_in, bottom_in = EDGE + above + top, EDGE + below + bottom
        column_gap = left_block + right_block + 0.15
        row_gap = below + above + 0.1
        panel_width = (width - left_in - right_in - (columns - 1) * column_gap) / columns
        panel_height = (height - top_in - bottom_in - (rows - 1) * row_gap) / rows
        figure.subplots_adjust(
            left=left_in / width,
            right=1 - right_in / width,
            bottom=bottom_in / height,
            top=1 - top_in / height,
            wspace=column_gap / max(panel_width, 0.1),
            hspace=row_gap / max(panel_height, 0.1),
        )


def _xtick_overhangs(axes: Sequence[Axes]) -> tuple[float, float]:
    """Inches that the first and last x tick labels (centred) can reach beyond their panel."""
    left = right = 0.0
    for ax in axes:
        labels = tick_labels(ax.xaxis)
        if labels:
            size = _tick_label_size(ax.xaxis)
            left = max(left, text_width(labels[0], size) / 2)
            right = max(right, text_width(labels[-1], size) / 2)
    return left, right


def legend_columns(labels: Sequence[str], width: float, size: float | str) -> int:
    """The most legend columns (up to one per entry) whose entries fit in ``width`` inches."""
    em = FontProperties(size=size).get_size_in_points() / POINTS_PER_INCH
    params = mpl.rcParams
    entries = [
        (params["legend.handlelength"] + params["legend.handletextpad"]) * em
        + text_width(label, size)
        for label in labels
    ]
    for columns in range(len(entries), 1, -1):
        per_column = math.ceil(len(entries) / columns)
        column_widths = [
            max(entries[start : start + per_column]) for start in range(0, len(entries), per_column)
        ]
        spacing = (len(column_widths) - 1) * params["legend.columnspacing"] * em
        if sum(column_widths) + spacing + 2 * params["legend.borderpad"] * em <= width:
            return columns
    return 1


def legend_height(rows: int, size: float | str) -> float:
    """Inches taken by a frameless legend of ``rows`` rows at the edge of the figure."""
    if rows <= 0:
        return 0.0
    em = FontProperties(size=size).get_size_in_points() / POINTS_PER_INCH
    params = mpl.rcParams
    text = rows * _LINE_SPACING + (rows - 1) * params["legend.labelspacing"]
    return (text + 2 * params["legend.borderpad"] + params["legend.borderaxespad"]) * em
