"""Page 4: steps, batch, learning rate, loss, augmentation, device; a measured estimate; job folders."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWizardPage,
)

from studio.engine.jobs import Progress
from studio.spec.models import LOSSES
from studio.ui.controls import section_label
from studio.ui.finetune.common import format_duration
from studio.ui.job_link import JobLink

if TYPE_CHECKING:
    from studio.ui.finetune.wizard import FinetuneWizard

log = logging.getLogger(__name__)


def _estimate_job(settings):
    def job(_device):
        from studio.engine.training.finetune import estimate_step

        yield Progress(None, "Measuring a few training steps…")
        return estimate_step(settings)

    return job


class SettingsPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Settings")
        self.setSubTitle("The defaults suit a few hundred images. More steps adapt further; watch the samples.")
        from studio.engine.training.finetune import AUGMENTATIONS

        self.steps = QSpinBox(minimum=10, maximum=1_000_000, singleStep=100, value=1000)
        self.batch = QSpinBox(minimum=1, maximum=1024, value=16)
        self.lr = QDoubleSpinBox(decimals=5, minimum=0.0, maximum=0.1, singleStep=0.0001, value=0.0)
        self.lr.setSpecialValueText("recipe default")
        self.loss = QComboBox()
        self.loss.addItem("Same as the base model", None)
        for name in LOSSES:
            self.loss.addItem(name, name)
        self.augment: dict[str, QCheckBox] = {}
        augment_row = QHBoxLayout()
        labels = {
            "flip": "Flips",
            "jitter": "Colour jitter",
            "color": "DiffAugment colour",
            "translation": "DiffAugment shift",
            "cutout": "DiffAugment cutout",
        }
        for name in AUGMENTATIONS:
            box = QCheckBox(labels.get(name, name))
            self.augment[name] = box
            augment_row.addWidget(box)
        augment_row.addStretch(1)
        self.device = QComboBox()
        self.kid = QCheckBox("Measure KID on held-out images at each checkpoint (slower on a CPU)")
        self.kid.setChecked(True)
        self.kid.setToolTip("How close the samples are to your images, as a number: lower is closer")
        self.estimate = QLabel("The estimate appears here.")
        self.estimate.setWordWrap(True)
        self.export_button = QPushButton("Export job folder for a bigger machine…")
        self.export_button.clicked.connect(self.export_job_folder)
        form = QFormLayout()
        form.addRow("Steps", self.steps)
        form.addRow("Batch", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Loss", self.loss)
        form.addRow("Augmentation", augment_row)
        form.addRow("Device", self.device)
        form.addRow("", self.kid)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(section_label("Estimate"))
        layout.addWidget(self.estimate)
        layout.addStretch(1)
        layout.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignLeft)
        # Time per step depends on the batch and the device, not on the number of steps.
        self.steps.valueChanged.connect(self._show_estimate)
        self.batch.valueChanged.connect(self._schedule_estimate)
        self.device.activated.connect(self._schedule_estimate)
        self._estimate_link: JobLink | None = None
        self._estimated: Any = None
        self._kind = ""

    def initializePage(self) -> None:
        from studio.engine.training.finetune import DEFAULT_AUGMENT

        draft = self.owner.draft
        kind = draft.base.kind
        if kind != self._kind:
            self._kind = kind
            for name, box in self.augment.items():
                box.setChecked(name in DEFAULT_AUGMENT[kind])
            self.loss.setVisible(kind == "gan")
            self.batch.setValue(16)
        self.device.clear()
        worker_device = self.owner.worker.device
        label = worker_device.label if worker_device is not None else "the studio's device"
        self.device.addItem(f"The studio's device ({label})", "auto")
        self.device.addItem("CPU", "cpu")
        self._schedule_estimate()

    def options(self) -> dict[str, Any]:
        worker_device = self.owner.worker.device
        device = self.device.currentData() or "auto"
        if device == "auto" and worker_device is not None:
            device = worker_device.kind
        return {
            "steps": self.steps.value(),
            "batch": self.batch.value(),
            "lr": self.lr.value() or None,
            "loss": self.loss.currentData() if self._kind == "gan" else None,
            "augment": tuple(name for name, box in self.augment.items() if box.isChecked()),
            "device": device,
            "kid": self.kid.isChecked(),
            # About 100 points on the curves, 20 sample grids and 4 checkpoints per run, whatever its length.
            "log_every": max(1, min(10, self.steps.value() // 100)),
            "sample_every": max(10, min(100, self.steps.value() // 20)),
            "checkpoint_every": max(50, min(500, self.steps.value() // 4)),
        }

    def _schedule_estimate(self, *_args) -> None:
        draft = self.owner.draft
        if draft.base is None or draft.scan is None:
            return
        if self._estimate_link is not None:
            self._estimate_link.cancel()
            self._estimate_link.detach()
        draft.options = self.options()
        self._estimated = None
        self.estimate.setText("Measuring a few training steps…")
        self._estimate_link = JobLink(
            self.owner.worker,
            "Estimating training time",
            _estimate_job(draft.settings()),
            self,
            finished=self._on_estimate,
            failed=lambda m: self.estimate.setText(f"No estimate: {m}"),
        )

    def _on_estimate(self, estimate) -> None:
        self._estimated = estimate
        self._show_estimate()

    def _show_estimate(self, *_args) -> None:
        estimate = self._estimated
        if estimate is None:
            return
        steps = self.steps.value()
        seconds = estimate.seconds_per_step * steps
        self.estimate.setText(
            f"About {format_duration(seconds)} for {steps} steps on {estimate.device} "
            f"({estimate.seconds_per_step:.2f} s per step, {estimate.images_per_second:.0f} images/s), "
            f"plus a little for sample grids and checkpoints. Memory: about {estimate.memory_bytes / 2**20:.0f} MB."
        )

    def validatePage(self) -> bool:
        from studio.engine.training.config import TrainingError

        draft = self.owner.draft
        draft.options = self.options()
        try:
            draft.settings()
        except TrainingError as exc:
            QMessageBox.warning(self, "Check the settings", str(exc))
            return False
        if self._estimate_link is not None and self._estimate_link.running:
            self._estimate_link.cancel()
        return True

    def export_job_folder(self) -> None:
        from studio.engine.training.config import TrainingError
        from studio.engine.training.jobfolder import export_job

        draft = self.owner.draft
        draft.options = self.options()
        chosen = QFileDialog.getExistingDirectory(self, "Empty folder for the job", str(Path.home()))
        if not chosen:
            return
        try:
            settings = draft.settings().replace(name=self.owner.suggested_name())
        except TrainingError as exc:
            QMessageBox.warning(self, "Check the settings", str(exc))
            return
        self.export_button.setEnabled(False)

        def done(exported) -> None:
            self.export_button.setEnabled(True)
            QMessageBox.information(
                self,
                "Job folder written",
                f"Copy {exported.folder} to the bigger machine and run, inside it:\n\n"
                f"{exported.command}\n\nThen bring the folder back and import it from the "
                "Fine-tune panel (Import result…).",
            )

        def failed(message: str) -> None:
            self.export_button.setEnabled(True)
            QMessageBox.warning(self, "Could not write the job folder", message)

        folder = Path(chosen)
        JobLink(
            self.owner.worker,
            "Writing the job folder",
            lambda _d: export_job(settings, folder),
            self,
            finished=done,
            failed=failed,
        )
