"""The bookmark strip: a model's bookmarks as thumbnails (see :mod:`.bookmark_store`)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QMenu, QWidget

from studio.ui.controls import plain_tooltip
from studio.ui.latent.bookmark_store import THUMBNAIL_SIZE, Bookmark


def bookmark_icon(bookmark: Bookmark) -> QIcon:
    image = QImage.fromData(bookmark.thumbnail_png, "PNG") if bookmark.thumbnail_png else QImage()
    if image.isNull():
        return QIcon()
    # Small model outputs stay crisp when the strip draws them larger.
    pixmap = QPixmap.fromImage(
        image.scaled(
            THUMBNAIL_SIZE, THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
        )
    )
    return QIcon(pixmap)


class BookmarkStrip(QListWidget):
    """A horizontal strip of thumbnails; a click restores, a double-click or F2 renames in place,
    the context menu renames or deletes."""

    restoreRequested = Signal(str)  # bookmark id
    renamed = Signal(str, str)  # bookmark id, the new name (stripped, never empty)
    deleteRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setIconSize(QSize(64, 64))
        self.setGridSize(QSize(84, 88))
        self.setSpacing(4)
        self.setUniformItemSizes(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setFixedHeight(100)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self._names: dict[str, str] = {}  # bookmark id -> the stored name, to tell renames apart
        self.itemClicked.connect(lambda item: self.restoreRequested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.itemChanged.connect(self._on_item_changed)
        self.setToolTip("Click a bookmark to return to it; double-click or F2 renames it; right-click for more.")

    def set_bookmarks(self, bookmarks: list[Bookmark]) -> None:
        self.blockSignals(True)  # filling the strip is not a rename
        try:
            self.clear()
            self._names = {b.id: b.name for b in bookmarks}
            for bookmark in bookmarks:
                item = QListWidgetItem(bookmark_icon(bookmark), bookmark.name)
                item.setData(Qt.ItemDataRole.UserRole, bookmark.id)
                item.setToolTip(plain_tooltip(bookmark.name))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                self.addItem(item)
        finally:
            self.blockSignals(False)

    def rename_inline(self, bookmark_id: str) -> None:
        """Start editing a bookmark's name in place (what F2 and double-click do)."""
        item = next(
            (self.item(i) for i in range(self.count()) if self.item(i).data(Qt.ItemDataRole.UserRole) == bookmark_id),
            None,
        )
        if item is not None:
            self.setCurrentItem(item)
            self.editItem(item)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        bookmark_id = item.data(Qt.ItemDataRole.UserRole)
        old = self._names.get(bookmark_id)
        name = item.text().strip()
        if old is None or name == old:
            return
        if not name:  # an emptied name puts the old one back
            self.blockSignals(True)
            item.setText(old)
            self.blockSignals(False)
            return
        self._names[bookmark_id] = name
        self.renamed.emit(bookmark_id, name)

    def bookmark_ids(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def _context_menu(self, pos) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        bookmark_id = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        restore = QAction("Go to bookmark", menu)
        rename = QAction("Rename", menu)
        delete = QAction("Delete", menu)
        restore.triggered.connect(lambda: self.restoreRequested.emit(bookmark_id))
        rename.triggered.connect(lambda: self.rename_inline(bookmark_id))
        delete.triggered.connect(lambda: self.deleteRequested.emit(bookmark_id))
        menu.addActions([restore, rename, delete])
        menu.exec(self.viewport().mapToGlobal(pos))
