"""Conversions between the engine's images (PIL, numpy) and Qt's QImage."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from studio.files.images import array_to_pil


def to_qimage(image) -> QImage:
    """A QImage that owns its pixels, from a PIL image, a numpy array or a tensor."""
    pil = image if isinstance(image, Image.Image) else array_to_pil(image)
    if pil.mode != "RGB":
        pil = pil.convert("RGB")
    pixels = np.ascontiguousarray(np.asarray(pil, dtype=np.uint8))
    height, width, _ = pixels.shape
    # copy(): the QImage must not point into the numpy buffer once this function returns.
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def to_pil(image: QImage) -> Image.Image:
    converted = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = converted.width(), converted.height()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.sizeInBytes())
    rows = buffer.reshape(height, converted.bytesPerLine())[:, : 3 * width]
    return Image.fromarray(rows.reshape(height, width, 3).copy(), "RGB")
