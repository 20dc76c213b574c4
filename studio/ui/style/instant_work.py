"""What the Style Transfer panel's controller hands the worker for instant pictures.

An instant picture is one pass of the instant style network (:mod:`studio.engine.style.instant`):
a style vector per painting, blended by the weights, mixed with the photo's own vector by the
strength, then the transformer over the photo. The vectors are what is slow to make and what
rarely changes, so an :class:`InstantPainter` keeps them, keyed by each painting's identity:
dragging the strength or a weight runs only the blend and the transformer.

The painter belongs to one controller and is only ever touched on the worker thread (every
method here runs inside a render or a job), so it needs no lock. Torch and the engine are
imported inside the functions, on the worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from collections.abc import Generator, Hashable

    import torch
    from PySide6.QtGui import QImage

    from studio.engine.devices import DeviceInfo
    from studio.engine.jobs import Progress
    from studio.engine.style.instant import InstantStyle

PREVIEW_SIDE = 512  # long side of the live picture: interactive while dragging on a CPU
FULL_SIDE = 4096  # a saved instant picture: the photo's own size, up to this


@dataclass(frozen=True)
class StyleSource:
    """Where a painting's style image comes from: a dropped image, or a built-in style."""

    key: Hashable  # the painting's identity: same key, same style vector
    image: Image.Image | None = None
    builtin: int | None = None  # index into the built-in styles

    def style_image(self, device: DeviceInfo | str = "cpu") -> Image.Image:
        if self.image is not None:
            return self.image
        from studio.engine.style.builtin import builtin_style_image

        assert self.builtin is not None
        return builtin_style_image(self.builtin, device)


@dataclass(frozen=True)
class InstantRequest:
    """One instant picture to paint: the photo, the paintings with weights, the strength."""

    photo_key: Hashable
    photo: Image.Image
    sources: tuple[StyleSource, ...]
    weights: tuple[float, ...]
    strength: float  # 0..1: from the photo's own style to the paintings'
    long_side: int = PREVIEW_SIDE
    asked: float = field(default=0.0, compare=False)  # time.perf_counter() when the panel asked


@dataclass(frozen=True)
class InstantPicture:
    request: InstantRequest
    image: Image.Image
    qimage: QImage  # converted on the worker: showing it costs the GUI thread nothing
    seconds: float  # from the request reaching the worker to the picture being ready
    device: str  # where it was painted, in words
    vectors_made: int  # style vectors computed for this picture (0 when all were cached)


class InstantPainter:
    """Worker side: the instant networks and the style vectors already made."""

    def __init__(self) -> None:
        self._vectors: dict[Hashable, torch.Tensor] = {}
        self._photo: tuple[Hashable, int, Image.Image] | None = None  # key, long side, the photo at that size
        self._photo_vector: tuple[Hashable, torch.Tensor] | None = None  # the photo's own style
        self.vectors_made = 0  # every style vector ever computed here (tests count them)

    def paint(self, request: InstantRequest, device: DeviceInfo) -> InstantPicture:
        started = time.perf_counter()
        made_before = self.vectors_made
        vector = self._vector(request, device)
        net = self._net(device)
        photo = self._preview_photo(request)
        image = net.stylize(photo, vector, 1.0)
        return InstantPicture(
            request,
            image,
            to_qimage(image),
            time.perf_counter() - started,
            device.label,
            self.vectors_made - made_before,
        )

    def full_size_job(self, request: InstantRequest, device: DeviceInfo) -> Generator[Progress, None, InstantPicture]:
        """A job: the same picture at the photo's own size (up to FULL_SIDE px, tiled above 1024)."""
        from studio.engine.jobs import Progress

        started = time.perf_counter()
        yield Progress(None, "Preparing the styles…")
        vector = self._vector(request, device)
        net = self._net(device)
        photo = _at_most(request.photo, request.long_side)
        yield Progress(None, f"Painting {photo.width} × {photo.height} px…")
        image = net.stylize(photo, vector, 1.0)
        return InstantPicture(request, image, to_qimage(image), time.perf_counter() - started, device.label, 0)

    # ----- the pieces, each made once --------------------------------------------------------------
    @staticmethod
    def _net(device: DeviceInfo) -> InstantStyle:
        from studio.engine.style.instant import load_instant_networks

        return load_instant_networks(device)

    def _preview_photo(self, request: InstantRequest) -> Image.Image:
        if self._photo is None or self._photo[:2] != (request.photo_key, request.long_side):
            self._photo = (request.photo_key, request.long_side, _at_most(request.photo, request.long_side))
        return self._photo[2]

    def _own_vector(self, request: InstantRequest, device: DeviceInfo) -> torch.Tensor:
        """The photo's own style vector (what strength 0 paints with)."""
        if self._photo_vector is None or self._photo_vector[0] != request.photo_key:
            photo = _at_most(request.photo, PREVIEW_SIDE)
            self._photo_vector = (request.photo_key, self._net(device).style_vector(photo))
            self.vectors_made += 1
        return self._photo_vector[1]

    def _vector(self, request: InstantRequest, device: DeviceInfo) -> torch.Tensor:
        """The blended paintings' vector, mixed with the photo's own by the strength."""
        from studio.engine.style.instant import blend_style_vectors

        # Paintings no longer in the panel are forgotten (a vector is small, but images come and go).
        wanted = {source.key for source in request.sources}
        for key in [key for key in self._vectors if key not in wanted]:
            del self._vectors[key]
        net = self._net(device)
        for source in request.sources:
            if source.key not in self._vectors:
                self._vectors[source.key] = net.style_vector(source.style_image(device))
                self.vectors_made += 1
        vector = blend_style_vectors([self._vectors[s.key] for s in request.sources], request.weights)
        if request.strength < 1.0:
            own = self._own_vector(request, device)
            vector = request.strength * vector + (1.0 - request.strength) * own
        return vector


@dataclass(frozen=True)
class GalleryEntry:
    index: int
    name: str
    thumbnail: Path  # a small PNG: plain file, readable on the GUI thread


def gallery_entries() -> list[GalleryEntry]:
    """Worker side: the built-in styles, with their names and thumbnail files (none if absent)."""
    try:
        from studio.engine.style.builtin import BUILTIN_STYLES, thumbnail_path
    except ImportError:
        return []
    return [GalleryEntry(style.index, style.name, Path(thumbnail_path(style.index))) for style in BUILTIN_STYLES]


def _at_most(photo: Image.Image, long_side: int) -> Image.Image:
    """``photo`` shrunk to ``long_side`` px on its long side (never enlarged)."""
    from studio.engine.style.transfer import fit_size

    if max(photo.size) <= long_side:
        return photo
    return photo.resize(fit_size(photo.size, long_side), Image.Resampling.LANCZOS)
