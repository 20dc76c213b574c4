"""The 26 built-in styles, as style images an artist can pick from a gallery.

Each built-in style is one of the 26 styles of Magenta's multi-style network
(:mod:`studio.engine.style.multistyle`). The studio turns it into a *style image*: the network's
rendering of a bundled photo (a coffee cup, CC0) in that one style. That picture is then used
exactly like a painting the artist dropped: its instant style vector, blends, Refine's Gatys
target. The renderings are made on first use and cached as PNGs in the model library; a cached
file that fails its check (its pixels' hash, the photo's hash, the cache version) is rebuilt.

The names are the project's own (the network's styles came without names), chosen by looking at
the renderings. Small thumbnails for the gallery are committed under ``resources/builtin-styles``
(``python -m studio.engine.style.builtin --thumbnails`` writes them again).
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from studio.engine.checkpoints import ModelFileError
from studio.engine.style.instant import CACHE_FOLDER, cached_or_built, write_cache
from studio.engine.style.multistyle import NUM_STYLES, load_multistyle
from studio.files.images import load_image, save_png
from studio.files.paths import models_dir
from studio.files.resources import resource_path

if TYPE_CHECKING:
    from pathlib import Path

    import torch

    from studio.engine.devices import DeviceInfo

RESOURCE_FOLDER = "builtin-styles"
PHOTO_FILE = "coffee.jpg"  # scikit-image's coffee.png (CC0, Rachel Michetti), 512x341 JPEG
THUMBNAIL_SIZE = 96  # the thumbnails' long side
CACHE_VERSION = 1
_CACHE_KEY = "builtin_style"


@dataclass(frozen=True)
class BuiltinStyle:
    index: int  # the style's row in the multi-style network
    name: str  # a plain-word name an artist would recognise


BUILTIN_STYLES: tuple[BuiltinStyle, ...] = tuple(
    BuiltinStyle(i, name)
    for i, name in enumerate(
        (
            "Sunny pastel",
            "Yellow ink",
            "Charcoal sketch",
            "Bold strokes",
            "Red and gold",
            "Fiery brushwork",
            "Blue dots",
            "Primary colours",
            "Pink watercolour",
            "Mosaic",
            "Sepia oils",
            "Gold etching",
            "Lilac pastel",
            "Green and gold",
            "Frosted blue",
            "Stained glass",
            "Blue hatching",
            "Red blocks",
            "Wood grain",
            "Blue swirls",
            "Crimson",
            "Pop art",
            "Ink and red",
            "Dark oils",
            "Blue pencil",
            "Earthy texture",
        )
    )
)


def builtin_style(key: str | int) -> BuiltinStyle:
    """The built-in style named ``key`` (any case) or numbered ``key``; ValueError naming them all."""
    text = str(key).strip()
    if text.isdigit() and int(text) < len(BUILTIN_STYLES):
        return BUILTIN_STYLES[int(text)]
    for style in BUILTIN_STYLES:
        if style.name.casefold() == text.casefold():
            return style
    names = ", ".join(style.name for style in BUILTIN_STYLES)
    raise ValueError(f"no built-in style {str(key)!r}; the built-in styles are: {names} (or their numbers 0-25)")


def photo_path() -> Path:
    """The bundled photo every built-in style paints."""
    return resource_path(RESOURCE_FOLDER, PHOTO_FILE)


def thumbnail_path(index: int) -> Path:
    """The committed thumbnail of built-in style ``index`` (a PNG, 96 px on its long side)."""
    return resource_path(RESOURCE_FOLDER, "thumbnails", f"{index:02d}.png")


def cache_path(index: int) -> Path:
    folder = models_dir(create=False) / CACHE_FOLDER  # made by the save that writes the cache
    return folder / f"builtin-style-{index:02d}.png"


def _pixels_sha256(image: Image.Image) -> str:
    return hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()


def _record(index: int, image: Image.Image, photo_sha: str) -> dict:
    return {
        _CACHE_KEY: {
            "index": index,
            "version": CACHE_VERSION,
            "photo_sha256": photo_sha,
            "pixels_sha256": _pixels_sha256(image),
        }
    }


def render_builtin_style(index: int, device: DeviceInfo | torch.device | str = "cpu") -> Image.Image:
    """The multi-style network's rendering of the bundled photo in style ``index`` (not cached)."""
    one_hot = [0.0] * NUM_STYLES
    one_hot[index] = 1.0
    return load_multistyle(device).stylize(load_image(photo_path()).image, one_hot)


def builtin_style_image(index: int, device: DeviceInfo | torch.device | str = "cpu") -> Image.Image:
    """Built-in style ``index`` as a style image (about 512 px): cached after the first call."""
    if not 0 <= index < NUM_STYLES:
        raise ValueError(f"built-in style index must be 0 to {NUM_STYLES - 1}, got {index}")
    path = cache_path(index)
    photo_sha = hashlib.sha256(photo_path().read_bytes()).hexdigest()

    def from_cache(cached: Path) -> Image.Image:
        loaded = load_image(cached)  # ImageLoadError (a ValueError) for a damaged file
        expected = _record(index, loaded.image, photo_sha)
        if loaded.settings != expected:
            raise ModelFileError(f"{cached.name}: not the rendering this version of the studio makes")
        return loaded.image

    def build() -> Image.Image:
        image = render_builtin_style(index, device)
        write_cache(path, "built-in style", lambda: save_png(path, image, _record(index, image, photo_sha)))
        return image

    return cached_or_built(path, "built-in style", from_cache, build)


def write_thumbnails() -> list[Path]:
    """Render every built-in style's thumbnail into resources/ (run once; the PNGs are committed)."""
    written = []
    for style in BUILTIN_STYLES:
        image = render_builtin_style(style.index)
        image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
        path = thumbnail_path(style.index)
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG", optimize=True)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The built-in styles: list them, or write their thumbnails.")
    parser.add_argument("--thumbnails", action="store_true", help="write the committed thumbnails again")
    args = parser.parse_args(argv)
    if args.thumbnails:
        for path in write_thumbnails():
            print(path)
    else:
        for style in BUILTIN_STYLES:
            print(f"{style.index:2d}  {style.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
