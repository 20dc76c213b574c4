"""The image loader at its edges: special files (RELIABILITY.md item 34) and PNG text chunks too
large for Pillow's limits (item 8). Every bad input is built inside its test.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from typing import TYPE_CHECKING

import pytest
from PIL import Image, PngImagePlugin

from studio.engine.data.folder import scan_image_folder
from studio.files.images import ImageLoadError, load_image, save_png

if TYPE_CHECKING:
    from pathlib import Path

# A hang would be a regression: each special file is opened in a thread given this long.
PATIENCE_S = 20


def _load_in_thread(path: Path) -> BaseException | object:
    """load_image(path) in a daemon thread; what it raised or returned (a hang fails the test)."""
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(load_image(path))
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(PATIENCE_S)
    if thread.is_alive():
        # Unblock the reader (a writer end makes the FIFO's open return) before failing.
        if path.is_fifo():
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"load_image({path.name}) was still blocked after {PATIENCE_S} s")
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX feature")
def test_a_fifo_named_like_an_image_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    outcome = _load_in_thread(fifo)
    assert isinstance(outcome, ImageLoadError)
    assert str(outcome) == "Could not open photo.png: not a regular file (a pipe (FIFO)), so it cannot be an image"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused_without_reading_it(tmp_path):
    link = tmp_path / "endless.jpg"
    link.symlink_to("/dev/zero")  # an endless stream behind an image's name
    outcome = _load_in_thread(link)
    assert isinstance(outcome, ImageLoadError)
    assert "endless.jpg: not a regular file (a device)" in str(outcome)


def test_a_folder_named_like_an_image_is_refused(tmp_path):
    folder = tmp_path / "album.png"
    folder.mkdir()
    outcome = _load_in_thread(folder)
    assert isinstance(outcome, ImageLoadError) and "this is a folder, not an image" in str(outcome)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX feature")
def test_a_training_folder_with_a_fifo_skips_it_and_keeps_the_pictures(tmp_path):
    for i in range(2):
        Image.new("RGB", (8, 8), (i * 100, 0, 0)).save(tmp_path / f"ok{i}.png")
    os.mkfifo(tmp_path / "pipe.png")
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(scan_image_folder(tmp_path)), daemon=True)
    thread.start()
    thread.join(PATIENCE_S)
    if thread.is_alive():
        os.close(os.open(tmp_path / "pipe.png", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("scanning a folder with a FIFO blocked")
    scan = outcome[0]
    assert [p.name for p in scan.images] == ["ok0.png", "ok1.png"]
    assert [(s.path.name, s.reason) for s in scan.skipped] == [("pipe.png", "not a regular file")]


# --- text chunks over Pillow's limits ---------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _with_chunk_before_iend(png: bytes, chunk: bytes) -> bytes:
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + chunk + png[iend:]


def _with_chunk_after_ihdr(png: bytes, chunk: bytes) -> bytes:
    end_of_ihdr = 8 + 8 + 13 + 4
    return png[:end_of_ihdr] + chunk + png[end_of_ihdr:]


def _huge_ztxt() -> bytes:
    # Decompresses to more than Pillow's MAX_TEXT_CHUNK (a few kilobytes on disk).
    return _chunk(b"zTXt", b"comment\x00\x00" + zlib.compress(b"a" * (PngImagePlugin.MAX_TEXT_CHUNK + 100)))


def _huge_itxt() -> bytes:
    text = zlib.compress(b"b" * (PngImagePlugin.MAX_TEXT_CHUNK + 100))
    return _chunk(b"iTXt", b"comment\x00\x01\x00\x00\x00" + text)


@pytest.mark.parametrize("chunk", [_huge_ztxt, _huge_itxt], ids=["zTXt", "iTXt"])
@pytest.mark.parametrize("where", [_with_chunk_after_ihdr, _with_chunk_before_iend], ids=["before", "after"])
def test_an_oversized_text_chunk_is_skipped_and_the_picture_opens(tmp_path, caplog, chunk, where):
    path = tmp_path / "painting.png"
    save_png(path, Image.new("RGB", (6, 4), (10, 200, 30)), {"seed": 7})
    original = path.read_bytes()
    path.write_bytes(where(original, chunk()))
    limits = (PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY)

    loaded = load_image(path)

    assert loaded.image.size == (6, 4) and loaded.image.getpixel((3, 2)) == (10, 200, 30)
    assert loaded.settings is None  # the text, the studio's own included, is left unread
    assert "painting.png: its text metadata is too large to read safely; opened without it" in caplog.text
    assert (PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY) == limits  # never raised
    assert path.read_bytes() == where(original, chunk())  # the file is not touched


def test_oversized_text_and_damaged_pixels_say_both(tmp_path):
    path = tmp_path / "broken.png"
    Image.new("RGB", (6, 4)).save(path)
    png = _with_chunk_after_ihdr(path.read_bytes(), _huge_ztxt())
    idat = png.index(b"IDAT")
    png = png[: idat + 4] + b"\x00" * 8 + png[idat + 12 :]  # the pixel data wrecked
    path.write_bytes(png)
    with pytest.raises(ImageLoadError) as caught:
        load_image(path)
    assert str(caught.value) == (
        "Could not open broken.png: its text metadata is too large to read safely, and the pixels are damaged"
    )


def test_oversized_text_in_a_png_cut_short_is_named(tmp_path):
    path = tmp_path / "cut.png"
    Image.new("RGB", (6, 4)).save(path)
    png = _with_chunk_after_ihdr(path.read_bytes(), _huge_ztxt())
    path.write_bytes(png[: png.index(b"IDAT") - 4])  # ends right after the text chunk
    with pytest.raises(ImageLoadError) as caught:
        load_image(path)
    assert str(caught.value) == "Could not open cut.png: its text metadata is too large to read safely"


def test_a_normal_settings_chunk_still_reads(tmp_path):
    path = tmp_path / "normal.png"
    save_png(path, Image.new("RGB", (4, 4)), {"seed": 3})
    assert load_image(path).settings == {"seed": 3}
