"""Bookmarks: named points of a model's latent space, with a thumbnail, kept across restarts.

They live in ``data_dir()/bookmarks.json`` (the thumbnails as base64 PNGs inside it, so one
atomic write keeps names, states and pictures consistent). Every model's bookmarks share the
file; each records the model's sha256. A file that cannot be read is moved aside, never
overwritten, so a damaged file loses nothing that could still be rescued by hand.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QMenu, QWidget

from studio.engine.atomic import atomic_write_bytes
from studio.engine.latent.state import LatentState
from studio.engine.paths import data_dir
from studio.spec.png import LATENT_KEY

if TYPE_CHECKING:
    from pathlib import Path


log = logging.getLogger(__name__)

FILE_NAME = "bookmarks.json"
FORMAT_VERSION = 1
THUMBNAIL_SIZE = 96


@dataclass
class Bookmark:
    name: str
    settings: dict  # LatentState.to_settings()
    thumbnail_png: bytes = field(default=b"", repr=False)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)

    @property
    def model_sha256(self) -> str:
        latent = self.settings.get(LATENT_KEY)
        return str(latent.get("model_sha256", "")) if isinstance(latent, dict) else ""

    def state(self) -> LatentState:
        return LatentState.from_settings(self.settings)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "created": self.created,
            "state": self.settings,
            "thumbnail_png": base64.b64encode(self.thumbnail_png).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict) -> Bookmark:
        return cls(
            name=str(data["name"]),
            settings=dict(data["state"]),
            thumbnail_png=base64.b64decode(data.get("thumbnail_png", "") or b""),
            id=str(data.get("id") or uuid.uuid4().hex),
            created=float(data.get("created", 0.0)),
        )


def thumbnail_png(image: Image.Image, size: int = THUMBNAIL_SIZE) -> bytes:
    thumb = image.convert("RGB")
    if max(thumb.size) > size:
        thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


class BookmarkStore:
    """All bookmarks, in the order they were made; saved after every change."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / FILE_NAME
        self.bookmarks: list[Bookmark] = []
        self.load_error: str | None = None
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data["bookmarks"] if isinstance(data, dict) else data
            self.bookmarks = [Bookmark.from_json(entry) for entry in entries]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            aside = self.path.with_name(f"{self.path.stem}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}.json")
            try:
                self.path.replace(aside)
            except OSError:
                aside = self.path
            self.load_error = f"Could not read your bookmarks ({exc}); the file was kept as {aside.name}."
            log.error("%s", self.load_error)
            self.bookmarks = []

    def save(self) -> None:
        payload = {"version": FORMAT_VERSION, "bookmarks": [b.to_json() for b in self.bookmarks]}
        atomic_write_bytes(self.path, json.dumps(payload, indent=1).encode("utf-8"))

    def for_model(self, sha256: str) -> list[Bookmark]:
        return [b for b in self.bookmarks if b.model_sha256 == sha256]

    def get(self, bookmark_id: str) -> Bookmark | None:
        return next((b for b in self.bookmarks if b.id == bookmark_id), None)

    def add(self, bookmark: Bookmark) -> Bookmark:
        self.bookmarks.append(bookmark)
        try:
            self.save()
        except OSError:
            self.bookmarks.remove(bookmark)
            raise
        return bookmark

    def rename(self, bookmark_id: str, name: str) -> None:
        bookmark = self.get(bookmark_id)
        if bookmark is not None:
            old, bookmark.name = bookmark.name, name
            try:
                self.save()
            except OSError:
                bookmark.name = old
                raise

    def remove(self, bookmark_id: str) -> None:
        bookmark = self.get(bookmark_id)
        if bookmark is not None:
            index = self.bookmarks.index(bookmark)
            del self.bookmarks[index]
            try:
                self.save()
            except OSError:
                self.bookmarks.insert(index, bookmark)
                raise


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
    """A horizontal strip of thumbnails; a click restores, the context menu renames or deletes."""

    restoreRequested = Signal(str)  # bookmark id
    renameRequested = Signal(str)
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
        self.itemClicked.connect(lambda item: self.restoreRequested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.setToolTip("Click a bookmark to return to it; right-click to rename or delete it.")

    def set_bookmarks(self, bookmarks: list[Bookmark]) -> None:
        self.clear()
        for bookmark in bookmarks:
            item = QListWidgetItem(bookmark_icon(bookmark), bookmark.name)
            item.setData(Qt.ItemDataRole.UserRole, bookmark.id)
            item.setToolTip(bookmark.name)
            self.addItem(item)

    def bookmark_ids(self) -> list[str]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def _context_menu(self, pos) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        bookmark_id = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        restore = QAction("Go to bookmark", menu)
        rename = QAction("Rename…", menu)
        delete = QAction("Delete", menu)
        restore.triggered.connect(lambda: self.restoreRequested.emit(bookmark_id))
        rename.triggered.connect(lambda: self.renameRequested.emit(bookmark_id))
        delete.triggered.connect(lambda: self.deleteRequested.emit(bookmark_id))
        menu.addActions([restore, rename, delete])
        menu.exec(self.viewport().mapToGlobal(pos))
