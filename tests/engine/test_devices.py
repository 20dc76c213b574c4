import gc
import weakref

import pytest
import torch

from studio.engine import devices
from studio.engine.devices import DeviceInfo, OutOfMemory, is_out_of_memory, run_with_oom_fallback, select_device

FAKE_GPU = DeviceInfo("cuda", "cpu", "Fake GPU", "CUDA: Fake GPU", 8 * 2**30)


def test_cpu_is_chosen_and_labelled_when_no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    info = select_device()
    assert info.kind == "cpu" and info.torch_device == "cpu"
    threads = torch.get_num_threads()
    assert info.label == f"CPU ({threads} thread{'s' if threads != 1 else ''})"


def test_environment_variable_wins_over_preference(monkeypatch):
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    assert select_device("cuda").kind == "cpu"


def test_unavailable_device_falls_back_and_says_why(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    info = select_device("cuda:3")
    assert info.kind != "cuda"
    assert "cuda:3 was requested but is not available" in info.note


def test_unknown_device_name_is_explained():
    info = select_device("tpu")
    assert "unknown device 'tpu'" in info.note


def test_out_of_memory_is_recognised_for_cuda_and_mps():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_oom_retries_smaller_and_frees_the_failed_attempt(monkeypatch):
    released = []
    monkeypatch.setattr(devices, "release_memory", lambda device=None: (gc.collect(), released.append(device)))
    failed_buffers = []
    tried = []

    def work(device, size):
        tried.append((device.label, size))
        buffer = torch.zeros(size, size)
        if size > 64:
            failed_buffers.append(weakref.ref(buffer))
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory at {size}")
        return size

    messages = []
    result = run_with_oom_fallback(work, FAKE_GPU, [256, 128, 64], on_retry=messages.append)
    assert result == 64
    assert tried == [("CUDA: Fake GPU", 256), ("CUDA: Fake GPU", 128), ("CUDA: Fake GPU", 64)]
    assert len(released) == 2 and len(messages) == 2 and "retrying at size 128" in messages[0]
    # The failed attempts' tensors are gone: memory is back where it was.
    assert all(ref() is None for ref in failed_buffers)


def test_oom_falls_back_to_the_cpu_after_the_smallest_size():
    def work(device, size):
        if device.kind == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return device.kind, size

    assert run_with_oom_fallback(work, FAKE_GPU, [512, 256]) == ("cpu", 512)


def test_oom_everywhere_gives_a_clear_error_and_other_errors_pass_through():
    def always_oom(device, size):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(OutOfMemory, match="Out of memory at every size"):
        run_with_oom_fallback(always_oom, FAKE_GPU, [128, 64], cpu_fallback=False)

    def broken(device, size):
        raise ValueError("not memory")

    with pytest.raises(ValueError, match="not memory"):
        run_with_oom_fallback(broken, FAKE_GPU, [128])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_memory_returns_to_its_level_after_an_injected_oom():
    gpu = select_device("cuda")
    before = devices.memory_in_use(gpu)

    def work(device, size):
        block = torch.empty(size, device=device.torch_device)
        if size > 1024:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return float(block.sum())

    run_with_oom_fallback(work, gpu, [64 * 2**20, 1024])
    assert devices.memory_in_use(gpu) == before
