"""Animation export: GIF, WebP, APNG and numbered PNG frames, all written atomically."""

import errno

import numpy as np
import pytest
from PIL import Image

from studio.files.animation import export_animation, export_frames
from studio.files.atomic import SaveError
from studio.files.images import read_png_settings


def _frames(count=5, size=(24, 16)):
    """Distinct frames: a horizontal gradient whose hue shifts frame by frame."""
    ramp = np.linspace(0, 255, size[0], dtype=np.float64)
    frames = []
    for i in range(count):
        pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        pixels[..., 0] = ramp
        pixels[..., 1] = (i * 40) % 256
        pixels[..., 2] = 255 - ramp
        frames.append(Image.fromarray(pixels))
    return frames


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".png", ".apng"])
def test_every_format_holds_every_frame(tmp_path, suffix):
    path = export_animation(_frames(5), tmp_path / f"walk{suffix}", fps=10)
    with Image.open(path) as animation:
        assert animation.n_frames == 5
        assert animation.size == (24, 16)
        assert animation.info.get("loop") == 0  # plays forever


def test_a_gif_keeps_gradients_with_its_own_palette(tmp_path):
    frames = _frames(2, size=(256, 4))
    path = export_animation(frames, tmp_path / "ramp.gif")
    with Image.open(path) as gif:
        first = np.asarray(gif.convert("RGB"), dtype=int)
    # A fixed web palette has 6 levels per channel (errors up to 25); an adaptive one stays close.
    assert np.abs(first - np.asarray(frames[0], dtype=int)).mean() < 4


def test_a_gif_that_plays_once_has_no_loop_and_timing_in_its_units(tmp_path):
    path = export_animation(_frames(3), tmp_path / "once.gif", fps=12, loop=False)
    with Image.open(path) as gif:
        assert "loop" not in gif.info
        assert gif.info["duration"] == 80  # 83 ms rounded to GIF's hundredths of a second


@pytest.mark.parametrize("suffix", [".webp", ".apng"])
def test_other_formats_that_play_once_say_so(tmp_path, suffix):
    path = export_animation(_frames(3), tmp_path / f"once{suffix}", loop=False)
    with Image.open(path) as animation:
        assert animation.info.get("loop") == 1


def test_bad_requests_are_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"\.gif"):
        export_animation(_frames(2), tmp_path / "walk.mp4")
    mixed = _frames(2) + [Image.new("RGB", (8, 8))]
    with pytest.raises(ValueError, match="frame 3"):
        export_animation(mixed, tmp_path / "walk.gif")
    with pytest.raises(ValueError, match="at least one frame"):
        export_animation([], tmp_path / "walk.gif")
    with pytest.raises(ValueError, match="fps|per second"):
        export_animation(_frames(2), tmp_path / "walk.gif", fps=0)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_the_earlier_file(tmp_path, monkeypatch):
    path = export_animation(_frames(2), tmp_path / "walk.gif")
    before = path.read_bytes()

    def disk_full(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(SaveError, match="disk full"):
        export_animation(_frames(4), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["walk.gif"]  # no temp file left behind


def test_frames_become_numbered_pngs_with_their_settings(tmp_path):
    frames = _frames(3)
    settings = [{"latent": {"frame": i}} for i in range(3)]
    paths = export_frames(frames, tmp_path / "frames", settings=settings)
    assert [p.name for p in paths] == ["frame_0001.png", "frame_0002.png", "frame_0003.png"]
    with Image.open(paths[1]) as second:
        assert np.array_equal(np.asarray(second.convert("RGB")), np.asarray(frames[1]))
    assert read_png_settings(paths[2]) == {"latent": {"frame": 2}}
    assert export_frames(frames[:1], tmp_path / "other", stem="walk")[0].name == "walk_0001.png"


def test_frame_export_refuses_a_stem_that_is_a_path(tmp_path):
    with pytest.raises(ValueError):
        export_frames(_frames(1), tmp_path, stem="../escape")
