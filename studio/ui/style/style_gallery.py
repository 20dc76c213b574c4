"""The built-in styles as a grid of small thumbnails: a click adds that style as a painting.

The entries (index, name, thumbnail file) come from the panel's controller, which asks the
worker for them; the thumbnails are small PNG files, read here on the GUI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QGridLayout, QToolButton, QWidget

if TYPE_CHECKING:
    from studio.ui.style.instant_work import GalleryEntry

ICON = 44
COLUMNS = 6


class StyleGallery(QWidget):
    chosen = Signal(int)  # a built-in style's index

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(4)
        self.buttons: list[QToolButton] = []
        self.hide()  # until there are styles to show

    def set_entries(self, entries: list[GalleryEntry]) -> None:
        for button in self.buttons:
            self._grid.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        for position, entry in enumerate(entries):
            button = QToolButton()
            button.setAutoRaise(True)
            button.setIconSize(QSize(ICON, ICON))
            pixmap = QPixmap(str(entry.thumbnail))
            if not pixmap.isNull():
                button.setIcon(QIcon(pixmap))
            else:
                button.setText(entry.name[:3])
            button.setToolTip(f"{entry.name}: click to add it as a painting")
            button.setAccessibleName(entry.name)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(lambda _checked=False, index=entry.index: self.chosen.emit(index))
            self._grid.addWidget(button, position // COLUMNS, position % COLUMNS)
            self.buttons.append(button)
        self.setVisible(bool(entries))
