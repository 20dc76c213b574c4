"""Page 2: the artist's folder, chosen or dropped, checked on the worker: thumbnails, counts, skipped files."""

from __future__ import annotations

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

from studio.files.paths import UserPathError, user_path
from studio.spec.finetune import MIN_IMAGES
from studio.ui.controls import plain_tooltip, section_label
from studio.ui.finetune.common import FOLDER_THUMBNAILS, THUMBNAIL, thumbnail_pixmap

if TYPE_CHECKING:
    from PIL import Image

    from studio.engine.data.folder import FolderScan
    from studio.engine.jobs import Progress
    from studio.ui.finetune.session import FinetuneSession

THUMBNAIL_SIZE = 72  # a folder's pictures are shown smaller than the base page's models


class ImagesPage(QWizardPage):
    def __init__(self, session: FinetuneSession) -> None:
        super().__init__()
        self.session = session
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
        self.summary.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.summary.setWordWrap(True)
        self.thumbnails = QListWidget()
        self.thumbnails.setViewMode(QListWidget.ViewMode.IconMode)
        self.thumbnails.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
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
        session.folderChosen.connect(self._on_folder_chosen)
        session.scanProgress.connect(self._on_scan_progress)
        session.folderScanned.connect(self._on_scanned)
        session.scanFailed.connect(self._on_scan_failed)
        session.folderThumbnail.connect(self._on_thumbnail)

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
        start = str(self.session.draft.folder or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Folder of your images", start)
        if chosen:
            self.set_folder(chosen)

    def set_folder(self, text: str) -> None:
        text = text.strip()
        if text:
            # A path that cannot be one ("~nosuchuser", a name too long) goes as typed: the
            # scan's failure says why, where a missing folder's does.
            try:
                folder = user_path(text)
            except UserPathError:
                folder = Path(text)
            self.session.choose_folder(folder)

    def _on_folder_chosen(self, folder: Path) -> None:
        self.path_edit.setText(str(folder))
        self.thumbnails.clear()
        self.skipped.clear()
        self.skipped.hide()
        self.skipped_label.hide()
        self.summary.setText(f"Checking every image in {folder}…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.completeChanged.emit()

    def _on_scan_progress(self, progress: Progress) -> None:
        if progress.fraction is not None:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(progress.fraction * 1000))
        self.summary.setText(progress.message)

    def _on_scan_failed(self, message: str) -> None:
        self.progress.hide()
        self.summary.setText(f"Cannot use this folder: {message}")
        self.completeChanged.emit()

    def _on_scanned(self, scan: FolderScan) -> None:
        self.progress.hide()
        text = f"{scan.summary()} in {scan.folder}."
        if not scan.enough():
            text = (
                f"Only {scan.count} usable image{'s' if scan.count != 1 else ''}: at least {MIN_IMAGES} "
                f"are needed. Add more images to the folder, or choose another."
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
            item.setToolTip(plain_tooltip(scan.relative(path)))
            self.thumbnails.addItem(item)
        self.session.draw_folder_thumbnails(shown, THUMBNAIL)
        self.completeChanged.emit()

    def _on_thumbnail(self, path: Path, image: Image.Image) -> None:
        for row in range(self.thumbnails.count()):
            item = self.thumbnails.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == str(path):
                item.setIcon(QIcon(thumbnail_pixmap(image, THUMBNAIL_SIZE)))
                break

    def isComplete(self) -> bool:
        scan = self.session.draft.scan
        return scan is not None and scan.enough()
