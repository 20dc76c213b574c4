"""Page 1: the base model, from the library, with samples of each drawn on the worker."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QMessageBox, QVBoxLayout, QWizardPage

from studio.engine.jobs import Progress
from studio.ui.finetune.common import THUMBNAIL, thumbnail_pixmap
from studio.ui.job_link import JobLink

if TYPE_CHECKING:
    from studio.ui.finetune.wizard import FinetuneWizard

log = logging.getLogger(__name__)


def _thumbnails_job(paths: list[Path]):
    """Load each model on the worker and draw a 2 x 2 grid of samples for its list entry."""

    def job(device):
        from studio.engine.latent import LatentModel

        for index, path in enumerate(paths):
            try:
                model = LatentModel.load(path, device.torch_device)
                grid, _ = model.sample_grid(seed=0, rows=2, cols=2)
            except Exception as exc:  # noqa: BLE001 - a broken model gets no thumbnail, the list still works
                log.warning("no thumbnail for %s: %s", path, exc)
                continue
            yield Progress((index + 1) / len(paths), f"Drawing samples of {path.stem}", preview=(path, grid))
        return None

    return job


class BasePage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Base model")
        self.setSubTitle("Choose the model to start from. It keeps what it knows; your images teach it the rest.")
        self.models = QListWidget()
        self.models.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.models.setSpacing(4)
        self.models.currentItemChanged.connect(lambda *_: self.completeChanged.emit())
        self.empty = QLabel("No GAN or VAE is installed. Train one with “studio train”, or reinstall the studio.")
        self.empty.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.models)
        layout.addWidget(self.empty)
        self._thumbnails: JobLink | None = None
        self._filled = False

    def initializePage(self) -> None:
        if self._filled:
            return
        self._filled = True
        from studio.engine.environment import installed_models

        models = [m for m in installed_models() if m.architecture in ("gan-generator", "vae")]
        for info in models:
            kind = "GAN" if info.architecture == "gan-generator" else "VAE"
            item = QListWidgetItem(f"{info.name}\n{kind} · {info.origin}")
            item.setData(Qt.ItemDataRole.UserRole, str(info.path))
            item.setToolTip(str(info.path))
            self.models.addItem(item)
        self.empty.setVisible(not models)
        chosen = self.owner.draft.base_path
        for row in range(self.models.count()):
            if chosen is not None and self.models.item(row).data(Qt.ItemDataRole.UserRole) == str(chosen):
                self.models.setCurrentRow(row)
        if self.models.currentRow() < 0 and models:
            # The bundled GAN is what most artists will start from.
            gans = [i for i, m in enumerate(models) if m.architecture == "gan-generator"]
            self.models.setCurrentRow(gans[0] if gans else 0)
        if models:
            self._thumbnails = JobLink(
                self.owner.worker,
                "Drawing model samples",
                _thumbnails_job([m.path for m in models]),
                self,
                progress=self._on_thumbnail,
            )

    def _on_thumbnail(self, progress: Progress) -> None:
        if not isinstance(progress.preview, tuple):
            return
        path, grid = progress.preview
        for row in range(self.models.count()):
            item = self.models.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == str(path):
                item.setIcon(QIcon(thumbnail_pixmap(grid)))

    def cleanupPage(self) -> None:
        pass

    def isComplete(self) -> bool:
        return self.models.currentItem() is not None

    def validatePage(self) -> bool:
        from studio.engine.training.config import TrainingError
        from studio.engine.training.finetune import load_base

        path = Path(self.models.currentItem().data(Qt.ItemDataRole.UserRole))
        try:
            base = load_base(str(path))
        except (TrainingError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot use this model", str(exc))
            return False
        draft = self.owner.draft
        if draft.base_path != path:
            draft.freeze = "auto"  # block names differ between models
        draft.base_path, draft.base = path, base
        return True
