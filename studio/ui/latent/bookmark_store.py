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

from studio.engine.latent.state import LatentState
from studio.files.atomic import atomic_write_bytes
from studio.files.paths import data_dir
from studio.files.user_json import read_user_json, set_aside
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
        found = read_user_json(self.path, expect=(dict, list))
        if found.missing:
            return
        problem = found.problem
        if problem is None:
            try:
                entries = found.value["bookmarks"] if isinstance(found.value, dict) else found.value
                if not isinstance(entries, list):
                    raise TypeError("the bookmarks are not a list")
                self.bookmarks = [Bookmark.from_json(entry) for entry in entries]
                return
            except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
                problem = f"cannot read {self.path}: {exc}"
        self.bookmarks = []
        aside = set_aside(self.path)
        kept = f"the file was kept as {aside.name}" if aside is not None else "the file was left as it is"
        self.load_error = f"Could not read your bookmarks ({problem}); {kept}."
        log.error("%s", self.load_error)

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
