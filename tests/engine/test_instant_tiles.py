"""Tiled high resolution for instant style: seams, tile-to-tile colour, out-of-memory fallback.

Small sizes stand in for the real ones (a 600x400 photo, 256 px tiles, a 384 px statistics
pass), so the tests run in seconds on a CPU; the code path is the one 4096 px photos take.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engine.devices import OutOfMemory
from studio.engine.style import instant

pytest.importorskip("onnx")  # the weights are read from the ONNX files

H, W = 400, 600
TILE, OVERLAP, STATS = 256, 64, 384
TILED = {"tile_above": 256, "tile": TILE, "overlap": OVERLAP, "stats_size": STATS}


def _photo() -> Image.Image:
    """A smooth colourful photo with fine texture, so neighbouring pixels differ a little."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W] / 300
    img = np.stack([np.sin(xx * 5) * 0.5 + 0.5, np.cos(yy * 4 + xx * 3) * 0.5 + 0.5, xx * yy / 2], -1)
    img += rng.normal(0, 0.05, img.shape)
    return Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32) / 255.0


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(((a - b) ** 2).mean()), 1e-20)))


@pytest.fixture(scope="module")
def setup():
    # One thread, whatever the process had: the int8 roundings make the result depend, a little,
    # on the order of float sums, and so on the thread count.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield _setup()
    finally:
        torch.set_num_threads(before)


def _setup():
    predictor, transformer = instant.networks_from_onnx()
    style = instant.InstantStyle(predictor, transformer, torch.device("cpu"))
    photo = _photo()
    painting = photo.transpose(Image.Transpose.FLIP_TOP_BOTTOM).crop((0, 0, 256, 256))
    painting = Image.fromarray(np.asarray(painting)[:, :, ::-1].copy())
    vector = style.style_vector(painting)
    untiled = _arr(style.stylize(photo, vector))
    tiled = _arr(style.stylize(photo, vector, **TILED))
    return style, photo, vector, untiled, tiled


def _seam_lines(length: int) -> list[int]:
    """Every column (or row) where a tile starts or ends, or an overlap's middle lies."""
    spans = instant.tile_spans(length, TILE, OVERLAP)
    lines = set()
    for (_, prev_end), (start, _) in zip(spans, spans[1:], strict=False):
        lines |= {start, prev_end, (start + prev_end) // 2}
    return sorted(lines)


def _seam_ratio(img: np.ndarray) -> tuple[float, float]:
    """(worst mean step across a seam line) / (mean neighbouring-pixel step away from seams),
    along x and along y."""
    ratios = []
    for axis, length in ((1, W), (0, H)):
        steps = np.abs(np.diff(img, axis=axis)).mean(axis=(2, 1 - axis))  # step between i-1 and i, at i-1
        lines = _seam_lines(length)
        near = np.zeros(length - 1, bool)
        for line in lines:
            near[max(0, line - OVERLAP) : line + OVERLAP] = True
        baseline = float(steps[~near].mean()) if (~near).any() else float(steps.mean())
        worst = max(float(steps[line - 1]) for line in lines)
        ratios.append(worst / baseline)
    return ratios[0], ratios[1]


def test_tile_spans_cover_with_overlap():
    spans = instant.tile_spans(600, 256, 64)
    assert spans[0][0] == 0 and spans[-1][1] == 600
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end - start >= 64 and start % 4 == 0
    assert instant.tile_spans(200, 256, 64) == [(0, 200)]


def test_tiled_path_is_taken_and_has_no_seams(setup, one_thread):
    style, photo, vector, untiled, tiled = setup
    assert tiled.shape == untiled.shape == (H, W, 3)
    assert len(instant.tile_spans(W, TILE, OVERLAP)) >= 3 and len(instant.tile_spans(H, TILE, OVERLAP)) >= 2
    # The tiled path really differs (statistics from a 384 px copy, not the whole photo's).
    assert np.abs(tiled - untiled).max() > 0
    rx, ry = _seam_ratio(tiled)
    psnr = _psnr(tiled, untiled)
    print(f"\nseam step / neighbour step: x {rx:.2f}, y {ry:.2f}; untiled reference {_seam_ratio(untiled)}")
    print(f"tiled (stats from {STATS} px) vs untiled: PSNR {psnr:.1f} dB")
    assert rx <= 1.5 and ry <= 1.5
    assert psnr > 22


def test_with_the_whole_photos_statistics_tiling_is_exact(setup, one_thread):
    """Statistics taken at full size: the tiles (with context and feathering) reproduce the
    untiled result, so every difference above comes from the statistics pass's scale only."""
    style, photo, vector, untiled, _ = setup
    exact = _arr(style.stylize(photo, vector, **(TILED | {"stats_size": max(H, W)})))
    psnr = _psnr(exact, untiled)
    print(f"\ntiled (full-size stats) vs untiled: PSNR {psnr:.1f} dB")
    assert psnr > 45


def _tile_means(img: np.ndarray) -> np.ndarray:
    rows, cols = instant.tile_spans(H, TILE, OVERLAP), instant.tile_spans(W, TILE, OVERLAP)
    return np.array([[img[y0:y1, x0:x1].mean(axis=(0, 1)) for x0, x1 in cols] for y0, y1 in rows])


def test_tiles_agree_in_colour(setup, one_thread):
    style, photo, vector, untiled, tiled = setup
    diff = _tile_means(tiled) - _tile_means(untiled)  # rows x cols x RGB
    spread = diff.reshape(-1, 3).max(axis=0) - diff.reshape(-1, 3).min(axis=0)
    print(f"\nper-tile mean colour, tiled - untiled: max |diff| {np.abs(diff).max():.4f}, spread {spread.max():.4f}")
    # Close to the untiled colours in every tile. What differs is the statistics, taken from the
    # 384 px copy rather than the full photo (the tiles themselves add almost nothing: below);
    # with the int8 roundings of the shipped graphs that costs up to 0.055 here.
    assert np.abs(diff).max() < 0.06

    x = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        # The whole photo in one pass with the same recorded statistics: what the tiles should add
        # up to. Per tile, they match it to rounding, so no tile drifts from its neighbours.
        recorder = instant.NormStats()
        style.render(torch.nn.functional.interpolate(x, (256, 384), mode="area"), vector, recorder)
        whole = style.render(x, vector, recorder.frozen())[0].permute(1, 2, 0).numpy()
        # Without the shared statistics each tile normalises itself: colours jump from tile to tile.
        own = style._paint_tiles(x, vector, None, style.transformer, TILE, OVERLAP, instant.TILE_CONTEXT)
    same_stats = np.abs(_tile_means(tiled) - _tile_means(whole)).max()
    own_diff = _tile_means(own[0].permute(1, 2, 0).numpy()) - _tile_means(untiled)
    own_spread = (own_diff.reshape(-1, 3).max(axis=0) - own_diff.reshape(-1, 3).min(axis=0)).max()
    print(f"vs one pass with the same statistics: max |diff| {same_stats:.4f}")
    print(f"each tile's own statistics instead: max |diff| {np.abs(own_diff).max():.4f}, spread {own_spread:.4f}")
    assert same_stats < 0.004  # 1/255 after the 8-bit round trip
    assert own_spread > 2 * spread.max()


def test_out_of_memory_falls_back_to_smaller_tiles(setup, monkeypatch, one_thread):
    style, photo, vector, untiled, tiled = setup
    tried: list[int] = []
    real = instant.InstantStyle._paint_tiles

    def paint(self, photo_t, style_t, stats, net, tile, *args):
        tried.append(tile)
        if tile == TILE:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, photo_t, style_t, stats, net, tile, *args)

    monkeypatch.setattr(instant.InstantStyle, "_paint_tiles", paint)
    retries: list[str] = []
    out = _arr(style.stylize(photo, vector, **TILED, on_retry=retries.append))
    assert tried == [TILE, TILE // 2]
    assert retries and "retrying at size 128" in retries[0]
    assert out.shape == (H, W, 3)
    assert _psnr(out, tiled) > 40  # smaller tiles, same statistics: the same picture


def test_too_large_a_photo_is_refused(setup):
    style, _, vector, _, _ = setup
    with pytest.raises(ValueError, match="4096"):
        style.stylize(Image.new("RGB", (instant.MAX_SIDE + 1, 8)), vector)


def test_out_of_memory_at_every_tile_size_moves_to_the_cpu(setup, monkeypatch, one_thread):
    """The chain after the smallest tile: the CPU, at the first tile size. Without a GPU here, the
    style's device is reported as a CUDA one whose every tile size runs out of memory."""
    style, photo, vector, _, tiled = setup
    fake_gpu = instant.DeviceInfo("cuda", "cpu", "Test GPU", "CUDA: Test GPU")
    monkeypatch.setattr(instant, "_device_info", lambda device: fake_gpu)
    tried: list[int] = []
    real = instant.InstantStyle._paint_tiles

    def paint(self, photo_t, style_t, stats, net, tile, *args):
        tried.append(tile)
        if len(tried) <= 2:  # 256 and 128 px on the "GPU"
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, photo_t, style_t, stats, net, tile, *args)

    monkeypatch.setattr(instant.InstantStyle, "_paint_tiles", paint)
    retries: list[str] = []
    out = _arr(style.stylize(photo, vector, **TILED, on_retry=retries.append))
    assert tried == [TILE, TILE // 2, TILE]
    assert "on CPU" in retries[-1]
    assert _psnr(out, tiled) > 60


def test_everything_out_of_memory_is_a_clear_error(setup, monkeypatch):
    style, photo, vector, _, _ = setup

    def paint(self, *args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(instant.InstantStyle, "_paint_tiles", paint)
    with pytest.raises(OutOfMemory):
        style.stylize(photo, vector, **TILED)
