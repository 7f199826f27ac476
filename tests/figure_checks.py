"""Checks on a rendered figure: every label inside the picture and no two labels overlapping."""

from __future__ import annotations

from itertools import combinations
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text


def _labels(figure: Figure) -> list[tuple[str, Any, Text]]:
    """The texts a reader must read (titles, axis and tick labels, legend entries) by owner."""
    texts: list[tuple[str, Any, Text]] = []
    if figure._suptitle is not None:  # no public getter for the Text
        texts.append(("suptitle", None, figure._suptitle))
    for index, ax in enumerate(figure.axes):
        if not ax.axison:
            continue
        where = f"axes {index} ({ax.get_title() or ax.get_label()})"
        owned = [("title", ax.title)]
        owned += [(f"{axis.axis_name}label", axis.label) for axis in (ax.xaxis, ax.yaxis)]
        owned += [("x tick", label) for label in _drawn_tick_labels(ax.xaxis, 0)]
        owned += [("y tick", label) for label in _drawn_tick_labels(ax.yaxis, 1)]
        if ax.get_legend() is not None:
            owned += [("legend", text) for text in ax.get_legend().get_texts()]
        texts += [(f"{where} {what}", ax, text) for what, text in owned]
    for legend in figure.legends:
        texts += [("figure legend", None, text) for text in legend.get_texts()]
    return [entry for entry in texts if entry[2].get_visible() and entry[2].get_text()]


def _drawn_tick_labels(axis: Any, coordinate: int) -> list[Text]:
    """Tick labels in the view (``get_ticklabels`` also returns those of ticks outside it)."""
    low, high = sorted(axis.get_view_interval())
    slack = (high - low) * 1e-6
    labels = axis.get_ticklabels()
    return [t for t in labels if low - slack <= t.get_position()[coordinate] <= high + slack]


def assert_labels_readable(figure: Figure) -> None:
    """Render ``figure`` once and check that its labels are inside it and apart.

    No label may overlap another label, nor the plotting area of a panel other than its own.
    """
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    frame = figure.bbox
    boxes: list[tuple[str, Any]] = []
    panels = [ax for ax in figure.axes if ax.axison]
    for name, owner, text in _labels(figure):
        box = text.get_window_extent(renderer)
        inside = (
            box.x0 >= frame.x0 - 1
            and box.y0 >= frame.y0 - 1
            and box.x1 <= frame.x1 + 1
            and box.y1 <= frame.y1 + 1
        )
        assert inside, f"{name} {text.get_text()!r} is cut off: {box.extents} vs {frame.extents}"
        box = box.padded(-1)
        for panel in panels:
            assert panel is owner or not box.overlaps(panel.bbox), (
                f"{name} {text.get_text()!r} runs into the panel {panel.get_title()!r}"
            )
        boxes.append((f"{name} {text.get_text()!r}", box))
    for (first, box), (second, other) in combinations(boxes, 2):
        assert not box.overlaps(other), f"{first} overlaps {second}"
