"""The emoji data set: parsing Unicode's list, rendering a handful of real emoji, the split, loading."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from studio.engine.data.dataset import DatasetError, load_image_dataset, sample_batches
from studio.engine.data.emoji import (
    DEFAULT_EMOJI_TEST,
    DEFAULT_FONT,
    EmojiSourceMissing,
    build_emoji_dataset,
    heldout_split,
    parse_emoji_test,
    read_emoji_test_version,
)
from studio.engine.jobs import run_to_end

needs_sources = pytest.mark.skipif(
    not (DEFAULT_FONT.is_file() and DEFAULT_EMOJI_TEST.is_file()),
    reason="needs fonts-noto-color-emoji and unicode-data (Debian packages)",
)

SMALL_EMOJI_TEST = """\
# emoji-test.txt
# Version: 15.0

# group: Smileys & Emotion

# subgroup: face-smiling
1F600                                                  ; fully-qualified     # 😀 E1.0 grinning face
263A FE0F                                              ; fully-qualified     # ☺️ E0.6 smiling face
263A                                                   ; unqualified         # ☺ E0.6 smiling face

# subgroup: face-affection
1F970                                                  ; fully-qualified     # 🥰 E11.0 smiling face with hearts

# group: People & Body

# subgroup: hand-fingers-open
1F44B                                                  ; fully-qualified     # 👋 E0.6 waving hand
1F44B 1F3FB                                            ; fully-qualified     # 👋🏻 E1.0 waving hand: light skin tone

# group: Component

# subgroup: skin-tone
1F3FB                                                  ; component           # 🏻 E1.0 light skin tone

# group: Flags

# subgroup: country-flag
1F1EB 1F1F7                                            ; fully-qualified     # 🇫🇷 E2.0 flag: France
1F3F3 FE0F 200D 26A7 FE0F                              ; fully-qualified     # 🏳️‍⚧️ E13.0 transgender flag
1F3F3 200D 26A7 FE0F                                   ; minimally-qualified # 🏳‍⚧️ E13.0 transgender flag
"""


@pytest.fixture
def small_list(tmp_path):
    path = tmp_path / "emoji-test.txt"
    path.write_text(SMALL_EMOJI_TEST, encoding="utf-8")
    return path


def build(out, **kwargs):
    return run_to_end(build_emoji_dataset(out, **kwargs))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One build of 20 real emoji, shared by the tests that only read it."""
    if not (DEFAULT_FONT.is_file() and DEFAULT_EMOJI_TEST.is_file()):
        pytest.skip("needs fonts-noto-color-emoji and unicode-data (Debian packages)")
    out = tmp_path_factory.mktemp("emoji")
    progress = []
    info = run_to_end(build_emoji_dataset(out, limit=20, seed=0), progress.append)
    return out, info, progress


# --- parsing ---------------------------------------------------------------------------------


def test_parse_keeps_fully_qualified_emoji_with_their_groups(small_list):
    entries = parse_emoji_test(small_list)
    assert [e.name for e in entries] == [
        "grinning face",
        "smiling face",
        "smiling face with hearts",
        "waving hand",
        "waving hand: light skin tone",
        "flag: France",
        "transgender flag",
    ]
    assert [e.group for e in entries] == ["Smileys & Emotion"] * 3 + ["People & Body"] * 2 + ["Flags"] * 2
    assert entries[2].subgroup == "face-affection"
    assert entries[1].char == "\u263a\ufe0f" and entries[1].codepoints == "263A FE0F"
    assert entries[6].char == "\U0001f3f3\ufe0f\u200d\u26a7\ufe0f"
    assert [e.has_skin_tone for e in entries] == [False] * 4 + [True] + [False] * 2
    assert read_emoji_test_version(small_list) == "15.0"


def test_parse_refuses_a_file_that_is_not_the_emoji_list(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("# group: Nothing\nhello ; world\n", encoding="utf-8")
    with pytest.raises(ValueError, match="notes.txt lists no fully-qualified emoji"):
        parse_emoji_test(other)


def test_a_missing_emoji_list_says_how_to_install_it(tmp_path):
    with pytest.raises(EmojiSourceMissing, match="apt-get install unicode-data") as caught:
        parse_emoji_test(tmp_path / "emoji-test.txt")
    assert "--emoji-test" in str(caught.value)


def test_a_missing_font_says_how_to_install_it_and_writes_nothing(tmp_path, small_list):
    out = tmp_path / "out"
    with pytest.raises(EmojiSourceMissing, match=r"apt-get install fonts-noto-color-emoji.*--font PATH"):
        build(out, font_path=tmp_path / "NoFont.ttf", emoji_test_path=small_list)
    assert not out.exists()


# --- the split -------------------------------------------------------------------------------


def test_the_split_is_stratified_and_fixed_by_its_seed():
    labels = np.repeat(np.arange(5), [100, 37, 250, 9, 1])
    split = heldout_split(labels, 5, 0.1, seed=0)
    assert split.dtype == np.uint8 and set(np.unique(split)) <= {0, 1}
    assert split.sum() == round(0.1 * len(labels))
    for c, n in enumerate([100, 37, 250, 9, 1]):
        held = split[labels == c].sum()
        assert held in (np.floor(0.1 * n), np.ceil(0.1 * n)) and held < n
    assert np.array_equal(split, heldout_split(labels, 5, 0.1, seed=0))
    assert not np.array_equal(split, heldout_split(labels, 5, 0.1, seed=1))
    assert heldout_split(labels, 5, 0.0, seed=0).sum() == 0


# --- building from the installed font --------------------------------------------------------


def test_build_renders_emoji_on_white_with_group_labels(built):
    out, info, progress = built
    with np.load(out / "emoji-64.npz", allow_pickle=False) as data:
        images, labels, split = data["images"], data["labels"], data["split"]
        names, codepoints = list(data["names"]), list(data["codepoints"])
    assert images.shape == (20, 64, 64, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and split.dtype == np.uint8
    assert info.count == 20 and info.npz_path == out / "emoji-64.npz"
    # White background in every corner, and something drawn in the middle.
    assert (images[:, [0, 0, -1, -1], [0, -1, 0, -1]] == 255).all()
    assert (images[:, 16:48, 16:48] < 200).any(axis=(1, 2, 3)).all()

    entries = {e.codepoints: e for e in parse_emoji_test(DEFAULT_EMOJI_TEST)}
    groups = list(dict.fromkeys(e.group for e in entries.values()))
    assert info.classes == groups and "Component" not in groups
    for label, name, cps in zip(labels, names, codepoints, strict=False):
        assert entries[cps].group == info.classes[label] and entries[cps].name == name
    # A small build still covers every group, in emoji-test order.
    assert set(labels) == set(range(len(groups)))
    assert list(labels) == sorted(labels)
    assert progress[-1].fraction == 1.0


def test_build_holds_out_a_seeded_tenth_the_same_way_each_time(built, tmp_path):
    out, info, _ = built
    again = build(tmp_path / "again", limit=20, seed=0)
    other_seed = build(tmp_path / "seed7", limit=20, seed=7)
    first, second = load_image_dataset(out), load_image_dataset(again.out_dir)
    assert info.heldout_count == int(first.split.sum()) == 2
    assert torch.equal(first.split, second.split) and torch.equal(first.images, second.images)
    assert other_seed.heldout_count == 2
    assert not torch.equal(first.split, load_image_dataset(other_seed.out_dir).split)


def test_the_card_records_classes_sources_licences_and_command(built):
    out, info, _ = built
    card = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert card["size"] == 64 and card["count"] == 20 and card["seed"] == 0
    assert card["holdout_fraction"] == 0.1 and card["file"] == "emoji-64.npz"
    assert card["classes"][:2] == ["Smileys & Emotion", "People & Body"] and card["classes"][-1] == "Flags"
    assert sum(card["class_counts"].values()) == 20 and card["class_counts"] == info.class_counts
    assert card["sources"]["font"]["path"] == str(DEFAULT_FONT)
    assert card["sources"]["emoji_test"]["version"]
    assert {lic["spdx"] for lic in card["licences"].values()} == {"OFL-1.1", "Unicode-3.0"}
    assert card["command"].startswith("studio data emoji --out ") and "--limit 20" in card["command"]
    preview = (out / "preview.png").read_bytes()
    assert preview.startswith(b"\x89PNG")


def test_the_loaded_dataset_feeds_training(built):
    out, info, _ = built
    data = load_image_dataset(out / "emoji-64.npz")
    assert len(data) == 20 and data.num_classes == 9 and data.images.shape == (20, 3, 64, 64)
    assert len(data.train()) == 18 and len(data.heldout()) == 2
    assert data.names[0] == "grinning face"
    batch = data.batch([0, 1])
    assert batch.dtype == torch.float32 and batch.min() >= -1 and batch.max() == 1
    heldout_names = set(data.heldout().names)

    batches = sample_batches(data, 7, torch.Generator().manual_seed(3))
    seen = [next(batches) for _ in range(18)]  # 7 epochs of the 18 training emoji
    assert all(images.shape == (7, 3, 64, 64) and labels.shape == (7,) for images, labels in seen)
    replay = sample_batches(data, 7, torch.Generator().manual_seed(3))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(seen, (next(replay) for _ in range(18)), strict=False))
    # Every sampled image is a training emoji with its own label, never a held-out one.
    train = data.train()
    index_of = {image.numpy().tobytes(): i for i, image in enumerate(train.batch(range(len(train))))}
    for images, labels in seen:
        for image, label in zip(images, labels, strict=False):
            i = index_of[image.numpy().tobytes()]
            assert train.labels[i] == label and train.names[i] not in heldout_names


@needs_sources
def test_skin_tone_variants_only_on_request(tmp_path):
    plain = load_image_dataset(build(tmp_path / "plain", limit=6, groups=["People & Body"]).out_dir)
    toned = load_image_dataset(build(tmp_path / "toned", limit=6, groups=["People & Body"], skin_tones=True).out_dir)
    assert plain.class_names == toned.class_names == ["People & Body"]
    assert not any("skin tone" in name for name in plain.names)
    assert toned.names == ["waving hand"] + [
        f"waving hand: {tone} skin tone" for tone in ("light", "medium-light", "medium", "medium-dark", "dark")
    ]


@needs_sources
def test_emoji_the_font_cannot_draw_are_skipped(tmp_path):
    listing = tmp_path / "emoji-test.txt"
    listing.write_text(
        "# group: Smileys & Emotion\n"
        "1F600 ; fully-qualified # 😀 E1.0 grinning face\n"
        "1F600 200D 1F600 ; fully-qualified # 😀‍😀 E99.0 an unknown sequence\n"
        "E000 ; fully-qualified # \ue000 E99.0 a private-use character\n"
        "1F603 ; fully-qualified # 😃 E0.6 grinning face with big eyes\n",
        encoding="utf-8",
    )
    info = build(tmp_path / "out", emoji_test_path=listing, size=32, holdout=0.0)
    assert info.count == 2
    assert info.skipped == ["an unknown sequence", "a private-use character"]
    assert load_image_dataset(tmp_path / "out").names == ["grinning face", "grinning face with big eyes"]


# --- loading bad files -----------------------------------------------------------------------


def test_loading_a_missing_or_corrupt_dataset_names_the_file(tmp_path):
    with pytest.raises(DatasetError, match="no data set here"):
        load_image_dataset(tmp_path)
    with pytest.raises(DatasetError, match="file not found"):
        load_image_dataset(tmp_path / "gone.npz")
    broken = tmp_path / "broken.npz"
    buffer = tmp_path / "whole.npz"
    np.savez_compressed(
        buffer,
        images=np.zeros((4, 8, 8, 3), np.uint8),
        labels=np.zeros(4, np.int64),
        split=np.zeros(4, np.uint8),
        names=np.array(list("abcd")),
        classes=np.array(["x"]),
    )
    assert len(load_image_dataset(buffer)) == 4
    broken.write_bytes(buffer.read_bytes()[:300])
    with pytest.raises(DatasetError, match="broken.npz: corrupt or incomplete file"):
        load_image_dataset(broken)


class _WritesAFile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_dataset_that_needs_unpickling_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.npz"
    names = np.empty(1, dtype=object)
    names[0] = _WritesAFile(marker)
    np.savez(
        evil,
        images=np.zeros((1, 8, 8, 3), np.uint8),
        labels=np.zeros(1, np.int64),
        split=np.zeros(1, np.uint8),
        names=names,
        classes=np.array(["x"]),
    )
    assert b"pwned" in evil.read_bytes()  # the payload really is in there
    with pytest.raises(DatasetError, match="corrupt or incomplete"):
        load_image_dataset(evil)
    assert not marker.exists()


# --- the command line ------------------------------------------------------------------------


@needs_sources
def test_the_command_builds_a_small_dataset(tmp_path):
    out = tmp_path / "emoji"
    result = subprocess.run(
        [sys.executable, "-m", "studio", "data", "emoji", "--out", str(out), "--limit", "12"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "12 emoji in 9 classes" in result.stdout and "Smileys & Emotion" in result.stdout
    assert "100%" in result.stderr
    for name in ("emoji-64.npz", "dataset.json", "preview.png"):
        assert (out / name).is_file() and str(out / name) in result.stdout


def test_the_command_explains_a_missing_font(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "data",
            "emoji",
            "--out",
            str(tmp_path / "out"),
            "--font",
            str(tmp_path / "missing.ttf"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 2
    assert "sudo apt-get install fonts-noto-color-emoji" in result.stderr
    assert not (tmp_path / "out").exists()
