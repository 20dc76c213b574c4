"""What the three panels share: a header, a large image view, and the image it shows."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from studio.engine.resources import resource_path
from studio.ui.image_view import ImageView
from studio.ui.qimage import to_qimage


@dataclass(frozen=True)
class PanelImage:
    """An image a panel shows, with the settings that made it (stored in exported PNGs)."""

    image: Image.Image
    settings: dict
    name: str = ""


class Panel(QWidget):
    title = ""
    subtitle = ""
    icon_name = ""
    empty_hint = ""

    imageChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._current: PanelImage | None = None
        self.setObjectName(type(self).__name__)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        heading = QLabel(self.title)
        font = QFont(heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        heading.setFont(font)
        blurb = QLabel(self.subtitle)
        blurb.setWordWrap(True)
        blurb.setEnabled(False)  # the palette's muted text colour
        self.view = ImageView(self.empty_hint)
        layout.addWidget(heading)
        layout.addWidget(blurb)
        layout.addWidget(self.view, 1)

    @classmethod
    def icon(cls) -> QIcon:
        return QIcon(str(resource_path("icons", f"{cls.icon_name}.svg")))

    def icon_size(self) -> QSize:
        return QSize(20, 20)

    def current(self) -> PanelImage | None:
        return self._current

    def accept_image(self, loaded) -> bool:
        """Let the panel take an opened or dropped image (a LoadedImage) its own way.

        True: the panel handled it (and pushed its own undo step, if any). False: the main
        window shows it plainly with :meth:`show_image`, undoably.
        """
        return False

    def show_image(self, item: PanelImage | None) -> None:
        self._current = item
        self.view.set_image(None if item is None else to_qimage(item.image))
        self.imageChanged.emit()
