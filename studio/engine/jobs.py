"""The shape of a long job, shared by the GUI worker and the command line.

A job is a generator: it yields :class:`Progress` between steps and returns its result. The
runner may throw :class:`JobCancelled` into it at a yield; a job that can hand back a partial
result (the best image so far) catches it and returns that, otherwise it simply ends.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Progress:
    fraction: float | None  # 0..1, or None when the length is unknown
    message: str = ""
    preview: Any = None  # an image (PIL, numpy HxWx3 uint8) the UI may show


class JobCancelled(Exception):
    """Thrown into a job's generator when the user stops it."""


JobGenerator = Generator[Progress, None, Any]
JobFactory = Callable[..., JobGenerator]


def run_to_end(job: JobGenerator, on_progress: Callable[[Progress], None] | None = None) -> Any:
    """Drive a job to completion on the calling thread (the command line does this)."""
    try:
        while True:
            progress = next(job)
            if on_progress is not None:
                on_progress(progress)
    except StopIteration as stop:
        return stop.value
