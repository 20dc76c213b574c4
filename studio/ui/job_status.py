"""The status bar's view of the running job: title, progress bar, pause and stop buttons."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

if TYPE_CHECKING:
    from studio.engine.jobs import Progress
    from studio.services.worker import Worker


class JobStatus(QWidget):
    def __init__(self, worker: Worker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._job_id: int | None = None
        self._started = 0.0
        self._paused = False
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(True)
        self.pause_button = QToolButton(text="Pause")
        self.stop_button = QToolButton(text="Stop")
        self.pause_button.clicked.connect(self._toggle_pause)
        self.stop_button.clicked.connect(self._stop)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.bar, self.pause_button, self.stop_button):
            layout.addWidget(widget)
        worker.jobStarted.connect(self._on_started)
        worker.jobProgress.connect(self._on_progress)
        worker.jobPaused.connect(lambda job_id: self._set_paused(job_id, True))
        worker.jobResumed.connect(lambda job_id: self._set_paused(job_id, False))
        for signal in (worker.jobFinished, worker.jobCancelled, worker.jobFailed):
            signal.connect(self._on_ended)
        self.hide()

    @Slot(int, str)
    def _on_started(self, job_id: int, title: str) -> None:
        self._job_id = job_id
        self._started = time.monotonic()
        self._set_paused(job_id, False)
        self.label.setText(title)
        self.bar.setRange(0, 0)  # busy until the first fraction arrives
        self.show()

    @Slot(int, object)
    def _on_progress(self, job_id: int, progress: Progress) -> None:
        if job_id != self._job_id:
            return
        if progress.fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(1000 * min(max(progress.fraction, 0.0), 1.0)))
            self.bar.setFormat(f"%p%{self._eta(progress.fraction)}")
        if progress.message:
            self.label.setText(progress.message)

    def _eta(self, fraction: float) -> str:
        elapsed = time.monotonic() - self._started
        if fraction <= 0.02 or elapsed < 1.0:
            return ""
        remaining = elapsed * (1.0 - fraction) / fraction
        if remaining >= 90:
            return f" · {remaining / 60:.0f} min left"
        return f" · {remaining:.0f} s left"

    def _on_ended(self, job_id: int, _payload=None) -> None:
        if job_id == self._job_id:
            self._job_id = None
            self.hide()

    def _set_paused(self, job_id: int, paused: bool) -> None:
        if job_id == self._job_id:
            self._paused = paused
            self.pause_button.setText("Resume" if paused else "Pause")

    def _toggle_pause(self) -> None:
        if self._job_id is None:
            return
        if self._paused:
            self._worker.resume(self._job_id)
        else:
            self._worker.pause(self._job_id)

    def _stop(self) -> None:
        if self._job_id is not None:
            self._worker.cancel(self._job_id)
