"""Page 5: the run on the worker: curves, the sample grid, progress, ETA, Pause/Resume/Stop."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWizardPage

from studio.engine.paths import finetune_runs_dir
from studio.ui.finetune.common import format_duration
from studio.ui.finetune.curves import TrainingCurves
from studio.ui.image_view import ImageView
from studio.ui.job_link import JobLink
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from PIL import Image

    from studio.ui.finetune.wizard import FinetuneWizard


class TrainPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Training")
        self.setSubTitle(
            "The samples below are drawn from the same seeds every time: watch them take on "
            "your images' look. You can keep using the studio meanwhile."
        )
        self.samples = ImageView("The first samples appear after a few steps.")
        self.curves = TrainingCurves()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.status = QLabel("Starting…")
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
        pictures.addWidget(self.curves, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(pictures, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.link: JobLink | None = None
        self.result: Any = None
        self.failure = ""
        self.samples_image: Image.Image | None = None
        self.sample_updates = 0
        self.run_dir: Path | None = None

    def initializePage(self) -> None:
        from studio.engine.training.finetune import finetune_job

        draft = self.owner.draft
        draft.run_name = time.strftime("run-%Y%m%d-%H%M%S")
        self.run_dir = finetune_runs_dir() / draft.run_name
        settings = draft.settings()
        self.result, self.failure = None, ""
        self.samples_image, self.sample_updates = None, 0
        self.curves.clear_values()
        self.bar.setValue(0)
        self.status.setText("Reading your images…")
        self.pause_button.setEnabled(True)
        self.pause_button.setText("Pause")
        self.cancel_button.setEnabled(True)
        run_dir = self.run_dir
        self.link = JobLink(
            self.owner.worker,
            f"Fine-tuning {draft.base.name}",
            lambda _device: finetune_job(settings, out_dir=run_dir),
            self,
            progress=self._on_progress,
            finished=self._on_finished,
            cancelled=self._on_cancelled,
            failed=self._on_failed,
        )
        self.owner.trainingChanged.emit(True)
        self.completeChanged.emit()

    @property
    def running(self) -> bool:
        return self.link is not None and self.link.running

    def _on_progress(self, progress) -> None:
        if progress.fraction is not None:
            self.bar.setValue(int(progress.fraction * 1000))
        losses = getattr(progress, "losses", None)
        if losses:
            self.curves.add_losses(progress.step, losses)
        samples = getattr(progress, "samples", None)
        if samples is not None:
            self.samples_image = samples
            self.sample_updates += 1
            self.samples.set_image(to_qimage(samples))
            self.owner.samplesChanged.emit(samples)
        text = progress.message
        eta = getattr(progress, "eta_seconds", None)
        if eta is not None:
            text += f" · about {format_duration(eta)} left"
        if self.link is not None and self.link.paused:
            text = "Paused · " + text
        self.status.setText(text)

    def toggle_pause(self) -> None:
        if self.link is None or not self.link.running:
            return
        if self.link.paused:
            self.link.resume()
            self.pause_button.setText("Pause")
        else:
            self.link.pause()
            self.pause_button.setText("Resume")
            self.status.setText("Paused · " + self.status.text())

    def stop(self) -> None:
        if self.link is not None and self.link.running:
            self.status.setText("Stopping at the next step…")
            self.link.resume()  # a paused job must run on to see the cancel
            self.link.cancel()

    def _ended(self) -> None:
        self.pause_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.owner.trainingChanged.emit(False)
        self.completeChanged.emit()

    def _on_finished(self, result) -> None:
        self.result = result
        self.bar.setValue(1000)
        text = f"Done: {result.train.step} steps in {format_duration(result.train.elapsed_s)}."
        if result.kid_before and result.kid_after:
            text += (
                f" KID on your held-out images went from {result.kid_before['kid']:.3f} to "
                f"{result.kid_after['kid']:.3f} (lower is closer to your images)."
            )
        self.status.setText(text)
        self._ended()

    def _on_cancelled(self, partial) -> None:
        self.result = partial  # a FinetuneResult with the checkpoint, when the job returned one
        saved = self._checkpoint() is not None
        self.status.setText(
            "Stopped. "
            + (
                "The model as it was at the last checkpoint can still be saved."
                if saved
                else "No checkpoint was written yet: nothing to save."
            )
        )
        self._ended()

    def _on_failed(self, message: str) -> None:
        self.failure = message
        self.status.setText(f"<b>Training stopped:</b> {message}")
        self._ended()

    def _checkpoint(self) -> Path | None:
        from studio.engine.training.checkpoint import checkpoint_path
        from studio.engine.training.finetune import library_path

        if self.run_dir is None:
            return None
        ckpt = checkpoint_path(library_path(self.owner.draft.run_name, self.run_dir))
        return ckpt if ckpt.is_file() else None

    def saveable(self) -> Path | None:
        """What Finish would save: the finished model, else the last checkpoint."""
        model = getattr(self.result, "model_path", None)
        if model is not None and Path(model).is_file():
            return Path(model)
        return self._checkpoint()

    def isComplete(self) -> bool:
        return not self.running and self.saveable() is not None

    def validatePage(self) -> bool:
        return not self.running
