"""A column of labelled sliders, one per latent direction, most influential first.

Only the first :data:`TOP` rows are built until "Show all" is ticked: a 128-dimensional
model would otherwise build 128 slider widgets the artist rarely needs.

Each row shows, either side of its slider, a small picture of where the slider's two ends
lead (drawn by the controller on the worker and handed in with :meth:`DirectionSliders.set_previews`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSlider, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

from studio.spec.bounds import SLIDER_RANGE
from studio.ui.controls import plain_tooltip

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from PySide6.QtGui import QImage

TOP = 16
DECIMALS = 2
RESOLUTION = 10.0**-DECIMALS
END_PICTURE = 32  # px on a side: the -/+ pictures beside each slider


class _PressWatcher(QObject):
    """Calls back when a mouse button goes down on a slider, before the slider reacts.

    superqt's sliders move the value to the pixel under the pointer on press, before they
    emit ``sliderPressed``; a drag must start before that first move to be one undo step.
    """

    def __init__(self, target: QWidget, callback) -> None:
        super().__init__(target)
        self._callback = callback
        target.installEventFilter(self)

    def eventFilter(self, _watched, event) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress:
            self._callback()
        return False


def on_press(slider: QWidget, callback) -> None:
    """Call ``callback()`` as a drag of ``slider`` (a superqt labelled slider) begins."""
    inner = slider.findChild(QSlider)
    _PressWatcher(inner if inner is not None else slider, callback)


def make_slider(minimum: float, maximum: float, value: float = 0.0, decimals: int = DECIMALS) -> QLabeledDoubleSlider:
    slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    slider.setDecimals(decimals)
    slider.setRange(minimum, maximum)
    slider.setSingleStep(0.05)
    slider.setValue(value)
    return slider


class EndPicture(QLabel):
    """A small picture of where one end of a slider leads; an empty frame until it is drawn.
    A click on it moves the slider to that end."""

    clicked = Signal()

    def __init__(self, tooltip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(QSize(END_PICTURE, END_PICTURE))
        # A border in the palette's frame shade: the style's own frame is the window's colour a
        # little darker, which the dark window all but hides.
        self.setStyleSheet("EndPicture { border: 1px solid palette(mid); }")
        self.setScaledContents(False)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setToolTip(tooltip)
        self.qimage: QImage | None = None
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.isEnabled():
            self.clicked.emit()
        super().mousePressEvent(event)

    def set_image(self, qimage: QImage | None) -> None:
        if qimage is self.qimage:
            return
        self.qimage = qimage
        if qimage is None:
            self.clear()
            return
        ratio = self.devicePixelRatioF()
        side = round(END_PICTURE * ratio)
        pixmap = QPixmap.fromImage(qimage).scaled(
            side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        pixmap.setDevicePixelRatio(ratio)
        self.setPixmap(pixmap)


class DirectionSliders(QWidget):
    valueMoved = Signal(int, float)  # direction index, new coordinate
    dragStarted = Signal(int)
    dragFinished = Signal(int)
    rowsChanged = Signal(int)  # how many rows are on screen now

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: list[str] = []
        self._values: list[float] = []
        self.sliders: list[QLabeledDoubleSlider] = []
        self.ends: list[tuple[EndPicture, EndPicture]] = []  # each row's (minus, plus) pictures
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(2, 1)
        self.show_all = QCheckBox("Show all")
        self.show_all.setToolTip("Show a slider for every direction, not only the most influential ones")
        self.show_all.toggled.connect(self._on_show_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._grid)
        layout.addWidget(self.show_all, 0, Qt.AlignmentFlag.AlignLeft)

    def set_directions(self, labels: Sequence[str], tooltips: Sequence[str] | None = None) -> None:
        """Rebuild for a model: ``labels`` in order of influence."""
        for slider in self.sliders:
            slider.deleteLater()
        self.ends = []
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.sliders = []
        self._labels = list(labels)
        self._tooltips = list(tooltips) if tooltips is not None else [""] * len(self._labels)
        self._values = [0.0] * len(self._labels)
        self.show_all.blockSignals(True)
        self.show_all.setChecked(False)
        self.show_all.blockSignals(False)
        self.show_all.setVisible(len(self._labels) > TOP)
        self.show_all.setText(f"Show all {len(self._labels)}")
        self._build_rows(min(TOP, len(self._labels)))

    def visible_count(self) -> int:
        return len(self.sliders)

    def _build_rows(self, count: int) -> None:
        for index in range(len(self.sliders), count):
            name = QLabel(self._labels[index])
            name.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
            name.setMinimumWidth(64)
            name.setToolTip(plain_tooltip(self._tooltips[index]))
            slider = make_slider(-SLIDER_RANGE, SLIDER_RANGE, self._values[index])
            slider.setToolTip(plain_tooltip(self._tooltips[index]))
            slider.setObjectName(f"direction-{index}")
            slider.valueChanged.connect(lambda value, i=index: self._on_value_changed(i, float(value)))
            on_press(slider, lambda i=index: self.dragStarted.emit(i))
            slider.sliderReleased.connect(lambda i=index: self.dragFinished.emit(i))
            minus = EndPicture(f"{self._labels[index]} all the way down (−{SLIDER_RANGE:g}); click to go there")
            plus = EndPicture(f"{self._labels[index]} all the way up (+{SLIDER_RANGE:g}); click to go there")
            minus.clicked.connect(lambda i=index: self._go_to_end(i, -SLIDER_RANGE))
            plus.clicked.connect(lambda i=index: self._go_to_end(i, SLIDER_RANGE))
            minus.setObjectName(f"direction-{index}-minus")
            plus.setObjectName(f"direction-{index}-plus")
            self._grid.addWidget(name, index, 0)
            self._grid.addWidget(minus, index, 1)
            self._grid.addWidget(slider, index, 2)
            self._grid.addWidget(plus, index, 3)
            self.sliders.append(slider)
            self.ends.append((minus, plus))
        self.rowsChanged.emit(self.shown_count())

    def _go_to_end(self, index: int, value: float) -> None:
        """A click on an end picture: the slider moves there, as one drag of its own."""
        self.dragStarted.emit(index)
        self.sliders[index].setValue(value)
        self.dragFinished.emit(index)

    def _on_value_changed(self, index: int, value: float) -> None:
        # Pressing a handle snaps it to the slider's grid (0.01) and announces that as a move;
        # a change below the grid's resolution is no move of the artist's.
        if abs(value - self._values[index]) < RESOLUTION / 2:
            return
        self._values[index] = value
        self.valueMoved.emit(index, value)

    def _on_show_all(self, checked: bool) -> None:
        if checked:
            self._build_rows(len(self._labels))
        for index, slider in enumerate(self.sliders):
            visible = checked or index < TOP
            slider.setVisible(visible)
            for column in (0, 1, 3):
                self._grid.itemAtPosition(index, column).widget().setVisible(visible)
        self.rowsChanged.emit(self.shown_count())

    def shown_count(self) -> int:
        """How many rows are on screen (built rows stay built when "Show all" is unticked)."""
        return len(self.sliders) if self.show_all.isChecked() else min(TOP, len(self.sliders))

    def set_previews(self, previews: Mapping[int, tuple[QImage, QImage]]) -> None:
        """Show the (minus, plus) pictures of these rows; other rows keep what they show."""
        for index, (minus, plus) in previews.items():
            if index < len(self.ends):
                self.ends[index][0].set_image(minus)
                self.ends[index][1].set_image(plus)

    def set_values(self, values: Sequence[float]) -> None:
        """Move the sliders to ``values`` without announcing it (the state already knows)."""
        self._values = [max(-SLIDER_RANGE, min(SLIDER_RANGE, float(v))) for v in values]
        for slider, value in zip(self.sliders, self._values, strict=False):
            slider.blockSignals(True)
            slider.setValue(value)
            slider.blockSignals(False)
