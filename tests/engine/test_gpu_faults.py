"""GPU faults by injection (RELIABILITY.md cases 17 and 18); none of this needs a GPU.

Case 17: Apple MPS reports running out of memory as a RuntimeError whose text starts "MPS
backend out of memory": the style job retries smaller, as for CUDA. Case 18: a device-side
assert leaves the CUDA context broken: no retry on the GPU, the device is marked unusable, the
user is told, and the next job runs on the CPU.
"""

from __future__ import annotations

import pytest
import torch

from studio.engine import devices
from studio.engine.devices import DeviceInfo, is_device_lost, mark_unusable, run_with_oom_fallback, select_device
from studio.engine.jobs import run_to_end
from studio.engine.style import transfer
from studio.engine.style.transfer import stylize_job
from tests.engine.test_style_memory import noise, tiny, vgg_failing_above

FAKE_MPS = DeviceInfo("mps", "cpu", "Apple GPU", "Apple MPS", 8 << 30)
FAKE_GPU = DeviceInfo("cuda", "cpu", "Fake GPU", "CUDA: Fake GPU", 8 << 30)
MPS_OOM = "MPS backend out of memory (MPS allocated: 17.1 GB, other allocations: 1.2 GB, max allowed: 18.1 GB)."
ASSERT = "CUDA error: device-side assert triggered\nCUDA kernel errors might be asynchronously reported"


@pytest.fixture(autouse=True)
def no_unusable_devices(monkeypatch):
    monkeypatch.setattr(devices, "_unusable", {})


def test_mps_out_of_memory_retries_smaller_and_releases_memory(monkeypatch, one_thread):
    released: list[object] = []
    monkeypatch.setattr(transfer, "release_memory", lambda device=None: released.append(device))
    vgg_failing_above(monkeypatch, 50, RuntimeError(MPS_OOM))
    result = run_to_end(stylize_job(noise(64, 48), [(noise(40, 40, 1), 1.0)], tiny(), FAKE_MPS))
    assert result.image.size == (48, 36) and result.device == "Apple MPS"
    assert result.notes == [
        "Out of memory on Apple MPS at 64 px; continuing at 48 px (the result will be 48 px on the long side)"
    ]
    assert released == [FAKE_MPS]


def test_a_device_side_assert_is_not_retried(monkeypatch):
    tried: list[object] = []

    def work(device, size):
        tried.append(size)
        raise RuntimeError(ASSERT)

    with pytest.raises(RuntimeError, match="device-side assert"):
        run_with_oom_fallback(work, FAKE_GPU, [256, 128, 64])
    assert tried == [256]  # no smaller size, no CPU retry on a broken context


def test_a_device_side_assert_ends_the_style_job_at_once(monkeypatch, one_thread):
    calls = vgg_failing_above(monkeypatch, 0, RuntimeError(ASSERT))
    with pytest.raises(RuntimeError, match="device-side assert"):
        run_to_end(stylize_job(noise(64, 48), [(noise(40, 40, 1), 1.0)], tiny(), FAKE_GPU))
    assert calls == [64]


def test_a_lost_device_is_never_chosen_again(monkeypatch):
    assert is_device_lost(RuntimeError(ASSERT))
    assert is_device_lost(RuntimeError("CUDA error: an illegal memory access was encountered"))
    assert not is_device_lost(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert not is_device_lost(RuntimeError("shape mismatch"))
    fake_cuda = DeviceInfo("cuda", "cuda:0", "Fake GPU", "CUDA: Fake GPU", 8 << 30)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(devices, "_cuda_info", lambda index: fake_cuda)
    monkeypatch.delenv(devices.DEVICE_ENV, raising=False)
    assert select_device("cuda").kind == "cuda"

    message = mark_unusable(fake_cuda, RuntimeError(ASSERT))

    assert message == (
        "CUDA: Fake GPU stopped working (CUDA error: device-side assert triggered); "
        "the studio uses the CPU until it is restarted"
    )
    for preference in ("cuda", "cuda:0", "auto"):
        chosen = select_device(preference)
        assert chosen.kind == "cpu"
    assert "cuda:0 stopped working (CUDA error: device-side assert triggered)" in select_device("cuda").note


def test_the_worker_tells_the_user_and_moves_the_next_job_to_the_cpu(worker, qtbot):
    with worker._cond:
        worker._device = FAKE_GPU  # pretend the worker runs on a GPU

    def broken(device):
        raise RuntimeError(ASSERT)
        yield  # a generator

    moved: list[DeviceInfo] = []
    worker.deviceChanged.connect(moved.append)
    with qtbot.waitSignal(worker.jobFailed, timeout=30_000, raising=True) as failed:
        worker.submit("Style transfer", broken)
    assert failed.args[1] == (
        "Style transfer failed: CUDA: Fake GPU stopped working (CUDA error: device-side assert triggered); "
        "the studio uses the CPU until it is restarted"
    )
    assert worker.device.kind == "cpu"
    # The worker announces its new device, so the status bar stops naming the GPU.
    qtbot.waitUntil(lambda: len(moved) == 1, timeout=10_000)
    assert moved == [worker.device]

    seen: list[str] = []

    def works(device):
        seen.append(device.kind)
        return "done"
        yield

    with qtbot.waitSignal(worker.jobFinished, timeout=30_000, raising=True) as finished:
        worker.submit("Next", works)
    assert finished.args[1] == "done" and seen == ["cpu"]


def test_studio_stylize_says_the_gpu_is_broken(tmp_path, capsys, monkeypatch, one_thread):
    from studio.cli import build_parser

    noise(64, 48).save(tmp_path / "photo.png")
    noise(40, 40, 1).save(tmp_path / "style.png")
    vgg_failing_above(monkeypatch, 0, RuntimeError(ASSERT))
    output = tmp_path / "out.png"
    command = ["stylize", str(tmp_path / "photo.png"), str(tmp_path / "style.png"), "-o", str(output)]
    args = build_parser().parse_args([*command, "--device", "cpu", "--size", "64", "--init", "content"])
    assert args.run(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: CUDA error: device-side assert triggered")
    assert "the GPU cannot be used again in this run: run the command again, or with --device cpu" in err[-1]
    assert not output.exists()


def test_the_worker_recovers_from_out_of_memory_and_runs_the_next_job(worker, qtbot, monkeypatch):
    """Case 15 in the worker: the failed job's memory is released outside its except block, the
    user reads the failure, and the next job runs without a restart."""
    from studio.services import worker as worker_module

    released: list[object] = []
    monkeypatch.setattr(worker_module, "release_memory", lambda device=None: released.append(device))

    def greedy(device):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        yield

    with qtbot.waitSignal(worker.jobFailed, timeout=30_000, raising=True) as failed:
        worker.submit("Style transfer", greedy)
    assert failed.args[1] == "Style transfer failed: OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB"
    assert released == [worker.device]

    def works(device):
        return "done"
        yield

    with qtbot.waitSignal(worker.jobFinished, timeout=30_000, raising=True) as finished:
        worker.submit("Next", works)
    assert finished.args[1] == "done"
