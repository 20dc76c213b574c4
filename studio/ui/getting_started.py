"""Help > Getting started: a short page, bundled and offline, with a few steps per panel.

The text is ``resources/help/getting-started.md``; the keyboard section is appended from the
window's real shortcuts (the same list as Help > Keyboard shortcuts), so it cannot drift from
what the keys do. Shown in a read-only QTextBrowser that follows no links.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from studio.files.resources import resource_path

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from studio.ui.shortcuts_dialog import ShortcutEntry

PAGE = ("help", "getting-started.md")


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def getting_started_markdown(shortcuts: list[ShortcutEntry]) -> str:
    """The bundled page, with a table of ``shortcuts`` at its end."""
    text = resource_path(*PAGE).read_text(encoding="utf-8").rstrip() + "\n\n"
    if shortcuts:
        rows = [f"| {_cell(e.description)} | {_cell(e.keys)} | {_cell(e.section)} |" for e in shortcuts]
        text += "| What | Keys | Where |\n|---|---|---|\n" + "\n".join(rows) + "\n"
    return text


class GettingStartedDialog(QDialog):
    def __init__(self, shortcuts: list[ShortcutEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Getting started")
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)  # nothing to follow: the page is all here
        self.text.setMarkdown(getting_started_markdown(shortcuts))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(640, 680)
