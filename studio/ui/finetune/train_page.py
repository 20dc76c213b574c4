"""Page 5: the run on the worker: curves, the "closer to your images" bar, the sample grid,
progress, ETA, Pause/Resume/Stop. The status speaks plainly; the engine's own line (losses,
it/s, KID) is its tooltip."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWizardPage

from studio.ui.controls import plain_tooltip
from studio.ui.finetune.common import format_duration
from studio.ui.finetune.curves import TrainingCurves
from studio.ui.finetune.kid_bar import CloserBar
from studio.ui.finetune.plain import loss_words
from studio.ui.image_view import ImageView
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from PIL import Image

    from studio.engine.jobs import Progress
    from studio.engine.training.finetune.job import FinetuneResult
    from studio.ui.finetune.session import FinetuneSession

PAUSED = "Paused · "


class TrainPage(QWizardPage):
    def __init__(self, session: FinetuneSession) -> None:
        super().__init__()
        self.session = session
        self.setTitle("Training")
        self.setSubTitle(
            "The samples below are drawn from the same seeds every time: watch them take on "
            "your images' look. You can keep using the studio meanwhile."
        )
        self.samples = ImageView("The first samples appear after a few steps.")
        self.curves = TrainingCurves()
        self.closer = CloserBar()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.status = QLabel("Starting…")
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.status.setWordWrap(True)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button = QPushButton("Stop training")
        self.cancel_button.setToolTip("Stop now: the last checkpoint is kept and the model so far can still be saved")
        self.cancel_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.bar, 1)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.cancel_button)
        pictures = QHBoxLayout()
        pictures.addWidget(self.samples, 3)
        side = QVBoxLayout()
        side.addWidget(self.curves, 1)
        side.addWidget(self.closer)
        pictures.addLayout(side, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(pictures, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        session.trainingProgress.connect(self._on_progress)
        session.lossesLogged.connect(self.curves.add_losses)
        session.kidMeasured.connect(self.closer.show_kid)
        session.samplesChanged.connect(self._on_samples)
        session.trainingPaused.connect(self._on_paused)
        session.trainingResumed.connect(self._on_resumed)
        session.trainingFinished.connect(self._on_finished)
        session.trainingCancelled.connect(self._on_cancelled)
        session.trainingFailed.connect(self._on_failed)

    def initializePage(self) -> None:
        self.curves.clear_values()
        self.closer.clear()
        self.closer.setVisible(self.session.draft.options.kid)
        self.bar.setValue(0)
        self.status.setText("Reading your images…")
        self.pause_button.setEnabled(True)
        self.pause_button.setText("Pause")
        self.cancel_button.setEnabled(True)
        self.session.start_training()
        self.completeChanged.emit()

    def _on_progress(self, progress: Progress) -> None:
        if progress.fraction is not None:
            self.bar.setValue(int(progress.fraction * 1000))
        text = progress.message
        phase = getattr(progress, "phase", None)  # a TrainProgress's
        if phase == "train":
            text = f"Step {progress.step} of {progress.total_steps}"
            self.status.setToolTip(
                plain_tooltip(
                    progress.message + (f"\nLast logged: {loss_words(progress.losses)}" if progress.losses else "")
                )
            )
        elif phase == "evaluate":
            self.status.setToolTip(plain_tooltip(progress.message))
            text = "Measuring how close its pictures are to your images…"
        eta = getattr(progress, "eta_seconds", None)
        if eta is not None:
            text += f" · about {format_duration(eta)} left"
        self._show_status(text)

    def _on_samples(self, samples: Image.Image) -> None:
        self.samples.set_image(to_qimage(samples))

    def _show_status(self, text: str) -> None:
        self.status.setText(PAUSED + text if self.session.paused else text)

    def toggle_pause(self) -> None:
        if not self.session.training:
            return
        if self.session.paused:
            self.session.resume()
        else:
            self.session.pause()
        self.pause_button.setText("Resume" if self.session.paused else "Pause")
        self._show_status(self.status.text().removeprefix(PAUSED))

    def _on_paused(self) -> None:
        # Paused here or from the status bar: either way the button resumes it.
        self.pause_button.setText("Resume")
        self._show_status(self.status.text().removeprefix(PAUSED))

    def _on_resumed(self) -> None:
        self.pause_button.setText("Pause")
        self._show_status(self.status.text().removeprefix(PAUSED))

    def stop(self) -> None:
        if self.session.training:
            self.status.setText("Stopping at the next step…")
            self.session.stop()

    def _ended(self) -> None:
        self.pause_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.completeChanged.emit()

    def _on_finished(self, result: FinetuneResult) -> None:
        self.bar.setValue(1000)
        text = f"Done: {result.train.step} steps in {format_duration(result.train.elapsed_s)}."
        if result.kid_before or result.kid_after:
            self.closer.show_result(result.kid_before, result.kid_after)
        if result.kid_before and result.kid_after:
            text += " " + self.closer.note.text()
        self.status.setText(text)
        self._ended()

    def _on_cancelled(self, _partial: FinetuneResult | None) -> None:
        self.status.setText(
            "Stopped. "
            + (
                "The model as it was at the last checkpoint can still be saved."
                if self.session.can_save()
                else "No checkpoint was written yet: nothing to save."
            )
        )
        self._ended()

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"Training stopped: {message}")
        self._ended()

    def isComplete(self) -> bool:
        return self.session.can_save()

    def validatePage(self) -> bool:
        return not self.session.training
