"""The Latent Explorer: sliders through what a VAE or GAN has learnt.

The picture is large on the left; on the right a scrollable column holds the model, class and
seed, the actions, variety (GAN truncation) and one slider per direction, each with small
pictures of where its two ends lead; bookmarks run along the
bottom. The panel is a view of its :class:`ExplorerController`: it shows the controller's
picture, state and messages, and sends it what the artist does (the controller turns those
into undo steps, renders and jobs).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QSignalBlocker, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.files.images import IMAGE_FILE_FILTER
from studio.spec.bounds import MAX_SEED, PSI_RANGE, SEED
from studio.ui.controls import picture_beside_controls, plain_tooltip, scrolling_column, section_label
from studio.ui.export_size import ExportSizeControl
from studio.ui.latent.bookmarks import BookmarkStrip
from studio.ui.latent.class_choice import class_at, combo_row, fill_class_combo
from studio.ui.latent.direction_names import (
    CHANGES_HEADING,
    VARIETY,
    VARIETY_TOOLTIP,
    change_label,
    changes_heading_tooltip,
    direction_tooltip,
)
from studio.ui.latent.direction_sliders import RESOLUTION, DirectionSliders, make_slider, on_press
from studio.ui.latent.explorer_controller import ExplorerController
from studio.ui.latent.mixing_section import MixingSection, mixed_caption
from studio.ui.latent.named_sliders import NamedSliders
from studio.ui.latent.repaint_section import RepaintSection
from studio.ui.panels.base import Panel, PanelImage
from studio.ui.saved_notice import SavedNotice
from studio.ui.theme import ERROR_COLOUR

if TYPE_CHECKING:
    from collections.abc import Callable

    from studio.engine.environment import InstalledModel
    from studio.engine.latent.state import LatentState
    from studio.files.images import LoadedImage
    from studio.services.worker import Worker
    from studio.spec.export_size import ExportSize
    from studio.ui.latent.bookmark_store import Bookmark, BookmarkStore
    from studio.ui.latent.interpolation import InterpolationDialog
    from studio.ui.latent.sample_grid import SampleGridDialog

log = logging.getLogger(__name__)

LOADING_TEXT = "Loading model…"


class LatentPanel(Panel):
    title = "Latent Explorer"
    subtitle = "Move sliders through what a generative model has learnt: samples, bookmarks, interpolation."
    icon_name = "latent-explorer"
    empty_hint = "No latent model is installed yet.\nDrop an image here, or use File > Open image…"

    def __init__(
        self,
        worker: Worker,
        undo_stack: QUndoStack | None = None,
        *,
        list_models: Callable[[], list[InstalledModel]] | None = None,
        bookmarks: BookmarkStore | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = worker
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.explorer = ExplorerController(
            worker, self.undo_stack, list_models=list_models, bookmarks=bookmarks, parent=self
        )
        self.bookmarks = self.explorer.bookmarks
        self._sample_dialog: SampleGridDialog | None = None
        self._interpolation_dialog: InterpolationDialog | None = None

        self._build()
        self._connect()
        self._update_enabled()
        if self.bookmarks.load_error:
            self._show_error(self.bookmarks.load_error)

    # ----- construction -------------------------------------------------------------------
    def _build(self) -> None:
        layout = self.layout()
        layout.removeWidget(self.view)
        self.view.setMinimumSize(120, 120)
        # A click on the picture takes the keyboard (R, B) back from the seed box and combos.
        self.view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        # The picture, a caption under it, then the bookmarks strip.
        self.caption = QLabel("")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.caption.setEnabled(False)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.message.hide()
        picture = QWidget()
        picture_layout = QVBoxLayout(picture)
        picture_layout.setContentsMargins(0, 0, 0, 0)
        picture_layout.setSpacing(4)
        picture_layout.addWidget(self.view, 1)
        picture_layout.addWidget(self.caption)
        self.saved = SavedNotice()  # "Saved NAME · Open folder" after an export
        self.saved.setAlignment(Qt.AlignmentFlag.AlignCenter)
        picture_layout.addWidget(self.saved)
        picture_layout.addWidget(self.message)
        # "Repaint a region": its mask lies over the picture, its versions line up under it.
        self.repaint = RepaintSection(self.explorer, self.view)
        picture_layout.addWidget(self.repaint.strip)
        # The bookmarks strip sits under the picture, so the controls keep the column's full height.
        picture_layout.addWidget(self._build_bookmark_bar())

        self.splitter = picture_beside_controls(picture, self._build_controls(), (700, 360))
        layout.addWidget(self.splitter, 1)

        # Panel keys, not menu actions: Help > Keyboard shortcuts lists them by their whatsThis.
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self.randomize_shortcut = QShortcut(QKeySequence("R"), self, self.randomize, context=context)
        self.randomize_shortcut.setWhatsThis("Random sample")
        self.bookmark_shortcut = QShortcut(QKeySequence("B"), self, lambda: self.add_bookmark(), context=context)
        self.bookmark_shortcut.setWhatsThis("Bookmark the current point")

    def _build_controls(self) -> QWidget:
        column = QWidget()
        column.setObjectName("latentControls")
        box = QVBoxLayout(column)
        box.setContentsMargins(12, 0, 12, 12)
        box.setSpacing(6)

        box.addWidget(section_label("Model"))
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(16)
        self.model_combo.setToolTip(f"Bundled models and your library ({self.explorer.library_folder})")
        box.addWidget(self.model_combo)
        self.model_info = QLabel("")
        self.model_info.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.model_info.setEnabled(False)
        self.model_info.setWordWrap(True)
        box.addWidget(self.model_info)

        self.class_label = section_label("Class")
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("What a conditional model draws")
        self.class_note = QLabel("")  # a fine-tuned model's: what its other classes are
        self.class_note.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.class_note.setWordWrap(True)
        self.class_note.setEnabled(False)
        box.addWidget(self.class_label)
        box.addWidget(self.class_combo)
        box.addWidget(self.class_note)

        box.addWidget(section_label("Seed"))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setToolTip("The same seed gives the same sample, on every machine")
        self.seed_spin.setKeyboardTracking(False)
        self.randomize_button = QPushButton("Randomize")
        self.randomize_button.setToolTip("A new random sample (R)")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Undo the slider moves: back to the sample, bookmark or image they started from")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.randomize_button)
        seed_row.addWidget(self.reset_button)
        box.addLayout(seed_row)

        actions = QGridLayout()
        actions.setSpacing(6)
        self.grid_button = QPushButton("Sample grid…")
        self.grid_button.setToolTip("Sixteen random samples; click one to continue from it")
        self.encode_button = QPushButton("Encode image…")
        self.encode_button.setToolTip("Find your own image in the latent space (or drop it on the window)")
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip(
            "The picture, with the exact point in its metadata: opening it brings this state back"
        )
        self.bookmark_button = QPushButton("Bookmark")
        self.bookmark_button.setToolTip(
            "Keep this point, with a thumbnail (B); double-click it in the strip to rename it"
        )
        actions.addWidget(self.grid_button, 0, 0)
        actions.addWidget(self.encode_button, 0, 1)
        actions.addWidget(self.bookmark_button, 1, 0)
        actions.addWidget(self.export_button, 1, 1)
        box.addSpacing(4)
        box.addLayout(actions)
        self.size_choice = ExportSizeControl()  # how large Export PNG, Save image and animations are
        box.addWidget(self.size_choice)
        box.addWidget(self.repaint)
        self.named_sliders = NamedSliders(self.explorer)  # "Named sliders", taught in the sample grid
        box.addWidget(self.named_sliders)

        self.psi_label = section_label(VARIETY)
        self.psi_label.setToolTip(VARIETY_TOOLTIP)
        self.psi_slider = make_slider(*PSI_RANGE, value=1.0)
        self.psi_slider.setToolTip(VARIETY_TOOLTIP)
        box.addWidget(self.psi_label)
        box.addWidget(self.psi_slider)

        self.mixing = MixingSection(self.explorer)  # shown for a model that can mix (GAN v2)
        box.addWidget(self.mixing)

        self.directions_label = section_label(CHANGES_HEADING)
        box.addWidget(self.directions_label)
        self.sliders = DirectionSliders()
        box.addWidget(self.sliders)
        box.addStretch(1)

        scroll = scrolling_column(column, 320)
        self.controls = column
        return scroll

    def _build_bookmark_bar(self) -> QWidget:
        bar = QWidget()
        layout = QVBoxLayout(bar)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(2)
        header = QHBoxLayout()
        header.addWidget(section_label("Bookmarks"))
        header.addStretch(1)
        self.interpolate_button = QToolButton()
        self.interpolate_button.setText("Interpolate…")
        self.interpolate_button.setToolTip(
            "Frames between two or more bookmarks: play them as a loop, export GIF, WebP, APNG or PNG frames"
        )
        header.addWidget(self.interpolate_button)
        self.strip = BookmarkStrip()
        self.strip_hint = QLabel("No bookmarks for this model yet: press Bookmark (B) to keep the current point.")
        self.strip_hint.setEnabled(False)
        self.strip_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.strip_hint.setWordWrap(True)  # the picture's column can be narrow
        self.strip_hint.setFixedHeight(self.strip.height())
        self.strip.hide()
        layout.addLayout(header)
        layout.addWidget(self.strip)
        layout.addWidget(self.strip_hint)
        return bar

    def _connect(self) -> None:
        e = self.explorer
        e.modelsChanged.connect(self._fill_models)
        e.loadingChanged.connect(self._on_loading)
        e.modelLoaded.connect(self._on_model_loaded)
        e.directionsChanged.connect(self._on_directions_changed)
        e.stateChanged.connect(self._on_state_changed)
        e.pictureChanged.connect(lambda: self.view.set_image(self.explorer.qimage))
        e.pictureChanged.connect(self._on_picture_size)
        e.imageReady.connect(self.imageChanged)
        e.noticeChanged.connect(self._on_notice)
        e.errorOccurred.connect(self._show_error)
        e.errorCleared.connect(self._clear_error)
        e.bookmarksChanged.connect(self._refresh_strip)
        self.model_combo.activated.connect(self._on_model_chosen)
        self.class_combo.activated.connect(self._on_class_chosen)
        self.seed_spin.valueChanged.connect(e.set_seed)
        # Enter applies the typed seed (valueChanged, keyboard tracking is off) and hands the
        # keyboard back to the picture, so R and B work straight after.
        self.seed_spin.lineEdit().returnPressed.connect(self.view.setFocus)
        self.randomize_button.clicked.connect(self.randomize)
        self.reset_button.clicked.connect(self.reset)
        self.grid_button.clicked.connect(self.open_sample_grid)
        self.encode_button.clicked.connect(self.encode_image_dialog)
        self.export_button.clicked.connect(self.export_png_dialog)
        self.bookmark_button.clicked.connect(lambda: self.add_bookmark())
        self.interpolate_button.clicked.connect(self.open_interpolation)
        self.psi_slider.valueChanged.connect(self._on_psi_moved)
        on_press(self.psi_slider, e.new_drag)
        self.psi_slider.sliderReleased.connect(e.new_drag)
        self.sliders.valueMoved.connect(e.move_direction)
        self.sliders.dragStarted.connect(e.new_drag)
        self.sliders.dragFinished.connect(e.new_drag)
        self.sliders.rowsChanged.connect(e.want_previews)
        e.previewsChanged.connect(self._show_previews)
        self.strip.restoreRequested.connect(self.restore_bookmark)
        # Queued: the strip is rebuilt after a rename, not while its editor is still committing.
        self.strip.renamed.connect(self.rename_bookmark, Qt.ConnectionType.QueuedConnection)
        self.strip.deleteRequested.connect(self.delete_bookmark_dialog)

    @property
    def _drag_serial(self) -> int:  # the latency benchmark tells drags apart by it
        return self.explorer.drag_serial

    # ----- starting and models ------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.start()

    def start(self) -> None:
        """List the models and load the last one used (first call only; later calls refresh)."""
        self.explorer.start()
        self._fill_models()

    def load_model(self, index: int) -> None:
        self.model_combo.setCurrentIndex(index)
        self.explorer.load_model(index)

    @Slot(int)
    def _on_model_chosen(self, index: int) -> None:
        e = self.explorer
        if 0 <= index < len(e.models) and (e.info is None or e.models[index].path != e.info.path or e.loading):
            self.load_model(index)

    @Slot()
    def _fill_models(self) -> None:
        combo = self.model_combo
        combo.blockSignals(True)
        combo.clear()
        for info in self.explorer.models:
            kind = {"vae": "VAE", "gan-generator": "GAN"}.get(info.architecture, info.architecture)
            combo.addItem(f"{info.name}  ·  {kind}", str(info.path))
            combo.setItemData(
                combo.count() - 1, plain_tooltip(f"{info.path}\n{info.origin}"), Qt.ItemDataRole.ToolTipRole
            )
        if not self.explorer.models:
            combo.addItem("No models installed")
        current = self.explorer.info
        if current is not None:
            index = combo.findData(str(current.path))
            if index >= 0:
                combo.setCurrentIndex(index)
        combo.blockSignals(False)
        self._update_enabled()

    @Slot(bool)
    def _on_loading(self, loading: bool) -> None:
        if loading:
            self.caption.setText(LOADING_TEXT)
            if self.explorer.qimage is None:
                self.view.set_hint(LOADING_TEXT)
        else:
            self._fill_models()  # after a failed load the picker shows the model still in use
            self._update_caption()
        self._update_enabled()

    @Slot()
    def _on_model_loaded(self) -> None:
        e = self.explorer
        model = e.model
        index = next((i for i, m in enumerate(e.models) if m.path == e.info.path), -1)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        fill_class_combo(self.class_combo, self.class_note, model.class_names, model.card)
        conditional = bool(model.class_names)
        self.class_label.setVisible(conditional)
        self.class_combo.setVisible(conditional)
        self.class_note.setVisible(conditional and bool(self.class_note.text()))
        gan = model.kind == "gan"
        self.psi_label.setVisible(gan)
        self.psi_slider.setVisible(gan)
        self.encode_button.setText("Project image…" if gan else "Encode image…")
        self._on_directions_changed()
        self._update_enabled()
        if self._sample_dialog is not None and self._sample_dialog.isVisible():
            self._sample_dialog.shuffle()  # samples of the model now loaded

    @Slot()
    def _on_directions_changed(self) -> None:
        directions = self.explorer.directions
        count = len(directions.labels)
        self.sliders.set_directions(
            [change_label(i) for i in range(count)], [direction_tooltip(directions, i) for i in range(count)]
        )
        self.directions_label.setToolTip(changes_heading_tooltip(directions))
        self._show_previews()

    @Slot()
    def _show_previews(self) -> None:
        """The -/+ pictures of the current point, as far as they are drawn."""
        previews = self.explorer.direction_previews
        self.sliders.set_previews({i: (p.minus_qimage, p.plus_qimage) for i, p in previews.items()})

    def _update_enabled(self) -> None:
        has_models = bool(self.explorer.models)
        ready = self.explorer.model is not None and not self.explorer.loading
        self.model_combo.setEnabled(has_models and not self.explorer.loading)
        for widget in (
            self.class_combo,
            self.seed_spin,
            self.randomize_button,
            self.reset_button,
            self.grid_button,
            self.encode_button,
            self.export_button,
            self.bookmark_button,
            self.psi_slider,
            self.sliders,
            self.named_sliders,
            self.strip,
            self.interpolate_button,
        ):
            widget.setEnabled(ready)
        if not has_models and self.explorer.started:
            self.view.set_hint(self.empty_hint)
        self._update_model_info()

    def _update_model_info(self) -> None:
        """The line under the model picker: the model's facts; "Loading model…" (not a
        complaint) while one loads; where to put a model only when there truly is none."""
        e = self.explorer
        model = e.model
        tooltip = ""
        if e.loading:
            text = LOADING_TEXT
        elif model is not None:
            kind = "VAE" if model.kind == "vae" else "GAN"
            text = f"{kind} · {model.image_size}×{model.image_size} pictures" + (
                f" · {len(model.class_names)} classes" if model.class_names else ""
            )
            tooltip = f"{model.latent_dim} latent dimensions"
        elif not e.models and e.started:
            text = f"Put a VAE or GAN (.safetensors with its card) in\n{e.library_folder}"
        else:
            text = ""
        self.model_info.setText(text)
        self.model_info.setToolTip(tooltip)

    # ----- the state, shown ---------------------------------------------------------------
    @Slot(object)
    def _on_state_changed(self, state: LatentState) -> None:
        e = self.explorer
        # QSignalBlocker unblocks however the block ends: a failure here never leaves a
        # control deaf until a restart.
        if state.seed is not None and SEED.problem(state.seed) is None:
            with QSignalBlocker(self.seed_spin):
                self.seed_spin.setValue(state.seed)
        if state.class_index is not None:
            with QSignalBlocker(self.class_combo):
                self.class_combo.setCurrentIndex(combo_row(self.class_combo, state.class_index))
        if not self.psi_slider.isSliderDown():
            with QSignalBlocker(self.psi_slider):
                self.psi_slider.setValue(state.psi)
        values = e.coordinates(state)
        dragged = [i for i, s in enumerate(self.sliders.sliders) if s.isSliderDown()]
        if dragged:
            values = list(values)
            for i in dragged:
                values[i] = self.sliders.sliders[i].value()
        self.sliders.set_values(values)
        self._update_caption()

    def _update_caption(self) -> None:
        e = self.explorer
        state = e.state
        if state is None:
            return
        parts = [e.model.name]
        if state.class_index is not None and state.class_index < len(e.model.class_names):
            class_name = e.model.class_names[state.class_index]
            # A fine-tuned model is named after its folder ("Emoji GAN · my photos"): not twice.
            if class_name not in (part.strip() for part in e.model.name.split("·")):
                parts.append(class_name)
        parts.append(f"seed {state.seed}" if state.seed is not None else "own point")
        if e.model.kind == "gan" and state.psi != 1.0:
            parts.append(f"{VARIETY.lower()} {state.psi:.2f}")
        if state.mix is not None:
            parts.append(mixed_caption(state.mix))
        self.caption.setText("  ·  ".join(parts))

    @Slot(str)
    def _on_notice(self, notice: str) -> None:
        if notice:
            self.caption.setText(notice)
        else:
            self._update_caption()

    def current(self) -> PanelImage | None:
        e = self.explorer
        settings = e.png_settings()
        if e.image is None or settings is None:
            return super().current()
        return PanelImage(e.image, settings, e.picture_name())

    def _show_error(self, message: str) -> None:
        log.error("%s", message)
        self.message.setText(message)
        self.message.show()
        if self.explorer.qimage is None:
            self.view.set_hint(message)

    @Slot()
    def _clear_error(self) -> None:
        self.message.hide()
        self.message.setText("")

    def export_size(self) -> ExportSize:
        return self.size_choice.value()

    @Slot()
    def _on_picture_size(self) -> None:
        if self.explorer.image is not None:
            self.size_choice.set_native_size(*self.explorer.image.size)

    # ----- what the artist does -----------------------------------------------------------
    @Slot(float)
    def _on_psi_moved(self, value: float) -> None:
        state = self.explorer.state
        # A press snaps the handle to the slider's grid: not a move of the artist's.
        if state is not None and abs(value - state.psi) >= RESOLUTION / 2:
            self.explorer.set_psi(value)

    @Slot(int)
    def _on_class_chosen(self, row: int) -> None:
        index = class_at(self.class_combo, row)
        if index is not None:
            self.explorer.set_class(index)

    def randomize(self) -> None:
        self.explorer.randomize()

    def reset(self) -> None:
        self.explorer.reset()

    def adopt(self, state: LatentState, text: str = "Adopt sample") -> None:
        self.explorer.adopt(state, text)

    # ----- bookmarks ----------------------------------------------------------------------
    @Slot()
    def _refresh_strip(self) -> None:
        marks = self.explorer.model_bookmarks()
        self.strip.set_bookmarks(marks)
        self.strip.setVisible(bool(marks))
        self.strip_hint.setVisible(not marks)
        self.interpolate_button.setEnabled(len(marks) >= 2 and self.explorer.model is not None)

    def add_bookmark(self, name: str | None = None) -> Bookmark | None:
        """Bookmark the current point at once, with an automatic name unless given one (renamed
        later in the strip); its thumbnail is the picture of exactly that point."""
        return self.explorer.add_bookmark(name)

    def restore_bookmark(self, bookmark_id: str) -> None:
        self.explorer.restore_bookmark(bookmark_id)

    def rename_bookmark(self, bookmark_id: str, name: str) -> None:
        if name.strip():
            self.explorer.rename_bookmark(bookmark_id, name.strip())

    def delete_bookmark_dialog(self, bookmark_id: str) -> None:
        bookmark = self.bookmarks.get(bookmark_id)
        if bookmark is None:
            return
        answer = QMessageBox.question(self, "Delete bookmark", f"Delete the bookmark “{bookmark.name}”?")
        if answer == QMessageBox.StandardButton.Yes:
            self.explorer.delete_bookmark(bookmark_id)

    # ----- dialogs ------------------------------------------------------------------------
    def open_sample_grid(self) -> SampleGridDialog | None:
        from studio.ui.latent.sample_grid import SampleGridDialog

        if self.explorer.model is None:
            return None
        if self._sample_dialog is None:
            self._sample_dialog = SampleGridDialog(self.explorer, self)
            self._sample_dialog.adopted.connect(lambda state: self.adopt(state, f"Adopt sample (seed {state.seed})"))
            self._sample_dialog.mixWith.connect(self.mixing.mixer.use_sample)
        self._sample_dialog.shuffle()
        self._sample_dialog.show()
        self._sample_dialog.raise_()
        return self._sample_dialog

    def open_interpolation(self) -> InterpolationDialog | None:
        from studio.ui.latent.interpolation import InterpolationDialog

        if self.explorer.model is None:
            return None
        marks = self.explorer.model_bookmarks()
        old = self._interpolation_dialog
        if old is not None and shiboken6.isValid(old):
            old.close()  # it deletes itself; the new one lists the bookmarks as they are now
        dialog = InterpolationDialog(self.explorer, marks, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._interpolation_dialog = dialog
        chosen = [m.id for m in (marks if len(marks) <= 6 else marks[:2])]
        if len(chosen) >= 2:
            dialog.set_checked(chosen)
        dialog.show()
        return dialog

    # ----- images in and out --------------------------------------------------------------
    def accept_image(self, loaded: LoadedImage) -> bool:
        """File > Open and drops: a PNG of the explorer restores its state; another image is
        encoded (VAE) or projected (GAN). False, so the window shows it plainly, without models."""
        return self.explorer.open_image(loaded)

    def encode_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Encode an image", self.explorer.last_folder, IMAGE_FILE_FILTER)
        if path:
            self.explorer.encode_file(path)

    def export_png_dialog(self) -> None:
        path = self.save_png_dialog("Export PNG")
        if path is not None:
            self.saved.show_saved(path.name, path.parent)
