"""The safe image loader and the PNG exporter (RELIABILITY.md items 7-14, 23, 24).

Every bad file is built inside its test with Pillow, struct or plain bytes.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import struct
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import GifImagePlugin, Image, ImageFile, PngImagePlugin, WebPImagePlugin

from studio.files import images as imageio
from studio.files.atomic import SaveError
from studio.files.images import (
    IMAGE_FILE_FILTER,
    IMAGE_SUFFIXES,
    ImageLoadError,
    array_to_pil,
    load_image,
    pil_to_array,
    read_png_settings,
    save_png,
)
from studio.spec.png import SETTINGS_KEY

REPO = Path(__file__).resolve().parents[2]


# --- helpers -----------------------------------------------------------------------------------


def quadrants(width: int = 16, height: int = 12) -> Image.Image:
    """Four solid colours: asymmetric under every flip and rotation, and JPEG-friendly."""
    a = np.zeros((height, width, 3), np.uint8)
    a[: height // 2, : width // 2] = (255, 0, 0)
    a[: height // 2, width // 2 :] = (0, 255, 0)
    a[height // 2 :, : width // 2] = (0, 0, 255)
    a[height // 2 :, width // 2 :] = (255, 255, 0)
    return Image.fromarray(a)


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img).astype(int)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims width x height (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    idat = zlib.compress(b"\x00" * (width + 1))  # one row; the rest would be "missing"
    chunks = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def encoded(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def assert_names_file(error: pytest.ExceptionInfo, path: Path, *fragments: str) -> None:
    message = str(error.value)
    assert path.name in message
    for fragment in fragments:
        assert fragment in message


# --- formats -----------------------------------------------------------------------------------

JPEG_OPTIONS = {"quality": 95, "subsampling": 0}  # full-resolution colour: small, even errors

ALLOWED = [
    # (Pillow format, suffix, save options, exact pixels?)
    ("PNG", ".png", {}, True),
    ("JPEG", ".jpg", JPEG_OPTIONS, False),
    # A phone's JPEG with a second frame appended; Pillow names it MPO.
    ("MPO", ".jpg", {**JPEG_OPTIONS, "save_all": True, "append_images": [quadrants(8, 8)]}, False),
    ("WEBP", ".webp", {"lossless": True}, True),
    ("BMP", ".bmp", {}, True),
    ("TIFF", ".tiff", {}, True),
    ("GIF", ".gif", {}, True),
]


@pytest.mark.parametrize(("fmt", "suffix", "options", "exact"), ALLOWED)
def test_allowed_formats_load_as_upright_rgb(tmp_path, fmt, suffix, options, exact):
    original = quadrants(32, 16)
    path = tmp_path / f"picture{suffix}"
    original.save(path, fmt, **options)

    loaded = load_image(path)

    assert loaded.source_format == fmt
    assert loaded.image.mode == "RGB" and loaded.image.size == original.size
    assert loaded.alpha is None and loaded.settings is None and loaded.path == path
    difference = np.abs(pixels(loaded.image) - pixels(original)).max()
    assert difference == 0 if exact else difference <= 8


def test_content_decides_the_format_not_the_extension(tmp_path):
    path = tmp_path / "actually-a-png.jpg"
    quadrants().save(path, "PNG")

    loaded = load_image(path)

    assert loaded.source_format == "PNG"
    assert np.array_equal(pixels(loaded.image), pixels(quadrants()))


def _psd_bytes() -> bytes:
    width, height = 4, 3
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)  # RGB, 8 bits
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, resources, layers: empty
    return header + sections + struct.pack(">H", 0) + bytes(3 * width * height)


def _fits_bytes() -> bytes:
    cards = ["SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 2", "NAXIS1  = 4", "NAXIS2  = 4", "END"]
    header = "".join(card.ljust(80) for card in cards).ljust(2880).encode("ascii")
    return header + bytes(16).ljust(2880, b"\x00")


FOREIGN = {
    # Formats Pillow itself can read, which the studio must still refuse.
    "ico": (".ico", lambda: encoded(quadrants(), "ICO")),
    "ppm": (".ppm", lambda: encoded(quadrants(), "PPM")),
    "pcx": (".pcx", lambda: encoded(quadrants(), "PCX")),
    "tga": (".tga", lambda: encoded(quadrants(), "TGA")),
    "sgi": (".sgi", lambda: encoded(quadrants(), "SGI")),
    "psd": (".psd", _psd_bytes),
    "eps": (".eps", lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n"),
    "fits": (".fits", _fits_bytes),
    # Renamed to an allowed extension: the content is what counts.
    "ico-renamed-png": (".png", lambda: encoded(quadrants(), "ICO")),
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_formats_outside_the_allowlist_are_refused(tmp_path, name):
    suffix, build = FOREIGN[name]
    path = tmp_path / f"foreign-{name}{suffix}"
    path.write_bytes(build())
    with Image.open(path):  # proves the refusal comes from the allowlist, not from Pillow
        pass

    with pytest.raises(ImageLoadError) as error:
        load_image(path)

    assert_names_file(error, path, "not a supported image")
    assert error.value.path == path


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (_psd_bytes, "Photoshop"),
        (lambda: b"%PDF-1.7\n", "PDF"),
        (lambda: b"\0\0\0\x18ftypheic" + bytes(16), "HEIC"),  # an iPhone photo
    ],
)
def test_common_foreign_files_are_named_in_the_message(tmp_path, build, kind):
    path = tmp_path / "drop.jpg"
    path.write_bytes(build())
    with pytest.raises(ImageLoadError) as error:
        load_image(path)
    assert_names_file(error, path, kind, "PNG, JPEG")


def test_text_renamed_jpg_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("shopping list: brushes, canvas\n")
    with pytest.raises(ImageLoadError) as error:
        load_image(path)
    assert_names_file(error, path, "not a supported image")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.touch()
    with pytest.raises(ImageLoadError) as error:
        load_image(path)
    assert_names_file(error, path, "empty file")


def test_missing_file(tmp_path):
    path = tmp_path / "gone.png"
    with pytest.raises(ImageLoadError) as error:
        load_image(path)
    assert_names_file(error, path, "not found")


def test_folder(tmp_path):
    path = tmp_path / "looks-like.png"
    path.mkdir()
    with pytest.raises(ImageLoadError) as error:
        load_image(path)
    assert_names_file(error, path, "folder")


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    quadrants().save(path)
    # Simulated: chmod does not stop root, and these tests may run as root.
    real_open = os.open

    def deny(name, *args, **kwargs):
        if Path(name) == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)  # the loader opens with os.open (non-blocking)
    with pytest.raises(ImageLoadError) as error:
        load_image(path)
    assert_names_file(error, path, "permission denied")


# --- truncation --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("keep", [0.5, 20 / 1000])
def test_truncated_file_gives_a_clear_error_without_global_flags(tmp_path, fmt, keep):
    data = encoded(Image.effect_noise((64, 64), 60).convert("RGB"), fmt)
    path = tmp_path / f"cut-short.{fmt.lower()}"
    path.write_bytes(data[: max(20, int(len(data) * keep))])

    with pytest.raises(ImageLoadError) as error:
        load_image(path)

    assert_names_file(error, path, "truncated or corrupt")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --- decompression bombs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "pillow_would"),
    [(120, "warn"), (200, "raise")],  # 14,400 pixels is 1.44x the limit; 40,000 is 4x
)
def test_decompression_bomb_is_an_error_in_both_ranges(tmp_path, monkeypatch, side, pillow_would):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    path = tmp_path / f"bomb-{pillow_would}.png"
    Image.new("L", (side, side)).save(path)
    filters_before = list(warnings.filters)

    with warnings.catch_warnings(record=True):  # keep Pillow's own warning out of the report
        warnings.simplefilter("always")
        with pytest.raises(ImageLoadError) as error:
            load_image(path)

    assert_names_file(error, path, "too large", "10,000")
    assert Image.MAX_IMAGE_PIXELS == 10_000
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert warnings.filters == filters_before


def test_decompression_bomb_when_warnings_are_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    path = tmp_path / "bomb.png"
    Image.new("L", (120, 120)).save(path)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as under python -W error: Pillow's warning is raised
        with pytest.raises(ImageLoadError) as error:
            load_image(path)

    assert_names_file(error, path, "too large")


def test_image_exactly_at_the_limit_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    path = tmp_path / "at-limit.png"
    Image.new("L", (100, 100), 200).save(path)
    assert load_image(path).image.getpixel((0, 0)) == (200, 200, 200)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [10_000, 30_000])  # 1.1x and 10x Pillow's default limit
def test_tiny_png_claiming_a_huge_size_is_refused_before_decoding(tmp_path, side):
    limit = Image.MAX_IMAGE_PIXELS
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming_size(side, side))
    assert path.stat().st_size < 200

    with pytest.raises(ImageLoadError) as error:
        load_image(path)

    assert_names_file(error, path, "too large")
    assert Image.MAX_IMAGE_PIXELS == limit


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_limit_still_applies_if_someone_disabled_it(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming_size(10_000, 10_000))
    with pytest.raises(ImageLoadError) as error:
        load_image(path)
    assert_names_file(error, path, "too large")
    assert Image.MAX_IMAGE_PIXELS is None


# --- EXIF orientation --------------------------------------------------------------------------

# What each EXIF orientation asks of the stored pixels to show them upright, from the EXIF
# definition (where the stored row 0 and column 0 belong), written with numpy only.
UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # row 0 top, column 0 right: mirror
    3: lambda a: a[::-1, ::-1],  # row 0 bottom, column 0 right: half turn
    4: lambda a: a[::-1],  # row 0 bottom, column 0 left: flip
    5: lambda a: a.transpose(1, 0, 2),  # row 0 left, column 0 top
    6: lambda a: np.rot90(a, -1),  # row 0 right, column 0 top: quarter turn clockwise
    7: lambda a: np.rot90(a, -1)[::-1],  # row 0 right, column 0 bottom
    8: lambda a: np.rot90(a, 1),  # row 0 left, column 0 bottom: quarter turn anticlockwise
}


def with_orientation(img: Image.Image, orientation: int) -> Image.Exif:
    exif = img.getexif()
    exif[0x0112] = orientation
    return exif


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    stored = quadrants(5, 3)
    path = tmp_path / f"oriented-{orientation}.png"
    stored.save(path, exif=with_orientation(stored, orientation))

    loaded = load_image(path)

    assert np.array_equal(pixels(loaded.image), UPRIGHT[orientation](pixels(stored)))


def test_exif_orientation_of_a_phone_jpeg(tmp_path):
    stored = quadrants(32, 16)
    path = tmp_path / "phone.jpg"
    stored.save(path, **JPEG_OPTIONS, exif=with_orientation(stored, 6))

    loaded = load_image(path)

    assert loaded.image.size == (16, 32)
    assert np.abs(pixels(loaded.image) - UPRIGHT[6](pixels(stored))).max() <= 8


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize(
    "exif",
    [b"Exif\x00\x00 written by a broken app", with_orientation(quadrants(), 9).tobytes()],
    ids=["garbage", "orientation-9"],
)
def test_broken_exif_does_not_stop_a_photo_from_opening(tmp_path, exif):
    path = tmp_path / "odd-camera.jpg"
    quadrants(32, 16).save(path, **JPEG_OPTIONS, exif=exif)

    loaded = load_image(path)

    assert loaded.image.size == (32, 16)
    assert np.abs(pixels(loaded.image) - pixels(quadrants(32, 16))).max() <= 8


# --- modes -------------------------------------------------------------------------------------


def test_cmyk(tmp_path):
    path = tmp_path / "print.tiff"
    cmyk = Image.new("CMYK", (2, 1), (0, 0, 0, 0))  # paper white
    cmyk.putpixel((1, 0), (255, 0, 0, 0))  # full cyan ink
    cmyk.save(path)

    loaded = load_image(path)

    assert loaded.alpha is None
    assert pixels(loaded.image).tolist() == [[[255, 255, 255], [0, 255, 255]]]


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency(tmp_path, fmt):
    image = Image.new("P", (2, 1), 0)
    image.putpalette([200, 10, 20, 0, 0, 0] + [0] * 762)
    image.putpixel((1, 0), 1)
    path = tmp_path / f"sticker.{fmt.lower()}"
    image.save(path, fmt, transparency=1)

    loaded = load_image(path)

    assert pixels(loaded.image).tolist() == [[[200, 10, 20], [255, 255, 255]]]  # on white
    assert loaded.alpha is not None and loaded.alpha.mode == "L"
    assert pixels(loaded.alpha).tolist() == [[255, 0]]


def test_grey_with_alpha(tmp_path):
    path = tmp_path / "ink.png"
    la = Image.new("LA", (3, 1))
    for x, value in enumerate([(0, 255), (0, 0), (0, 128)]):
        la.putpixel((x, 0), value)
    la.save(path)

    loaded = load_image(path)

    rgb = pixels(loaded.image)[0]
    assert rgb[0].tolist() == [0, 0, 0] and rgb[1].tolist() == [255, 255, 255]
    assert all(abs(v - 127) <= 1 for v in rgb[2])  # half-transparent black on white
    assert pixels(loaded.alpha).tolist() == [[255, 0, 128]]


def test_rgb_with_a_transparent_colour_key(tmp_path):
    path = tmp_path / "keyed.png"
    image = Image.new("RGB", (2, 1), (10, 20, 30))
    image.putpixel((1, 0), (1, 2, 3))
    image.save(path, transparency=(1, 2, 3))

    loaded = load_image(path)

    assert pixels(loaded.image).tolist() == [[[10, 20, 30], [255, 255, 255]]]
    assert pixels(loaded.alpha).tolist() == [[255, 0]]


def test_opaque_alpha_channel_gives_no_mask(tmp_path):
    path = tmp_path / "opaque.png"
    Image.new("RGBA", (2, 2), (9, 8, 7, 255)).save(path)
    loaded = load_image(path)
    assert loaded.alpha is None
    assert loaded.image.getpixel((0, 0)) == (9, 8, 7)


@pytest.mark.parametrize(("mode", "fmt"), [("I;16", "PNG"), ("I;16", "TIFF"), ("I;16B", "TIFF")])
def test_sixteen_bit_grey_is_scaled(tmp_path, mode, fmt):
    values = [0, 257 * 100, 32768, 65535]
    image = Image.new(mode, (4, 1))
    for x, value in enumerate(values):
        image.putpixel((x, 0), value)
    path = tmp_path / f"scan.{fmt.lower()}"
    image.save(path, fmt)

    loaded = load_image(path)

    assert pixels(loaded.image)[0, :, 0].tolist() == [0, 100, 128, 255]
    assert np.ptp(pixels(loaded.image), axis=2).max() == 0  # grey stays grey


@pytest.mark.parametrize(
    ("mode", "values", "expected"),
    [
        ("I", [-5, 0, 100, 255, 70000], [0, 0, 100, 255, 255]),
        ("F", [-1.0, 0.4, 99.6, 255.0, 1e9], [0, 0, 100, 255, 255]),
    ],
)
def test_integer_and_float_grey_are_clipped(tmp_path, mode, values, expected):
    image = Image.new(mode, (len(values), 1))
    for x, value in enumerate(values):
        image.putpixel((x, 0), value)
    path = tmp_path / "data.tiff"
    image.save(path)

    loaded = load_image(path)

    assert pixels(loaded.image)[0, :, 0].tolist() == expected


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF"])
def test_one_bit_is_black_and_white(tmp_path, fmt):
    image = Image.new("1", (2, 1), 0)
    image.putpixel((1, 0), 1)
    path = tmp_path / f"lineart.{fmt.lower()}"
    image.save(path, fmt)

    loaded = load_image(path)

    assert pixels(loaded.image).tolist() == [[[0, 0, 0], [255, 255, 255]]]
    assert loaded.alpha is None


# --- animations --------------------------------------------------------------------------------


@pytest.fixture
def frame_walks_forbidden(monkeypatch):
    """Counting frames or seeking past the first walks the file: the loader must do neither."""

    def forbidden(*_args):
        raise AssertionError("the loader walked the animation's frames")

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "n_frames", property(forbidden))
    monkeypatch.setattr(GifImagePlugin.GifImageFile, "is_animated", property(forbidden))
    for plugin in (
        GifImagePlugin.GifImageFile,
        PngImagePlugin.PngImageFile,
        WebPImagePlugin.WebPImageFile,
    ):

        def first_frame_only(self, frame, real_seek=plugin.seek):
            return forbidden() if frame else real_seek(self, 0)

        monkeypatch.setattr(plugin, "seek", first_frame_only)


def animation_frames(count: int) -> list[Image.Image]:
    # Each frame differs from the one before, so no encoder merges them away.
    return [quadrants(8, 8)] + [Image.new("RGB", (8, 8), (i % 200, 50, 100)) for i in range(1, count)]


@pytest.mark.parametrize(
    ("fmt", "suffix", "count", "options"),
    [
        ("GIF", ".gif", 2000, {}),
        ("PNG", ".png", 300, {}),  # APNG
        ("WEBP", ".webp", 300, {"lossless": True}),
    ],
)
def test_animation_gives_its_first_frame(tmp_path, frame_walks_forbidden, fmt, suffix, count, options):
    frames = animation_frames(count)
    path = tmp_path / f"animation{suffix}"
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=20, **options)

    loaded = load_image(path)

    assert loaded.source_format == fmt
    assert np.array_equal(pixels(loaded.image), pixels(frames[0]))


# --- a training folder -------------------------------------------------------------------------


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors via /proc")
def test_folder_scan_reports_bad_files_and_keeps_none_open(tmp_path):
    folder = tmp_path / "training"
    folder.mkdir()
    for i in range(40):
        quadrants().save(folder / f"good-{i:02}.png")
    (folder / "empty.jpg").touch()
    (folder / "text.jpg").write_text("not a picture")
    (folder / "cut.png").write_bytes(encoded(Image.effect_noise((64, 64), 60), "PNG")[:300])
    (folder / "bomb.png").write_bytes(png_claiming_size(30_000, 30_000))
    before = open_descriptors()

    loaded, report = [], {}
    for path in sorted(folder.iterdir()):
        try:
            loaded.append(load_image(path))
        except ImageLoadError as error:  # what a training folder scan reports, per file
            report[error.path.name] = error.reason

    assert len(loaded) == 40
    assert sorted(report) == ["bomb.png", "cut.png", "empty.jpg", "text.jpg"]
    assert "too large" in report["bomb.png"]
    assert report["cut.png"] == "truncated or corrupt file"
    assert report["empty.jpg"] == "empty file"
    assert report["text.jpg"].startswith("not a supported image")
    assert open_descriptors() == before


# --- settings in PNG exports -------------------------------------------------------------------

SETTINGS = {
    "model": "portraits-vae",
    "latent": [0.25, -1.5, 3.0e-7],
    "style": {"weights": {"Hokusai — 神奈川沖浪裏": 0.7, "Ørsted": 0.3}, "steps": 300},
    "bookmark": "café ☕ 🎨",
    "flags": [True, None, False],
}


def test_settings_round_trip(tmp_path):
    path = tmp_path / "export.png"
    returned = save_png(path, quadrants(), SETTINGS)

    assert returned == path
    assert read_png_settings(path) == SETTINGS
    loaded = load_image(path)
    assert loaded.settings == SETTINGS
    assert np.array_equal(pixels(loaded.image), pixels(quadrants()))


def test_settings_absent(tmp_path):
    png, jpeg = tmp_path / "plain.png", tmp_path / "photo.jpg"
    save_png(png, quadrants())
    quadrants().save(jpeg)
    assert read_png_settings(png) is None
    assert read_png_settings(jpeg) is None


def test_settings_from_a_file_that_is_not_an_image(tmp_path):
    path = tmp_path / "export.png"
    path.write_text("{}")
    with pytest.raises(ImageLoadError) as error:
        read_png_settings(path)
    assert_names_file(error, path)


@pytest.mark.parametrize("text", ["{not json", "[1, 2, 3]"])
def test_unusable_settings_chunk_is_ignored_and_logged(tmp_path, caplog, text):
    path = tmp_path / "edited.png"
    info = PngImagePlugin.PngInfo()
    info.add_text(SETTINGS_KEY, text)
    quadrants().save(path, pnginfo=info)

    with caplog.at_level(logging.WARNING, logger="studio.files.images"):
        assert read_png_settings(path) is None

    assert path.name in caplog.text


def test_unserialisable_settings_leave_no_file(tmp_path):
    with pytest.raises(TypeError):
        save_png(tmp_path / "export.png", quadrants(), {"bad": object()})
    assert list(tmp_path.iterdir()) == []


# --- export of odd inputs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected_rgb"),
    [
        (Image.new("CMYK", (2, 2), (0, 0, 0, 0)), (255, 255, 255)),
        (Image.new("I;16", (2, 2), 65535), (255, 255, 255)),
        (Image.new("I;16B", (2, 2), 257 * 10), (10, 10, 10)),
        (Image.new("I", (2, 2), 70), (70, 70, 70)),
        (Image.new("F", (2, 2), 12.4), (12, 12, 12)),
        (Image.new("1", (2, 2), 1), (255, 255, 255)),
        (Image.new("L", (2, 2), 33), (33, 33, 33)),
        (Image.new("YCbCr", (2, 2), (255, 128, 128)), (255, 255, 255)),
        (Image.new("HSV", (2, 2), (0, 0, 255)), (255, 255, 255)),
        (Image.new("LAB", (2, 2), (0, 128, 128)), (0, 0, 0)),
        (Image.new("RGBX", (2, 2), (1, 2, 3, 0)), (1, 2, 3)),
    ],
    ids=lambda value: value.mode if isinstance(value, Image.Image) else None,
)
def test_export_never_fails_for_odd_modes(tmp_path, image, expected_rgb):
    path = tmp_path / "export.png"
    save_png(path, image, {"mode": image.mode})

    loaded = load_image(path)

    assert loaded.settings == {"mode": image.mode}
    assert loaded.alpha is None
    assert np.abs(pixels(loaded.image) - np.array(expected_rgb)).max() <= 1


@pytest.mark.parametrize("mode", ["RGBA", "RGBa", "LA", "La", "PA"])
def test_export_keeps_transparency(tmp_path, mode):
    # An opaque black pixel, then a transparent one, in each mode's own byte layout.
    image = Image.frombytes(mode, (2, 1), bytes([0] * (len(mode) - 1) + [255] + [0] * len(mode)))
    if mode == "PA":
        image.putpalette([0, 0, 0] * 256)
    path = tmp_path / "cutout.png"

    save_png(path, image)

    assert pixels(load_image(path).alpha).tolist() == [[255, 0]]


def test_export_of_an_array_and_a_tensor(tmp_path):
    torch = pytest.importorskip("torch")
    grey = np.full((3, 4), 0.5, dtype=np.float32)
    save_png(tmp_path / "array.png", grey)
    save_png(tmp_path / "tensor.png", torch.zeros(1, 3, 3, 4))

    assert load_image(tmp_path / "array.png").image.getpixel((0, 0)) == (128, 128, 128)
    assert load_image(tmp_path / "tensor.png").image.size == (4, 3)


# --- saving safely -----------------------------------------------------------------------------


class DiskFillsUp:
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, handle, room: int) -> None:
        self.handle, self.room = handle, room

    def write(self, data) -> int:
        if len(data) > self.room:
            self.handle.write(bytes(data)[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def leftovers(folder: Path, keep: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p != keep]


def test_disk_full_part_way_keeps_the_previous_export(tmp_path, monkeypatch):
    path = tmp_path / "export.png"
    save_png(path, quadrants(), {"version": 1})
    real_atomic_write = imageio.atomic_write

    def atomic_write_on_full_disk(target, write):
        return real_atomic_write(target, lambda handle: write(DiskFillsUp(handle, room=100)))

    monkeypatch.setattr(imageio, "atomic_write", atomic_write_on_full_disk)
    noise = Image.effect_noise((256, 256), 80).convert("RGB")  # far more than 100 bytes
    with pytest.raises(SaveError) as error:
        save_png(path, noise, {"version": 2})

    assert "disk full" in str(error.value) and path.name in str(error.value)
    assert read_png_settings(path) == {"version": 1}
    assert np.array_equal(pixels(load_image(path).image), pixels(quadrants()))
    assert leftovers(tmp_path, path) == []


def test_failing_rename_keeps_the_previous_export(tmp_path, monkeypatch):
    path = tmp_path / "export.png"
    save_png(path, quadrants(), {"version": 1})

    def refuse(*_args):
        raise OSError(errno.EACCES, "Access is denied")  # e.g. the file is open in a viewer

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SaveError) as error:
        save_png(path, Image.new("RGB", (4, 4)), {"version": 2})
    monkeypatch.undo()

    assert path.name in str(error.value)
    assert read_png_settings(path) == {"version": 1}
    assert leftovers(tmp_path, path) == []


def test_process_killed_during_a_save_keeps_the_previous_export(tmp_path):
    path = tmp_path / "export.png"
    save_png(path, quadrants(), {"version": 1})
    # The child stops for good once the new file's bytes are written but not yet renamed:
    # the worst moment for a kill. It says so on stdout, then the test kills it.
    child = textwrap.dedent(
        f"""
        import os, sys, time
        from PIL import Image
        from studio.files.images import save_png

        def stall(fd):
            print("written", flush=True)
            time.sleep(60)

        os.fsync = stall
        save_png({str(path)!r}, Image.effect_noise((512, 512), 80), {{"version": 2}})
        """
    )
    process = subprocess.Popen([sys.executable, "-c", child], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "written"
    finally:
        process.kill()
        process.wait()
        process.stdout.close()

    assert read_png_settings(path) == {"version": 1}
    assert np.array_equal(pixels(load_image(path).image), pixels(quadrants()))


# --- module-level promises ---------------------------------------------------------------------


def test_engine_module_imports_neither_qt_nor_torch():
    code = (
        "import sys, studio.files.images; "
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('PySide6', 'shiboken6', 'torch')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_old_pillow_is_refused():
    with pytest.raises(ImportError, match="12.2"):
        imageio._check_pillow_version("12.1.0")
    imageio._check_pillow_version("12.2.0")
    imageio._check_pillow_version(Image.__version__)


def test_file_dialog_filter_lists_every_suffix():
    first_filter = IMAGE_FILE_FILTER.split(";;")[0]
    assert first_filter.startswith("Images (") and first_filter.endswith(")")
    patterns = set(first_filter[len("Images (") : -1].split())
    assert patterns == {f"*{suffix}" for suffix in IMAGE_SUFFIXES}
    assert {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"} <= IMAGE_SUFFIXES


# --- array and tensor conversions (property tests) ---------------------------------------------

sides = st.integers(1, 24)
uint8_rgb = hnp.arrays(np.uint8, st.tuples(sides, sides, st.just(3)))
uint8_grey = hnp.arrays(np.uint8, st.tuples(sides, sides))
float_images = hnp.arrays(
    st.sampled_from([np.float16, np.float32, np.float64]),
    st.one_of(st.tuples(sides, sides), st.tuples(sides, sides, st.just(3))),
    elements=st.floats(-2, 3, width=16) | st.just(float("nan")),
)


@given(uint8_rgb)
def test_uint8_rgb_round_trip_is_exact(arr):
    back = pil_to_array(array_to_pil(arr))
    assert back.dtype == np.uint8 and back.shape == arr.shape
    assert np.array_equal(back, arr)


@given(uint8_grey, st.booleans())
def test_grey_arrays_become_equal_channels(arr, with_channel_axis):
    source = arr[:, :, None] if with_channel_axis else arr
    back = pil_to_array(array_to_pil(source))
    assert back.shape == (*arr.shape, 3)
    for channel in range(3):
        assert np.array_equal(back[:, :, channel], arr)


@given(float_images)
def test_float_arrays_are_clipped_and_scaled(arr):
    back = pil_to_array(array_to_pil(arr)).astype(float)
    expected = np.clip(np.nan_to_num(arr.astype(float), nan=0.0), 0, 1) * 255
    if arr.ndim == 2:
        expected = np.repeat(expected[:, :, None], 3, axis=2)
    assert np.abs(back - expected).max() <= 0.5 + 1e-6


@given(uint8_rgb)
def test_uint8_through_unit_floats_is_exact(arr):
    assert np.array_equal(pil_to_array(array_to_pil(arr / 255.0)), arr)


@settings(deadline=None)  # the first call pays for torch's lazy initialisation
@given(uint8_rgb, st.sampled_from(["float32", "float16", "bfloat16", "float64"]), st.booleans())
def test_tensors_match_arrays(arr, dtype, batched):
    torch = pytest.importorskip("torch")
    tensor = torch.from_numpy(arr / 255.0).permute(2, 0, 1).to(getattr(torch, dtype))
    if batched:
        tensor = tensor.unsqueeze(0)
    expected = pil_to_array(array_to_pil(tensor.float().squeeze(0).permute(1, 2, 0).numpy()))
    back = pil_to_array(array_to_pil(tensor))
    assert np.array_equal(back, expected)
    if dtype in ("float32", "float64"):
        assert np.array_equal(back, arr)


@settings(deadline=None)
@given(uint8_grey)
def test_single_channel_tensors_are_grey(arr):
    torch = pytest.importorskip("torch")
    back = pil_to_array(array_to_pil(torch.from_numpy(arr)[None].float() / 255))
    assert np.array_equal(back[:, :, 0], arr) and np.array_equal(back[:, :, 2], arr)


@given(
    hnp.arrays(
        np.uint8,
        st.one_of(
            st.tuples(sides),
            st.tuples(sides, sides, st.sampled_from([2, 4, 5])),
            st.tuples(sides, sides, st.just(3), st.just(1)),
            st.tuples(st.just(0), sides),
        ),
    )
)
def test_arrays_of_other_shapes_are_refused(arr):
    with pytest.raises(ValueError, match="shape"):
        array_to_pil(arr)


@given(st.sampled_from([np.int8, np.int16, np.uint16, np.int32, np.int64, np.bool_]), sides, sides)
def test_integer_arrays_other_than_uint8_are_refused(dtype, height, width):
    with pytest.raises(ValueError, match="uint8 or float"):
        array_to_pil(np.zeros((height, width, 3), dtype=dtype))


def test_tensors_of_other_shapes_are_refused():
    torch = pytest.importorskip("torch")
    for shape in [(4, 8, 8), (2, 3, 8, 8), (8, 8)]:
        with pytest.raises(ValueError, match="tensor"):
            array_to_pil(torch.zeros(shape))


def test_pil_to_array_flattens_transparency_onto_white():
    image = Image.new("RGBA", (2, 1), (0, 0, 0, 255))
    image.putpixel((1, 0), (0, 0, 0, 0))
    assert pil_to_array(image).tolist() == [[[0, 0, 0], [255, 255, 255]]]


def test_saved_files_get_ordinary_permissions_not_private_temp_ones(tmp_path):
    import os
    import stat

    from studio.files.images import save_png

    mask = os.umask(0o022)
    try:
        new = save_png(tmp_path / "shared.png", Image.new("RGB", (4, 4)))
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        new.chmod(0o600)
        save_png(new, Image.new("RGB", (4, 4)))
        assert stat.S_IMODE(new.stat().st_mode) == 0o600
    finally:
        os.umask(mask)
