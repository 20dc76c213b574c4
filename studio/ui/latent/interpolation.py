"""Interpolation between bookmarks: pick two or more, watch the in-between frames loop, export.

The path comes from the engine (:func:`studio.engine.latent.interpolate_path`: slerp for
Gaussian latents); its frames are rendered on the worker as a job, in small batches, so the
status bar shows progress and Stop works, and the sliders stay live meanwhile. The job goes
through a :class:`JobLink` that owns its failure: the dialog shows it, the main window does not.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.engine.latent.interpolation import interpolation_job
from studio.files import animation
from studio.spec.export_size import export_frames
from studio.ui.export_size import ExportSizeControl
from studio.ui.image_view import ImageView
from studio.ui.job_link import JobLink
from studio.ui.latent.bookmarks import bookmark_icon
from studio.ui.qimage import to_qimage
from studio.ui.saved_notice import SavedNotice

if TYPE_CHECKING:
    from PIL import Image

    from studio.engine.jobs import Progress
    from studio.ui.latent.bookmark_store import Bookmark
    from studio.ui.latent.explorer_controller import ExplorerController

log = logging.getLogger(__name__)

ANIMATION_FILTERS = "Animated GIF (*.gif);;Animated WebP (*.webp);;Animated PNG (*.png *.apng)"
_FILTER_SUFFIX = {"gif": ".gif", "webp": ".webp", "png": ".png"}


class InterpolationDialog(QDialog):
    framesReady = Signal(int)  # frame count

    def __init__(self, explorer: ExplorerController, bookmarks: list[Bookmark], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Interpolate between bookmarks")
        self.resize(860, 560)
        self.explorer = explorer
        self.worker = explorer.worker
        self._bookmarks = {b.id: b for b in bookmarks}
        self.frames: list = []
        self._qframes: list = []
        self._link: JobLink | None = None
        self._frame = 0

        self.list = QListWidget()
        self.list.setIconSize(QSize(40, 40))
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setToolTip("Tick two or more bookmarks; drag them to change the order.")
        for bookmark in bookmarks:
            item = QListWidgetItem(bookmark_icon(bookmark), bookmark.name)
            item.setData(Qt.ItemDataRole.UserRole, bookmark.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.itemChanged.connect(lambda _item: self._schedule())
        self.list.model().rowsMoved.connect(lambda *_: self._schedule())

        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(2, 240)
        self.frames_spin.setValue(12)
        self.frames_spin.setSuffix(" frames")
        self.frames_spin.valueChanged.connect(lambda _v: self._schedule())
        self.loop_check = QCheckBox("Loop back to the first")
        self.loop_check.setChecked(True)
        self.loop_check.toggled.connect(lambda _v: self._schedule())
        self.fps_spin = QSpinBox()
        self.fps_spin.setRange(1, 60)
        self.fps_spin.setValue(12)
        self.fps_spin.setSuffix(" fps")
        self.fps_spin.valueChanged.connect(self._on_fps)
        options = QFormLayout()
        options.addRow("Between two bookmarks", self.frames_spin)
        options.addRow("", self.loop_check)
        options.addRow("Speed", self.fps_spin)
        self.size_choice = ExportSizeControl(label="")  # the explorer's remembered export size
        options.addRow("Export size", self.size_choice)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("Bookmarks"))
        left_layout.addWidget(self.list, 1)
        left_layout.addLayout(options)

        self.view = ImageView("Tick two or more bookmarks to see the frames between them.")
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._on_play)
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setRange(0, 0)
        self.scrub.valueChanged.connect(self._show_frame)
        self.frame_label = QLabel("")
        self.frame_label.setMinimumWidth(90)
        transport = QHBoxLayout()
        transport.addWidget(self.play_button)
        transport.addWidget(self.scrub, 1)
        transport.addWidget(self.frame_label)
        self.export_button = QPushButton("Export animation…")
        self.export_button.setToolTip("GIF, WebP or APNG")
        self.export_button.clicked.connect(self.export_animation_dialog)
        self.frames_button = QPushButton("Export frames…")
        self.frames_button.setToolTip("A folder of numbered PNG frames")
        self.frames_button.clicked.connect(self.export_frames_dialog)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.frames_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.view, 1)
        right_layout.addLayout(transport)
        right_layout.addLayout(buttons)
        self.saved = SavedNotice()  # "Saved NAME · Open folder" after an export
        right_layout.addWidget(self.saved)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 600])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.render_frames)
        self._player = QTimer(self)
        self._player.timeout.connect(self._next_frame)
        self._on_fps(self.fps_spin.value())
        self._update_buttons()

    # ----- choosing ------------------------------------------------------------------------
    def set_checked(self, bookmark_ids: list[str]) -> None:
        """Tick these bookmarks (in this order, moved to the top), untick the rest."""
        self.list.blockSignals(True)
        items = {self.list.item(i).data(Qt.ItemDataRole.UserRole): self.list.item(i) for i in range(self.list.count())}
        for row, bookmark_id in enumerate(bookmark_ids):
            item = self.list.takeItem(self.list.row(items[bookmark_id]))
            self.list.insertItem(row, item)
        for bookmark_id, item in items.items():
            item.setCheckState(Qt.CheckState.Checked if bookmark_id in bookmark_ids else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        self._schedule()

    def checked_ids(self) -> list[str]:
        return [
            self.list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _schedule(self) -> None:
        self._debounce.start()

    # ----- rendering -----------------------------------------------------------------------
    def render_frames(self) -> bool:
        """Start the job for the ticked bookmarks (cancelling one in flight); False without two."""
        self._debounce.stop()
        self._stop_job()
        states = [self._bookmarks[i].state() for i in self.checked_ids()]
        model = self.explorer.model
        if len(states) < 2 or model is None:
            self.view.set_hint("Tick two or more bookmarks to see the frames between them.")
            return False
        frames_per_segment, loop = self.frames_spin.value(), self.loop_check.isChecked()
        self.view.set_hint("Rendering the frames…")
        self._link = JobLink(
            self.worker,
            "Interpolating",
            lambda _device: interpolation_job(model, states, frames_per_segment, loop),
            self,
            progress=self._on_progress,
            finished=self._on_finished,
            failed=self._on_failed,
            cancelled=self._on_ended,
        )
        return True

    def _stop_job(self) -> None:
        if self._link is not None:
            self._link.cancel()
            self._link.detach()
            self._link = None

    def _on_progress(self, progress: Progress) -> None:
        if progress.preview is not None and not self.frames:
            self.view.set_image(to_qimage(progress.preview))

    def _on_finished(self, frames: list[Image.Image]) -> None:
        self._link = None
        self.frames = list(frames)
        self._qframes = [to_qimage(frame) for frame in self.frames]
        if self.frames:
            self.size_choice.set_native_size(*self.frames[0].size)
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, max(len(self.frames) - 1, 0))
        self.scrub.blockSignals(False)
        self._frame = min(self._frame, len(self.frames) - 1)
        self._show_frame(self._frame)
        self._update_buttons()
        self.framesReady.emit(len(self.frames))

    def _on_ended(self, _partial: object = None) -> None:
        self._link = None

    def _on_failed(self, message: str) -> None:
        self._link = None
        log.error("interpolation failed: %s", message)
        if self.frames:  # the frames of the previous choice stay on screen
            QMessageBox.warning(self, "Interpolation failed", message)
        else:
            self.view.set_hint(f"The frames could not be rendered: {message}")

    # ----- playing -------------------------------------------------------------------------
    def _on_fps(self, fps: int) -> None:
        self._player.setInterval(max(1, round(1000 / fps)))

    def _on_play(self, playing: bool) -> None:
        self.play_button.setText("Stop" if playing else "Play")
        if playing and self._qframes:
            self._player.start()
        else:
            self._player.stop()

    def _next_frame(self) -> None:
        if self._qframes:
            self.scrub.setValue((self._frame + 1) % len(self._qframes))

    def _show_frame(self, index: int) -> None:
        if not self._qframes:
            return
        self._frame = max(0, min(index, len(self._qframes) - 1))
        self.view.set_image(self._qframes[self._frame])
        self.frame_label.setText(f"{self._frame + 1} / {len(self._qframes)}")
        if self.scrub.value() != self._frame:
            self.scrub.blockSignals(True)
            self.scrub.setValue(self._frame)
            self.scrub.blockSignals(False)

    def _update_buttons(self) -> None:
        has = bool(self.frames)
        self.export_button.setEnabled(has)
        self.frames_button.setEnabled(has)
        self.play_button.setEnabled(has)

    # ----- exporting -----------------------------------------------------------------------
    def sized_frames(self) -> list[Image.Image]:
        """The frames at the chosen export size."""
        return export_frames(self.frames, self.size_choice.value())

    def export_animation(self, path: str | Path) -> Path:
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            frames = self.sized_frames()
            return Path(
                animation.export_animation(frames, path, self.fps_spin.value(), self.loop_check.isChecked()) or path
            )
        finally:
            QGuiApplication.restoreOverrideCursor()

    def export_frames(self, folder: str | Path):
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return animation.export_frames(self.sized_frames(), folder)
        finally:
            QGuiApplication.restoreOverrideCursor()

    def export_animation_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export animation", "interpolation.gif", ANIMATION_FILTERS)
        if not path:
            return
        if Path(path).suffix.lower() not in (".gif", ".webp", ".png", ".apng"):
            key = next((k for k in _FILTER_SUFFIX if f"*.{k}" in chosen), "gif")
            path += _FILTER_SUFFIX[key]
        self._report(lambda: self.export_animation(path), lambda written: (written.name, written.parent))

    def export_frames_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export frames to a folder")
        if folder:
            count = len(self.frames)
            self._report(lambda: self.export_frames(folder), lambda _written: (f"{count} frames", Path(folder)))

    def _report(self, action, saved) -> None:
        """Run an export; on success the line under the buttons says "Saved NAME · Open folder"
        (``saved`` turns what ``action`` returned into that name and folder)."""
        try:
            written = action()
        except (OSError, ValueError) as exc:
            log.error("export failed: %s", exc)
            QMessageBox.warning(self, "Export failed", str(exc))
            return
        self.saved.show_saved(*saved(written))

    def done(self, result: int) -> None:
        self._player.stop()
        self._debounce.stop()
        self._stop_job()
        super().done(result)
