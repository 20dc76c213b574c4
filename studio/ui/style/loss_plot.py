"""A small loss curve on a log scale: is the picture still changing, or has it settled?"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtGui import QPalette

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

pg.setConfigOptions(antialias=True)


class _LogAxis(pg.AxisItem):
    """Ticks of a log10 axis written as the values they stand for (1e4, 300, 0.5)."""

    def tickStrings(self, values, scale, spacing):
        return [f"{10**v:.3g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-") for v in values]


def quiet_plot(plot: pg.PlotWidget, bottom_label: str) -> pg.PlotItem:
    """A plot that fits the panels: the palette's colours, muted axes, no mouse, no menu."""
    palette = plot.palette()
    plot.setBackground(palette.color(QPalette.ColorRole.Base))
    item = plot.getPlotItem()
    item.hideButtons()
    item.setMenuEnabled(False)
    item.setMouseEnabled(x=False, y=False)
    item.showGrid(x=False, y=True, alpha=0.15)
    muted = palette.color(QPalette.ColorRole.PlaceholderText)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setTextPen(muted)
        axis.setPen(muted)
    item.setLabel("bottom", bottom_label, color=muted.name())
    return item


class LossPlot(pg.PlotWidget):
    """Values are plotted as log10 with labelled ticks: pyqtgraph's own log mode labels them
    with bare exponents ("3" for 1000), which reads as the wrong number."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, axisItems={"left": _LogAxis("left")})
        self._steps: list[int] = []
        self._values: list[float] = []
        item = quiet_plot(self, "loss by step (log scale)")
        item.getAxis("left").setWidth(40)
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        self.curve = item.plot([], [], pen=pg.mkPen(highlight, width=2))
        self.setMinimumHeight(70)
        self.setToolTip("Total loss per step (log scale): a flattening curve means the picture has settled")

    def clear_values(self) -> None:
        self._steps.clear()
        self._values.clear()
        self.curve.setData([], [])

    def add_value(self, step: int, value: float) -> None:
        if not math.isfinite(value) or value <= 0:
            return
        self._steps.append(int(step))
        self._values.append(float(value))
        self._redraw()

    def set_values(self, values) -> None:
        self.clear_values()
        points = [(i, float(v)) for i, v in enumerate(values) if math.isfinite(float(v)) and float(v) > 0]
        self._steps = [s for s, _ in points]
        self._values = [v for _, v in points]
        self._redraw()

    def _redraw(self) -> None:
        self.curve.setData(self._steps, [math.log10(v) for v in self._values])

    def values(self) -> list[float]:
        return list(self._values)
