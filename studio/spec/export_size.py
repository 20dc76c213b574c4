"""How large an exported picture is, and how it is enlarged: one helper for the window and the CLI.

The models draw small pictures (64 px); an export is enlarged by a whole factor (1x, 4x, 8x)
or to a pixel size on its long side, either *crisp* (nearest neighbour: every model pixel
becomes an exact block, for pixel art) or *smooth* (Lanczos resampling). The choice is written
as short text ("4x", "640px"; "crisp", "smooth"), which is what the preferences file keeps and
what ``--scale``/``--size``/``--resample`` parse into. Pillow is imported only when a picture is
resized, so the window can import this module at its top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PIL import Image

from studio.spec.bounds import EXPORT_SIDE

SCALES = (1, 4, 8)  # the factors offered by name
RESAMPLES = ("crisp", "smooth")
MIN_SIDE = int(EXPORT_SIDE.low)  # a pixel size below this is no picture anyone exports
MAX_SIDE = int(EXPORT_SIDE.high)  # the long side of any export: larger is a typo, or a memory error on the way
DEFAULT_TEXT = "4x"
DEFAULT_RESAMPLE = "smooth"

RESAMPLE_LABELS = {"crisp": "Crisp (pixel art)", "smooth": "Smooth"}
RESAMPLE_TIPS = {
    "crisp": "Every pixel becomes a sharp square block (nearest-neighbour resampling): for pixel art",
    "smooth": "Soft, clean edges without visible blocks (Lanczos resampling)",
}


class ExportSizeError(ValueError):
    """A size or resample text that means nothing; the message says what would."""


def check_resample(resample: str) -> None:
    """Raise :class:`ExportSizeError` unless ``resample`` is one of :data:`RESAMPLES`."""
    if resample not in RESAMPLES:
        raise ExportSizeError(f"resample must be {' or '.join(RESAMPLES)}, not {resample!r}")


@dataclass(frozen=True)
class ExportSize:
    """A factor (``scale``) or a long side in pixels (``pixels``), and the resampler."""

    scale: int = 1
    pixels: int | None = None  # when set, the long side in pixels; ``scale`` is then ignored
    resample: str = DEFAULT_RESAMPLE

    def __post_init__(self) -> None:
        check_resample(self.resample)
        if self.pixels is None and self.scale not in SCALES:
            raise ExportSizeError(f"the scale must be {', '.join(map(str, SCALES))}, not {self.scale!r}")
        if self.pixels is not None and not MIN_SIDE <= self.pixels <= MAX_SIDE:
            raise ExportSizeError(f"a pixel size must be {MIN_SIDE} to {MAX_SIDE}, not {self.pixels}")

    @classmethod
    def parse(cls, text: str, resample: str = DEFAULT_RESAMPLE) -> ExportSize:
        """``"4x"`` (or ``"4"``) is a factor, ``"640px"`` a long side; raises :class:`ExportSizeError`."""
        cleaned = str(text).strip().lower().replace(" ", "")
        try:
            if cleaned.endswith("px"):
                return cls(pixels=int(cleaned[:-2]), resample=resample)
            return cls(scale=int(cleaned.removesuffix("x")), resample=resample)
        except ValueError as exc:
            if isinstance(exc, ExportSizeError):
                raise
            raise ExportSizeError(
                f"{text!r} is no export size: give 1x, 4x or 8x, or a pixel size such as 512px"
            ) from None

    @classmethod
    def from_text(cls, text: str, resample: str) -> ExportSize:
        """Like :meth:`parse`, but the default for anything unreadable (a hand-edited preferences file)."""
        try:
            return cls.parse(text, resample)
        except ExportSizeError:
            return cls.parse(DEFAULT_TEXT, resample if resample in RESAMPLES else DEFAULT_RESAMPLE)

    @property
    def text(self) -> str:
        """The size as the preferences and ``--size``/``--scale`` write it: ``"4x"`` or ``"640px"``."""
        return f"{self.pixels}px" if self.pixels is not None else f"{self.scale}x"

    def target(self, width: int, height: int) -> tuple[int, int]:
        """The exported size of a ``width`` x ``height`` picture (aspect kept, at least 1 px a side)."""
        if self.pixels is None:
            return width * self.scale, height * self.scale
        long_side = max(width, height)
        return max(1, round(width * self.pixels / long_side)), max(1, round(height * self.pixels / long_side))

    def check(self, width: int, height: int) -> None:
        """Refuse an export larger than :data:`MAX_SIDE` (a big grid at 8x, say), naming the size."""
        out_w, out_h = self.target(width, height)
        if max(out_w, out_h) > MAX_SIDE:
            raise ExportSizeError(
                f"{self.text} makes a {width} x {height} picture {out_w} x {out_h} px; "
                f"exports are at most {MAX_SIDE} px a side: choose a smaller size"
            )

    def describe(self, width: int, height: int) -> str:
        """``"256 x 256 px, smooth"``: what the artist gets."""
        out_w, out_h = self.target(width, height)
        return f"{out_w} x {out_h} px, {self.resample}"


def resize(image: Image.Image, size: tuple[int, int], resample: str = DEFAULT_RESAMPLE) -> Image.Image:
    """``image`` at ``size`` (a new image; the same one when the size already matches)."""
    from PIL import Image

    width, height = size
    if image.size == (width, height):
        return image
    check_resample(resample)
    method = Image.Resampling.NEAREST if resample == "crisp" else Image.Resampling.LANCZOS
    source = image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGB")
    return source.resize((width, height), method)


def export_image(image: Image.Image, size: ExportSize) -> Image.Image:
    """``image`` as it is exported at ``size``; raises :class:`ExportSizeError` when too large."""
    size.check(*image.size)
    return resize(image, size.target(*image.size), size.resample)


def export_frames(frames: Sequence[Image.Image], size: ExportSize) -> list[Image.Image]:
    """Every frame of an animation at ``size`` (frames share one size, so they stay matched)."""
    return [export_image(frame, size) for frame in frames]
