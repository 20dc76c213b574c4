"""Style transfer at extreme aspect ratios (RELIABILITY.md case 5 of issue 14).

A 13:1 panorama used to fail deep inside torch ("Output size is too small"); it is painted now
with its short side enlarged to what the network needs and scaled back. A picture too thin for
that is refused with a message naming the file. Every picture is built by the test.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.cli import build_parser
from studio.engine.devices import select_device
from studio.engine.jobs import run_to_end
from studio.engine.style import instant
from studio.engine.style.shape import UnpaintableImage, paint_size
from studio.engine.style.transfer import stylize_job
from studio.engine.style.vgg import min_input_side
from studio.files.images import load_image
from studio.spec.style_settings import StyleSettings

CPU = select_device("cpu")


def noise(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def panorama() -> Image.Image:
    return noise(2600, 200)  # 13:1


def tiny(**changes) -> StyleSettings:
    base = StyleSettings(size=64, min_size=32, steps=1, preview_interval_s=0.0, amp=False, init="content")
    return base.replace(**changes)


def test_vgg_needs_sixteen_pixels_for_the_usual_layers():
    assert min_input_side(["relu5_1", "relu4_2"]) == 16  # four pools before block 5
    assert min_input_side(["relu1_1"]) == 1
    assert min_input_side(["pool5"]) == 32


def test_paint_size_keeps_the_ratio_and_enlarges_only_thin_sides():
    assert paint_size((2600, 200), 512, 16) == (512, 39)  # thick enough: as fitted
    assert paint_size((2600, 200), 64, 16) == (208, 16)  # 64x5 would vanish in VGG's pools
    assert paint_size((200, 2600), 64, 16) == (16, 208)


def test_a_panorama_photo_is_painted_at_the_size_asked(one_thread):
    result = run_to_end(stylize_job(panorama(), [(noise(48, 48, 1), 1.0)], tiny(), CPU))
    assert result.image.size == (64, 5)  # the size asked for, the panorama's ratio kept
    assert result.scales == [(208, 16)]  # both scales needed the same enlarged size: run once
    assert result.notes == [
        "The photo is 13 times as wide as it is tall: painted at 208x16 px (style transfer needs at "
        "least 16 px on the short side) and scaled to 64x5 px"
    ]
    assert np.isfinite(np.asarray(result.image, dtype=np.float64)).all()


def test_a_tall_panorama_and_coarse_to_fine_scales(one_thread):
    result = run_to_end(stylize_job(noise(60, 780), [(noise(48, 48, 1), 1.0)], tiny(size=256, min_size=64), CPU))
    assert result.image.size == (20, 256)
    assert result.scales == [(16, 208), (20, 256)]  # the coarse scale enlarged, the last one as asked
    assert result.notes == []


def test_a_panorama_as_the_style_image(one_thread):
    settings = tiny(size=48, min_size=48, style_scale=0.5)  # the style at 24 px on its long side: 24x2
    result = run_to_end(stylize_job(noise(48, 40), [(panorama(), 1.0)], settings, CPU))
    assert result.image.size == (48, 40) and not result.cancelled


@pytest.mark.parametrize(
    ("content", "style", "message"),
    [
        (noise(300, 1), noise(48, 48), "the photo is 300x1 px, too wide to paint"),
        (noise(48, 48), noise(2, 200), "the style image 1 is 2x200 px, too tall to paint"),
    ],
)
def test_a_picture_too_thin_to_paint_is_refused_by_name(content, style, message):
    with pytest.raises(UnpaintableImage) as caught:
        stylize_job(content, [(style, 1.0)], tiny(), CPU)
    assert str(caught.value).startswith(message)
    assert "style transfer takes at most 64 times" in str(caught.value)


@pytest.mark.parametrize("size", [(64, 5), (4, 64), (300, 1), (1100, 4)])
def test_the_instant_network_paints_thin_photos_at_their_own_size(size, forget_networks):
    net = instant.load_instant_networks("cpu")
    vector = net.style_vector(noise(64, 64, 2))
    # (1100, 4) goes through the tiled path (above TILE_ABOVE once enlarged to 2200x8).
    painted = net.stylize(noise(*size), vector, 0.5)
    assert painted.size == size


# --- studio stylize ----------------------------------------------------------------------------


def _stylize(tmp_path, content: Image.Image, style: Image.Image, *extra: str) -> tuple[int, object]:
    content.save(tmp_path / "pano.png")
    style.save(tmp_path / "style.png")
    output = tmp_path / "out.png"
    command = ["stylize", str(tmp_path / "pano.png"), str(tmp_path / "style.png"), "-o", str(output)]
    args = build_parser().parse_args([*command, "--device", "cpu", *extra])
    return args.run(args), output


def test_studio_stylize_paints_a_panorama(tmp_path, capsys, one_thread, forget_networks):
    code, output = _stylize(
        tmp_path, panorama(), noise(40, 40, 1), "--size", "64", "--steps", "1", "--preset", "preview"
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert load_image(output).image.size == (64, 5)
    assert "note: The photo is 13 times as wide as it is tall: painted at 208x16 px" in captured.err


def test_studio_stylize_instant_paints_a_panorama_and_a_panorama_style(tmp_path, capsys, forget_networks):
    code, output = _stylize(tmp_path, panorama(), panorama(), "--instant", "--size", "64")
    assert code == 0, capsys.readouterr().err
    assert load_image(output).image.size == (64, 5)


@pytest.mark.parametrize("instant_flag", [[], ["--instant"]], ids=["gatys", "instant"])
def test_studio_stylize_names_the_file_too_thin_to_paint(tmp_path, capsys, instant_flag, forget_networks):
    code, output = _stylize(tmp_path, noise(300, 1), noise(40, 40), "--size", "64", *instant_flag)
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: pano.png is 300x1 px, too wide to paint: its long side is 300 times its short side, "
        "and style transfer takes at most 64 times"
    )
    assert not output.exists()
