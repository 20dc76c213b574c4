"""The Latent Explorer: sliders through what a VAE or GAN has learnt.

The picture is large on the left; on the right a scrollable column holds the model, class and
seed, the actions, truncation (GAN) and one slider per direction; bookmarks run along the
bottom. Every change goes through :class:`ExplorerState` (renders on the worker) and, where an
artist would want it back, through the main window's undo stack.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QSettings, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.engine.atomic import SaveError
from studio.engine.environment import installed_models
from studio.engine.imageio import IMAGE_FILE_FILTER, ImageLoadError, LoadedImage, load_image
from studio.engine.paths import config_dir, models_dir
from studio.spec.png import LATENT_KEY
from studio.spec.ranges import MAX_SEED, PSI_RANGE
from studio.ui.controls import picture_beside_controls, scrolling_column, section_label
from studio.ui.latent.bookmarks import Bookmark, BookmarkStore, BookmarkStrip, thumbnail_png
from studio.ui.latent.commands import SetLatentState
from studio.ui.latent.direction_sliders import RESOLUTION, DirectionSliders, make_slider, on_press
from studio.ui.latent.explorer_state import ExplorerState, Rendered, render_state, state_problem
from studio.ui.latent.render_channel import RenderChannel
from studio.ui.panels.base import Panel, PanelImage
from studio.ui.theme import ERROR_COLOUR

if TYPE_CHECKING:
    from studio.services.worker import Worker

log = logging.getLogger(__name__)

PROJECTION_STEPS = 200
_LAST_MODEL_KEY = "latent/model"


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
        list_models=installed_models,
        bookmarks: BookmarkStore | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = worker
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.explorer = ExplorerState(worker, list_models=list_models, parent=self)
        self.bookmarks = bookmarks if bookmarks is not None else BookmarkStore()
        self._prefs = QSettings(str(config_dir() / "settings.ini"), QSettings.Format.IniFormat)
        self._started = False
        self._drag_serial = 0
        self._origin = None  # where the slider edits started: Reset goes back here
        self._queued_image: LoadedImage | None = None
        self._projection_job: int | None = None
        self._projection_name = ""
        self._projection_template = None
        self._pending_bookmark: str | None = None
        self._sample_dialog = None
        self._interpolation_dialog = None
        self._encoder = RenderChannel(worker, self)
        self._encoder.done.connect(self._on_encoded)
        self._encoder.failed.connect(self._show_error)

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

        # The picture, a caption under it, then the bookmarks strip.
        self.caption = QLabel("")
        self.caption.setEnabled(False)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message = QLabel("")
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
        picture_layout.addWidget(self.message)

        self.splitter = picture_beside_controls(picture, self._build_controls(), (700, 360))
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self._build_bookmark_bar())

        QShortcut(QKeySequence("R"), self, self.randomize, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(
            QKeySequence("B"),
            self,
            lambda: self.add_bookmark_dialog(),
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )

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
        self.model_combo.setToolTip(f"Bundled models and your library ({models_dir()})")
        box.addWidget(self.model_combo)
        self.model_info = QLabel("")
        self.model_info.setEnabled(False)
        self.model_info.setWordWrap(True)
        box.addWidget(self.model_info)

        self.class_label = section_label("Class")
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("What a conditional model draws")
        box.addWidget(self.class_label)
        box.addWidget(self.class_combo)

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
        self.bookmark_button.setToolTip("Keep this point, with a thumbnail and a name (B)")
        actions.addWidget(self.grid_button, 0, 0)
        actions.addWidget(self.encode_button, 0, 1)
        actions.addWidget(self.bookmark_button, 1, 0)
        actions.addWidget(self.export_button, 1, 1)
        box.addSpacing(4)
        box.addLayout(actions)

        self.psi_label = section_label("Truncation ψ")
        self.psi_slider = make_slider(*PSI_RANGE, value=1.0)
        self.psi_slider.setToolTip("Lower: more typical, less varied pictures. 1 = no truncation.")
        box.addWidget(self.psi_label)
        box.addWidget(self.psi_slider)

        self.directions_label = section_label("Directions")
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
        e.imageReady.connect(self._on_image_ready)
        e.errorOccurred.connect(self._show_error)
        self.model_combo.activated.connect(self._on_model_chosen)
        self.class_combo.activated.connect(self._on_class_chosen)
        self.seed_spin.valueChanged.connect(self._on_seed_changed)
        self.randomize_button.clicked.connect(self.randomize)
        self.reset_button.clicked.connect(self.reset)
        self.grid_button.clicked.connect(self.open_sample_grid)
        self.encode_button.clicked.connect(self.encode_image_dialog)
        self.export_button.clicked.connect(self.export_png_dialog)
        self.bookmark_button.clicked.connect(lambda: self.add_bookmark_dialog())
        self.interpolate_button.clicked.connect(self.open_interpolation)
        self.psi_slider.valueChanged.connect(self._on_psi_moved)
        on_press(self.psi_slider, self._new_drag)
        self.psi_slider.sliderReleased.connect(self._new_drag)
        self.sliders.valueMoved.connect(self._on_direction_moved)
        self.sliders.dragStarted.connect(self._new_drag)
        self.sliders.dragFinished.connect(self._new_drag)
        self.strip.restoreRequested.connect(self.restore_bookmark)
        self.strip.renameRequested.connect(self.rename_bookmark_dialog)
        self.strip.deleteRequested.connect(self.delete_bookmark_dialog)
        self.worker.jobProgress.connect(self._on_job_progress)
        self.worker.jobFinished.connect(self._on_job_finished)
        self.worker.jobCancelled.connect(self._on_job_finished)
        self.worker.jobFailed.connect(self._on_job_failed)

    # ----- starting and models ------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.start()

    def start(self) -> None:
        """List the models and load the last one used (first call only; later calls refresh)."""
        self.explorer.refresh_models()
        if self._started:
            return
        self._started = True
        self._fill_models()
        if not self.explorer.models or self.explorer.model is not None or self.explorer.loading:
            return  # nothing to load, or an opened PNG already chose the model
        last = str(self._prefs.value(_LAST_MODEL_KEY, ""))
        featured = next((i for i, m in enumerate(self.explorer.models) if m.featured), 0)
        index = next((i for i, m in enumerate(self.explorer.models) if str(m.path) == last), featured)
        self.load_model(index)

    def load_model(self, index: int) -> None:
        info = self.explorer.models[index]
        self.model_combo.setCurrentIndex(index)
        self.explorer.load(info)

    @Slot()
    def _fill_models(self) -> None:
        combo = self.model_combo
        combo.blockSignals(True)
        combo.clear()
        for info in self.explorer.models:
            kind = {"vae": "VAE", "gan-generator": "GAN"}.get(info.architecture, info.architecture)
            combo.addItem(f"{info.name}  ·  {kind}", str(info.path))
            combo.setItemData(combo.count() - 1, f"{info.path}\n{info.origin}", Qt.ItemDataRole.ToolTipRole)
        if not self.explorer.models:
            combo.addItem("No models installed")
        current = self.explorer.info
        if current is not None:
            index = combo.findData(str(current.path))
            if index >= 0:
                combo.setCurrentIndex(index)
        combo.blockSignals(False)
        self._update_enabled()

    @Slot(int)
    def _on_model_chosen(self, index: int) -> None:
        if 0 <= index < len(self.explorer.models):
            info = self.explorer.models[index]
            if self.explorer.info is None or info.path != self.explorer.info.path or self.explorer.loading:
                self.load_model(index)

    @Slot(bool)
    def _on_loading(self, loading: bool) -> None:
        if loading:
            self.caption.setText("Loading the model…")
            if self.explorer.image is None:
                self.view.set_hint("Loading the model…")
        else:
            self._fill_models()  # after a failed load the picker shows the model still in use
            self._update_caption()
        self._update_enabled()

    @Slot()
    def _on_model_loaded(self) -> None:
        e = self.explorer
        model = e.model
        self._clear_error()
        kind = "VAE" if model.kind == "vae" else "GAN"
        self.model_info.setText(
            f"{kind} · {model.latent_dim} latent dimensions · {model.image_size}×{model.image_size}"
            + (f" · {len(model.class_names)} classes" if model.class_names else "")
        )
        self._prefs.setValue(_LAST_MODEL_KEY, str(e.info.path))  # only a model that loads is reopened
        index = next((i for i, m in enumerate(e.models) if m.path == e.info.path), -1)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        self.class_combo.clear()
        self.class_combo.addItems(model.class_names)
        conditional = bool(model.class_names)
        self.class_label.setVisible(conditional)
        self.class_combo.setVisible(conditional)
        gan = model.kind == "gan"
        self.psi_label.setVisible(gan)
        self.psi_slider.setVisible(gan)
        self.encode_button.setText("Project image…" if gan else "Encode image…")
        self._on_directions_changed()
        self._refresh_strip()
        self._update_enabled()
        if self._sample_dialog is not None and self._sample_dialog.isVisible():
            self._sample_dialog.shuffle()  # samples of the model now loaded
        if self._queued_image is not None:
            queued, self._queued_image = self._queued_image, None
            self.accept_image(queued)

    @Slot()
    def _on_directions_changed(self) -> None:
        directions = self.explorer.directions
        self.sliders.set_directions(
            directions.labels, [f"importance {s:.3g} ({directions.method})" for s in directions.scores]
        )
        self.directions_label.setText(f"DIRECTIONS · {directions.method.upper()}")

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
            self.strip,
            self.interpolate_button,
        ):
            widget.setEnabled(ready)
        if not has_models:
            self.view.set_hint(self.empty_hint)
            self.model_info.setText(f"Put a VAE or GAN (.safetensors with its card) in\n{models_dir()}")

    # ----- the state, shown ---------------------------------------------------------------
    @Slot(object)
    def _on_state_changed(self, state) -> None:
        e = self.explorer
        for widget, value in ((self.seed_spin, state.seed), (self.class_combo, state.class_index)):
            if value is not None:
                widget.blockSignals(True)
                if widget is self.seed_spin:
                    widget.setValue(value)
                else:
                    widget.setCurrentIndex(value)
                widget.blockSignals(False)
        if not self.psi_slider.isSliderDown():
            self.psi_slider.blockSignals(True)
            self.psi_slider.setValue(state.psi)
            self.psi_slider.blockSignals(False)
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
            parts.append(e.model.class_names[state.class_index])
        parts.append(f"seed {state.seed}" if state.seed is not None else "own point")
        if e.model.kind == "gan" and state.psi != 1.0:
            parts.append(f"ψ {state.psi:.2f}")
        self.caption.setText("  ·  ".join(parts))

    @Slot()
    def _on_image_ready(self) -> None:
        e = self.explorer
        self.view.set_image(e.qimage)
        self.imageChanged.emit()
        if self._pending_bookmark is not None and e.shown_state == e.state:
            name, self._pending_bookmark = self._pending_bookmark, None
            self.add_bookmark(name)

    def current(self) -> PanelImage | None:
        e = self.explorer
        if e.image is None or e.model is None or e.shown_state is None:
            return super().current()
        from studio.engine.latent import state_png_settings

        state = e.shown_state
        seed = f"seed{state.seed}" if state.seed is not None else "point"
        return PanelImage(e.image, state_png_settings(e.model, state), f"{e.model.name}-{seed}.png")

    def _show_error(self, message: str) -> None:
        log.error("%s", message)
        self.message.setText(message)
        self.message.show()
        if self.explorer.image is None:
            self.view.set_hint(message)

    def _clear_error(self) -> None:
        self.message.hide()
        self.message.setText("")

    # ----- changing the state (undoable) --------------------------------------------------
    def _push(self, new, text: str, merge_key=None) -> None:
        old, model = self.explorer.state, self.explorer.model
        if old is None or new == old:
            return
        if model is not None and new.model_sha256 == model.sha256 and (problem := state_problem(model, new)):
            self._show_error(problem)  # refused before it becomes an undo step that does nothing
            return
        self._clear_error()
        self.undo_stack.push(SetLatentState(self.explorer, old, new, text, merge_key))

    def _new_drag(self, *_args) -> None:
        self._drag_serial += 1

    def _set_origin(self, state) -> None:
        self._origin = state

    @Slot(int, float)
    def _on_direction_moved(self, index: int, value: float) -> None:
        if self.explorer.state is None:
            return
        label = self.explorer.directions.labels[index]
        self._push(
            self.explorer.with_coordinate(index, value), f"Move {label}", ("direction", index, self._drag_serial)
        )

    @Slot(float)
    def _on_psi_moved(self, value: float) -> None:
        state = self.explorer.state
        # A press snaps the handle to the slider's grid: not a move of the artist's.
        if state is not None and abs(value - state.psi) >= RESOLUTION / 2:
            self._push(replace(state, psi=round(float(value), 4)), "Truncation ψ", ("psi", self._drag_serial))

    @Slot(int)
    def _on_class_chosen(self, index: int) -> None:
        state = self.explorer.state
        if state is not None and index >= 0 and index != state.class_index:
            self._push(self.explorer.with_class(index), f"Class {self.class_combo.itemText(index)}")

    @Slot(int)
    def _on_seed_changed(self, seed: int) -> None:
        if self.explorer.state is not None:
            new = self.explorer.with_seed(seed)
            self._set_origin(new)
            self._push(new, f"Seed {seed}", ("seed",))

    def randomize(self) -> None:
        if self.explorer.state is None or self.explorer.loading:
            return
        seed = random.randint(0, MAX_SEED)
        new = self.explorer.with_seed(seed)
        self._set_origin(new)
        self._push(new, "Randomize")

    def reset(self) -> None:
        state = self.explorer.state
        if state is None:
            return
        origin = self._origin
        if origin is None or origin.model_sha256 != state.model_sha256:
            origin = self.explorer.with_seed(state.seed) if state.seed is not None else None
        if origin is not None:
            self._push(replace(origin, class_index=state.class_index, psi=state.psi), "Reset")

    def adopt(self, state, text: str = "Adopt sample") -> None:
        self._set_origin(state)
        self._push(state, text)

    # ----- bookmarks ----------------------------------------------------------------------
    def _refresh_strip(self) -> None:
        model = self.explorer.model
        marks = self.bookmarks.for_model(model.sha256) if model is not None else []
        self.strip.set_bookmarks(marks)
        self.strip.setVisible(bool(marks))
        self.strip_hint.setVisible(not marks)
        self.interpolate_button.setEnabled(len(marks) >= 2 and model is not None)

    def add_bookmark(self, name: str | None = None) -> Bookmark | None:
        """Bookmark the current point; its thumbnail is the picture of exactly that point."""
        e = self.explorer
        if e.state is None:
            return None
        if name is None or not name.strip():
            name = f"Bookmark {len(self.bookmarks.for_model(e.model.sha256)) + 1}"
        if e.shown_state != e.state or e.image is None:
            self._pending_bookmark = name  # its picture is on the way
            return None
        try:
            bookmark = self.bookmarks.add(Bookmark(name.strip(), e.state.to_settings(), thumbnail_png(e.image)))
        except (OSError, SaveError) as exc:
            self._show_error(str(exc))
            return None
        self._refresh_strip()
        self.caption.setText(f"Bookmarked “{bookmark.name}”")
        return bookmark

    def add_bookmark_dialog(self) -> None:
        if self.explorer.state is None:
            return
        default = f"Bookmark {len(self.bookmarks.for_model(self.explorer.model.sha256)) + 1}"
        name, ok = QInputDialog.getText(self, "Bookmark", "Name:", text=default)
        if ok:
            self.add_bookmark(name or default)

    def restore_bookmark(self, bookmark_id: str) -> None:
        bookmark = self.bookmarks.get(bookmark_id)
        if bookmark is None:
            return
        try:
            state = bookmark.state()
        except ValueError as exc:
            self._show_error(f"The bookmark “{bookmark.name}” cannot be restored: {exc}")
            return
        self._set_origin(state)
        self._push(state, f"Go to bookmark “{bookmark.name}”")

    def rename_bookmark_dialog(self, bookmark_id: str) -> None:
        bookmark = self.bookmarks.get(bookmark_id)
        if bookmark is None:
            return
        name, ok = QInputDialog.getText(self, "Rename bookmark", "Name:", text=bookmark.name)
        if ok and name.strip():
            try:
                self.bookmarks.rename(bookmark_id, name.strip())
            except OSError as exc:
                self._show_error(str(exc))
            self._refresh_strip()

    def delete_bookmark_dialog(self, bookmark_id: str) -> None:
        bookmark = self.bookmarks.get(bookmark_id)
        if bookmark is None:
            return
        answer = QMessageBox.question(self, "Delete bookmark", f"Delete the bookmark “{bookmark.name}”?")
        if answer == QMessageBox.StandardButton.Yes:
            try:
                self.bookmarks.remove(bookmark_id)
            except OSError as exc:
                self._show_error(str(exc))
            self._refresh_strip()

    # ----- dialogs ------------------------------------------------------------------------
    def open_sample_grid(self):
        from studio.ui.latent.sample_grid import SampleGridDialog

        if self.explorer.model is None:
            return None
        if self._sample_dialog is None:
            self._sample_dialog = SampleGridDialog(self.explorer, self)
            self._sample_dialog.adopted.connect(lambda state: self.adopt(state, f"Adopt sample (seed {state.seed})"))
        self._sample_dialog.shuffle()
        self._sample_dialog.show()
        self._sample_dialog.raise_()
        return self._sample_dialog

    def open_interpolation(self):
        from studio.ui.latent.interpolation import InterpolationDialog

        model = self.explorer.model
        if model is None:
            return None
        marks = self.bookmarks.for_model(model.sha256)
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

    # ----- images in: PNG states, encoding, projection ------------------------------------
    def accept_image(self, loaded: LoadedImage) -> bool:
        """File > Open and drops: a PNG of the explorer restores its state; another image is
        encoded (VAE) or projected (GAN). False, so the window shows it plainly, without models."""
        e = self.explorer
        if not e.refresh_models():
            return False
        state = self._state_in(loaded)
        if state is not None:
            if e.model_for_sha(state.model_sha256) is None:
                self._show_error(
                    f"{loaded.path.name} was made with the model “{state.model_name}”, which is not installed."
                )
                return True
            self._set_origin(state)
            self._started = True  # the PNG decides which model loads first
            if e.state is None:
                e.apply(state)  # nothing to undo back to yet
            else:
                self._push(state, f"Open {loaded.path.name}")
            return True
        if e.model is None or e.loading:
            self._queued_image = loaded  # encoded once the model is ready
            if not self._started:
                self.start()
            return True
        self.encode_image(loaded.image, loaded.path.name)
        return True

    @staticmethod
    def _state_in(loaded: LoadedImage):
        settings = loaded.settings or {}
        if LATENT_KEY not in settings:
            return None
        from studio.engine.latent import LatentState, LatentStateError

        try:
            return LatentState.from_settings(settings)
        except (LatentStateError, ValueError) as exc:
            log.warning("%s: unusable latent state (%s); treating it as a plain image", loaded.path.name, exc)
            return None

    def encode_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Encode an image", str(self._prefs.value("files/last_folder", "")), IMAGE_FILE_FILTER
        )
        if not path:
            return
        try:
            loaded = load_image(path)
        except ImageLoadError as exc:
            self._show_error(str(exc))
            return
        self.encode_image(loaded.image, loaded.path.name)

    def encode_image(self, image, name: str = "image") -> None:
        """VAE: encode on the worker (a render). GAN: projection, a job with progress and Stop."""
        e = self.explorer
        model, state = e.model, e.state
        if model is None or state is None:
            return
        self._clear_error()
        if model.kind == "vae":
            self.caption.setText(f"Encoding {name}…")

            def encode(_device) -> tuple[str, Rendered]:
                new = model.state(model.encode(image), state.class_index, state.psi)
                return name, render_state(model, new)

            self._encoder.request(encode)
            return
        if self._projection_job is not None:
            self.worker.cancel(self._projection_job)
        self._projection_name = name
        class_index = state.class_index
        self._projection_job = self.worker.submit(
            f"Projecting {name}", lambda _device: model.project_job(image, PROJECTION_STEPS, class_index=class_index)
        )
        self._projection_template = state

    @Slot(object)
    def _on_encoded(self, result) -> None:
        name, rendered = result
        if self.explorer.model is None or rendered.state.model_sha256 != self.explorer.model.sha256:
            return
        self.explorer.remember(rendered)
        self.adopt(rendered.state, f"Encode {name}")

    @Slot(int, object)
    def _on_job_progress(self, job_id: int, progress) -> None:
        if job_id == self._projection_job and progress.preview is not None:
            from studio.ui.qimage import to_qimage

            self.view.set_image(to_qimage(progress.preview))
            self.caption.setText(progress.message)

    @Slot(int, object)
    def _on_job_finished(self, job_id: int, z) -> None:
        if job_id != self._projection_job:
            return
        self._projection_job = None
        model, template = self.explorer.model, self._projection_template
        if z is None or model is None or template.model_sha256 != model.sha256:
            if self.explorer.qimage is not None:
                self.view.set_image(self.explorer.qimage)
            self._update_caption()
            return
        new = model.state(z, template.class_index, template.psi)
        self.adopt(new, f"Project {self._projection_name}")
        if new == self.explorer.state and self.explorer.qimage is not None:
            self.view.set_image(self.explorer.qimage)

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id == self._projection_job:
            self._projection_job = None
            self._show_error(message)
            if self.explorer.qimage is not None:
                self.view.set_image(self.explorer.qimage)

    # ----- images out ---------------------------------------------------------------------
    def export_png_dialog(self) -> None:
        path = self.save_png_dialog("Export PNG")
        if path is not None:
            self.caption.setText(f"Exported {path.name}")
