"""The worker's running job as one observable object, for the status bar.

The worker's signals carry every job's id; this follows the one that is running now (whoever
started it), so a view shows its title, progress and pause state and sends pause, resume and
stop without ever seeing an id.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

if TYPE_CHECKING:
    from studio.engine.jobs import Progress
    from studio.services.worker import Worker


class RunningJob(QObject):
    started = Signal(str)  # title
    progressed = Signal(object, str)  # fraction (None: busy) and message
    pausedChanged = Signal(bool)
    ended = Signal()

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._job_id: int | None = None
        self._started = 0.0
        self.paused = False
        worker.jobStarted.connect(self._on_started)
        worker.jobProgress.connect(self._on_progress)
        worker.jobPaused.connect(lambda job_id: self._set_paused(job_id, True))
        worker.jobResumed.connect(lambda job_id: self._set_paused(job_id, False))
        for signal in (worker.jobFinished, worker.jobCancelled, worker.jobFailed):
            signal.connect(self._on_ended)

    @property
    def active(self) -> bool:
        return self._job_id is not None

    def seconds_left(self, fraction: float) -> float | None:
        """Time left at this fraction, from the pace so far; None while too early to tell."""
        elapsed = time.monotonic() - self._started
        if fraction <= 0.02 or elapsed < 1.0:
            return None
        return elapsed * (1.0 - fraction) / fraction

    def toggle_pause(self) -> None:
        if self._job_id is None:
            return
        if self.paused:
            self._worker.resume(self._job_id)
        else:
            self._worker.pause(self._job_id)

    def stop(self) -> None:
        if self._job_id is not None:
            self._worker.cancel(self._job_id)

    @Slot(int, str)
    def _on_started(self, job_id: int, title: str) -> None:
        self._job_id = job_id
        self._started = time.monotonic()
        self.started.emit(title)
        self._set_paused(job_id, False)

    @Slot(int, object)
    def _on_progress(self, job_id: int, progress: Progress) -> None:
        if job_id == self._job_id:
            fraction = None if progress.fraction is None else min(max(progress.fraction, 0.0), 1.0)
            self.progressed.emit(fraction, progress.message or "")

    def _on_ended(self, job_id: int, _payload: object = None) -> None:
        if job_id == self._job_id:
            self._job_id = None
            self.ended.emit()

    def _set_paused(self, job_id: int, paused: bool) -> None:
        if job_id == self._job_id:
            self.paused = paused
            self.pausedChanged.emit(paused)
