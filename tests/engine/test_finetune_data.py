"""Fine-tuning's inputs: an artist's folder (with junk in it), DiffAugment, and the blocks a preset freezes."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engine.data.folder import (
    MIN_IMAGES,
    FolderDataError,
    fit_image,
    load_folder_dataset,
    scan_image_folder,
)
from studio.engine.models import build_gan
from studio.engine.training.augment import augment_real, diff_augment
from studio.engine.training.config import TrainingError
from studio.engine.training.freezing import FREEZE_PRESETS, freeze_blocks, model_blocks, preset_blocks, presets_for
from studio.spec.models import GANConfig, VAEConfig


def picture(seed: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """A white picture with a coloured box somewhere: different for every seed."""
    rng = np.random.default_rng(seed)
    pixels = np.full((size[1], size[0], 3), 255, np.uint8)
    x, y = rng.integers(0, size[0] // 2), rng.integers(0, size[1] // 2)
    pixels[y : y + size[1] // 2, x : x + size[0] // 2] = rng.integers(0, 255, 3)
    return Image.fromarray(pixels)


def write_pictures(folder, count: int, start: int = 0) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"picture-{i:03d}.png"
        picture(i, (40 + i % 7, 36 + i % 5)).save(path)
        paths.append(path)
    return paths


def junk_folder(folder):
    """Good pictures (some in a subfolder, odd modes) and every kind of bad file an artist's folder has."""
    write_pictures(folder, 14)
    write_pictures(folder / "sketches", 3, start=100)
    Image.new("CMYK", (30, 20), (0, 128, 255, 0)).save(folder / "print.jpg")  # an odd mode, still good
    (folder / "empty.png").write_bytes(b"")
    (folder / "letter.jpg").write_text("Dear gallery, ...", encoding="utf-8")
    whole = (folder / "picture-000.png").read_bytes()
    (folder / "cut-short.png").write_bytes(whole[: len(whole) // 2])
    (folder / "notes.txt").write_text("ideas", encoding="utf-8")
    write_pictures(folder / "looks-like-an-image.png", 1, start=200)  # a folder, searched like any other
    (folder / "gone.png").symlink_to(folder / "deleted-long-ago.png")
    os.mkfifo(folder / "pipe.png")  # would block a reader forever
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return {
        "empty.png": "empty",
        "letter.jpg": "not a supported image",
        "cut-short.png": "truncated or corrupt",
        "notes.txt": "not an image file",
        "gone.png": "not found",
        "pipe.png": "not a regular file",
    }


def open_files_under(folder) -> list[str]:
    fd_dir = "/proc/self/fd"
    found = []
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def test_a_folder_with_junk_keeps_the_good_images_and_says_why_each_other_file_was_skipped(tmp_path):
    folder = tmp_path / "my art"
    expected = junk_folder(folder)
    scan = scan_image_folder(folder)
    assert scan.count == 19
    assert "sketches/picture-100.png" in [scan.relative(p) for p in scan.images]
    reasons = {scan.relative(s.path): s.reason for s in scan.skipped}
    assert set(reasons) == set(expected)  # .DS_Store is not the artist's: not even reported
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    assert scan.summary() == "19 images, 6 files skipped"
    assert any(line.startswith("cut-short.png: truncated") for line in scan.report())

    dataset, scan_again = load_folder_dataset(
        folder, image_size=64, resize="pad", heldout=0.2, seed=3, label=2, class_names=["a", "b", "mine"]
    )
    assert len(dataset) == 19 and scan_again.skipped_count == 6
    assert dataset.images.shape == (19, 3, 64, 64) and dataset.images.dtype == torch.uint8
    assert set(dataset.labels.tolist()) == {2} and dataset.class_names == ["a", "b", "mine"]
    assert int((dataset.split == 1).sum()) == 4  # 20 % of 19, seeded
    assert open_files_under(folder) == []  # every file was closed again


def test_an_empty_a_missing_and_a_too_small_folder_say_what_is_wrong(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FolderDataError, match=r"No usable images in .*empty.*at least 16"):
        load_folder_dataset(empty, image_size=64)
    with pytest.raises(FolderDataError, match="does not exist"):
        load_folder_dataset(tmp_path / "nowhere", image_size=64)
    small = tmp_path / "small"
    write_pictures(small, 5)
    (small / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    with pytest.raises(FolderDataError) as failure:
        load_folder_dataset(small, image_size=64)
    message = str(failure.value)
    assert "Only 5 usable images" in message and f"at least {MIN_IMAGES}" in message
    assert "1 file was skipped (broken.jpg: truncated or corrupt file)" in message
    with pytest.raises(FolderDataError, match="is a file, not a folder"):
        load_folder_dataset(small / "picture-000.png", image_size=64)


def test_resize_modes_fill_or_pad_the_square():
    wide = Image.new("RGB", (200, 100), (255, 0, 0))
    cropped = fit_image(wide, 64, "center-crop")
    padded = fit_image(wide, 64, "pad")
    assert cropped.shape == padded.shape == (64, 64, 3)
    assert (cropped == [255, 0, 0]).all()  # no border: the long side was trimmed
    assert (padded[0] == 255).all() and (padded[32] == [255, 0, 0]).all()  # white bars above and below
    assert (fit_image(wide, 64, "random-crop") == cropped).all()  # random crops are taken while training


def test_diffaugment_is_differentiable_deterministic_and_does_what_each_policy_says():
    torch.manual_seed(0)
    images = torch.rand(6, 3, 32, 32) * 2 - 1
    images.requires_grad_(True)
    torch.manual_seed(5)
    a = diff_augment(images, ("color", "translation", "cutout"))
    torch.manual_seed(5)
    b = diff_augment(images, ("cutout", "color", "translation"))  # the order given does not matter
    assert torch.equal(a, b) and a.shape == images.shape
    a.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0  # the generator learns through it

    dot = torch.full((8, 3, 32, 32), -1.0)
    dot[:, :, 16, 16] = 1.0
    shifted = diff_augment(dot, ("translation",))
    for image in shifted:
        ys, xs = torch.nonzero(image[0] > 0, as_tuple=True)
        assert len(ys) == 1 and abs(int(ys[0]) - 16) <= 4 and abs(int(xs[0]) - 16) <= 4  # at most an eighth
    assert any(not torch.equal(s, dot[0]) for s in shifted)

    ones = torch.ones(8, 3, 32, 32)
    cut = diff_augment(ones, ("cutout",))
    holes = (cut[:, 0] == 0).flatten(1).sum(1)
    assert (holes > 0).all() and (holes <= 16 * 16).all()  # a square of at most half the side, mid grey
    coloured = diff_augment(ones * 0.2, ("color",))
    assert not torch.allclose(coloured, ones * 0.2)


def test_real_image_augmentations_flip_some_images_and_keep_the_range():
    torch.manual_seed(1)
    images = torch.rand(16, 3, 8, 8) * 2 - 1
    flipped = augment_real(images, flip=True)
    same = [torch.equal(f, i) for f, i in zip(flipped, images, strict=False)]
    mirrored = [torch.equal(f, i.flip(2)) for f, i in zip(flipped, images, strict=False)]
    assert all(s or m for s, m in zip(same, mirrored, strict=False)) and any(mirrored) and any(same)
    jittered = augment_real(images, jitter=0.1, random_crop=True)
    assert jittered.shape == images.shape and jittered.min() >= -1 and jittered.max() <= 1
    assert not torch.equal(jittered, images)


GAN = GANConfig(latent_dim=16, g_channels=32, d_channels=8, num_classes=3)


def test_presets_freeze_the_blocks_they_name_and_blocks_count_every_parameter():
    g, d = build_gan(GAN)
    total = sum(p.numel() for p in [*g.parameters(), *d.parameters()])
    blocks = model_blocks(GAN, preset_blocks("freeze-d", GAN))
    assert sum(b.parameters for b in blocks) == total
    assert [b.name for b in blocks if b.frozen] == ["d.32x32", "d.16x16"]  # the discriminator's lower half
    last = preset_blocks("last-blocks", GAN)
    assert last == ("g.4x4", "g.8x8", "g.16x16", "d.32x32", "d.16x16")
    assert preset_blocks("all", GAN) == ()
    assert {p.key for p in presets_for("gan")} == set(FREEZE_PRESETS)
    assert {p.key for p in presets_for("vae")} == {"last-blocks", "all"}
    vae = VAEConfig(latent_dim=8, base_channels=8)
    assert preset_blocks("last-blocks", vae)[:2] == ("encoder.32x32", "encoder.16x16")
    with pytest.raises(TrainingError, match="for GANs"):
        preset_blocks("freeze-d", vae)


def test_freezing_refuses_unknown_blocks_and_a_network_with_nothing_left_to_train():
    g, d = build_gan(GAN)
    with pytest.raises(TrainingError, match="no block 'g.9x9'.*g.4x4"):
        freeze_blocks(GAN, {"g": g, "d": d}, ["g.9x9"])
    every_g = [b.name for b in model_blocks(GAN) if b.network == "generator"]
    with pytest.raises(TrainingError, match="every block of the generator is frozen"):
        freeze_blocks(GAN, {"g": g, "d": d}, every_g)
    assert all(p.requires_grad for p in g.parameters())  # a refused freeze changed nothing


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_a_decompression_bomb_in_the_folder_is_skipped_not_decoded(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    folder = tmp_path / "f"
    write_pictures(folder, MIN_IMAGES)
    side = 20_000  # a few dozen bytes claiming 400 million pixels
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (side + 1))
    (folder / "bomb.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )
    scan = scan_image_folder(folder)
    assert scan.count == MIN_IMAGES
    assert [s.path.name for s in scan.skipped] == ["bomb.png"] and "too large" in scan.skipped[0].reason
