"""Running out of memory on the CPU during style transfer (issue 14, weak case "a CPU allocation
failure at a large --size is a raw allocator message and is never retried smaller").

The failure is injected: torch's allocator message (or a MemoryError) raised by VGG or the
instant network at sizes above a threshold.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import build_parser
from studio.engine.devices import is_out_of_memory, select_device
from studio.engine.jobs import run_to_end
from studio.engine.style import instant, transfer
from studio.engine.style.transfer import StyleOutOfMemory, stylize_job
from studio.files.images import load_image
from studio.spec.style_settings import StyleSettings

CPU = select_device("cpu")
ALLOCATOR = (
    "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
    "allocate 8589934592 bytes. Error code 12 (Cannot allocate memory)"
)


def noise(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def tiny(**changes) -> StyleSettings:
    base = StyleSettings(size=64, min_size=64, steps=2, preview_interval_s=0.0, amp=False, init="content")
    return base.replace(**changes)


def vgg_failing_above(monkeypatch, limit: int, error: BaseException, times: int | None = None) -> list[int]:
    """VGG raises ``error`` for pictures whose long side is above ``limit`` (``times`` times at most)."""
    real_load = transfer.load_vgg19
    failed: list[int] = []

    def load(layers, pooling, device):
        model = real_load(layers, pooling, device)

        def forward(x):
            if max(x.shape[-2:]) > limit and (times is None or len(failed) < times):
                failed.append(max(x.shape[-2:]))
                raise error
            return type(model).forward(model, x)

        model.forward = forward
        return model

    monkeypatch.setattr(transfer, "load_vgg19", load)
    return failed


def test_the_cpu_allocator_and_memory_error_count_as_out_of_memory():
    assert is_out_of_memory(RuntimeError(ALLOCATOR))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 8 GB"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


@pytest.mark.parametrize("error", [RuntimeError(ALLOCATOR), MemoryError()], ids=["allocator", "MemoryError"])
def test_running_out_on_the_cpu_retries_smaller_and_says_the_size(monkeypatch, one_thread, error):
    failed = vgg_failing_above(monkeypatch, 50, error, times=1)
    result = run_to_end(stylize_job(noise(64, 48), [(noise(40, 40, 1), 1.0)], tiny(), CPU))
    assert failed == [64]
    assert result.image.size == (48, 36) and not result.cancelled
    assert result.scales == [(48, 36)]
    assert result.notes == [
        f"Out of memory on {CPU.label} at 64 px; continuing at 48 px (the result will be 48 px on the long side)"
    ]


def test_running_out_at_the_finest_scale_keeps_the_finished_one(monkeypatch, one_thread):
    vgg_failing_above(monkeypatch, 33, RuntimeError(ALLOCATOR))
    settings = tiny(size=64, min_size=32)  # scales of 32 and 64 px; 64, 48, then 36 px run out
    result = run_to_end(stylize_job(noise(64, 48), [(noise(40, 40, 1), 1.0)], settings, CPU))
    assert result.image.size == (32, 24)  # the 32 px scale's painting, not thrown away
    assert result.notes[-1] == f"Out of memory on {CPU.label} at 36 px; kept the finished 32 px result"
    assert [row["scale"] for row in result.loss_history][:2] == [1, 1]


def test_running_out_at_every_size_is_a_clear_error(monkeypatch, one_thread):
    vgg_failing_above(monkeypatch, 0, RuntimeError(ALLOCATOR))
    with pytest.raises(StyleOutOfMemory) as caught:
        run_to_end(stylize_job(noise(64, 48), [(noise(40, 40, 1), 1.0)], tiny(), CPU))
    assert str(caught.value).startswith("Not enough memory for 21 px on the CPU (")
    assert "DefaultCPUAllocator" in str(caught.value)


def test_studio_stylize_reports_the_size_used_and_a_clear_failure(tmp_path, capsys, monkeypatch, one_thread):
    noise(64, 48).save(tmp_path / "photo.png")
    noise(40, 40, 1).save(tmp_path / "style.png")
    output = tmp_path / "out.png"
    command = ["stylize", str(tmp_path / "photo.png"), str(tmp_path / "style.png"), "-o", str(output)]
    command += ["--device", "cpu", "--size", "64", "--steps", "1", "--init", "content"]

    vgg_failing_above(monkeypatch, 50, RuntimeError(ALLOCATOR), times=1)
    args = build_parser().parse_args(command)
    assert args.run(args) == 0
    err = capsys.readouterr().err
    assert "note: Out of memory on CPU (" in err and ") at 64 px; continuing at 48 px (the result will be 48 px" in err
    assert load_image(output).image.size == (48, 36)

    vgg_failing_above(monkeypatch, 0, RuntimeError(ALLOCATOR))
    before = output.read_bytes()
    args = build_parser().parse_args(command)
    assert args.run(args) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: not enough memory for 21 px; close other programs and try again"
    )
    assert output.read_bytes() == before  # the earlier result is untouched


def test_the_instant_network_paints_in_tiles_when_the_whole_photo_does_not_fit(monkeypatch, forget_networks):
    net = instant.load_instant_networks("cpu")
    vector = net.style_vector(noise(64, 64, 2))
    x = np.linspace(0, 255, 200)[None, :, None]
    y = np.linspace(0, 255, 120)[:, None, None]
    photo = Image.fromarray(np.concatenate([x + 0 * y, y + 0 * x, 255 - x + 0 * y], axis=2).astype(np.uint8))
    whole = np.asarray(net.stylize(photo, vector), dtype=np.float64)
    real_render = instant.InstantStyle.render
    refused: list[tuple[int, int]] = []

    def render(self, x, style, stats=None, transformer=None):
        if tuple(x.shape[-2:]) == (120, 200):  # the whole photo: "too large"
            refused.append(tuple(x.shape[-2:]))
            raise RuntimeError(ALLOCATOR)
        return real_render(self, x, style, stats, transformer)

    monkeypatch.setattr(instant.InstantStyle, "render", render)
    notes: list[str] = []
    tiled = np.asarray(net.stylize(photo, vector, on_retry=notes.append), dtype=np.float64)
    assert refused == [(120, 200)]
    assert tiled.shape == whole.shape
    assert notes[0].startswith("Out of memory painting 200x120 px whole on cpu (")
    assert notes[0].endswith("; painting it in tiles")
    # A painting (its norm statistics come from a half-size copy, so it is not the whole one's twin).
    assert tiled.std() > 10 and np.abs(tiled - np.asarray(photo, dtype=np.float64)).mean() > 10


def test_studio_stylize_instant_out_of_memory_everywhere_suggests_a_size(
    tmp_path, capsys, monkeypatch, forget_networks
):
    noise(64, 48).save(tmp_path / "photo.png")
    noise(40, 40, 1).save(tmp_path / "style.png")

    def render(self, *args, **kwargs):
        raise RuntimeError(ALLOCATOR)

    monkeypatch.setattr(instant.InstantStyle, "render", render)
    output = tmp_path / "out.png"
    command = ["stylize", str(tmp_path / "photo.png"), str(tmp_path / "style.png"), "-o", str(output)]
    args = build_parser().parse_args([*command, "--device", "cpu", "--instant"])
    assert args.run(args) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: not enough memory for 64 px; try --size 32"
    assert not output.exists()
    assert torch.get_num_threads() >= 1  # the process goes on
