"""A quiet line that confirms a save: "Saved NAME · Open folder".

Not a dialog: the artist keeps working; the link opens the folder the file went to in the
system's file manager.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QLabel, QWidget

from studio.ui.controls import plain_tooltip

OPEN_FOLDER = "Open folder"


class SavedNotice(QLabel):
    """Hidden until :meth:`show_saved`; then names what was saved, with an "Open folder" link."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setOpenExternalLinks(False)
        self.linkActivated.connect(self._open_folder)
        self.hide()

    def show_saved(self, name: str, folder: str | Path) -> None:
        """Say that ``name`` was saved in ``folder`` (a file's name, or "12 frames")."""
        self.folder = Path(folder)
        self.setText(f'Saved {escape(name)} · <a href="open-folder">{OPEN_FOLDER}</a>')
        self.setToolTip(plain_tooltip(str(self.folder)))
        self.show()

    def changeEvent(self, event: QEvent) -> None:
        # Qt colours a rich text's link when it reads the text, from the palette of that moment:
        # after a theme switch the link would keep the other theme's colour (a light purple on the
        # light window), so the text is read again in the new palette.
        if event.type() == QEvent.Type.PaletteChange and self.text():
            text = self.text()
            self.setText("")
            self.setText(text)
        super().changeEvent(event)

    @Slot(str)
    def _open_folder(self, _link: str = "") -> None:
        if self.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))
