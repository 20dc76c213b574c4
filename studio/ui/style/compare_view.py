"""Before and after in one frame: the photo left of a draggable divider, the result right of it.

Both images are drawn into the same rectangle (the result's, aspect kept), so every pixel of
the photo lines up with the pixel the style transfer made from it. Drag anywhere to move the
divider; double-click to put it back in the middle. Without a result the photo fills the frame;
without either, a hint.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, QThread, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class CompareView(QWidget):
    dividerMoved = Signal(float)

    def __init__(self, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._hint = hint
        self._split = 0.5
        self._dragging = False
        self.setMinimumSize(200, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    # ----- the ImageView interface the panel base class uses: the image is the result -----
    def image(self) -> QImage | None:
        return self._after

    def set_image(self, image: QImage | None) -> None:
        self.set_after(image)

    def set_hint(self, hint: str) -> None:
        self._hint = hint
        self.update()

    # ----- before / after -----------------------------------------------------------------
    def before(self) -> QImage | None:
        return self._before

    def set_before(self, image: QImage | None) -> None:
        assert QThread.currentThread() is self.thread(), "CompareView touched from a non-GUI thread"
        self._before = image
        self.update()

    def set_after(self, image: QImage | None) -> None:
        # Widgets belong to the GUI thread: results arrive by signal (RELIABILITY.md item 19).
        assert QThread.currentThread() is self.thread(), "CompareView touched from a non-GUI thread"
        self._after = image
        self.update()

    def split(self) -> float:
        return self._split

    def set_split(self, fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        if fraction != self._split:
            self._split = fraction
            self.dividerMoved.emit(fraction)
            self.update()

    def comparing(self) -> bool:
        return self._before is not None and self._after is not None

    def sizeHint(self) -> QSize:
        return QSize(560, 480)

    def image_rect(self) -> QRect:
        """Where the pictures are drawn: as large as fits, aspect kept, centred."""
        shown = self._after if self._after is not None else self._before
        if shown is None or shown.isNull():
            return QRect()
        scaled = shown.size().scaled(self.size() - QSize(16, 16), Qt.AspectRatioMode.KeepAspectRatio)
        left = (self.width() - scaled.width()) // 2
        top = (self.height() - scaled.height()) // 2
        return QRect(left, top, scaled.width(), scaled.height())

    def divider_x(self) -> int:
        rect = self.image_rect()
        return rect.left() + round(self._split * rect.width())

    # ----- painting -----------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        target = self.image_rect()
        if target.isNull():
            self._paint_hint(painter, palette)
            painter.end()
            return
        if self.comparing():
            x = self.divider_x()
            painter.save()
            painter.setClipRect(QRect(target.left(), target.top(), x - target.left(), target.height()))
            self._draw(painter, self._before, target)
            painter.restore()
            painter.save()
            painter.setClipRect(QRect(x, target.top(), target.right() - x + 1, target.height()))
            self._draw(painter, self._after, target)
            painter.restore()
            self._paint_divider(painter, target, x)
        else:
            self._draw(painter, self._after if self._after is not None else self._before, target)
            if self._after is None:
                self._paint_tag(painter, target, "Photo", left=True)
        painter.end()

    @staticmethod
    def _draw(painter: QPainter, image: QImage, target: QRect) -> None:
        # Smooth both ways: the result of a coarse scale is compared with a full-size photo, and
        # blocky pixels on one side only would read as a difference that is not there.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(target, image)

    def _paint_divider(self, painter: QPainter, target: QRect, x: int) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(0, 0, 0, 90), 3))
        painter.drawLine(x, target.top(), x, target.bottom())
        painter.setPen(QPen(QColor(255, 255, 255, 230), 1.5))
        painter.drawLine(x, target.top(), x, target.bottom())
        centre = QPointF(x, target.center().y())
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.setPen(QPen(QColor(0, 0, 0, 80), 1))
        painter.drawEllipse(centre, 13, 13)
        painter.setPen(QPen(QColor(40, 40, 48), 1.6))
        for direction in (-1, 1):
            tip = centre + QPointF(direction * 8, 0)
            painter.drawLine(tip, tip + QPointF(-direction * 4, -4))
            painter.drawLine(tip, tip + QPointF(-direction * 4, 4))
        self._paint_tag(painter, target, "Before", left=True)
        self._paint_tag(painter, target, "After", left=False)

    @staticmethod
    def _paint_tag(painter: QPainter, target: QRect, text: str, *, left: bool) -> None:
        if target.width() < 140 or target.height() < 60:
            return
        font = QFont(painter.font())
        font.setPointSizeF(max(font.pointSizeF() * 0.85, 7.0))
        font.setBold(True)
        painter.setFont(font)
        width = painter.fontMetrics().horizontalAdvance(text) + 16
        height = painter.fontMetrics().height() + 6
        x = target.left() + 10 if left else target.right() - 10 - width
        pill = QRectF(x, target.top() + 10, width, height)
        path = QPainterPath()
        path.addRoundedRect(pill, height / 2, height / 2)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillPath(path, QColor(20, 20, 26, 150))
        painter.setPen(QColor(255, 255, 255, 230))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_hint(self, painter: QPainter, palette: QPalette) -> None:
        pen = QPen(palette.color(QPalette.ColorRole.PlaceholderText), 2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        frame = self.rect().adjusted(12, 12, -12, -12)
        painter.drawRoundedRect(frame, 12, 12)
        painter.drawText(
            frame.adjusted(24, 24, -24, -24), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._hint
        )

    # ----- the divider follows the mouse while a button is down ---------------------------
    def _split_at(self, x: float) -> float:
        rect = self.image_rect()
        return 0.5 if rect.width() <= 0 else (x - rect.left()) / rect.width()

    def mousePressEvent(self, event) -> None:
        if self.comparing() and event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self.set_split(self._split_at(event.position().x()))
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._dragging:
            self.set_split(self._split_at(event.position().x()))
        elif self.comparing() and abs(event.position().x() - self.divider_x()) < 14:
            self.setCursor(Qt.CursorShape.SplitHCursor)
        else:
            self.unsetCursor()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        self._dragging = False
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        if self.comparing():
            self.set_split(0.5)
        super().mouseDoubleClickEvent(event)
