"""Page 2: the artist's folder, chosen or dropped, checked on the worker: thumbnails, counts, skipped files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from studio.engine.jobs import Progress
from studio.ui.controls import section_label
from studio.ui.finetune.common import FOLDER_THUMBNAILS, THUMBNAIL, thumbnail_pixmap
from studio.ui.job_link import JobLink

if TYPE_CHECKING:
    from studio.ui.finetune.wizard import FinetuneWizard

log = logging.getLogger(__name__)


def _folder_thumbnails_job(paths: list[Path]):
    def job(_device):
        from studio.engine.imageio import ImageLoadError, load_image

        for index, path in enumerate(paths):
            try:
                image = load_image(path).image
            except ImageLoadError:
                continue  # the scan judged it readable; it changed since: no thumbnail
            image.thumbnail((THUMBNAIL, THUMBNAIL))
            yield Progress((index + 1) / len(paths), "Drawing thumbnails", preview=(path, image))
        return None

    return job


class ImagesPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Your images")
        self.setSubTitle(
            "Choose or drop a folder of your images (subfolders count too). At least 16; a few hundred is better."
        )
        self.setAcceptDrops(True)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("A folder of PNG, JPEG or WebP images")
        self.path_edit.editingFinished.connect(lambda: self.set_folder(self.path_edit.text()))
        browse = QPushButton("Choose folder…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.progress = QProgressBar()
        self.progress.hide()
        self.summary = QLabel("No folder chosen yet.")
        self.summary.setWordWrap(True)
        self.thumbnails = QListWidget()
        self.thumbnails.setViewMode(QListWidget.ViewMode.IconMode)
        self.thumbnails.setIconSize(QSize(72, 72))
        self.thumbnails.setGridSize(QSize(84, 84))  # pictures only; names are in the tooltips
        self.thumbnails.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.thumbnails.setMovement(QListWidget.Movement.Static)
        self.skipped = QListWidget()
        self.skipped.setMaximumHeight(110)
        self.skipped_label = section_label("Skipped files")
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.thumbnails, 1)
        layout.addWidget(self.skipped_label)
        layout.addWidget(self.skipped)
        self.skipped_label.hide()
        self.skipped.hide()
        self._scan_link: JobLink | None = None
        self._thumb_link: JobLink | None = None

    # drops: a folder (or a file inside the folder wanted) from the file manager
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            path = Path(urls[0])
            self.set_folder(str(path if path.is_dir() else path.parent))
            event.acceptProposedAction()

    def _browse(self) -> None:
        start = str(self.owner.draft.folder or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Folder of your images", start)
        if chosen:
            self.set_folder(chosen)

    def set_folder(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        folder = Path(text).expanduser()
        draft = self.owner.draft
        if draft.folder == folder and (draft.scan is not None or self.scanning):
            return
        self.path_edit.setText(str(folder))
        draft.folder, draft.scan = folder, None
        for link in (self._scan_link, self._thumb_link):
            if link is not None:
                link.cancel()
                link.detach()
        self._thumb_link = None
        self.thumbnails.clear()
        self.skipped.clear()
        self.skipped.hide()
        self.skipped_label.hide()
        self.summary.setText(f"Checking every image in {folder}…")
        self.progress.setRange(0, 0)
        self.progress.show()
        from studio.engine.data.folder import scan_job

        self._scan_link = JobLink(
            self.owner.worker,
            "Checking your images",
            lambda _device: scan_job(folder),
            self,
            progress=self._on_scan_progress,
            finished=self._on_scanned,
            failed=self._on_scan_failed,
        )
        self.completeChanged.emit()

    @property
    def scanning(self) -> bool:
        return self._scan_link is not None and self._scan_link.running

    def _on_scan_progress(self, progress: Progress) -> None:
        if progress.fraction is not None:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(progress.fraction * 1000))
        self.summary.setText(progress.message)

    def _on_scan_failed(self, message: str) -> None:
        self.progress.hide()
        self.summary.setText(f"<b>Cannot use this folder:</b> {message}")
        self.completeChanged.emit()

    def _on_scanned(self, scan) -> None:
        from studio.engine.data.folder import MIN_IMAGES

        self.progress.hide()
        self.owner.draft.scan = scan
        text = f"{scan.summary()} in {scan.folder}."
        if not scan.enough():
            text = (
                f"<b>Only {scan.count} usable image{'s' if scan.count != 1 else ''}: at least {MIN_IMAGES} "
                f"are needed.</b> Add more images to the folder, or choose another."
            )
            if scan.skipped:
                text += f" ({scan.skipped_count} skipped, see below.)"
        self.summary.setText(text)
        if scan.skipped:
            for line in scan.report(limit=None):
                self.skipped.addItem(line)
            self.skipped_label.setText(f"SKIPPED FILES ({scan.skipped_count})")
            self.skipped_label.show()
            self.skipped.show()
        shown = list(scan.images[:FOLDER_THUMBNAILS])
        for path in shown:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(scan.relative(path))
            self.thumbnails.addItem(item)
        if shown:
            self._thumb_link = JobLink(
                self.owner.worker,
                "Drawing thumbnails",
                _folder_thumbnails_job(shown),
                self,
                progress=self._on_thumbnail,
            )
        self.completeChanged.emit()

    def _on_thumbnail(self, progress: Progress) -> None:
        if not isinstance(progress.preview, tuple):
            return
        path, image = progress.preview
        for row in range(self.thumbnails.count()):
            item = self.thumbnails.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == str(path):
                item.setIcon(QIcon(thumbnail_pixmap(image, 72)))
                break

    def isComplete(self) -> bool:
        scan = self.owner.draft.scan
        return scan is not None and scan.enough()
