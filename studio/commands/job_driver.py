"""How every long command runs its job: one progress bar, a gentle Ctrl+C and the exit code.

A job is an engine generator (:mod:`studio.engine.jobs`). The driver draws each progress it
yields on stderr and turns what happens into an exit code:

- the job finishes: :data:`EXIT_OK`, or :data:`EXIT_INTERRUPTED` when its result says it was
  cancelled (a partial result the command still reports: a checkpoint, the best image so far);
- the first Ctrl+C, for a job that can stop gently (``stopping`` names what it then does), asks
  it to stop: :class:`JobCancelled` is thrown into it at its next yield and it returns its
  partial result, as above;
- a second Ctrl+C, or the first for a job with nothing to keep, aborts at once: the ``aborted``
  line and :data:`EXIT_INTERRUPTED`, with no result;
- the job fails: ``failed`` says why and gives the exit code; a failure it does not know
  (``failed`` returns None) is raised to the command, after the bar's line is closed.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.commands.progress_bar import ProgressBar
from studio.commands.terminal import EXIT_INTERRUPTED, EXIT_OK, print_error
from studio.engine.jobs import JobCancelled

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    from studio.engine.jobs import JobGenerator, Progress


@dataclass(frozen=True)
class JobEnd:
    """How a driven job ended."""

    code: int  # the command's exit code
    result: Any = None  # what the job returned (maybe partial); None when it was aborted or failed


def drive_job(
    job: JobGenerator,
    *,
    stopping: str | None = None,
    aborted: Callable[[], str] = lambda: "aborted",
    failed: Callable[[Exception], int | None] | None = None,
    show_progress: bool = True,
    agree: Callable[[Progress, bool], bool] | None = None,
) -> JobEnd:
    """Run ``job`` to its end on this thread with a progress bar on stderr.

    ``stopping``: what a first Ctrl+C makes the job do ("saving a checkpoint"); None when the job
    keeps nothing, so Ctrl+C aborts at once. ``aborted``: the line an abort prints (asked when it
    happens). ``failed``: says why the job failed and returns the exit code, or None to raise.
    ``show_progress``: False draws nothing (a distributed run's other processes).
    ``agree(progress, wanted)``: whether to stop at this progress, given whether this process
    wants to (a distributed run stops every process at the same step).
    """
    bar = ProgressBar(sys.stderr if show_progress else None)
    try:
        with StopOnInterrupt(stopping) as stop:
            result = _run(job, bar, stop, agree)
    except (KeyboardInterrupt, JobCancelled):  # aborted, or a job that ends on a cancel
        bar.end()
        print_error(aborted())
        return JobEnd(EXIT_INTERRUPTED)
    except Exception as exc:
        bar.end()
        code = failed(exc) if failed is not None else None
        if code is None:
            raise
        return JobEnd(code)
    bar.end()
    return JobEnd(EXIT_INTERRUPTED if getattr(result, "cancelled", False) else EXIT_OK, result)


def exit_with(code: int, *errors: type[Exception]) -> Callable[[Exception], int | None]:
    """A ``failed`` for :func:`drive_job`: one of ``errors`` prints its message and exits with ``code``."""

    def failed(exc: Exception) -> int | None:
        if not isinstance(exc, errors):
            return None
        print_error(str(exc))
        return code

    return failed


def _run(
    job: JobGenerator, bar: ProgressBar, stop: StopOnInterrupt, agree: Callable[[Progress, bool], bool] | None
) -> Any:
    try:
        progress = next(job)
        while True:
            bar.update(progress)
            stop_now = stop.requested if agree is None else agree(progress, stop.requested)
            # Once asked, every later yield is told to stop too: the job may be winding down.
            progress = job.throw(JobCancelled()) if stop_now else next(job)
    except StopIteration as finished:
        return finished.value


class StopOnInterrupt:
    """The first Ctrl+C asks the job to stop after this step; a second one aborts at once.

    With nothing to say it does (``what_happens`` None), Ctrl+C is left as it is: it aborts.
    """

    def __init__(self, what_happens: str | None) -> None:
        self.what_happens = what_happens  # e.g. "saving a checkpoint"
        self.requested = False
        self.previous: Any = None
        self.installed = False

    def __enter__(self) -> StopOnInterrupt:
        if self.what_happens is None:
            return self
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        except ValueError:  # not the main thread: leave Ctrl+C alone
            pass
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if sys.stderr is not None:
            print(f"\nStopping after this step and {self.what_happens} (Ctrl+C again to abort)…", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)
