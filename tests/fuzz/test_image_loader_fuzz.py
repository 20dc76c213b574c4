"""Random and damaged bytes into the safe image loader: an ImageLoadError naming the file, or an RGB image."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from studio.files.images import ImageLoadError, load_image, read_png_settings
from tests.fuzz.mutations import mutated
from tests.fuzz.profile import fuzz_examples

pytestmark = pytest.mark.fuzz


def _picture(mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, (9, 7))
    for x in range(9):
        for y in range(7):
            image.putpixel((x, y), (x * 20, y * 30, 90, 200)[: len(mode)] if mode != "L" else x * 20)
    return image


def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
        info.add_itxt("latent-studio", '{"latent": {"z": [1.0], "model_sha256": "x"}}')
        _picture("RGBA").save(buffer, "PNG", pnginfo=info)
    elif fmt == "GIF":
        frames = [_picture("RGB").convert("P"), _picture("RGB").rotate(90, expand=False).convert("P")]
        frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    elif fmt == "WEBP":
        _picture("RGBA").save(buffer, "WEBP", quality=50)
    else:
        _picture("RGB").save(buffer, fmt, quality=60) if fmt == "JPEG" else _picture("RGB").save(buffer, fmt)
    return buffer.getvalue()


VALID = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")}


def _check_load(tmp_path, data: bytes, name: str = "picture.png") -> None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        loaded = load_image(path)
    except ImageLoadError as exc:
        message = str(exc)
        assert message.startswith(f"Could not open {name}: ") and "\n" not in message, message
    else:
        assert loaded.image.mode == "RGB" and loaded.image.width > 0 and loaded.image.height > 0
        assert loaded.alpha is None or (loaded.alpha.mode == "L" and loaded.alpha.size == loaded.image.size)
        assert loaded.settings is None or isinstance(loaded.settings, dict)
    try:
        settings = read_png_settings(path)
    except ImageLoadError:
        pass
    else:
        assert settings is None or isinstance(settings, dict)
    assert path.read_bytes() == data  # the loader never writes to what it reads
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_the_valid_files_load(tmp_path):
    for fmt, data in VALID.items():
        assert load_image_bytes(tmp_path, data).source_format == fmt


def load_image_bytes(tmp_path, data: bytes):
    path = tmp_path / "valid"
    path.write_bytes(data)
    return load_image(path)


@fuzz_examples(150)
@given(data=st.sampled_from(sorted(VALID)).flatmap(lambda fmt: mutated(VALID[fmt])))
def test_damaged_images_give_a_clear_error_or_an_image(tmp_path_factory, data):
    _check_load(tmp_path_factory.mktemp("img"), data)


@fuzz_examples(60)
@given(
    data=st.binary(max_size=300)
    | st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP", b"BM"]).flatmap(
        lambda head: st.binary(max_size=200).map(lambda tail: head + tail)
    ),
    name=st.sampled_from(["picture.png", "photo.jpg", "x.webp", "noext", "a.gif"]),
)
def test_random_bytes_give_a_clear_error_or_an_image(tmp_path_factory, data, name):
    _check_load(tmp_path_factory.mktemp("img"), data, name)
