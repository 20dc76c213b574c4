"""The one thread that owns all torch work.

Two lanes share it (DESIGN.md, "The worker"):

* the **render slot**: interactive previews. Only the newest request counts; a request made
  while another is pending replaces it. Each request gets a stamp, results carry it, and the
  view drops any result whose stamp is not :attr:`Worker.latest_stamp`.
* the **job queue**: long work, FIFO. A job is a generator (see :mod:`studio.engine.jobs`)
  stepped one ``next()`` at a time, so it can be cancelled, paused and resumed between
  yields, and the render slot is served between its steps.

The thread is a plain :class:`threading.Thread` driven by a :class:`threading.Condition`
rather than a ``QThread``: there is no Qt event loop to run on it, and a Python thread can
never produce "QThread: Destroyed while thread is still running". Signals are emitted on the
worker thread; Qt delivers them queued to receivers on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QCoreApplication, QObject, Signal

from studio.engine.devices import (
    DeviceInfo,
    is_device_lost,
    is_out_of_memory,
    mark_unusable,
    release_memory,
    select_device,
)
from studio.engine.jobs import JobCancelled, Progress

log = logging.getLogger("studio.worker")

THREAD_NAME = "studio-worker"

RenderFn = Callable[[DeviceInfo], object]
JobFactory = Callable[[DeviceInfo], Generator[Progress, None, object]]


@dataclass(eq=False)
class _Job:
    id: int
    title: str
    factory: JobFactory
    # A job started through a JobLink belongs to the controller that made the link, which shows
    # its failure; only failures of unowned jobs reach unownedJobFailed (the main window's dialog).
    owned: bool = False
    generator: Generator[Progress, None, object] | None = None
    cancel_requested: bool = False
    paused: bool = False
    # What the UI was last told, so jobPaused/jobResumed fire once per change, from the
    # worker thread, after the step in flight: no progress arrives after jobPaused.
    announced_paused: bool = False


def _written_for_the_user(exc: BaseException) -> bool:
    """The studio's own errors (a class defined in a ``studio`` module, SaveError among them)
    and OSErrors carry a message meant for the user; anything else (KeyError, a RuntimeError
    from torch) is a bug, and its class name helps the report."""
    if isinstance(exc, OSError):
        return True
    return any(cls.__module__ == "studio" or cls.__module__.startswith("studio.") for cls in type(exc).__mro__)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if not text:
        return type(exc).__name__
    return text if _written_for_the_user(exc) else f"{type(exc).__name__}: {text}"


class Worker(QObject):
    ready = Signal(object)  # DeviceInfo
    # The worker moved to another device (a lost GPU: the CPU from now on); ``ready`` fires only once.
    deviceChanged = Signal(object)  # DeviceInfo
    startupFailed = Signal(str)
    renderDone = Signal(int, object)  # stamp, result
    renderFailed = Signal(int, str)  # stamp, message
    jobStarted = Signal(int, str)  # job id, title
    jobProgress = Signal(int, object)  # job id, Progress
    jobFinished = Signal(int, object)  # job id, return value
    jobCancelled = Signal(int, object)  # job id, partial result or None
    jobFailed = Signal(int, str)  # job id, message
    unownedJobFailed = Signal(int, str)  # the same, for jobs no controller owns
    jobPaused = Signal(int)
    jobResumed = Signal(int)

    def __init__(self, device_preference: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._preference = device_preference
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._device: DeviceInfo | None = None
        self._startup_error: str | None = None
        self._stamp = 0
        self._pending_render: tuple[int, RenderFn] | None = None
        self._next_job_id = 1
        self._queue: deque[_Job] = deque()
        self._running: _Job | None = None

    # ----- GUI-thread API -------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; torch is imported there so the window can show first."""
        with self._cond:
            if self._thread is not None or self._stopping:
                return
            # Daemon, so a forgotten shutdown() cannot hang interpreter exit; shutdown() and the
            # aboutToQuit net below are what actually join it.
            self._thread = threading.Thread(target=self._main, name=THREAD_NAME, daemon=True)
            self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:
            # A safety net for a quit path that forgets shutdown(): the thread is still joined.
            app.aboutToQuit.connect(self.shutdown)

    @property
    def device(self) -> DeviceInfo | None:
        return self._device

    @property
    def latest_stamp(self) -> int:
        return self._stamp

    def request_render(self, fn: RenderFn) -> int:
        """Queue ``fn(device)`` in the render slot, replacing any pending request."""
        with self._cond:
            self._stamp += 1
            self._pending_render = (self._stamp, fn)
            self._cond.notify()
            return self._stamp

    def submit(self, title: str, factory: JobFactory, *, owned: bool = False) -> int:
        """Queue a job; ``factory(device)`` is called on the worker thread when its turn comes.

        ``owned``: whoever submits it shows its failure (see :class:`studio.ui.job_link.JobLink`).
        """
        with self._cond:
            job = _Job(self._next_job_id, title, factory, owned=owned)
            self._next_job_id += 1
            self._queue.append(job)
            self._cond.notify()
            return job.id

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel the running job (``None``) or the job ``job_id``, running or queued."""
        removed: _Job | None = None
        with self._cond:
            job = self._find(job_id)
            if job is None:
                return
            if job is self._running:
                job.cancel_requested = True
                self._cond.notify()
            else:
                self._queue.remove(job)
                removed = job
        if removed is not None:
            self.jobCancelled.emit(removed.id, None)

    def pause(self, job_id: int | None = None) -> None:
        self._set_paused(job_id, True)

    def resume(self, job_id: int | None = None) -> None:
        self._set_paused(job_id, False)

    def has_active_jobs(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._queue)

    def running_job(self) -> tuple[int, str] | None:
        with self._cond:
            job = self._running
            return None if job is None else (job.id, job.title)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything, let the running job stop at its next yield, join the thread.

        Idempotent. Returns True once the thread has ended (or never started).
        """
        with self._cond:
            self._stopping = True
            self._pending_render = None
            self._cond.notify()
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.error("worker thread did not stop within %.1f s", timeout)
            return False
        return True

    def _find(self, job_id: int | None) -> _Job | None:
        if job_id is None or (self._running is not None and self._running.id == job_id):
            return self._running
        return next((job for job in self._queue if job.id == job_id), None)

    def _set_paused(self, job_id: int | None, paused: bool) -> None:
        with self._cond:
            job = self._find(job_id)
            if job is not None:
                job.paused = paused
                self._cond.notify()

    # ----- worker thread --------------------------------------------------------------------

    def _main(self) -> None:
        try:
            # select_device imports torch, which takes seconds: here, never on the GUI thread.
            device = select_device(self._preference)
        except Exception as exc:
            log.exception("choosing the compute device failed")
            with self._cond:
                self._startup_error = f"No compute device: {_describe(exc)}"
            self.startupFailed.emit(self._startup_error)
        else:
            with self._cond:
                self._device = device
            log.info("worker ready on %s", device.label)
            self.ready.emit(device)
        self._loop()
        self._stop_all()

    def _loop(self) -> None:
        """Serve the lanes until shutdown: render first, then one job step, then the queue."""
        while True:
            with self._cond:
                action = None if self._stopping else self._next_action()
                while not self._stopping and action is None:
                    self._cond.wait()
                    action = None if self._stopping else self._next_action()
                if action is None:
                    return
            action()

    def _next_action(self) -> Callable[[], None] | None:
        """What to do next, decided under the lock; None means wait for a notify."""
        if self._pending_render is not None:
            stamp, fn = self._pending_render
            self._pending_render = None
            return lambda: self._render(stamp, fn)
        job = self._running
        if job is not None:
            if job.cancel_requested:
                return partial(self._cancel_running, job)
            if job.paused != job.announced_paused:
                job.announced_paused = job.paused
                signal = self.jobPaused if job.paused else self.jobResumed
                return partial(signal.emit, job.id)
            if job.paused:
                return None  # Paused: sleep until resume, cancel, a render or shutdown.
            return partial(self._step, job)
        if self._queue:
            job = self._queue.popleft()
            self._running = job
            return lambda: self._start(job)
        return None

    def _render(self, stamp: int, fn: RenderFn) -> None:
        if self._device is None:
            self.renderFailed.emit(stamp, f"Preview failed: {self._startup_error}")
            return
        try:
            result = fn(self._device)
        except Exception as exc:  # noqa: BLE001 - a failed preview is reported, never fatal
            message, oom = self._report(f"Preview {stamp}", "Preview", exc)
        else:
            self.renderDone.emit(stamp, result)
            return
        self._recover(oom)
        self.renderFailed.emit(stamp, message)

    def _start(self, job: _Job) -> None:
        self.jobStarted.emit(job.id, job.title)
        if self._device is None:
            self._end(job)
            self._fail(job, f"{job.title} failed: {self._startup_error}")
            return
        try:
            job.generator = job.factory(self._device)
        except Exception as exc:  # noqa: BLE001 - a broken job must not kill the thread
            message, oom = self._report(f"Job {job.id}", job.title, exc)
        else:
            return
        self._end(job)
        self._recover(oom)
        self._fail(job, message)

    def _step(self, job: _Job) -> None:
        assert job.generator is not None
        try:
            progress = next(job.generator)
        except StopIteration as stop:
            self._end(job)
            self.jobFinished.emit(job.id, stop.value)
            return
        except Exception as exc:  # noqa: BLE001 - a job's exception must not kill the thread
            message, oom = self._report(f"Job {job.id}", job.title, exc)
        else:
            self.jobProgress.emit(job.id, progress)
            return
        self._end(job)
        self._recover(oom)
        self._fail(job, message)

    def _cancel_running(self, job: _Job) -> None:
        """Throw JobCancelled in at the current yield; a job may return a partial result."""
        partial: object = None
        failure: tuple[str, bool] | None = None
        generator = job.generator
        if generator is not None:
            try:
                generator.throw(JobCancelled())
            except StopIteration as stop:
                partial = stop.value
            except JobCancelled:
                pass
            except Exception as exc:  # noqa: BLE001 - failing while stopping is still a failure
                failure = self._report(f"Job {job.id}", job.title, exc)
            else:
                # It swallowed the cancel and yielded again: force it to end.
                log.warning("job %r kept going after JobCancelled; closing it", job.title)
                try:
                    generator.close()
                except RuntimeError:
                    log.exception("job %r ignored GeneratorExit", job.title)
        self._end(job)
        if failure is None:
            self.jobCancelled.emit(job.id, partial)
            return
        message, oom = failure
        self._recover(oom)
        self._fail(job, message)

    def _report(self, what: str, title: str, exc: Exception) -> tuple[str, bool]:
        """Log ``exc`` with its traceback; return the UI's message and whether it was an OOM.

        An unrecoverable GPU error (a device-side assert) marks the device unusable: later
        renders and jobs run on the CPU, and the message says so (no retry on the GPU)."""
        log.error("%s (%s) failed", what, title, exc_info=exc)
        message = f"{title} failed: {_describe(exc)}"
        if self._device is not None and self._device.kind != "cpu" and is_device_lost(exc):
            message = f"{title} failed: {mark_unusable(self._device, exc)}"
            device = select_device(self._preference)
            with self._cond:
                self._device = device
            log.info("worker moved to %s", device.label)
            self.deviceChanged.emit(device)
        return message, is_out_of_memory(exc)

    def _recover(self, out_of_memory: bool) -> None:
        # Called after the except block has ended: the traceback, which holds the failed
        # step's tensors through its frames, is gone, so the allocator really gets them back.
        if out_of_memory:
            release_memory(self._device)

    def _fail(self, job: _Job, message: str) -> None:
        self.jobFailed.emit(job.id, message)
        if not job.owned:
            self.unownedJobFailed.emit(job.id, message)

    def _end(self, job: _Job) -> None:
        with self._cond:
            job.generator = None
            if self._running is job:
                self._running = None

    def _stop_all(self) -> None:
        """At shutdown: the running job stops at its yield, queued jobs are dropped."""
        with self._cond:
            running = self._running
            queued = list(self._queue)
            self._queue.clear()
        if running is not None:
            self._cancel_running(running)
        for job in queued:
            self.jobCancelled.emit(job.id, None)
