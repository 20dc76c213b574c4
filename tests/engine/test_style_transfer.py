"""Style transfer: the optimisation job, its settings in PNGs, and ``studio stylize``.

Everything runs on tiny images (at most 64 px) for a few steps, on the CPU.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from studio.engine.devices import DeviceInfo, select_device
from studio.engine.jobs import JobCancelled, run_to_end
from studio.engine.style import transfer
from studio.engine.style.losses import blended_grams, gram
from studio.engine.style.transfer import StyleProgress, StyleTransferError, match_color, stylize_job
from studio.files.images import load_image, save_png
from studio.spec.style_settings import (
    PRESETS,
    PREVIEW,
    StyleSettings,
    StyleSettingsError,
    png_settings,
    settings_from_png,
)

CPU = select_device("cpu")


def photo(w: int = 48, h: int = 40) -> Image.Image:
    """A photo-like test image: colour gradients and two flat shapes."""
    x = np.linspace(0, 1, w)[None, :]
    y = np.linspace(0, 1, h)[:, None]
    rgb = np.stack([x + 0 * y, 0.4 + 0.5 * y + 0 * x, 0.8 - 0.6 * x + 0 * y], axis=-1)
    img = Image.fromarray((rgb * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    draw.ellipse((w * 0.15, h * 0.2, w * 0.55, h * 0.75), fill=(230, 180, 40))
    draw.rectangle((w * 0.6, h * 0.5, w * 0.9, h * 0.9), fill=(30, 60, 140))
    return img


def painting(w: int = 48, h: int = 48, seed: int = 1) -> Image.Image:
    """A style-like test image: many short coloured strokes."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (w, h), (240, 230, 200))
    draw = ImageDraw.Draw(img)
    for _ in range(120):
        x, y = rng.integers(0, w), rng.integers(0, h)
        dx, dy = rng.integers(-10, 10, size=2)
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        draw.line((int(x), int(y), int(x + dx), int(y + dy)), fill=colour, width=2)
    return img


def tiny(**changes) -> StyleSettings:
    base = StyleSettings(size=48, min_size=48, steps=6, preview_interval_s=0.0, amp=False)
    return base.replace(**changes)


def test_a_few_steps_lower_the_total_loss():
    result = run_to_end(stylize_job(photo(), [(painting(), 1.0)], tiny(steps=8), CPU))
    totals = [row["total"] for row in result.loss_history]
    assert len(totals) == 8
    assert min(totals[-3:]) < 0.7 * totals[0]
    assert result.image.size == (48, 40) and not result.cancelled


def test_adam_also_lowers_the_loss_and_keeps_pixels_in_range():
    result = run_to_end(
        stylize_job(photo(), [(painting(), 1.0)], tiny(optimizer="adam", steps=8, learning_rate=5.0), CPU)
    )
    totals = [row["total"] for row in result.loss_history]
    assert min(totals[-3:]) < totals[0]


def test_each_step_yields_progress_with_a_preview_and_a_readable_message():
    seen = []
    result = run_to_end(
        stylize_job(photo(), [(painting(), 1.0)], tiny(size=48, min_size=24, steps=3), CPU), seen.append
    )
    steps = [p for p in seen if p.phase == "step"]
    assert len(steps) == 6 and result.scales == [(24, 20), (48, 40)]
    assert all(isinstance(p, StyleProgress) for p in seen)
    assert steps[0].preview is not None and steps[0].preview.size == (24, 20)
    assert steps[-1].preview.size == (48, 40) and steps[-1].fraction == pytest.approx(1.0)
    assert steps[3].message.startswith("Scale 2/2 · step 1/3 · loss ")
    fractions = [p.fraction for p in steps]
    assert fractions == sorted(fractions)


def test_luminance_preservation_keeps_the_contents_chroma():
    content = photo()
    settings = tiny(steps=6, preserve_color="luminance", style_weight=50.0)
    kept = run_to_end(stylize_job(content, [(painting(), 1.0)], settings, CPU)).image
    free = run_to_end(stylize_job(content, [(painting(), 1.0)], settings.replace(preserve_color="none"), CPU)).image

    def chroma(img):
        return np.asarray(img.convert("YCbCr"), dtype=np.float64)[..., 1:]

    kept_error = np.abs(chroma(kept) - chroma(content)).mean()
    free_error = np.abs(chroma(free) - chroma(content)).mean()
    assert kept_error < 2.0  # levels of 255: rounding and out-of-gamut clipping only
    assert free_error > 3 * kept_error  # without it the style's colours do come through

    # ...and the luminance did change: this is a transfer, not a copy.
    def luma(img):
        return np.asarray(img.convert("L"), dtype=np.float64)

    assert np.abs(luma(kept) - luma(content)).mean() > 1.0


def test_colour_matching_gives_the_style_the_contents_colour_statistics():
    content = torch.from_numpy(np.asarray(photo(), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    content = 0.25 + 0.5 * content  # a palette the style can take on without clipping at 0 or 1
    style = torch.from_numpy(np.asarray(painting(), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    matched = match_color(style, content)

    def flat(t):
        return t.reshape(3, -1).double()

    assert torch.allclose(flat(matched).mean(1), flat(content).mean(1), atol=0.03)
    assert torch.allclose(torch.cov(flat(matched)), torch.cov(flat(content)), atol=0.01)
    result = run_to_end(stylize_job(photo(), [(painting(), 1.0)], tiny(steps=2, preserve_color="histogram"), CPU))
    assert result.settings["preserve_color"] == "match"


def test_cancel_returns_the_best_image_so_far():
    job = stylize_job(photo(), [(painting(), 1.0)], tiny(size=48, min_size=24, steps=5), CPU)
    for _ in range(4):  # "prepare", then three steps of the first scale
        next(job)
    with pytest.raises(StopIteration) as stop:
        job.throw(JobCancelled())
    result = stop.value.value
    assert result.cancelled and result.image.size == (24, 20)
    assert len(result.loss_history) == 3 and result.scales == [(24, 20)]


def test_cancel_before_the_first_step_returns_the_starting_image():
    job = stylize_job(photo(), [(painting(), 1.0)], tiny(), CPU)
    next(job)
    with pytest.raises(StopIteration) as stop:
        job.throw(JobCancelled())
    assert stop.value.value.cancelled and stop.value.value.image.size == (48, 40)


def test_two_styles_weighted_one_and_zero_equal_the_first_alone():
    one = run_to_end(stylize_job(photo(), [(painting(seed=1), 1.0)], tiny(steps=3), CPU))
    two = run_to_end(stylize_job(photo(), [(painting(seed=1), 1.0), (painting(seed=2), 0.0)], tiny(steps=3), CPU))
    assert np.array_equal(np.asarray(one.image), np.asarray(two.image))
    assert two.settings["style_weights"] == [1.0, 0.0]
    # The blend itself, with the zero weight computed rather than skipped:
    a, b = {"l": gram(torch.rand(1, 4, 5, 5))}, {"l": gram(torch.rand(1, 4, 5, 5))}
    assert torch.allclose(blended_grams([a, b], [1.0, 0.0])["l"], a["l"])
    assert torch.allclose(blended_grams([a, b], [2.0, 2.0])["l"], (a["l"] + b["l"]) / 2)


def test_bad_inputs_are_refused_with_a_clear_message():
    with pytest.raises(StyleTransferError, match="at least one style"):
        stylize_job(photo(), [], tiny(), CPU)
    with pytest.raises(StyleTransferError, match="add up to more than 0"):
        stylize_job(photo(), [(painting(), 0.0)], tiny(), CPU)
    with pytest.raises(StyleTransferError, match="no starting image"):
        stylize_job(photo(), [(painting(), 1.0)], tiny(init="image"), CPU)
    with pytest.raises(StyleSettingsError, match="unknown VGG19 layer"):
        StyleSettings(style_layers=("relu9_9",))
    with pytest.raises(StyleSettingsError, match="optimizer"):
        StyleSettings(optimizer="sgd")


def test_settings_round_trip_through_png_metadata(tmp_path):
    settings = PREVIEW.replace(
        style_weight=7.5, preserve_color="luminance", init="noise", seed=42, style_layers=("relu1_1", "block3_relu1")
    )
    result = run_to_end(
        stylize_job(
            photo(), [(painting(), 1.0), (painting(seed=3), 0.5)], settings.replace(size=32, min_size=32, steps=2), CPU
        )
    )
    path = save_png(tmp_path / "out.png", result.image, png_settings(result, "photo.jpg", ["a.png", "b.png"]))
    loaded = load_image(path).settings
    assert settings_from_png(loaded) == settings.replace(size=32, min_size=32, steps=2)
    assert loaded["style_transfer"]["style_weights"] == [1.0, 0.5]
    assert loaded["style_transfer"]["styles"] == ["a.png", "b.png"]
    assert settings_from_png({"other": 1}) is None
    # A newer version's extra keys are ignored; the coarse-to-fine schedule is derived, not stored.
    assert StyleSettings.from_dict({**settings.to_dict(), "future": 1}) == settings
    assert settings.replace(size=512, min_size=128).scale_sizes() == [128, 256, 512]
    # The presets refine the instant painting in one scale.
    assert all(p.init == "instant" and p.scale_sizes() == [p.size] for p in PRESETS.values())


def test_out_of_memory_on_a_gpu_retries_smaller_with_a_message(monkeypatch):
    """A "GPU" that fails above 30 px: the run continues at a smaller size and says so."""
    real_load = transfer.load_vgg19

    def fussy_load(layers, pooling, device):
        model = real_load(layers, pooling, device)

        def forward(x):
            if max(x.shape[-2:]) > 30:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return type(model).forward(model, x)

        model.forward = forward
        return model

    monkeypatch.setattr(transfer, "load_vgg19", fussy_load)
    fake_gpu = DeviceInfo("cuda", "cpu", "Fake GPU", "CUDA: Fake GPU", 8 << 30)
    seen = []
    result = run_to_end(
        stylize_job(photo(), [(painting(24, 24), 1.0)], tiny(size=48, min_size=24, steps=2), fake_gpu), seen.append
    )
    notes = [p.message for p in seen if p.phase == "note"]
    assert notes and "Out of memory on CUDA: Fake GPU at 48 px" in notes[0]
    assert result.scales == [(24, 20), (27, 22)] and result.image.size == (27, 22)
    assert result.notes == notes


def _stylize(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "studio", "stylize", *args, "--threads", "1"]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_cli_writes_a_png_with_its_settings(tmp_path):
    photo().save(tmp_path / "photo.png")
    painting().save(tmp_path / "a.png")
    painting(seed=2).save(tmp_path / "b.jpg")
    done = _stylize(
        "photo.png",
        "a.png",
        "b.jpg",
        "-o",
        "out.png",
        "--size",
        "48",
        "--steps",
        "3",
        "--style-weights",
        "1,0.5",
        "--preserve-color",
        "--seed",
        "7",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    loaded = load_image(tmp_path / "out.png")
    assert loaded.image.size == (48, 40)
    saved = loaded.settings["style_transfer"]
    assert saved["steps"] == 3 and saved["seed"] == 7 and saved["preserve_color"] == "luminance"
    assert saved["style_weights"] == [1.0, 0.5] and saved["styles"] == ["a.png", "b.jpg"]
    assert "3/3" in done.stderr  # the progress bar reached the end


@pytest.mark.parametrize("bad", ["missing.png", "broken.png"])
def test_cli_names_a_missing_or_broken_style_and_writes_nothing(tmp_path, bad):
    photo().save(tmp_path / "photo.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really")
    done = _stylize("photo.png", bad, "-o", "out.png", "--size", "48", "--steps", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert bad in done.stderr and done.stderr.startswith("error:")
    assert not (tmp_path / "out.png").exists()


# --- Refine: the optimisation started from the instant painting -----------------------------------


def _instant_painting(content: Image.Image, styles, size: int, strength: float) -> Image.Image:
    """What the instant style network paints on its own: ``content`` at ``size``, the styles blended."""
    from studio.engine.style.instant import blend_style_vectors, load_instant_networks

    net = load_instant_networks("cpu")
    vector = blend_style_vectors([net.style_vector(image) for image, _ in styles], [w for _, w in styles])
    small = content.resize(transfer.fit_size(content.size, size), Image.Resampling.LANCZOS)
    return net.stylize(small, vector, strength)


def test_an_instant_start_shows_the_instant_painting_first_and_starts_from_it():
    content, styles = photo(64, 48), [(painting(64, 64, seed=1), 1.0), (painting(64, 64, seed=2), 3.0)]
    seen: list[StyleProgress] = []
    settings = tiny(size=64, min_size=64, steps=3, init="instant", strength=0.6)
    result = run_to_end(stylize_job(content, styles, settings, CPU), seen.append)
    assert [p.phase for p in seen[:3]] == ["prepare", "start", "step"]
    expected = np.asarray(_instant_painting(content, styles, 64, 0.6), dtype=np.int16)
    shown = np.asarray(seen[1].preview, dtype=np.int16)
    assert shown.shape == (48, 64, 3) and np.abs(shown - expected).max() <= 1
    # The optimisation moved on from that picture, and the PNG record says how it started.
    assert np.abs(np.asarray(result.image, dtype=np.int16) - expected).mean() > 0.5
    assert result.settings["init"] == "instant" and result.settings["strength"] == 0.6


@pytest.mark.parametrize("preserve_color", ["none", "luminance"])
def test_stopping_at_the_instant_painting_keeps_it(preserve_color):
    content = photo(64, 48)
    settings = tiny(size=64, min_size=64, init="instant", preserve_color=preserve_color)
    job = stylize_job(content, [(painting(64, 64), 1.0)], settings, CPU)
    next(job)  # prepare
    start = next(job)
    with pytest.raises(StopIteration) as stop:
        job.throw(JobCancelled())
    result = stop.value.value
    assert result.cancelled and result.image.size == (64, 48)
    kept, shown = (np.asarray(image, dtype=np.int16) for image in (result.image, start.preview))
    if preserve_color == "none":
        assert np.abs(kept - shown).max() <= 1
    else:  # the photo's colours on the painting's light and dark
        chroma = np.asarray(result.image.convert("YCbCr"), dtype=np.float64)[..., 1:]
        assert np.abs(chroma - np.asarray(content.convert("YCbCr"), dtype=np.float64)[..., 1:]).mean() < 2.0


def test_an_instant_start_begins_at_a_lower_loss_than_the_photo():
    content, styles = photo(64, 48), [(painting(64, 64), 1.0)]
    settings = tiny(size=64, min_size=64, steps=1)
    from_photo = run_to_end(stylize_job(content, styles, settings, CPU))
    from_instant = run_to_end(stylize_job(content, styles, settings.replace(init="instant"), CPU))
    assert from_instant.loss_history[0]["total"] < from_photo.loss_history[0]["total"]


def test_an_instant_start_keeps_the_photos_colours_in_luminance_mode():
    content = photo(64, 48)
    settings = tiny(size=64, min_size=64, steps=2, init="instant", preserve_color="luminance")
    seen: list[StyleProgress] = []
    result = run_to_end(stylize_job(content, [(painting(64, 64), 1.0)], settings, CPU), seen.append)

    def chroma(img):
        return np.asarray(img.convert("YCbCr"), dtype=np.float64)[..., 1:]

    assert np.abs(chroma(result.image) - chroma(content)).mean() < 2.0

    # ...while its pattern of light and dark follows the instant painting's more than the photo's
    # (correlation: the start takes the photo's brightness and contrast).
    def luma(img):
        return np.asarray(img.convert("L"), dtype=np.float64).ravel()

    result_y = luma(result.image)
    assert np.corrcoef(result_y, luma(seen[1].preview))[0, 1] > np.corrcoef(result_y, luma(content))[0, 1]


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "strong"])
def test_strength_outside_zero_to_one_is_refused_by_name(bad):
    with pytest.raises(StyleSettingsError, match="strength: the strength must be"):
        StyleSettings(init="instant", strength=bad)


def test_instant_start_settings_round_trip_and_older_records_still_load():
    settings = PREVIEW.replace(init="instant", strength=0.35)
    assert StyleSettings.from_dict(settings.to_dict()) == settings
    older = {key: value for key, value in settings.to_dict().items() if key != "strength"}
    older["init"] = "content"
    assert StyleSettings.from_dict(older) == settings.replace(init="content", strength=1.0)


def test_cli_refine_writes_a_png_whose_settings_reopen(tmp_path, capsys):
    from studio.cli import build_parser

    photo(64, 48).save(tmp_path / "photo.png")
    painting(64, 64).save(tmp_path / "a.png")
    output = tmp_path / "out.png"
    command = ["stylize", str(tmp_path / "photo.png"), str(tmp_path / "a.png"), "-o", str(output), "--refine"]
    args = build_parser().parse_args(
        [*command, "--strength", "0.5", "--size", "64", "--steps", "2", "--device", "cpu", "--threads", "1"]
    )
    assert args.run(args) == 0, capsys.readouterr().err
    loaded = load_image(output)
    assert loaded.image.size == (64, 48)
    reopened = settings_from_png(loaded.settings)
    assert reopened is not None and reopened.init == "instant" and reopened.strength == 0.5
    assert (reopened.size, reopened.steps) == (64, 2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--refine", "--init", "noise"], "choose one starting image"),
        (["--refine", "--instant"], "choose one"),
        (["--init", "content", "--strength", "0.5"], "--strength sets the instant painting's strength"),
    ],
)
def test_cli_refuses_contradictory_starts(tmp_path, capsys, extra, message):
    from studio.cli import build_parser

    photo().save(tmp_path / "photo.png")
    painting().save(tmp_path / "a.png")
    output = tmp_path / "out.png"
    args = build_parser().parse_args(
        ["stylize", str(tmp_path / "photo.png"), str(tmp_path / "a.png"), "-o", str(output), *extra]
    )
    assert args.run(args) == 2
    assert message in capsys.readouterr().err
    assert not output.exists()
