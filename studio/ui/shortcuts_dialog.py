"""Help > Keyboard shortcuts: the keys the window really has, read from its objects.

The list is built from the window's QActions that have a shortcut (menu items) and the panels'
QShortcuts (panel keys such as R and B, described by their ``whatsThis``), so it cannot drift
from what the keys do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMenu,
    QMenuBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class ShortcutEntry:
    section: str  # the menu an action is in, or the panel a key belongs to
    description: str
    keys: str  # native text, several sequences joined by ", "


def plain_text(text: str) -> str:
    """A menu text without its mnemonic marks ("&Open image…" -> "Open image…")."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def native_keys(sequences: Iterable[QKeySequence]) -> str:
    return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in sequences if not s.isEmpty())


def _menu_of(action: QAction) -> str:
    menus = [o for o in action.associatedObjects() if isinstance(o, QMenu)]
    return plain_text(menus[0].title()) if menus else "Window"


def shortcut_entries(window: QWidget, panels: Iterable[tuple[str, QWidget]]) -> list[ShortcutEntry]:
    """Every QAction of ``window`` with a shortcut, by menu, then every QShortcut of each
    ``(title, panel)``, by panel."""
    entries = [
        ShortcutEntry(_menu_of(action), plain_text(action.text()), native_keys(action.shortcuts()))
        for action in window.findChildren(QAction)
        if native_keys(action.shortcuts())
    ]
    menu_bar = window.findChild(QMenuBar)
    order = [plain_text(a.text()) for a in menu_bar.actions()] if menu_bar is not None else []
    entries.sort(key=lambda e: order.index(e.section) if e.section in order else len(order))  # stable
    for title, panel in panels:
        for shortcut in panel.findChildren(QShortcut):
            keys = native_keys(shortcut.keys())
            if keys:
                entries.append(ShortcutEntry(title, shortcut.whatsThis() or shortcut.objectName() or keys, keys))
    return entries


class ShortcutsDialog(QDialog):
    def __init__(self, entries: list[ShortcutEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.entries = entries
        layout = QVBoxLayout(self)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        sections: dict[str, QTreeWidgetItem] = {}
        for entry in entries:
            section = sections.get(entry.section)
            if section is None:
                section = QTreeWidgetItem([entry.section])
                font = section.font(0)
                font.setBold(True)
                section.setFont(0, font)
                sections[entry.section] = section
                self.tree.addTopLevelItem(section)
                section.setFirstColumnSpanned(True)
            section.addChild(QTreeWidgetItem([entry.description, entry.keys]))
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)
        self.tree.setColumnWidth(0, self.tree.columnWidth(0) + 24)
        layout.addWidget(self.tree, 1)
        note = QLabel(
            "Panel keys work while the panel has the keyboard: click the picture to give it back."
            " In the seed box, Enter applies the seed; in the bookmarks, double-click or F2 renames."
        )
        note.setWordWrap(True)
        note.setEnabled(False)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(460, 470)

    def listed(self) -> list[tuple[str, str, str]]:
        """(section, description, keys) as the dialog shows them."""
        rows = []
        for i in range(self.tree.topLevelItemCount()):
            section = self.tree.topLevelItem(i)
            for j in range(section.childCount()):
                child = section.child(j)
                rows.append((section.text(0), child.text(0), child.text(1)))
        return rows
