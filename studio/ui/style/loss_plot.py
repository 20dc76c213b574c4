"""A small loss curve on a log scale: is the picture still changing, or has it settled?"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

pg.setConfigOptions(antialias=True)


class _LogAxis(pg.AxisItem):
    """Ticks of a log10 axis written as the values they stand for (1e4, 300, 0.5)."""

    def tickStrings(self, values, scale, spacing):
        return [f"{10**v:.3g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-") for v in values]


class QuietPlot(pg.PlotWidget):
    """A plot that fits the panels: the palette's colours, muted axes, no mouse, no menu.

    pyqtgraph keeps colours, not palette roles, so the plot takes them from the palette again
    whenever the palette changes (a theme switch): background, axes, labels, legend and the
    curves that asked for a palette role (:meth:`role_pen`)."""

    def __init__(self, bottom_label: str, parent: QWidget | None = None, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self._bottom_label = bottom_label
        self._role_pens: list[tuple[pg.PlotDataItem, QPalette.ColorRole, float]] = []
        item = self.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(x=False, y=True, alpha=0.15)
        self.apply_palette()

    def role_pen(self, curve: pg.PlotDataItem, role: QPalette.ColorRole, width: float = 2) -> pg.PlotDataItem:
        """Draw ``curve`` in the palette's ``role`` colour, now and after every theme switch."""
        self._role_pens.append((curve, role, width))
        curve.setPen(pg.mkPen(self.palette().color(role), width=width))
        return curve

    def apply_palette(self) -> None:
        palette = self.palette()
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        item = self.getPlotItem()
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setTextPen(muted)
            axis.setPen(muted)
        item.setLabel("bottom", self._bottom_label, color=muted.name(QColor.NameFormat.HexArgb))
        legend = item.legend
        if legend is not None:
            legend.setLabelTextColor(palette.color(QPalette.ColorRole.Text))
            for _sample, label in legend.items:
                label.setText(label.text)  # draws the text again in the colour just set
        for curve, role, width in self._role_pens:
            curve.setPen(pg.mkPen(palette.color(role), width=width))

    def changeEvent(self, event: QEvent) -> None:
        # (Qt sends palette changes during pyqtgraph's own __init__, before there is a plot.)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "_role_pens"):
            self.apply_palette()
        super().changeEvent(event)


class LossPlot(QuietPlot):
    """Values are plotted as log10 with labelled ticks: pyqtgraph's own log mode labels them
    with bare exponents ("3" for 1000), which reads as the wrong number."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("loss by step (log scale)", parent, axisItems={"left": _LogAxis("left")})
        self._steps: list[int] = []
        self._values: list[float] = []
        item = self.getPlotItem()
        item.getAxis("left").setWidth(40)
        self.curve = self.role_pen(item.plot([], []), QPalette.ColorRole.Highlight)
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
