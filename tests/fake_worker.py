"""A scriptable stand-in for :class:`studio.services.worker.Worker`, for controller tests.

It has the worker's signals and GUI-thread API, but runs nothing by itself: a test decides when
the pending render is drawn and when a job steps, finishes, fails or is cancelled, on the test's
own thread, so a controller's reaction to each outcome can be checked one at a time (as Krita AI
Diffusion tests its model against a scriptable fake client). Signals are emitted directly, so
slots run before the call returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from studio.engine.jobs import JobCancelled, Progress

if TYPE_CHECKING:
    from collections.abc import Callable, Generator


@dataclass
class FakeJob:
    id: int
    title: str
    factory: Callable[[Any], Generator[Progress, None, object]]
    owned: bool
    state: str = "queued"  # queued, running, paused, finished, failed, cancelled
    generator: Generator[Progress, None, object] | None = None
    progress: list[Progress] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.state in ("finished", "failed", "cancelled")


class FakeWorker(QObject):
    ready = Signal(object)
    deviceChanged = Signal(object)
    startupFailed = Signal(str)
    renderDone = Signal(int, object)
    renderFailed = Signal(int, str)
    jobStarted = Signal(int, str)
    jobProgress = Signal(int, object)
    jobFinished = Signal(int, object)
    jobCancelled = Signal(int, object)
    jobFailed = Signal(int, str)
    unownedJobFailed = Signal(int, str)
    jobPaused = Signal(int)
    jobResumed = Signal(int)

    def __init__(self, device: Any = None) -> None:
        super().__init__()
        if device is None:
            from studio.engine.devices import select_device

            device = select_device("cpu")
        self._device = device
        self.latest_stamp = 0
        self.pending_render: tuple[int, Callable[[Any], object]] | None = None
        self.jobs: list[FakeJob] = []

    # ----- the worker's API ---------------------------------------------------------------
    @property
    def device(self) -> Any:
        return self._device

    def start(self) -> None:
        self.ready.emit(self._device)

    def shutdown(self, timeout: float = 10.0) -> bool:
        for job in self.jobs:
            if not job.ended:
                self.cancel(job.id)
        return True

    def request_render(self, fn: Callable[[Any], object]) -> int:
        self.latest_stamp += 1
        self.pending_render = (self.latest_stamp, fn)
        return self.latest_stamp

    def submit(self, title: str, factory, *, owned: bool = False) -> int:
        job = FakeJob(len(self.jobs) + 1, title, factory, owned)
        self.jobs.append(job)
        return job.id

    def cancel(self, job_id: int | None = None) -> None:
        job = self._find(job_id)
        if job is None or job.ended:
            return
        partial = None
        if job.generator is not None:
            try:
                job.generator.throw(JobCancelled())
            except StopIteration as stop:
                partial = stop.value
            except JobCancelled:
                pass
        job.state = "cancelled"
        self.jobCancelled.emit(job.id, partial)

    def pause(self, job_id: int | None = None) -> None:
        job = self._find(job_id)
        if job is not None and job.state == "running":
            job.state = "paused"
            self.jobPaused.emit(job.id)

    def resume(self, job_id: int | None = None) -> None:
        job = self._find(job_id)
        if job is not None and job.state == "paused":
            job.state = "running"
            self.jobResumed.emit(job.id)

    def has_active_jobs(self) -> bool:
        return any(not job.ended for job in self.jobs)

    def running_job(self) -> tuple[int, str] | None:
        for job in self.jobs:
            if job.state in ("running", "paused"):
                return job.id, job.title
        return None

    # ----- what a test scripts ------------------------------------------------------------
    def job(self, title_part: str | None = None) -> FakeJob:
        """The newest job (whose title contains ``title_part``, if given)."""
        for job in reversed(self.jobs):
            if title_part is None or title_part in job.title:
                return job
        raise LookupError(f"no job titled like {title_part!r}; jobs: {[j.title for j in self.jobs]}")

    def draw(self) -> object:
        """Run the pending render on this thread and deliver its result (or its failure)."""
        assert self.pending_render is not None, "nothing was asked to render"
        stamp, fn = self.pending_render
        self.pending_render = None
        try:
            result = fn(self._device)
        except Exception as exc:  # noqa: BLE001 - delivered the way the worker delivers it
            self.renderFailed.emit(stamp, f"{type(exc).__name__}: {exc}")
            return None
        self.renderDone.emit(stamp, result)
        return result

    def step(self, job: FakeJob | None = None) -> Progress | None:
        """Advance a job by one yield (starting it first); returns the progress, None at the end."""
        job = job or self.jobs[-1]
        assert not job.ended, f"{job.title} has already ended ({job.state})"
        try:
            if job.generator is None:
                job.state = "running"
                self.jobStarted.emit(job.id, job.title)
                job.generator = job.factory(self._device)
            progress = next(job.generator)
        except StopIteration as stop:
            self.finish(job, stop.value)
            return None
        except Exception as exc:  # noqa: BLE001 - delivered the way the worker delivers it
            self.fail(job, f"{job.title} failed: {type(exc).__name__}: {exc}")
            return None
        job.progress.append(progress)
        self.jobProgress.emit(job.id, progress)
        return progress

    def run(self, job: FakeJob | None = None) -> FakeJob:
        """Run a job to its end on this thread."""
        job = job or self.jobs[-1]
        while not job.ended:
            self.step(job)
        return job

    def report(self, job: FakeJob, progress: Progress) -> None:
        job.state = "running"
        job.progress.append(progress)
        self.jobProgress.emit(job.id, progress)

    def finish(self, job: FakeJob, result: object) -> None:
        job.state = "finished"
        self.jobFinished.emit(job.id, result)

    def fail(self, job: FakeJob, message: str) -> None:
        job.state = "failed"
        self.jobFailed.emit(job.id, message)
        if not job.owned:
            self.unownedJobFailed.emit(job.id, message)

    def _find(self, job_id: int | None) -> FakeJob | None:
        if job_id is None:
            running = self.running_job()
            return None if running is None else self.jobs[running[0] - 1]
        return self.jobs[job_id - 1] if 0 < job_id <= len(self.jobs) else None
