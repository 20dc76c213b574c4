"""The status bar's view of the running job: title, progress bar, pause and stop buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget

from studio.services.running_job import RunningJob
from studio.ui.controls import ElidedLabel

if TYPE_CHECKING:
    from studio.services.worker import Worker


# The longest text the bar shows: its width is measured from this, so it is never cut off.
_WIDEST_BAR_TEXT = "100% · 999 min left"


class JobStatus(QWidget):
    def __init__(self, worker: Worker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = RunningJob(worker, self)
        # A job's message ("Found 120 images in /a/long/folder…") ends in "…", never widening the window.
        self.label = ElidedLabel(min_width=QFontMetrics(self.font()).horizontalAdvance("Mmmmmmmm…"))
        self.bar = QProgressBar()
        # Wide enough for "100% · 999 min left" in this font, with the bar's own margins.
        self.bar.setFixedWidth(max(180, self.bar.fontMetrics().horizontalAdvance(_WIDEST_BAR_TEXT) + 40))
        self.bar.setTextVisible(True)
        self.pause_button = QToolButton(text="Pause")
        self.stop_button = QToolButton(text="Stop")
        self.pause_button.clicked.connect(self.job.toggle_pause)
        self.stop_button.clicked.connect(self.job.stop)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        for widget in (self.bar, self.pause_button, self.stop_button):
            layout.addWidget(widget)
        self.job.started.connect(self._on_started)
        self.job.progressed.connect(self._on_progress)
        self.job.pausedChanged.connect(lambda paused: self.pause_button.setText("Resume" if paused else "Pause"))
        self.job.ended.connect(self.hide)
        self.hide()

    def _on_started(self, title: str) -> None:
        self.label.set_full_text(title)
        self.bar.setRange(0, 0)  # busy until the first fraction arrives
        self.show()

    def _on_progress(self, fraction: float | None, message: str) -> None:
        if fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(1000 * fraction))
            self.bar.setFormat(f"%p%{_time_left(self.job.seconds_left(fraction))}")
        if message:
            self.label.set_full_text(message)


def _time_left(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds >= 90:
        return f" · {seconds / 60:.0f} min left"
    return f" · {seconds:.0f} s left"
