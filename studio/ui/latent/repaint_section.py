""" "Repaint a region" in the Latent Explorer: the tools in the controls column, the candidates
under the picture.

The artist turns the mode on, paints over the part of the picture to redraw (brush size,
eraser, Clear; the mask shows over the picture in a translucent colour), presses Repaint and
watches the search (progress bar, its best picture so far, Stop). The repainted versions then
line up under the picture, each captioned with how much it changed; a click continues from one
(one undo step, "Repaint region"). The work is the :class:`RepaintController`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.controls import plain_tooltip, section_label
from studio.ui.latent.mask_painter import BRUSH_RANGE, DEFAULT_BRUSH, MaskPainter
from studio.ui.latent.repaint_controller import RepaintController, change_caption

if TYPE_CHECKING:
    from studio.ui.image_view import ImageView
    from studio.ui.latent.explorer_controller import ExplorerController

THUMBNAIL = 128  # twice a 64 px picture, pixel for pixel: the versions differ in small details
MODE_TOOLTIP = (
    "Redraw part of the picture and keep the rest: paint over the part to change, "
    "press Repaint, then pick one of the new versions"
)
CANDIDATE_TOOLTIP = (
    "“Region new”: how much the painted part was redrawn. “Rest changed”: how far the rest of the "
    "picture moved from before (the smaller, the better it was kept). Click to use this version; "
    "Ctrl+Z brings the picture before back."
)


def _icon(image: QImage) -> QIcon:
    # Small model outputs stay crisp when drawn larger.
    return QIcon(
        QPixmap.fromImage(
            image.scaled(
                THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
            )
        )
    )


class CandidateStrip(QWidget):
    """Under the picture: the search's best picture while it runs, then the repainted versions."""

    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(2)
        header = QHBoxLayout()
        self.heading = section_label("Repainted versions")
        header.addWidget(self.heading)
        header.addSpacing(8)
        self.note = QLabel("")
        self.note.setEnabled(False)
        header.addWidget(self.note, 1)
        layout.addLayout(header)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.list.setGridSize(QSize(THUMBNAIL + 56, THUMBNAIL + 40))
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(True)
        self.list.setFixedHeight(THUMBNAIL + 50)
        self.list.setToolTip(plain_tooltip(CANDIDATE_TOOLTIP))
        self.list.itemClicked.connect(self._on_clicked)
        layout.addWidget(self.list)
        self.hide()

    def show_searching(self, preview: QImage | None, message: str) -> None:
        """While the search runs: its best picture so far, one cell."""
        self.note.setText("searching… (Stop keeps what is found so far)")
        if self.list.count() != 1 or self.list.item(0).data(Qt.ItemDataRole.UserRole) is not None:
            self.list.clear()
            self.list.addItem(QListWidgetItem("Best so far"))
        item = self.list.item(0)
        if preview is not None:
            item.setIcon(_icon(preview))
        item.setToolTip(message)
        self.show()

    def set_candidates(self, captions: list[tuple[QImage, str]], note: str) -> None:
        self.list.clear()
        for index, (image, caption) in enumerate(captions):
            item = QListWidgetItem(_icon(image), caption)
            item.setData(Qt.ItemDataRole.UserRole, index)
            item.setToolTip(plain_tooltip(CANDIDATE_TOOLTIP))
            self.list.addItem(item)
        self.note.setText(note)
        self.setVisible(bool(captions))

    def thumbnails(self) -> int:
        """How many repainted versions are shown (not counting the search's preview)."""
        return sum(1 for i in range(self.list.count()) if self.list.item(i).data(Qt.ItemDataRole.UserRole) is not None)

    @Slot(QListWidgetItem)
    def _on_clicked(self, item: QListWidgetItem) -> None:
        index = item.data(Qt.ItemDataRole.UserRole)
        if index is not None:
            self.chosen.emit(int(index))


class RepaintSection(QWidget):
    """The mode's controls (for the controls column); :attr:`strip` goes under the picture and
    :attr:`painter` lies over the picture."""

    def __init__(self, explorer: ExplorerController, view: ImageView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self.controller = RepaintController(explorer, self)
        self.painter = MaskPainter(view)
        self._mask_model: str | None = None  # the sha256 of the model the mask was painted for
        self.strip = CandidateStrip()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(6)
        self.toggle = QPushButton("Repaint a region")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip(plain_tooltip(MODE_TOOLTIP))
        layout.addWidget(self.toggle)

        self.tools = QWidget()
        tools = QVBoxLayout(self.tools)
        tools.setContentsMargins(0, 0, 0, 0)
        tools.setSpacing(6)
        hint = QLabel("Paint over the part to redraw (right-drag erases), then press Repaint.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        tools.addWidget(hint)

        brush_row = QHBoxLayout()
        self.paint_button = QToolButton()
        self.paint_button.setText("Paint")
        self.paint_button.setToolTip("Mark the part of the picture to redraw")
        self.erase_button = QToolButton()
        self.erase_button.setText("Erase")
        self.erase_button.setToolTip("Unmark: the part under the eraser is kept")
        group = QButtonGroup(self)
        for button in (self.paint_button, self.erase_button):
            button.setCheckable(True)
            group.addButton(button)
            brush_row.addWidget(button)
        self.paint_button.setChecked(True)
        self.brush_label = QLabel("")
        brush_row.addWidget(self.brush_label)
        self.brush_slider = QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setRange(*BRUSH_RANGE)
        self.brush_slider.setValue(DEFAULT_BRUSH)
        self.brush_slider.setToolTip("The brush's size, in the model's picture pixels")
        brush_row.addWidget(self.brush_slider, 1)
        self.clear_button = QToolButton()
        self.clear_button.setText("Clear")
        self.clear_button.setToolTip("Remove the whole painted region")
        brush_row.addWidget(self.clear_button)
        tools.addLayout(brush_row)

        run_row = QHBoxLayout()
        self.repaint_button = QPushButton("Repaint")
        self.repaint_button.setToolTip(
            "Search for new versions of the painted part that fit the rest of the picture (a minute or so)"
        )
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop searching; the versions found so far are shown")
        self.stop_button.hide()
        run_row.addWidget(self.repaint_button, 1)
        run_row.addWidget(self.stop_button)
        tools.addLayout(run_row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()
        tools.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setEnabled(False)
        self.status.hide()
        tools.addWidget(self.status)
        layout.addWidget(self.tools)
        self.tools.hide()

        self._show_brush(self.brush_slider.value())
        self.toggle.toggled.connect(self.set_active)
        self.erase_button.toggled.connect(lambda erasing: setattr(self.painter, "erasing", erasing))
        self.brush_slider.valueChanged.connect(self._show_brush)
        self.clear_button.clicked.connect(self.painter.clear)
        self.repaint_button.clicked.connect(self.repaint)
        self.stop_button.clicked.connect(self.controller.stop)
        self.strip.chosen.connect(self.controller.adopt)
        self.controller.runningChanged.connect(self._on_running)
        self.controller.progressed.connect(self._on_progress)
        self.controller.candidatesChanged.connect(self._show_candidates)
        explorer.modelLoaded.connect(self._on_model_loaded)
        explorer.loadingChanged.connect(lambda _loading: self._update_enabled())
        self._update_enabled()

    # ----- what the artist does -----------------------------------------------------------
    @Slot(bool)
    def set_active(self, active: bool) -> None:
        """Turn the mode on (the mask shows and the picture takes brush strokes) or off."""
        with QSignalBlocker(self.toggle):
            self.toggle.setChecked(active)
        self.tools.setVisible(active)
        self.painter.set_active(active)

    def repaint(self) -> bool:
        return self.controller.repaint(self.painter.mask())

    @Slot(int)
    def _show_brush(self, size: int) -> None:
        self.painter.brush = size
        self.brush_label.setText(f"Brush {size}")
        self.painter.update()

    # ----- what the controller reports ----------------------------------------------------
    @Slot(bool)
    def _on_running(self, running: bool) -> None:
        self.stop_button.setVisible(running)
        self.progress.setVisible(running)
        self.status.setVisible(running)
        if running:
            self.progress.setValue(0)
            self.status.setText("Starting…")
            self.strip.show_searching(None, "Starting…")
        else:
            self._show_candidates()  # the versions found, or none (stopped before it began)
        self._update_enabled()

    @Slot(object, str, object)
    def _on_progress(self, fraction: float | None, message: str, preview: QImage | None) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(fraction * 1000))
        self.status.setText(message)
        self.strip.show_searching(preview, message)

    @Slot()
    def _show_candidates(self) -> None:
        found = self.controller.candidates
        count = len(found)
        note = f"{count} found" + (" before Stop" if self.controller.cancelled else "")
        note += ": click one to use it (Ctrl+Z goes back)"
        self.strip.set_candidates([(c.qimage, change_caption(c)) for c in found], note)

    @Slot()
    def _on_model_loaded(self) -> None:
        model = self.explorer.model
        if model is not None:
            self.painter.set_size(model.image_size)
            if model.sha256 != self._mask_model:  # another model's pictures: the region meant something else
                self.painter.clear()
            self._mask_model = model.sha256
        self._update_enabled()

    def _update_enabled(self) -> None:
        ready = self.explorer.model is not None and not self.explorer.loading
        running = self.controller.running
        self.toggle.setEnabled(ready)
        self.repaint_button.setEnabled(ready and not running)
