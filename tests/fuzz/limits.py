"""Bounds on one fuzz example: a hang raises Hang, and memory beyond a few GiB more than the test
process holds now fails to allocate (MemoryError, torch's RuntimeError) instead of swapping the
machine, whatever its size."""

from __future__ import annotations

import contextlib
import resource
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

EXTRA_MEMORY = 4 * 2**30


class Hang(BaseException):
    """An example ran far longer than any should."""


@contextlib.contextmanager
def bounded(seconds: int) -> Iterator[None]:
    def on_alarm(_signum, _frame):
        raise Hang(f"no answer in {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        size_kb = int(next(line for line in status if line.startswith("VmSize:")).split()[1])
    limit = size_kb * 1024 + EXTRA_MEMORY
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, previous)
