"""Page 1: the base model, from the library, with samples of each drawn on the worker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWizardPage

from studio.ui.controls import plain_tooltip
from studio.ui.finetune.common import THUMBNAIL, thumbnail_pixmap

if TYPE_CHECKING:
    from PIL import Image

    from studio.ui.finetune.session import FinetuneSession


class BasePage(QWizardPage):
    def __init__(self, session: FinetuneSession) -> None:
        super().__init__()
        self.session = session
        self.setTitle("Base model")
        self.setSubTitle("Choose the model to start from. It keeps what it knows; your images teach it the rest.")
        self.models = QListWidget()
        self.models.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.models.setSpacing(4)
        self.models.currentItemChanged.connect(self._on_chosen)
        self.empty = QLabel("No GAN or VAE is installed. Train one with “studio train”, or reinstall the studio.")
        self.empty.setWordWrap(True)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.status.setWordWrap(True)
        self.status.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.models)
        layout.addWidget(self.empty)
        layout.addWidget(self.status)
        self._filled = False
        session.baseLoading.connect(self._on_loading)
        session.baseLoaded.connect(self._on_loaded)
        session.baseFailed.connect(self._on_failed)
        session.modelSamples.connect(self._on_samples)

    def initializePage(self) -> None:
        if self._filled:
            return
        self._filled = True
        models = self.session.library_models()
        chosen = self.session.draft.base_path
        self.models.blockSignals(True)  # the model is read once, when the choice below is made
        for info in models:
            kind = "GAN" if info.architecture == "gan-generator" else "VAE"
            item = QListWidgetItem(f"{info.name}\n{kind} · {info.origin}")
            item.setData(Qt.ItemDataRole.UserRole, str(info.path))
            item.setToolTip(plain_tooltip(str(info.path)))
            self.models.addItem(item)
        self.models.blockSignals(False)
        self.empty.setVisible(not models)
        row = next((i for i, m in enumerate(models) if chosen is not None and m.path == chosen), None)
        if row is None and models:
            # The bundled GAN is what most artists will start from.
            gans = [i for i, m in enumerate(models) if m.architecture == "gan-generator"]
            row = gans[0] if gans else 0
        if row is not None:
            self.models.setCurrentRow(row)  # read first: the samples wait their turn behind it
        self.session.draw_model_samples([m.path for m in models])

    def chosen(self) -> Path | None:
        item = self.models.currentItem()
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _on_chosen(self, *_args) -> None:
        path = self.chosen()
        if path is not None:
            self.session.choose_base(path)
        self.completeChanged.emit()

    def _on_loading(self, path: Path) -> None:
        self.status.setText(f"Reading {path.name}…")
        self.status.show()
        self.completeChanged.emit()

    def _on_loaded(self, _base) -> None:
        self.status.hide()
        self.completeChanged.emit()

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"Cannot use this model: {message}")
        self.status.show()
        self.completeChanged.emit()

    def _on_samples(self, path: Path, grid: Image.Image) -> None:
        for row in range(self.models.count()):
            item = self.models.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == str(path):
                item.setIcon(QIcon(thumbnail_pixmap(grid)))

    def isComplete(self) -> bool:
        draft = self.session.draft
        return self.chosen() is not None and draft.base is not None and draft.base_path == self.chosen()

    def validatePage(self) -> bool:
        return self.isComplete()  # the chosen model has been read, and it can be fine-tuned
