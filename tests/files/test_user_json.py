"""The one reader for user-data JSON survives any content (RELIABILITY.md item 32)."""

import json
import os

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.files.images import load_image, read_png_settings
from studio.files.user_json import MAX_DEPTH, UserJsonError, parse_json, read_user_json, set_aside
from studio.spec.png import SETTINGS_KEY

HOSTILE = {
    "deep list": ("[" * 100_000, "nested more than"),
    "deep object": ('{"a":' * 100_000, "nested more than"),
    "deep but under the recursion limit": ('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), "nested more than"),
    "not UTF-8": (b"\xff\xfe{\x00}", "not UTF-8 text"),
    "NaN": ('{"z": [NaN]}', "NaN"),
    "Infinity": ('{"z": -Infinity}', "-Infinity"),
    "a float too large": ('{"z": 1e999}', "too large"),
    "an integer of 5000 digits": ('{"seed": ' + "9" * 5000 + "}", "cannot be read"),
    "a list at the top": ("[1, 2]", "a JSON list where a JSON object belongs"),
    "a string at the top": ('"text"', "text where a JSON object belongs"),
    "true at the top": ("true", "where a JSON object belongs"),
    "truncated": ('{"bookmarks": [', "not valid JSON"),
    "empty": ("", "not valid JSON"),
}


@pytest.mark.parametrize("content, reason", HOSTILE.values(), ids=HOSTILE.keys())
def test_any_content_gives_none_and_a_plain_reason_and_leaves_the_file(tmp_path, content, reason):
    path = tmp_path / "bookmarks.json"
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    path.write_bytes(data)
    found = read_user_json(path)
    assert found.value is None and not found.ok
    assert found.problem.startswith(f"cannot read {path}: ") and reason in found.problem
    assert "Traceback" not in found.problem and "Error" not in found.problem
    assert path.read_bytes() == data  # reading never changes the file
    with pytest.raises(UserJsonError, match=reason.split()[0]):
        parse_json(data)


def test_a_good_file_and_a_missing_one(tmp_path):
    path = tmp_path / "session.json"
    path.write_text(json.dumps({"states": [{"z": [0.5, 1]}]}))
    assert read_user_json(path).value == {"states": [{"z": [0.5, 1]}]}
    assert read_user_json(path, expect=(dict, list)).ok
    missing = read_user_json(tmp_path / "none.json")
    assert missing.missing and missing.problem is None and missing.value is None


def test_a_folder_a_fifo_and_a_huge_file_are_refused_without_reading_them(tmp_path):
    folder = tmp_path / "bookmarks.json"
    folder.mkdir()
    assert "it is a folder, not a file" in read_user_json(folder).problem
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # reading it would block forever
    assert "not a regular file" in read_user_json(fifo).problem
    huge = tmp_path / "huge.json"
    huge.write_text("[" + "0," * 600 + "0]")
    assert "more than 1,000" in read_user_json(huge, expect=list, max_bytes=1000).problem


def test_set_aside_renames_and_never_overwrites(tmp_path):
    path = tmp_path / "bookmarks.json"
    path.write_text("first")
    first = set_aside(path)
    path.write_text("second")
    second = set_aside(path)
    assert first != second and not path.exists()
    assert first.read_text() == "first" and second.read_text() == "second"
    assert first.name.startswith("bookmarks.unreadable-") and first.suffix == ".json"


@pytest.mark.parametrize("content", ["[" * 100_000, '{"latent": ' * 50_000, '{"a": NaN}', "[1]", "\udcff"])
def test_a_png_whose_settings_chunk_is_hostile_opens_as_a_plain_picture(tmp_path, content):
    path = tmp_path / "hostile.png"
    info = PngInfo()
    info.add_itxt(SETTINGS_KEY, content.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), zip=True)
    Image.new("RGB", (8, 6), (10, 20, 30)).save(path, pnginfo=info)
    loaded = load_image(path)
    assert loaded.settings is None and loaded.image.size == (8, 6)
    assert read_png_settings(path) is None
