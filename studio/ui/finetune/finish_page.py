"""Page 6: name the result and save it into the library; optionally open it in the Latent Explorer."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWizardPage,
)

from studio.ui.image_view import ImageView
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from pathlib import Path

    from studio.ui.finetune.wizard import FinetuneWizard


class FinishPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Name and save")
        self.setSubTitle(
            "The model goes into your library, with a card recording the base model, your images and the settings."
        )
        self.name = QLineEdit()
        self.name.textChanged.connect(lambda *_: self.completeChanged.emit())
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.open_explorer = QCheckBox("Open it in the Latent Explorer")
        self.open_explorer.setChecked(True)
        self.preview = ImageView()
        form = QFormLayout()
        form.addRow("Name", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.open_explorer)
        self.saved: Path | None = None

    def initializePage(self) -> None:
        train = self.owner.train_page
        self.name.setText(self.owner.suggested_name())
        source = train.saveable()
        result = train.result
        lines = []
        if getattr(result, "model_path", None) is not None:
            lines.append(f"Trained {result.train.step} steps.")
        elif source is not None:
            lines.append("Training was stopped: the model from the last checkpoint will be saved.")
        if getattr(result, "kid_before", None) and getattr(result, "kid_after", None):
            lines.append(
                f"KID on your held-out images: {result.kid_before['kid']:.3f} before, "
                f"{result.kid_after['kid']:.3f} after."
            )
        scan = self.owner.draft.scan
        if scan is not None and scan.skipped:
            lines.append(f"{scan.skipped_count} file(s) in the folder were skipped; the card lists them.")
        self.summary.setText(" ".join(lines))
        if train.samples_image is not None:
            self.preview.set_image(to_qimage(train.samples_image))

    def isComplete(self) -> bool:
        return bool(self.name.text().strip())

    def validatePage(self) -> bool:
        from studio.engine.training.config import TrainingError
        from studio.engine.training.jobfolder import import_checkpoint

        source = self.owner.train_page.saveable()
        if source is None:
            QMessageBox.warning(self, "Nothing to save", "The run has no model or checkpoint to save.")
            return False
        try:
            self.saved = import_checkpoint(source, name=self.name.text().strip())
        except (TrainingError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Could not save the model", str(exc))
            return False
        run_dir = self.owner.train_page.run_dir
        if run_dir is not None:
            # The library now holds the model and its checkpoint: the unnamed run is no longer needed.
            shutil.rmtree(run_dir, ignore_errors=True)
        self.owner.modelSaved.emit(self.saved)
        if self.open_explorer.isChecked():
            self.owner.openInExplorer.emit(self.saved)
        return True
