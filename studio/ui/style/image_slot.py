"""A slot that holds one image: a thumbnail, its name, a remove button, and drops from anywhere.

Files dropped from the file manager, or chosen by clicking the empty slot, go through the safe
loader (:func:`studio.files.images.load_image`) on the GUI thread: Pillow only, no torch, and
small enough for a drop. Any local file is accepted at drag-enter so that a wrong file gets a
clear message naming it instead of a silent "no entry" cursor; a file that does not load
leaves the slot exactly as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.files.images import IMAGE_FILE_FILTER, ImageLoadError, LoadedImage, load_image
from studio.ui.controls import ElidedLabel, plain_tooltip
from studio.ui.latent.direction_sliders import make_slider
from studio.ui.qimage import to_qimage
from studio.ui.theme import ERROR_COLOUR

if TYPE_CHECKING:
    from PIL import Image
    from PySide6.QtCore import QMimeData

log = logging.getLogger(__name__)

THUMB = 64


def dropped_paths(mime: QMimeData | None) -> list[Path]:
    """Local files in a drag's data (file-manager drops are file:// URLs)."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def thumbnail(image: Image.Image, size: int = THUMB) -> QPixmap:
    """A square, centre-cropped, rounded thumbnail of a PIL image."""
    pil = image.copy()
    side = min(pil.size)
    left, top = (pil.width - side) // 2, (pil.height - side) // 2
    pil = pil.crop((left, top, left + side, top + side)).resize((size, size))
    source = QPixmap.fromImage(to_qimage(pil))
    rounded = QPixmap(size, size)
    rounded.fill(Qt.GlobalColor.transparent)
    painter = QPainter(rounded)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    clip = QPainterPath()
    clip.addRoundedRect(0, 0, size, size, 8, 8)
    painter.setClipPath(clip)
    painter.drawPixmap(0, 0, source)
    painter.end()
    return rounded


class _Thumb(QLabel):
    """The thumbnail square: the image, or a dashed '+' when the slot is empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(THUMB, THUMB)
        self._pixmap: QPixmap | None = None

    def set_thumb(self, pixmap: QPixmap | None) -> None:
        self._pixmap = pixmap
        self.update()

    def has_thumb(self) -> bool:
        return self._pixmap is not None

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._pixmap is not None:
            painter.drawPixmap(0, 0, self._pixmap)
        else:
            muted = self.palette().color(QPalette.ColorRole.PlaceholderText)
            painter.setPen(QPen(muted, 1.5, Qt.PenStyle.DashLine))
            painter.drawRoundedRect(self.rect().adjusted(1, 1, -2, -2), 8, 8)
            font = QFont(painter.font())
            font.setPointSizeF(font.pointSizeF() * 1.8)
            painter.setFont(font)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "+")
        painter.end()


class ImageSlot(QFrame):
    """One image the artist gives: drop a file on it, click it to choose one, × to clear it."""

    imageChanged = Signal(object)  # LoadedImage, or None when cleared
    removeRequested = Signal()
    loadFailed = Signal(str)
    extraDropped = Signal(list)  # more files than the slot holds (Paths): the panel places them

    def __init__(self, role: str, hint: str, *, removable: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self._hint = hint
        self._loaded: LoadedImage | None = None
        self._hover = False
        self.setAcceptDrops(True)
        self.setObjectName("imageSlot")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(f"Drop {hint.lower()} here, or click to choose a file")

        self.thumb = _Thumb()
        # The file name, bold, shortened in the middle to the box's width (its tooltip has all of it).
        self.name_label = ElidedLabel(hint, Qt.TextElideMode.ElideMiddle)
        bold = QFont(self.name_label.font())
        bold.setBold(True)
        self.name_label.setFont(bold)
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.info_label = QLabel("Drop a file, or click to choose")
        self.info_label.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.info_label.setEnabled(False)
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.message.hide()
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setCursor(Qt.CursorShape.ArrowCursor)
        self.remove_button.setToolTip(f"Remove this {role}")
        self.remove_button.clicked.connect(self._on_remove)
        self.remove_button.setVisible(removable)
        self._removable = removable

        self.details = QVBoxLayout()
        self.details.setSpacing(2)
        self.details.setContentsMargins(0, 0, 0, 0)
        title_row = QHBoxLayout()
        title_row.setSpacing(4)
        title_row.addWidget(self.name_label, 1)
        title_row.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        self.details.addLayout(title_row)
        self.details.addWidget(self.info_label)
        self.details.addStretch(1)

        row = QHBoxLayout()
        row.setContentsMargins(8, 8, 8, 8)
        row.setSpacing(10)
        row.addWidget(self.thumb, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(self.details, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addLayout(row)
        outer.addWidget(self.message)
        self.message.setContentsMargins(8, 0, 8, 8)
        self._update_look()

    # ----- state --------------------------------------------------------------------------
    @property
    def loaded(self) -> LoadedImage | None:
        return self._loaded

    def image(self) -> Image.Image | None:
        return None if self._loaded is None else self._loaded.image

    def name(self) -> str:
        return "" if self._loaded is None else self._loaded.path.name

    def is_empty(self) -> bool:
        return self._loaded is None

    def set_loaded(self, loaded: LoadedImage | None) -> None:
        self._loaded = loaded
        self.clear_message()
        if loaded is None:
            self.thumb.set_thumb(None)
            self.name_label.set_full_text(self._hint)
            self.info_label.setText("Drop a file, or click to choose")
            self.setToolTip(f"Drop {self._hint.lower()} here, or click to choose a file")
        else:
            self.thumb.set_thumb(thumbnail(loaded.image))
            self.name_label.set_full_text(loaded.path.name)
            self.info_label.setText(f"{loaded.image.width} × {loaded.image.height} · {loaded.source_format}")
            self.setToolTip(plain_tooltip(f"{loaded.path}\nDrop another file or click to replace it"))
        self._update_look()
        self.imageChanged.emit(loaded)

    def load_path(self, path: str | Path) -> bool:
        """Load ``path`` into the slot; on failure show why and keep what was there."""
        try:
            loaded = load_image(path)
        except ImageLoadError as exc:
            self.show_message(str(exc))
            self.loadFailed.emit(str(exc))
            return False
        self.set_loaded(loaded)
        return True

    def show_message(self, text: str) -> None:
        log.warning("%s", text)
        self.message.setText(text)
        self.message.show()
        window = self.window()
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(text, 10_000)

    def clear_message(self) -> None:
        self.message.clear()
        self.message.hide()

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Choose {self._hint.lower()}", "", IMAGE_FILE_FILTER)
        if path:
            self.load_path(path)

    def _on_remove(self) -> None:
        if self._removable:
            self.removeRequested.emit()

    # ----- looks ----------------------------------------------------------------------------
    def _update_look(self) -> None:
        # Palette roles, not colour values: the slot follows a theme switch (see studio.ui.theme).
        border = "palette(highlight)" if self._hover else QColor(128, 128, 140, 90).name(QColor.NameFormat.HexArgb)
        style = "dashed" if self._loaded is None and not self._hover else "solid"
        self.setStyleSheet(
            "QFrame#imageSlot { background: palette(alternate-base);"
            f" border: 1.5px {style} {border}; border-radius: 10px; }}"
        )

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max(hint.width(), 240), hint.height())

    # ----- mouse and drops ------------------------------------------------------------------
    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.choose_file()
        super().mouseReleaseEvent(event)

    def dragEnterEvent(self, event) -> None:
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
            self._hover = True
            self._update_look()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self._hover = False
        self._update_look()
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:
        self._hover = False
        self._update_look()
        paths = dropped_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.load_path(paths[0])
        self.handle_extra_drops(paths[1:])

    def handle_extra_drops(self, paths: list[Path]) -> None:
        if paths:
            self.extraDropped.emit(paths)


class StyleSlot(ImageSlot):
    """A style image with its weight: how much of this painting goes into the mix."""

    weightChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("style", "A painting", parent=parent)
        self.weight_slider = make_slider(0.0, 1.0, value=1.0)
        self.weight_slider.setToolTip("How strongly this painting counts against the other styles")
        weight_row = QHBoxLayout()
        weight_row.setSpacing(6)
        caption = QLabel("Weight")
        caption.setEnabled(False)
        weight_row.addWidget(caption)
        weight_row.addWidget(self.weight_slider, 1)
        self.details.insertLayout(2, weight_row)
        self.weight_slider.valueChanged.connect(self.weightChanged)

    def weight(self) -> float:
        return float(self.weight_slider.value())

    def set_weight(self, weight: float) -> None:
        self.weight_slider.setValue(float(weight))
