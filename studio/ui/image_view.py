"""A widget that shows one image scaled to fit, with a hint when it is empty."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, QThread
from PySide6.QtGui import QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class ImageView(QWidget):
    def __init__(self, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._hint = hint
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def image(self) -> QImage | None:
        return self._image

    def set_image(self, image: QImage | None) -> None:
        # Widgets belong to the GUI thread; a result must arrive by signal, never directly
        # from the worker (RELIABILITY.md item 19).
        assert QThread.currentThread() is self.thread(), "ImageView touched from a non-GUI thread"
        self._image = image
        self.update()

    def hint(self) -> str:
        """The line shown while there is no picture."""
        return self._hint

    def set_hint(self, hint: str) -> None:
        self._hint = hint
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(512, 512)

    def image_rect(self) -> QRect:
        """Where the image is drawn: as large as fits, aspect kept, centred."""
        if self._image is None or self._image.isNull():
            return QRect()
        scaled = self._image.size().scaled(self.size() - QSize(16, 16), Qt.AspectRatioMode.KeepAspectRatio)
        left = (self.width() - scaled.width()) // 2
        top = (self.height() - scaled.height()) // 2
        return QRect(left, top, scaled.width(), scaled.height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        if self._image is not None and not self._image.isNull():
            target = self.image_rect()
            # Upscaling small model outputs smoothly blurs them; artists want to see the pixels.
            smooth = target.width() < self._image.width()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            painter.drawImage(target, self._image)
        else:
            pen = QPen(palette.color(QPalette.ColorRole.PlaceholderText), 2, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            frame = self.rect().adjusted(12, 12, -12, -12)
            painter.drawRoundedRect(frame, 12, 12)
            painter.drawText(
                frame.adjusted(24, 24, -24, -24), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._hint
            )
        painter.end()
