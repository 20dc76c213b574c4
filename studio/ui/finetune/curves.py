"""Live training curves, titled "How well it imitates your images": one line per loss, named
in plain words (Judge, Maker, Likeness, ...; the loss names in the tooltip), linear scale.

GAN losses can be negative (WGAN-GP, hinge), so unlike the style panel's log-scale plot these
are drawn as they are. Long runs are thinned for drawing only, so a 100,000-step run does not
slow the window down.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette

from studio.ui.finetune.plain import LOSS_TOOLTIPS, LOSSES
from studio.ui.style.loss_plot import QuietPlot

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

MAX_DRAWN_POINTS = 2000
TITLE = "How well it imitates your images"
TOOLTIP = (
    "How training is going, step by step. For a GAN the Maker learns to draw pictures like yours and "
    "the Judge to tell them apart: the two lines balance each other, and wild swings mean trouble. "
    "For a VAE, Likeness falling means its pictures are getting closer to yours.\n"
    + "; ".join(f"{LOSSES[k]}: {v}" for k, v in LOSS_TOOLTIPS.items())
)
# The lines after the first (which is the palette's highlight), for a light and a dark plot: each
# reads at a contrast of 5 or more on its palette's base colour (pure colours that read on both, like
# orange or brown, do not exist), and they are swapped on a theme switch.
_LIGHT_COLOURS = ("#c62828", "#2e7d32", "#1565c0", "#b45309", "#8c564b")
_DARK_COLOURS = ("#ff7b72", "#56d364", "#58a6ff", "#ffa657", "#d2a8ff")


def line_colour(palette: QPalette, index: int) -> QColor:
    """The ``index``-th curve's colour on ``palette``: the highlight, then colours that read on its base."""
    if index == 0:
        return palette.color(QPalette.ColorRole.Highlight)
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    colours = _DARK_COLOURS if dark else _LIGHT_COLOURS
    return QColor(colours[(index - 1) % len(colours)])


class TrainingCurves(QuietPlot):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("training steps", parent)
        self.legend = self.getPlotItem().addLegend(offset=(-10, 10))
        self.apply_palette()
        self._points: dict[str, tuple[list[int], list[float]]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self.setMinimumHeight(140)
        self.setToolTip(TOOLTIP)

    def apply_palette(self) -> None:
        super().apply_palette()
        self.getPlotItem().setTitle(TITLE, color=self.palette().color(QPalette.ColorRole.Text).name(), size="9pt")
        # (QuietPlot.__init__ calls this before there are curves.)
        for index, curve in enumerate(getattr(self, "_curves", {}).values()):
            curve.setPen(pg.mkPen(line_colour(self.palette(), index), width=2))
        legend = self.getPlotItem().legend
        if legend is not None:
            for sample, _label in legend.items:
                sample.update()  # the legend's line samples are drawn from the curves' pens

    def clear_values(self) -> None:
        for curve in self._curves.values():
            self.getPlotItem().removeItem(curve)
        self.legend.clear()
        self._points.clear()
        self._curves.clear()

    def add_losses(self, step: int, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            if not math.isfinite(value):
                continue
            steps, values = self._points.setdefault(name, ([], []))
            steps.append(int(step))
            values.append(float(value))
            if name not in self._curves:
                colour = line_colour(self.palette(), len(self._curves))
                self._curves[name] = self.getPlotItem().plot(
                    [], [], pen=pg.mkPen(colour, width=2), name=LOSSES.get(name, name)
                )
            every = max(1, math.ceil(len(steps) / MAX_DRAWN_POINTS))
            self._curves[name].setData(steps[::every], values[::every])

    def names(self) -> list[str]:
        return list(self._points)

    def values(self, name: str) -> list[float]:
        return list(self._points.get(name, ([], []))[1])
