"""Animations out of frames: GIF, WebP and APNG files, or a folder of numbered PNG frames.

Every file is written atomically (:mod:`studio.files.atomic`), so an export that fails half
way (disk full) leaves the earlier file as it was. Frames must share one size; an animation of
different sizes would be cropped or padded by the viewer, never what the artist saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, features

from studio.files.atomic import atomic_write, ensure_folder
from studio.files.images import save_png

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

ANIMATION_SUFFIXES = (".gif", ".webp", ".png", ".apng")
_FORMATS = {".gif": "GIF", ".webp": "WEBP", ".png": "PNG", ".apng": "PNG"}


def _checked_frames(frames: Sequence[Image.Image]) -> list[Image.Image]:
    if not frames:
        raise ValueError("an animation needs at least one frame")
    size = frames[0].size
    for number, frame in enumerate(frames, 1):
        if frame.size != size:
            raise ValueError(
                f"frame {number} is {frame.size[0]} x {frame.size[1]}, the first is {size[0]} x {size[1]}: "
                "all frames need one size"
            )
    return [frame if frame.mode == "RGB" else frame.convert("RGB") for frame in frames]


def export_animation(
    frames: Sequence[Image.Image], path: str | os.PathLike[str], fps: float = 12, loop: bool = True
) -> Path:
    """Write ``frames`` as an animation whose format follows the suffix: .gif, .webp, .png or .apng.

    GIF frames get their own adaptive palette each (a fixed web palette bands gradients); GIF
    timing is in hundredths of a second, so its frame time is rounded to 10 ms. ``loop`` plays
    forever, otherwise once. Raises ValueError for an unknown suffix or bad frames, and
    :class:`~studio.files.atomic.SaveError` when writing fails (the old file stays).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(f"{target.name}: animations are saved as {', '.join(ANIMATION_SUFFIXES)}")
    if not fps > 0:
        raise ValueError(f"frames per second must be above 0, got {fps}")
    if suffix == ".webp" and not features.check_module("webp"):
        raise ValueError(f"{target.name}: this Pillow cannot write animated WebP; choose .gif or .png")
    rgb = _checked_frames(frames)
    duration = 1000.0 / fps
    options: dict[str, Any] = {"save_all": True}
    if suffix == ".gif":
        rgb = [frame.quantize(256, method=Image.Quantize.MEDIANCUT) for frame in rgb]
        # Browsers slow frames under 20 ms down to 100 ms, so 20 ms is the fastest that stays fast.
        options.update(duration=max(20, round(duration / 10) * 10))
        if loop:
            options["loop"] = 0  # without the loop extension a GIF plays once
    elif suffix == ".webp":
        options.update(duration=round(duration), loop=0 if loop else 1, quality=90, method=4)
    else:
        options.update(duration=duration, loop=0 if loop else 1)
    first, rest = rgb[0], rgb[1:]
    return atomic_write(
        target, lambda handle: first.save(handle, format=_FORMATS[suffix], append_images=rest, **options)
    )


def export_frames(
    frames: Sequence[Image.Image],
    folder: str | os.PathLike[str],
    stem: str = "frame",
    settings: Sequence[dict | None] | None = None,
) -> list[Path]:
    """Write each frame as ``folder/stem_0001.png``, ... (numbered from 1, at least four digits).

    ``settings``, one per frame, rides in each PNG (the latent state of that frame, say), so
    any frame opened later restores its point. Files of an earlier, longer export are left alone.
    """
    rgb = _checked_frames(frames)
    if settings is not None and len(settings) != len(rgb):
        raise ValueError(f"{len(rgb)} frames but {len(settings)} settings")
    if not stem or any(sep in stem for sep in ("/", "\\")) or stem in (".", ".."):
        raise ValueError(f"{stem!r} cannot start a file name")
    directory = ensure_folder(folder)
    digits = max(4, len(str(len(rgb))))
    return [
        save_png(
            directory / f"{stem}_{number:0{digits}d}.png", frame, None if settings is None else settings[number - 1]
        )
        for number, frame in enumerate(rgb, 1)
    ]
