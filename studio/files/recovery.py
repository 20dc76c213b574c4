"""A finished picture whose save failed is kept: written to the user data folder instead.

A stylisation can run for minutes; a read-only or full output folder found only at the end
must not throw the picture away. :func:`save_png_keeping_result` writes it where the user asked
or, failing that, to ``recovered/`` in the user data folder, and says where it went.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.files.atomic import SaveError, save_error
from studio.files.images import save_png
from studio.files.paths import data_dir

if TYPE_CHECKING:
    import os

    from PIL import Image

RECOVERED_FOLDER = "recovered"


def recovered_dir() -> Path:
    """Where finished results that could not be saved where asked are kept."""
    return data_dir() / RECOVERED_FOLDER


def recovery_path(output: str | os.PathLike[str]) -> Path:
    """A new file in :func:`recovered_dir` named after ``output`` and the time ("out-20260101-120000.png")."""
    name = Path(output)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = recovered_dir()
    candidate = folder / f"{name.stem}-{stamp}{name.suffix}"
    count = 2
    while candidate.exists():
        candidate = folder / f"{name.stem}-{stamp}-{count}{name.suffix}"
        count += 1
    return candidate


class ResultRecovered(SaveError):
    """The save failed but the picture was kept: the message names both files."""

    def __init__(self, failure: SaveError, recovered: Path) -> None:
        super().__init__(failure.errno, f"{failure}; the picture was saved to {recovered} instead")
        self.recovered = recovered


def save_png_keeping_result(
    output: str | os.PathLike[str], image: Image.Image, settings: dict[str, Any] | None = None
) -> Path:
    """:func:`~studio.files.images.save_png` to ``output``; when that fails, keep the picture.

    Raises :class:`ResultRecovered` (a :class:`SaveError`) when the picture went to the
    recovery folder instead, and a plain :class:`SaveError` naming both files when even that
    failed.
    """
    try:
        return save_png(output, image, settings)
    except SaveError as failure:
        try:
            spare = recovery_path(output)
            save_png(spare, image, settings)
        except OSError as second:  # SaveError, or the user data folder cannot be made
            why = second if isinstance(second, SaveError) else save_error(RECOVERED_FOLDER, second)
            raise SaveError(
                failure.errno, f"{failure}; keeping it in the user data folder failed too ({why})"
            ) from failure
        raise ResultRecovered(failure, spare) from failure
