"""The built-in styles: names, committed thumbnails, and the cached style images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.engine.style import builtin, multistyle
from studio.engine.style.multistyle import NUM_STYLES


@pytest.fixture(autouse=True)
def _fresh_networks():
    """The 26-style network is kept per process; forget it, so later tests load their own cache."""
    yield
    multistyle.forget_loaded()


def test_every_style_has_a_distinct_plain_name():
    assert [style.index for style in builtin.BUILTIN_STYLES] == list(range(NUM_STYLES))
    names = [style.name.casefold() for style in builtin.BUILTIN_STYLES]
    assert len(set(names)) == len(names) == NUM_STYLES
    assert all(name and not name[0].isdigit() for name in names)  # names, not numbers


def test_styles_are_found_by_name_in_any_case_or_by_number():
    assert builtin.builtin_style("mosaic") == builtin.builtin_style("MOSAIC") == builtin.builtin_style(9)
    assert builtin.builtin_style("25").index == 25
    with pytest.raises(ValueError, match="Blue swirls"):  # the message lists the names
        builtin.builtin_style("no such style")
    with pytest.raises(ValueError):
        builtin.builtin_style(26)


def test_every_thumbnail_is_committed_and_opens():
    folder = builtin.thumbnail_path(0).parent
    assert sorted(p.name for p in folder.glob("*.png")) == [f"{i:02d}.png" for i in range(NUM_STYLES)]
    sizes = set()
    for style in builtin.BUILTIN_STYLES:
        with Image.open(builtin.thumbnail_path(style.index)) as image:
            image.load()
            assert max(image.size) == builtin.THUMBNAIL_SIZE
            sizes.add(image.size)
    assert len(sizes) == 1  # all of the same photo
    assert builtin.photo_path().is_file()
    assert "CC0" in (builtin.photo_path().parent / "CREDITS.txt").read_text(encoding="utf-8")


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_a_style_image_is_cached_and_a_damaged_cache_is_rebuilt(monkeypatch):
    first = builtin.builtin_style_image(9)
    with Image.open(builtin.photo_path()) as photo:
        assert first.size == photo.size and max(first.size) >= 500
    path = builtin.cache_path(9)
    assert path.is_file()
    original = path.read_bytes()

    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered again although the cache is good")

    with monkeypatch.context() as patch:
        patch.setattr(builtin, "render_builtin_style", no_rendering)
        assert np.array_equal(_pixels(builtin.builtin_style_image(9)), _pixels(first))

    for damage in ("truncate", "flip", "other style"):
        data = bytearray(original)
        if damage == "truncate":
            path.write_bytes(bytes(data[: len(data) // 2]))
        elif damage == "flip":  # a pixel changed, the PNG still decodes: the recorded hash catches it
            cached = Image.open(path)
            cached.load()
            changed = cached.convert("RGB")
            changed.putpixel((10, 10), tuple(255 - v for v in changed.getpixel((10, 10))))
            changed.save(path, pnginfo=_same_text(cached))
        else:  # another style's good rendering under this one's name
            builtin.builtin_style_image(3)
            path.write_bytes(builtin.cache_path(3).read_bytes())
        rebuilt = builtin.builtin_style_image(9)
        assert np.array_equal(_pixels(rebuilt), _pixels(first)), damage
        assert path.read_bytes() == original, damage


def _same_text(image: Image.Image):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in image.text.items():
        info.add_itxt(key, value)
    return info


def test_different_styles_paint_differently():
    a, b = (_pixels(builtin.builtin_style_image(i)) for i in (0, 17))
    assert np.abs(a - b).mean() > 10
