"""One worker job seen from a widget: its progress, result, failure or cancellation, by callback.

The worker's signals carry every job's id; a widget that runs several kinds of job (a folder
scan, thumbnails, a training run) would otherwise filter ids by hand for each. A link is a child
of the object that started it and disconnects itself when its job ends.

A link with a ``failed`` callback owns its job's failure: the worker marks the job owned, so
the main window does not show the same failure again in a dialog. Without one, the failure is
the main window's to show. ``paused`` and ``resumed`` are called when the worker really holds
or resumes the job (after the step it was on), whoever asked: the link or the status bar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Slot

if TYPE_CHECKING:
    from studio.engine.jobs import JobFactory
    from studio.services.worker import Worker

Callback = Callable[[Any], None]


class JobLink(QObject):
    def __init__(
        self,
        worker: Worker,
        title: str,
        factory: JobFactory,
        parent: QObject,
        *,
        progress: Callback | None = None,
        finished: Callback | None = None,
        failed: Callable[[str], None] | None = None,
        cancelled: Callback | None = None,
        paused: Callable[[], None] | None = None,
        resumed: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = worker
        self._progress, self._finished, self._failed, self._cancelled = progress, finished, failed, cancelled
        self._paused, self._resumed = paused, resumed
        self.running = True
        self.paused = False
        for signal, slot in self._connections():
            signal.connect(slot)
        self.job_id = worker.submit(title, factory, owned=failed is not None)

    def cancel(self) -> None:
        if self.running:
            self.worker.cancel(self.job_id)

    def pause(self) -> None:
        if self.running and not self.paused:
            self.paused = True
            self.worker.pause(self.job_id)

    def resume(self) -> None:
        if self.running and self.paused:
            self.paused = False
            self.worker.resume(self.job_id)

    def detach(self) -> None:
        """Stop delivering callbacks (the job keeps running unless cancelled)."""
        if not self.running:
            return
        self.running = False
        for signal, slot in self._connections():
            signal.disconnect(slot)
        self.deleteLater()

    def _connections(self) -> list[tuple[Any, Callable[..., None]]]:
        return [
            (self.worker.jobProgress, self._on_progress),
            (self.worker.jobFinished, self._on_finished),
            (self.worker.jobFailed, self._on_failed),
            (self.worker.jobCancelled, self._on_cancelled),
            (self.worker.jobPaused, self._on_paused),
            (self.worker.jobResumed, self._on_resumed),
        ]

    @Slot(int, object)
    def _on_progress(self, job_id: int, progress) -> None:
        if job_id == self.job_id and self.running and self._progress is not None:
            self._progress(progress)

    @Slot(int)
    def _on_paused(self, job_id: int) -> None:
        if job_id == self.job_id and self.running:
            self.paused = True
            if self._paused is not None:
                self._paused()

    @Slot(int)
    def _on_resumed(self, job_id: int) -> None:
        if job_id == self.job_id and self.running:
            self.paused = False
            if self._resumed is not None:
                self._resumed()

    def _end(self, job_id: int, callback, value) -> None:
        if job_id != self.job_id or not self.running:
            return
        self.detach()
        if callback is not None:
            callback(value)

    @Slot(int, object)
    def _on_finished(self, job_id: int, result) -> None:
        self._end(job_id, self._finished, result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        self._end(job_id, self._failed, message)

    @Slot(int, object)
    def _on_cancelled(self, job_id: int, partial) -> None:
        self._end(job_id, self._cancelled, partial)
