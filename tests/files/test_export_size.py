"""Export sizes: 1x/4x/8x or a pixel size, crisp or smooth, the one helper the window and the CLI share."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.files.images import read_png_settings, save_png
from studio.spec.export_size import ExportSize, ExportSizeError, export_frames, export_image


def _noise(width: int = 64, height: int = 64, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def test_crisp_4x_turns_every_pixel_into_an_exact_4x4_block():
    small = _noise()
    big = export_image(small, ExportSize(scale=4, resample="crisp"))
    assert big.size == (256, 256)
    blocks = np.asarray(big).reshape(64, 4, 64, 4, 3)
    assert np.array_equal(blocks, np.broadcast_to(np.asarray(small)[:, None, :, None, :], blocks.shape))


def test_smooth_differs_from_crisp_and_has_no_hard_block_edges():
    small = _noise()
    crisp = np.asarray(export_image(small, ExportSize(scale=8, resample="crisp")), dtype=np.int16)
    smooth = np.asarray(export_image(small, ExportSize(scale=8, resample="smooth")), dtype=np.int16)
    assert smooth.shape == crisp.shape == (512, 512, 3)
    assert np.abs(smooth - crisp).mean() > 5
    # Inside a crisp block neighbours are equal; a smooth picture changes between them.
    inside = (slice(None), slice(0, 511))
    crisp_steps = np.abs(np.diff(crisp, axis=1))[inside]
    smooth_steps = np.abs(np.diff(smooth, axis=1))[inside]
    assert (crisp_steps == 0).mean() > 0.8 and (smooth_steps == 0).mean() < 0.3


def test_a_pixel_size_sets_the_long_side_and_keeps_the_aspect():
    assert export_image(_noise(64, 32), ExportSize(pixels=640)).size == (640, 320)
    assert ExportSize(pixels=100).target(64, 64) == (100, 100)
    assert export_image(_noise(), ExportSize(scale=1)).size == (64, 64)


@pytest.mark.parametrize("text", ["3x", "0", "2.5x", "big", "8px", "100000px", ""])
def test_nonsense_sizes_are_refused_saying_what_would_do(text):
    with pytest.raises(ExportSizeError):
        ExportSize.parse(text)


def test_a_size_larger_than_the_limit_is_refused_before_any_pixels_are_made():
    with pytest.raises(ExportSizeError, match="8192"):
        export_image(_noise(2048, 64), ExportSize(scale=8))


def test_the_text_form_reads_back_and_unreadable_text_falls_back_to_the_default():
    for text in ("1x", "4x", "8x", "512px"):
        assert ExportSize.parse(text, "crisp").text == text
    assert ExportSize.from_text("nonsense", "wobbly") == ExportSize(scale=4, resample="smooth")


def test_an_enlarged_png_keeps_its_settings(tmp_path):
    settings = {"latent": {"z": [0.5, -1.0], "seed": 3}}
    path = save_png(tmp_path / "big.png", export_image(_noise(), ExportSize(scale=4)), settings)
    with Image.open(path) as reopened:
        assert reopened.size == (256, 256)
    assert read_png_settings(path) == settings


def test_animation_frames_are_all_enlarged_alike():
    frames = export_frames([_noise(seed=s) for s in range(3)], ExportSize(pixels=200, resample="crisp"))
    assert [f.size for f in frames] == [(200, 200)] * 3
