"""Every icon the installers need, generated from the one source image (identity.ICON_SOURCE).

The source is the studio's own SVG window icon. Qt's SVG renderer draws it at each size (so
small sizes are drawn, not shrunk from a large bitmap); Pillow writes the Windows .ico and the
macOS .icns from those drawings.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import identity

if TYPE_CHECKING:
    from pathlib import Path

# freedesktop hicolor sizes, and the sizes inside the .ico (Windows shows 16..256).
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZE = 1024  # Pillow derives the .icns's smaller members from the largest image


def render_png(svg: Path, size: int, out: Path) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # a build machine has no display
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])  # QPainter needs a Gui application
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not an SVG image Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise OSError(f"could not write {out}")
    return out


def generate(out_dir: Path, source: Path = identity.ICON_SOURCE) -> dict[str, Path]:
    """hicolor PNGs (out_dir/hicolor/NxN/apps/APP_ID.png), the .ico, the .icns and the SVG itself."""
    from PIL import Image

    made: dict[str, Path] = {}
    for size in sorted({*HICOLOR_SIZES, *ICO_SIZES, ICNS_SIZE}):
        png = render_png(source, size, out_dir / "png" / f"{size}.png")
        if size in HICOLOR_SIZES:
            target = out_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{identity.APP_ID}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(png.read_bytes())
            made[f"hicolor-{size}"] = target
    scalable = out_dir / "hicolor" / "scalable" / "apps" / f"{identity.APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(source.read_bytes())
    made["hicolor-scalable"] = scalable

    images = {size: Image.open(out_dir / "png" / f"{size}.png").convert("RGBA") for size in ICO_SIZES}
    ico = out_dir / f"{identity.EXECUTABLE}.ico"
    # Each size drawn by Qt goes in as is (append_images), rather than Pillow shrinking one image.
    images[256].save(
        ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=[images[s] for s in ICO_SIZES if s != 256]
    )
    made["ico"] = ico

    icns = out_dir / f"{identity.EXECUTABLE}.icns"
    largest = Image.open(out_dir / "png" / f"{ICNS_SIZE}.png").convert("RGBA")
    largest.save(
        icns,
        format="ICNS",
        append_images=[Image.open(out_dir / "png" / f"{s}.png").convert("RGBA") for s in (16, 32, 64, 128, 256, 512)],
    )
    made["icns"] = icns
    return made
