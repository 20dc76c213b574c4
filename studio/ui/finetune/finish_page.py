"""Page 6: name the result and save it into the library; optionally open it in the Latent Explorer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit, QMessageBox, QVBoxLayout, QWizardPage

from studio.ui.finetune.kid_bar import CloserBar
from studio.ui.image_view import ImageView
from studio.ui.qimage import to_qimage

if TYPE_CHECKING:
    from studio.ui.finetune.session import FinetuneSession


class FinishPage(QWizardPage):
    """Saving runs on the worker: "Save to library" starts it, and the wizard closes once the
    session reports the model saved (:attr:`FinetuneSession.modelSaved`)."""

    def __init__(self, session: FinetuneSession) -> None:
        super().__init__()
        self.session = session
        self.setTitle("Name and save")
        self.setSubTitle(
            "The model goes into your library, with a card recording the base model, your images and the settings."
        )
        self.name = QLineEdit()
        self.name.textChanged.connect(lambda *_: self.completeChanged.emit())
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.summary.setWordWrap(True)
        self.open_explorer = QCheckBox("Open it in the Latent Explorer")
        self.open_explorer.setChecked(True)
        self.preview = ImageView()
        self.closer = CloserBar()
        form = QFormLayout()
        form.addRow("Name", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.closer)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.open_explorer)
        session.saveFailed.connect(self._on_save_failed)

    def initializePage(self) -> None:
        session = self.session
        self.name.setText(session.suggested_name())
        result = session.result
        lines = []
        if result is not None and result.model_path is not None:
            lines.append(f"Trained {result.train.step} steps.")
        elif session.can_save():
            lines.append("Training was stopped: the model from the last checkpoint will be saved.")
        before, after = (result.kid_before, result.kid_after) if result is not None else (None, None)
        self.closer.setVisible(before is not None or after is not None)
        self.closer.show_result(before, after)
        scan = session.draft.scan
        if scan is not None and scan.skipped:
            lines.append(f"{scan.skipped_count} file(s) in the folder were skipped; the card lists them.")
        self.summary.setText(" ".join(lines))
        if session.samples is not None:
            self.preview.set_image(to_qimage(session.samples))

    def isComplete(self) -> bool:
        return bool(self.name.text().strip()) and not self.session.saving

    def validatePage(self) -> bool:
        if self.session.saved is not None:
            return True
        if not self.session.can_save():
            QMessageBox.warning(self, "Nothing to save", "The run has no model or checkpoint to save.")
            return False
        if not self.session.saving:
            self.session.save_run(self.name.text().strip())
            self.completeChanged.emit()
        return False

    def _on_save_failed(self, message: str) -> None:
        self.completeChanged.emit()
        QMessageBox.warning(self, "Could not save the model", message)
