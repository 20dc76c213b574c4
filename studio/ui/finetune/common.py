"""What the wizard's pages share: thumbnails and number formats."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QPixmap

from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from PIL import Image

THUMBNAIL = 96
FOLDER_THUMBNAILS = 48  # images shown from the folder: enough to recognise it
CUSTOM = "custom"


def format_count(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1e6:.1f} M"
    if count >= 1_000:
        return f"{count / 1e3:.0f} k"
    return str(count)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def thumbnail_pixmap(image: Image.Image, size: int = THUMBNAIL) -> QPixmap:
    image = image.copy()
    image.thumbnail((size, size))
    return QPixmap.fromImage(to_qimage(image))
