"""Choosing the compute device and surviving its running out of memory.

Order of preference: CUDA, then Apple MPS, then the CPU. A preference from the settings, or
the environment variable ``STUDIO_DEVICE`` (which wins), can pin one: ``cuda``, ``cuda:1``,
``mps`` or ``cpu``. A pinned device that is not available falls back to the automatic choice,
and the returned info says why.
"""

from __future__ import annotations

import gc
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

DEVICE_ENV = "STUDIO_DEVICE"
T = TypeVar("T")


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda", "mps" or "cpu"
    torch_device: str  # what torch.device() takes: "cuda:0", "mps", "cpu"
    name: str  # the hardware's name
    label: str  # what the status bar shows
    total_memory: int | None = None  # bytes, where the backend tells
    note: str = ""  # why a requested device was not used, if it was not

    def torch(self):
        import torch

        return torch.device(self.torch_device)


def _cpu_info(note: str = "") -> DeviceInfo:
    import torch

    threads = torch.get_num_threads()
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    import platform

    name = platform.processor() or platform.machine() or "CPU"
    return DeviceInfo("cpu", "cpu", name, f"CPU ({threads} thread{'s' if threads != 1 else ''})", total, note)


def _cuda_info(index: int) -> DeviceInfo:
    import torch

    props = torch.cuda.get_device_properties(index)
    return DeviceInfo("cuda", f"cuda:{index}", props.name, f"CUDA: {props.name}", props.total_memory)


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def _mps_info() -> DeviceInfo:
    import torch

    total = None
    recommended = getattr(getattr(torch, "mps", None), "recommended_max_memory", None)
    if recommended is not None:
        try:
            total = int(recommended())
        except RuntimeError:
            total = None
    return DeviceInfo("mps", "mps", "Apple GPU", "Apple MPS", total)


def available_devices() -> list[DeviceInfo]:
    """Every device this machine offers, best first."""
    import torch

    found: list[DeviceInfo] = []
    if torch.cuda.is_available():
        found.extend(_cuda_info(i) for i in range(torch.cuda.device_count()))
    if _mps_available():
        found.append(_mps_info())
    found = [device for device in found if device.torch_device not in _unusable]
    found.append(_cpu_info())
    return found


def select_device(preference: str | None = None) -> DeviceInfo:
    """The device to run on: ``STUDIO_DEVICE``, else ``preference``, else the best available."""
    import torch

    wanted = (os.environ.get(DEVICE_ENV) or preference or "auto").strip().lower()
    if wanted in ("", "auto"):
        return available_devices()[0]
    if wanted == "cpu":
        return _cpu_info()
    if wanted.startswith("cuda"):
        index = 0
        if ":" in wanted:
            try:
                index = int(wanted.split(":", 1)[1])
            except ValueError:
                index = -1
        if f"cuda:{index}" in _unusable:
            return _fallback(f"cuda:{index} stopped working ({_unusable[f'cuda:{index}']})")
        if torch.cuda.is_available() and 0 <= index < torch.cuda.device_count():
            return _cuda_info(index)
        return _fallback(f"{wanted} was requested but is not available")
    if wanted == "mps":
        if "mps" in _unusable:
            return _fallback(f"mps stopped working ({_unusable['mps']})")
        if _mps_available():
            return _mps_info()
        return _fallback("mps was requested but is not available")
    return _fallback(f"unknown device {wanted!r} (use auto, cuda, cuda:N, mps or cpu)")


def _fallback(note: str) -> DeviceInfo:
    log.warning("%s; choosing automatically", note)
    best = available_devices()[0]
    return DeviceInfo(best.kind, best.torch_device, best.name, best.label, best.total_memory, note)


def memory_in_use(device: DeviceInfo) -> int | None:
    """Bytes the torch allocator holds on ``device`` (None for the CPU, which does not say)."""
    import torch

    if device.kind == "cuda":
        return int(torch.cuda.memory_allocated(device.torch_device))
    if device.kind == "mps" and hasattr(torch, "mps"):
        return int(torch.mps.current_allocated_memory())
    return None


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA's OutOfMemoryError, MPS's 'MPS backend out of memory' RuntimeError, and the
    CPU's: torch's 'DefaultCPUAllocator: can't allocate memory' (or 'not enough memory' on
    Windows) RuntimeError, and Python's MemoryError."""
    import torch

    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc)
        return (
            text.startswith("MPS backend out of memory")
            or "CUDA out of memory" in text
            or "DefaultCPUAllocator" in text
        )
    return False


# CUDA errors after which the context is broken until the process ends (RELIABILITY.md case 18):
# every later call on the device fails as well, so retrying there only loops.
_DEVICE_LOST = (
    "device-side assert triggered",
    "an illegal memory access was encountered",
    "unspecified launch failure",
    "uncorrectable ECC error",
)
_unusable: dict[str, str] = {}  # torch device name -> why it stopped working


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (torch's run to pages), or its type's name if it has none."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def is_device_lost(exc: BaseException) -> bool:
    """True for an unrecoverable GPU error (a device-side assert, an illegal memory access...)."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and not is_out_of_memory(exc) and any(t in text for t in _DEVICE_LOST)


def mark_unusable(device: DeviceInfo, exc: BaseException) -> str:
    """Never choose ``device`` again in this process; the sentence that tells the user."""
    reason = first_line(exc)
    _unusable[device.torch_device] = reason
    message = f"{device.label} stopped working ({reason}); the studio uses the CPU until it is restarted"
    log.error(message)
    return message


def release_memory(device: DeviceInfo | None = None) -> None:
    """Give cached blocks back after a failure, so memory returns to its earlier level."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if _mps_available() and hasattr(torch, "mps"):
        torch.mps.empty_cache()


class OutOfMemory(RuntimeError):
    """Every size and device was tried and each ran out of memory."""


def run_with_oom_fallback(
    work: Callable[[DeviceInfo, Any], T],
    device: DeviceInfo,
    sizes: Sequence[Any],
    *,
    cpu_fallback: bool = True,
    on_retry: Callable[[str], None] | None = None,
) -> T:
    """Run ``work(device, size)``, retrying smaller sizes, then the CPU, on out-of-memory.

    ``sizes`` runs from the wanted size down to the smallest acceptable. The exception (which
    holds references to the failed attempt's tensors through its traceback) is dropped before
    memory is released, so the allocator really gets the memory back.
    """
    attempts: list[tuple[DeviceInfo, Any]] = [(device, size) for size in sizes]
    if cpu_fallback and device.kind != "cpu":
        attempts.append((_cpu_info(f"{device.label} ran out of memory"), sizes[0]))
    last_message = ""
    for index, (where, size) in enumerate(attempts):
        failed = False
        try:
            return work(where, size)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            failed = True
            last_message = first_line(exc)
            del exc
        if failed:
            # Outside the except block: the traceback and its frames are gone now.
            release_memory(where)
            if index + 1 < len(attempts):
                nxt_device, nxt_size = attempts[index + 1]
                message = (
                    f"Out of memory on {where.label} at size {size}; retrying at size {nxt_size} on {nxt_device.label}"
                )
                log.warning(message)
                if on_retry is not None:
                    on_retry(message)
    raise OutOfMemory(f"Out of memory at every size and device tried ({last_message})")
