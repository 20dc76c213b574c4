"""The mask the artist paints over the explorer's picture for "Repaint a region".

:class:`MaskPainter` is a transparent layer laid over an :class:`~studio.ui.image_view.ImageView`
(a child covering it, so the view itself needs no change). While it is active, a drag paints
(or, with the eraser or the right button, erases) round strokes into the mask, and the mask is
drawn over the picture in a translucent colour. The mask lives at the model's picture size (64
px for the bundled models) as a float array, 1 = repaint, the form the engine's repaint takes.

View positions map to picture pixels through the view's own :meth:`ImageView.image_rect` (where
the picture is drawn, at any zoom or window size), so a stroke lands on the pixels under it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from studio.ui.image_view import ImageView

DEFAULT_BRUSH = 6  # the brush's diameter in picture pixels (of 64)
BRUSH_RANGE = (1, 32)
MASK_COLOUR = (255, 40, 90)  # a pink-red that shows on faces, skin and sky alike
MASK_ALPHA = 130  # of 255: the picture stays visible under the mask


class MaskPainter(QWidget):
    """A mask painted with the mouse over ``view``'s picture."""

    maskChanged = Signal()

    def __init__(self, view: ImageView, size: int = 64) -> None:
        super().__init__(view)
        self.view = view
        self._mask = np.zeros((size, size), dtype=np.float32)
        self.brush = DEFAULT_BRUSH
        self.erasing = False
        self._stroke_value: float | None = None  # 1 painting, 0 erasing, None between strokes
        self._last: QPointF | None = None  # the stroke's previous point, in picture pixels
        self._hover: QPointF | None = None  # where the brush outline is drawn, in view pixels
        self._overlay: QImage | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setMouseTracking(True)
        self.setGeometry(view.rect())
        view.installEventFilter(self)
        self.set_active(False)

    # ----- the mask -----------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self._mask.shape[0]

    def mask(self) -> np.ndarray:
        """A copy of the mask: size x size float32, 1 = repaint, 0 = keep."""
        return self._mask.copy()

    def set_mask(self, mask: np.ndarray) -> None:
        self._mask = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0).copy()
        self._changed()

    def set_size(self, size: int) -> None:
        """The model's picture size; a mask of another size starts empty."""
        if size != self.size:
            self._mask = np.zeros((size, size), dtype=np.float32)
            self._changed()

    def clear(self) -> None:
        if self._mask.any():
            self._mask[:] = 0.0
            self._changed()

    def is_empty(self) -> bool:
        return not self._mask.any()

    def set_active(self, active: bool) -> None:
        """Show the mask and take the mouse (True), or hide and let the view have it (False)."""
        self.setVisible(active)
        if active:
            self.raise_()
            self.setCursor(Qt.CursorShape.CrossCursor)

    # ----- view positions to picture pixels -----------------------------------------------
    def to_picture(self, point: QPointF) -> QPointF | None:
        """A view position as a position in picture pixels (0..size on each side; None without a picture)."""
        rect = self.view.image_rect()
        if rect.isEmpty():
            return None
        return QPointF(
            (point.x() - rect.x()) / rect.width() * self.size, (point.y() - rect.y()) / rect.height() * self.size
        )

    def brush_radius_on_screen(self) -> float:
        rect = self.view.image_rect()
        return 0.0 if rect.isEmpty() else self.brush / 2 * rect.width() / self.size

    def stroke(self, start: QPointF, end: QPointF, value: float = 1.0) -> None:
        """Paint (``value`` 1) or erase (0) a round stroke between two view positions."""
        a, b = self.to_picture(start), self.to_picture(end)
        if a is not None and b is not None:
            self._stamp_line(a, b, value)
            self._changed()

    def _stamp_line(self, a: QPointF, b: QPointF, value: float) -> None:
        radius = max(self.brush / 2, 0.5)
        length = math.hypot(b.x() - a.x(), b.y() - a.y())
        steps = max(1, math.ceil(length / max(radius / 2, 0.25)))
        for i in range(steps + 1):
            t = i / steps
            self._stamp(a.x() + (b.x() - a.x()) * t, a.y() + (b.y() - a.y()) * t, radius, value)

    def _stamp(self, x: float, y: float, radius: float, value: float) -> None:
        """Every pixel whose centre lies within ``radius`` of (x, y); a 1 px brush takes the pixel under it."""
        size = self.size
        if radius <= 0.5:
            col, row = math.floor(x), math.floor(y)
            if 0 <= col < size and 0 <= row < size:
                self._mask[row, col] = value
            return
        centres = np.arange(size, dtype=np.float32) + 0.5
        inside = (centres[None, :] - x) ** 2 + (centres[:, None] - y) ** 2 <= radius**2
        self._mask[inside] = value

    def _changed(self) -> None:
        self._overlay = None
        self.update()
        self.maskChanged.emit()

    # ----- events -------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.view.rect())
        return False

    def mousePressEvent(self, event) -> None:
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        erase = self.erasing or event.button() == Qt.MouseButton.RightButton
        self._stroke_value = 0.0 if erase else 1.0
        point = event.position()
        self._last = point
        self.stroke(point, point, self._stroke_value)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        point = event.position()
        self._hover = point
        if self._stroke_value is not None and self._last is not None:
            self.stroke(self._last, point, self._stroke_value)
            self._last = point
        else:
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        self._stroke_value = None
        self._last = None

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.update()

    def paintEvent(self, event) -> None:
        rect = self.view.image_rect()
        if rect.isEmpty():
            return
        painter = QPainter(self)
        if self._mask.any():
            if self._overlay is None:
                self._overlay = _overlay_image(self._mask)
            painter.drawImage(QRectF(rect), self._overlay)  # crisp blocks: the pixels the mask really holds
        if self._hover is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(255, 255, 255, 220), 1.5))
            radius = self.brush_radius_on_screen()
            painter.drawEllipse(self._hover, radius, radius)
            painter.setPen(QPen(QColor(0, 0, 0, 160), 1.0))
            painter.drawEllipse(self._hover, radius + 1.5, radius + 1.5)
        painter.end()


def _overlay_image(mask: np.ndarray) -> QImage:
    """The mask as a translucent colour layer (its own pixels, premultiplied for QPainter)."""
    height, width = mask.shape
    alpha = (mask * MASK_ALPHA).astype(np.float32)
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    for channel, value in enumerate(MASK_COLOUR):
        rgba[..., channel] = (value * alpha / 255.0).astype(np.uint8)
    rgba[..., 3] = alpha.astype(np.uint8)
    image = QImage(rgba.data, width, height, width * 4, QImage.Format.Format_RGBA8888_Premultiplied)
    return image.copy()  # owns its pixels: the array goes away
