"""A widget that shows one image scaled to fit, with a hint when it is empty.

A picture smaller than the widget (the models draw 64 px) is enlarged *smooth* by default, with
the export helper's Lanczos resampler (:func:`studio.spec.export_size.resize`, up to 4x, then
bilinear), or *crisp* (exact pixel blocks) when the artist chose crisp for exports. The smooth picture is rendered
once per new image and displayed size, not per paint event: sliders redraw it many times a second.
"""

from __future__ import annotations

import weakref
from typing import ClassVar

import shiboken6
from PySide6.QtCore import QRect, QSize, Qt, QThread
from PySide6.QtGui import QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.spec.export_size import DEFAULT_RESAMPLE, check_resample, resize
from studio.ui.qimage import to_pil, to_qimage

# Lanczos straight to a large window costs 15 to 20 ms at 900 px on a 2-core CPU, a frame and
# more on every slider move; Lanczos to 4x (about 1 ms for 64 px), then Qt's bilinear to the
# displayed size (2 to 4 ms), looks the same: the 4x picture is already smooth between pixels.
LANCZOS_FACTOR = 4


def _enlarged_smoothly(image: QImage, target: QSize) -> QImage:
    """``image`` at ``target``: Lanczos up to :data:`LANCZOS_FACTOR` times, bilinear beyond."""
    factor = min(LANCZOS_FACTOR, target.width() / image.width(), target.height() / image.height())
    first = (max(1, round(image.width() * factor)), max(1, round(image.height() * factor)))
    enlarged = to_qimage(resize(to_pil(image), first, "smooth"))
    if enlarged.size() == target:
        return enlarged
    return enlarged.scaled(target, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)


class ImageView(QWidget):
    _enlarging: ClassVar[str] = DEFAULT_RESAMPLE
    _views: ClassVar[weakref.WeakSet[ImageView]] = weakref.WeakSet()

    def __init__(self, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._hint = hint
        self._shown: QImage | None = None  # the image rendered at the displayed size
        self._shown_key: tuple | None = None
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        ImageView._views.add(self)

    @classmethod
    def set_enlarging(cls, resample: str) -> None:
        """How every picture view enlarges small pictures: "smooth" or "crisp"."""
        check_resample(resample)
        cls._enlarging = resample
        for view in list(cls._views):
            if shiboken6.isValid(view):  # a view Qt has deleted can outlive its wrapper here
                view.update()
            else:
                cls._views.discard(view)

    @classmethod
    def enlarging(cls) -> str:
        return cls._enlarging

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

    def displayed_image(self) -> QImage | None:
        """The picture as it is drawn: rendered smooth at the displayed size when enlarged
        smoothly (kept until the image, the size or the choice changes), else the image itself."""
        image = self._image
        if image is None or image.isNull():
            return None
        target = self.image_rect().size() * self.devicePixelRatioF()
        if self._enlarging != "smooth" or target.width() <= image.width():
            return image
        key = (image.cacheKey(), target.width(), target.height())
        if key != self._shown_key:
            self._shown = _enlarged_smoothly(image, target)
            self._shown_key = key
        return self._shown

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        shown = self.displayed_image()
        if shown is not None:
            target = self.image_rect()
            # Shrinking is smoothed by Qt; enlarging is either already done (smooth, at this
            # size) or crisp, where each pixel must stay a sharp block.
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, target.width() < shown.width())
            painter.drawImage(target, shown)
        else:
            pen = QPen(palette.color(QPalette.ColorRole.PlaceholderText), 2, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            frame = self.rect().adjusted(12, 12, -12, -12)
            painter.drawRoundedRect(frame, 12, 12)
            painter.drawText(
                frame.adjusted(24, 24, -24, -24), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._hint
            )
        painter.end()
