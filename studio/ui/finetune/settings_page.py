"""Page 4: steps, batch, learning rate, loss, augmentation, device; a measured estimate; job folders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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

from studio.spec.bounds import BATCH, LEARNING_RATE, TRAINING_STEPS
from studio.spec.finetune import AUGMENTATIONS
from studio.spec.models import LOSSES
from studio.ui.controls import section_label
from studio.ui.finetune.common import format_duration
from studio.ui.finetune.draft import TrainingOptions
from studio.ui.finetune.plain import AUGMENTATIONS as AUGMENTATION_WORDS
from studio.ui.finetune.plain import SETTINGS as SETTING_WORDS

if TYPE_CHECKING:
    from studio.engine.training.jobfolder import ExportedJob
    from studio.ui.finetune.session import FinetuneSession


class SettingsPage(QWizardPage):
    def __init__(self, session: FinetuneSession) -> None:
        super().__init__()
        self.session = session
        self.setTitle("Settings")
        self.setSubTitle("The defaults suit a few hundred images. More steps adapt further; watch the samples.")
        # The ranges are the bounds table's (studio.spec.bounds), as for `studio finetune`.
        steps, batch = TRAINING_STEPS, BATCH
        self.steps = QSpinBox(minimum=int(steps.low), maximum=int(steps.high), singleStep=100, value=1000)
        self.batch = QSpinBox(minimum=int(batch.low), maximum=int(batch.high), value=16)
        # 0 is the "recipe default" below the table's lowest learning rate.
        self.lr = QDoubleSpinBox(decimals=5, minimum=0.0, maximum=LEARNING_RATE.high, singleStep=0.0001, value=0.0)
        self.lr.setSpecialValueText("recipe default")
        self.loss = QComboBox()
        self.loss.addItem("Same as the base model", None)
        for name in LOSSES:
            self.loss.addItem(name, name)
        self.augment: dict[str, QCheckBox] = {}
        augment_row = QHBoxLayout()
        for name in AUGMENTATIONS:
            label, tooltip = AUGMENTATION_WORDS.get(name, (name, name))
            box = QCheckBox(label)
            box.setToolTip(tooltip)
            self.augment[name] = box
            augment_row.addWidget(box)
        augment_row.addStretch(1)
        self.device = QComboBox()
        self.kid = QCheckBox("Measure how close it gets to your images as it trains (slower on a CPU)")
        self.kid.setChecked(True)
        self.kid.setToolTip(
            "KID (kernel inception distance) on held-out images, before training and at each checkpoint: "
            "lower is closer"
        )
        self.estimate = QLabel("The estimate appears here.")
        self.estimate.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.estimate.setWordWrap(True)
        self.export_button = QPushButton("Export job folder for a bigger machine…")
        self.export_button.clicked.connect(self.export_job_folder)
        form = QFormLayout()
        for name, field in (("steps", self.steps), ("batch", self.batch), ("lr", self.lr), ("loss", self.loss)):
            label, tooltip = SETTING_WORDS[name]
            form.addRow(label, field)
            form.labelForField(field).setToolTip(tooltip)
            field.setToolTip(tooltip)
        form.addRow("Variations", augment_row)
        variations = form.labelForField(augment_row)
        if variations is not None:
            variations.setToolTip(
                "Augmentation: each image is shown varied, so a small folder goes further (DiffAugment for a GAN)"
            )
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
        self.batch.valueChanged.connect(self._measure_estimate)
        self.device.activated.connect(self._measure_estimate)
        self._kind = ""
        session.estimateStarted.connect(self._on_estimate_started)
        session.estimateReady.connect(self._show_estimate)
        session.estimateFailed.connect(self._on_estimate_failed)
        session.jobFolderExported.connect(self._on_exported)
        session.exportFailed.connect(self._on_export_failed)

    def initializePage(self) -> None:
        base = self.session.draft.base
        kind = base.kind if base is not None else ""
        if base is not None and kind != self._kind:
            self._kind = kind
            for name, box in self.augment.items():
                box.setChecked(name in base.default_augment)
            self.loss.setVisible(kind == "gan")
            self.batch.setValue(16)
        self.device.clear()
        device = self.session.device
        label = device.label if device is not None else "the studio's device"
        self.device.addItem(f"The studio's device ({label})", "auto")
        self.device.addItem("CPU", "cpu")
        self._measure_estimate()

    def options(self) -> TrainingOptions:
        return TrainingOptions(
            steps=self.steps.value(),
            batch=self.batch.value(),
            lr=self.lr.value() or None,
            loss=self.loss.currentData() if self._kind == "gan" else None,
            augment=tuple(name for name, box in self.augment.items() if box.isChecked()),
            device=self.device.currentData() or "auto",
            kid=self.kid.isChecked(),
        )

    def _measure_estimate(self, *_args) -> None:
        self.session.set_options(self.options())
        self.session.measure_estimate()

    def _on_estimate_started(self) -> None:
        self.estimate.setText("Measuring a few training steps…")

    def _on_estimate_failed(self, message: str) -> None:
        self.estimate.setText(f"No estimate: {message}")

    def _show_estimate(self, *_args) -> None:
        estimate = self.session.estimate
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
        self.session.set_options(self.options())
        problem = self.session.settings_problem()
        if problem is not None:
            QMessageBox.warning(self, "Check the settings", problem)
            return False
        self.session.cancel_estimate()
        return True

    def export_job_folder(self) -> None:
        self.session.set_options(self.options())
        problem = self.session.settings_problem()
        if problem is not None:
            QMessageBox.warning(self, "Check the settings", problem)
            return
        chosen = QFileDialog.getExistingDirectory(self, "Empty folder for the job", str(Path.home()))
        if not chosen:
            return
        self.export_button.setEnabled(False)
        self.session.export_job_folder(Path(chosen))

    def _on_exported(self, exported: ExportedJob) -> None:
        self.export_button.setEnabled(True)
        QMessageBox.information(
            self,
            "Job folder written",
            f"Copy {exported.folder} to the bigger machine and run, inside it:\n\n"
            f"{exported.command}\n\nThen bring the folder back and import it from the "
            "Fine-tune panel (Import result…).",
        )

    def _on_export_failed(self, message: str) -> None:
        self.export_button.setEnabled(True)
        QMessageBox.warning(self, "Could not write the job folder", message)
