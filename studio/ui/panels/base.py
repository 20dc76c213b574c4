"""What the three panels share: a header, a large image view, and the image it shows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QVBoxLayout, QWidget

from studio.files.images import save_png
from studio.files.resources import resource_path
from studio.services.settings import Settings
from studio.spec.export_size import export_image
from studio.ui.image_view import ImageView
from studio.ui.qimage import to_qimage
from studio.ui.saved_notice import SavedNotice

if TYPE_CHECKING:
    from PIL import Image

    from studio.files.images import LoadedImage
    from studio.spec.export_size import ExportSize

log = logging.getLogger(__name__)


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
    # The panel's own "Saved NAME · Open folder" line, if it has one (else the window's is used).
    saved: SavedNotice | None = None

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

    def accept_image(self, loaded: LoadedImage) -> bool:
        """Let the panel take an opened or dropped image its own way.

        True: the panel handled it (and pushed its own undo step, if any). False: the main
        window shows it plainly with :meth:`show_image`, undoably.
        """
        return False

    def show_image(self, item: PanelImage | None) -> None:
        self._current = item
        self.view.set_image(None if item is None else to_qimage(item.image))
        self.imageChanged.emit()

    # ----- saving the picture ---------------------------------------------------------------
    def export_size(self) -> ExportSize | None:
        """How large this panel's exports are; None: the picture as it is."""
        return None

    def export_png(self, path: str | Path) -> Path:
        """Write the panel's picture (at :meth:`export_size`) as a PNG that carries the settings that made it."""
        item = self.current()
        if item is None:
            raise ValueError("There is no picture in this panel to save yet.")
        size = self.export_size()
        image = item.image if size is None else export_image(item.image, size)
        return save_png(path, image, {"panel": self.title, **item.settings})

    def save_png_dialog(self, title: str = "Save PNG") -> Path | None:
        """Ask where to save, save, and remember the folder; None if cancelled or failed."""
        path = self.ask_png_path(title)
        if path is None:
            return None
        try:
            self.export_png(path)
        except (OSError, ValueError) as exc:  # SaveError is an OSError ("disk full", ...)
            self._show_error(str(exc))
            return None
        return path

    def show_saved(self, path: str | Path) -> None:
        """Confirm a save: "Saved NAME · Open folder", under the panel's picture when it has a
        line for it, else in the window's status bar."""
        path = Path(path)
        notice = self.saved if isinstance(self.saved, SavedNotice) else getattr(self.window(), "saved_notice", None)
        if isinstance(notice, SavedNotice):
            notice.show_saved(path.name, path.parent)

    def ask_png_path(self, title: str = "Save PNG") -> Path | None:
        """Where to save the panel's picture (remembering the folder); None if cancelled or nothing to save."""
        item = self.current()
        if item is None:
            self._show_error("There is no picture in this panel to save yet.")
            return None
        settings = Settings()
        folder = Path(settings.last_folder or Path.home())
        suggested = folder / f"{Path(item.name).stem or 'image'}.png"
        chosen, _ = QFileDialog.getSaveFileName(self, title, str(suggested), "PNG image (*.png)")
        if not chosen:
            return None
        path = Path(chosen if chosen.lower().endswith(".png") else chosen + ".png")
        settings.last_folder = str(path.parent)
        return path

    def _show_error(self, message: str) -> None:
        log.error("%s", message)
        window = self.window()
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(message, 10_000)
