"""Style Transfer: a photo and one or more paintings become the photo painted in their style.

The picture is large on the left, as a before/after split (drag the divider); under it, the
progress of a Refine or a save with an ETA and a small loss curve. On the right: the photo
slot, the painting slots (each with a weight), "How much of the painting" (the strength), the
built-in styles, the Refine settings (a summary and an Advanced box), then Refine with its
quality beside it, Stop and Save PNG.

As soon as there is a photo and a painting, the picture is painted at once by the instant
style network, and again, live, whenever a painting, a weight or the strength changes. Refine
runs the slow optimisation from that picture, with its live preview and loss curve; Save PNG
writes whichever picture is on screen (an instant one painted again at the photo's own size).

Where an opened or dropped image goes (:meth:`StylePanel.accept_image`):

1. a PNG this panel saved: its settings come back (presets, Advanced, style weights for
   paintings with the same file names) and the picture is shown as the result;
2. otherwise, the photo slot if it is empty;
3. otherwise a painting: the first empty painting slot, else a new slot (up to
   :data:`MAX_STYLES`), else it replaces the last painting.

The photo, the paintings, the settings and the run live in a
:class:`~studio.ui.style.style_run.StyleRun`; this panel shows them and sends it what the
artist does. A run works on a snapshot of the images and settings taken at Start, so edits made
while it runs apply to the next run. Stop keeps the best picture so far.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.services.settings import open_preferences, preference
from studio.spec.png import STYLE_KEY
from studio.spec.style_settings import StyleSettings
from studio.ui.controls import picture_beside_controls, scrolling_column, section_label
from studio.ui.panels.base import Panel, PanelImage
from studio.ui.qimage import to_qimage
from studio.ui.style.autosave import RecoveryError, StyleAutosave
from studio.ui.style.compare_view import CompareView
from studio.ui.style.image_slot import ImageSlot, StyleSlot
from studio.ui.style.loss_plot import LossPlot
from studio.ui.style.recovery_bar import RecoveryBar
from studio.ui.style.settings_form import SettingsForm
from studio.ui.style.style_gallery import StyleGallery
from studio.ui.style.style_run import BUILTIN_FORMAT, MAX_STYLES, RunProgress, StyleOutcome, StyleRun
from studio.ui.theme import ERROR_COLOUR

if TYPE_CHECKING:
    from PIL import Image

    from studio.files.images import LoadedImage
    from studio.services.worker import Worker
    from studio.spec.style_settings import StyleSettings

log = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


class StylePanel(Panel):
    title = "Style Transfer"
    subtitle = "Paint a photo in the style of one or more paintings, with a live preview."
    icon_name = "style-transfer"
    empty_hint = (
        "Drop a photo on the Photo slot and a painting on a Painting slot (or pick a built-in style):\n"
        "the painted photo appears at once.\n\n"
        "File > Open image… fills the photo first, then the paintings."
    )

    def __init__(self, worker: Worker | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._prefs = open_preferences()
        self.run = StyleRun(worker, self._prefs, self)
        self.style_slots: list[StyleSlot] = []
        self._shown_photo: LoadedImage | None = None
        self._build()
        run = self.run
        run.inputsChanged.connect(self._show_inputs)
        run.settingsChanged.connect(self._on_settings_changed)
        run.started.connect(self._on_started)
        run.progressed.connect(self._on_progress)
        run.lossAdded.connect(self.loss_plot.add_value)
        run.lossAdded.connect(self._show_loss)
        run.previewReady.connect(self._on_preview)
        run.finished.connect(self._on_outcome)
        run.cancelled.connect(self._on_outcome)
        run.failed.connect(self._on_failed)
        run.refused.connect(self._show_error)
        run.changedDuringRun.connect(lambda: self.run_hint.setText("Changes apply to the next Refine."))
        run.instantReady.connect(self._on_instant)
        run.instantFailed.connect(self._on_instant_failed)
        run.instantAsked.connect(self._on_instant_asked)
        run.strengthChanged.connect(self._show_strength)
        run.galleryChanged.connect(lambda: self.gallery.set_entries(run.gallery))
        run.saveProgressed.connect(self._on_save_progress)
        run.saved.connect(self._on_saved)
        run.saveFailed.connect(self._on_save_failed)
        run.add_painting()  # one empty painting slot to drop on
        run.load_gallery()
        # The work is saved as the artist works; a crash's work is offered back above the picture.
        self.autosave = StyleAutosave(run, self)
        if self.autosave.offer is not None:
            self.recovery_bar.offer(self.autosave.offer.summary())
        self.recovery_bar.restoreClicked.connect(self.restore_autosave)
        self.recovery_bar.discardClicked.connect(self.discard_autosave)

    # ----- construction -------------------------------------------------------------------
    def _build(self) -> None:
        layout = self.layout()
        layout.removeWidget(self.view)
        self.view.hide()  # deleteLater alone leaves it painted over the header until the loop runs
        self.view.setParent(None)
        self.view.deleteLater()
        self.view = CompareView(self.empty_hint)
        self.view.setToolTip("Drag to compare the photo (left) with the result (right); double-click to centre")

        picture = QWidget()
        picture_layout = QVBoxLayout(picture)
        picture_layout.setContentsMargins(0, 0, 0, 0)
        picture_layout.setSpacing(6)
        self.recovery_bar = RecoveryBar()
        picture_layout.addWidget(self.recovery_bar)
        picture_layout.addWidget(self.view, 1)
        picture_layout.addWidget(self._build_run_bar())

        self.splitter = picture_beside_controls(picture, self._build_controls(), (900, 384))
        layout.addWidget(self.splitter, 1)

        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        # Panel keys, not menu actions: Help > Keyboard shortcuts lists them by their whatsThis.
        start = QShortcut(QKeySequence("Ctrl+Return"), self, self.start, context=context)
        start.setWhatsThis("Start (or refine the picture)")
        stop = QShortcut(QKeySequence("Escape"), self, self.stop, context=context)
        stop.setWhatsThis("Stop the run")

    def _build_run_bar(self) -> QWidget:
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(12)
        left = QVBoxLayout()
        left.setSpacing(4)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.status.setWordWrap(True)
        self.status.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.message.hide()
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addWidget(self.message)
        left.addStretch(1)
        self.loss_plot = LossPlot()
        # Until a Refine has loss values the plot's place holds a plain note (an empty plot shows
        # only meaningless ticks); both share one fixed box, so nothing moves when it appears.
        self.loss_placeholder = QLabel("How the picture settles, step by step, is drawn here during Refine.")
        self.loss_placeholder.setWordWrap(True)
        self.loss_placeholder.setEnabled(False)
        self.loss_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loss_placeholder.setToolTip(self.loss_plot.toolTip())
        self.loss_box = QStackedWidget()
        self.loss_box.addWidget(self.loss_placeholder)
        self.loss_box.addWidget(self.loss_plot)
        self.loss_box.setFixedHeight(96)
        self.loss_box.setMinimumWidth(170)  # its axis labels stay apart in a narrow window
        self.loss_box.setMaximumWidth(280)
        row.addLayout(left, 1)
        row.addWidget(self.loss_box, 1)
        return bar

    def _build_controls(self) -> QWidget:
        outer = QWidget()
        outer_layout = QVBoxLayout(outer)
        outer_layout.setContentsMargins(0, 0, 0, 0)
        outer_layout.setSpacing(8)

        column = QWidget()
        column.setObjectName("styleControls")
        box = QVBoxLayout(column)
        box.setContentsMargins(12, 0, 12, 12)
        box.setSpacing(6)

        box.addWidget(section_label("Photo"))
        self.content_slot = ImageSlot("photo", "A photo", removable=True)
        self.content_slot.imageChanged.connect(self.run.set_photo)
        self.content_slot.removeRequested.connect(lambda: self.run.set_photo(None))
        self.content_slot.extraDropped.connect(self._add_style_paths)
        box.addWidget(self.content_slot)

        box.addWidget(section_label("Paintings"))
        self.styles_box = QVBoxLayout()
        self.styles_box.setSpacing(6)
        box.addLayout(self.styles_box)
        self.add_style_button = QPushButton("+ Add painting")
        self.add_style_button.setToolTip(f"Mix up to {MAX_STYLES} paintings, each with its own weight")
        self.add_style_button.clicked.connect(lambda: self.run.add_painting())
        box.addWidget(self.add_style_button)

        strength_row = QHBoxLayout()
        strength_row.setSpacing(8)
        strength_caption = QLabel("How much of the painting")
        self.strength_slider = QSlider(Qt.Orientation.Horizontal)
        self.strength_slider.setRange(0, 100)
        self.strength_slider.setValue(round(100 * self.run.strength))
        self.strength_value = QLabel("")
        self.strength_value.setMinimumWidth(40)
        self.strength_value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        tip = (
            "0 %: the photo in its own style; 100 %: fully in the paintings' style.\n"
            "(Style strength: the mix between the photo's own style vector and the paintings'.)"
        )
        for widget in (strength_caption, self.strength_slider, self.strength_value):
            widget.setToolTip(tip)
        strength_row.addWidget(strength_caption)
        strength_row.addWidget(self.strength_slider, 1)
        strength_row.addWidget(self.strength_value)
        box.addSpacing(4)
        box.addLayout(strength_row)
        self.strength_slider.valueChanged.connect(lambda value: self.run.set_strength(value / 100))
        self._show_strength(self.run.strength)

        self.gallery_label = section_label("Built-in styles")
        self.gallery = StyleGallery()
        self.gallery.chosen.connect(self.add_builtin)
        box.addWidget(self.gallery_label)
        box.addWidget(self.gallery)
        self.gallery_label.setVisible(False)
        self.run.galleryChanged.connect(lambda: self.gallery_label.setVisible(bool(self.run.gallery)))

        box.addWidget(section_label("Refine"))
        self.form = SettingsForm(self.run.settings())
        self.form.settingsChanged.connect(self.run.set_settings)
        # Each quality shows how long its Refine takes here (the photo's shape, the measured speed).
        self.form.set_estimator(self.run.estimate)
        self.run.speedChanged.connect(self.form.refresh_estimates)
        self.run.inputsChanged.connect(self.form.refresh_estimates)
        box.addWidget(self.form)
        if preference(self._prefs, "style/advanced_open", False) in (True, "true"):
            self.form.advanced.expand(animate=False)
        self.form.advanced.toggled.connect(
            lambda: self._prefs.setValue("style/advanced_open", self.form.advanced.isExpanded())
        )
        box.addStretch(1)

        scroll = scrolling_column(column, 300)
        self.controls = column

        # The actions stay in sight, under the scrolling column.
        actions = QWidget()
        actions_layout = QVBoxLayout(actions)
        actions_layout.setContentsMargins(12, 0, 12, 0)
        actions_layout.setSpacing(6)
        refine_row = QHBoxLayout()
        refine_row.setSpacing(8)
        run_row = QHBoxLayout()
        self.start_button = QPushButton("Refine")
        self.start_button.setObjectName("primary")
        self.start_button.setToolTip(
            "Work on the picture for longer, from the instant one: finer brushwork, closer to the paintings"
            " (Gatys optimisation; Ctrl+Enter)"
        )
        self.start_button.setMinimumHeight(34)
        self.start_button.setStyleSheet(
            "QPushButton#primary { background: palette(highlight); color: palette(highlighted-text);"
            " border-radius: 6px; font-weight: bold; padding: 6px 18px; }"
            "QPushButton#primary:disabled { background: palette(button); color: palette(placeholder-text); }"
        )
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop now and keep the best picture so far (Esc)")
        self.stop_button.setMinimumHeight(34)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("The result as a PNG with every setting inside: opening it brings them back")
        self.save_button.setMinimumHeight(34)
        # The quality of a Refine sits beside it: one action, one choice.
        self.quality = self.form.presets
        # The quality over its Refine, the full column wide: the presets' time estimates need the
        # width, and beside the buttons they made the column (and the window) wider than a small screen.
        refine_row.addWidget(self.quality, 1)
        run_row.addWidget(self.start_button, 2)
        run_row.addWidget(self.stop_button, 1)
        run_row.addWidget(self.save_button, 1)
        self.run_hint = QLabel("")
        self.run_hint.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.run_hint.setEnabled(False)
        self.run_hint.setWordWrap(True)
        actions_layout.addLayout(refine_row)
        actions_layout.addLayout(run_row)
        actions_layout.addWidget(self.run_hint)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.save_button.clicked.connect(self.save_result_dialog)

        outer_layout.addWidget(scroll, 1)
        outer_layout.addWidget(actions)
        return outer

    # ----- the inputs, as the run holds them ----------------------------------------------------
    def _show_inputs(self) -> None:
        run = self.run
        if self.content_slot.loaded is not run.photo:
            self.content_slot.set_loaded(run.photo)
        if self._shown_photo is not run.photo:
            self._shown_photo = run.photo
            self.view.set_before(None if run.photo is None else to_qimage(run.photo.image))
        while len(self.style_slots) > len(run.paintings):
            slot = self.style_slots.pop()
            self.styles_box.removeWidget(slot)
            slot.deleteLater()
        while len(self.style_slots) < len(run.paintings):
            self._add_slot_widget()
        for slot, painting in zip(self.style_slots, run.paintings, strict=True):
            if slot.loaded is not painting.image:
                slot.set_loaded(painting.image)
                if painting.builtin is not None:
                    slot.info_label.setText(BUILTIN_FORMAT)
            if slot.weight() != painting.weight:
                slot.set_weight(painting.weight)
        if run.instant and run.instant_request() is None and self._current is not None:
            if self._current.settings.get(STYLE_KEY, {}).get("instant") is not None and not run.ready():
                self.show_image(None)  # nothing to paint any more: no stale picture
        self._update_enabled()

    def add_builtin(self, index: int) -> None:
        """A built-in style becomes a painting (the first free slot)."""
        self.run.add_builtin(index)

    def _show_strength(self, strength: float) -> None:
        value = round(100 * strength)
        if self.strength_slider.value() != value:
            self.strength_slider.blockSignals(True)
            self.strength_slider.setValue(value)
            self.strength_slider.blockSignals(False)
        self.strength_value.setText(f"{value} %")

    def _add_slot_widget(self) -> None:
        slot = StyleSlot()
        slot.imageChanged.connect(lambda loaded, s=slot: self.run.set_painting(self.style_slots.index(s), loaded))
        slot.removeRequested.connect(lambda s=slot: self.remove_style_slot(s))
        slot.extraDropped.connect(self._add_style_paths)
        slot.weightChanged.connect(lambda weight, s=slot: self.run.set_weight(self.style_slots.index(s), weight))
        self.style_slots.append(slot)
        self.styles_box.addWidget(slot)

    def add_style_slot(self, loaded: LoadedImage | None = None) -> StyleSlot | None:
        """A new painting slot (holding ``loaded``); None when there are already MAX_STYLES."""
        index = self.run.add_painting(loaded)
        return None if index is None else self.style_slots[index]

    def remove_style_slot(self, slot: StyleSlot) -> None:
        self.run.remove_painting(self.style_slots.index(slot))

    def _add_style_paths(self, paths: list[Path]) -> None:
        for path in paths:
            index = self.run.free_painting()
            if index is None:
                self._show_error(f"At most {MAX_STYLES} paintings; {Path(path).name} was not added.")
                return
            self.style_slots[index].load_path(path)

    # ----- settings ---------------------------------------------------------------------------
    def settings(self) -> StyleSettings:
        return self.run.settings()

    def set_settings(self, settings: StyleSettings) -> None:
        self.run.set_settings(settings)

    def _on_settings_changed(self, settings: StyleSettings) -> None:
        self.form.set_settings(settings)

    # ----- running ------------------------------------------------------------------------------
    def running(self) -> bool:
        return self.run.running

    def _update_enabled(self) -> None:
        has_content = self.run.photo is not None
        has_style = bool(self.run.styles())
        running = self.running()
        self.start_button.setEnabled(self.run.ready() and not running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(self._current is not None and not self.run.saving)
        self.add_style_button.setEnabled(len(self.run.paintings) < MAX_STYLES)
        if not running:
            if not has_content:
                self.run_hint.setText("Drop a photo to start.")
            elif not has_style:
                self.run_hint.setText("Drop a painting, or pick a built-in style, to take its style from.")
            else:
                self.run_hint.setText("The sliders change the picture live; Refine (Ctrl+Enter) works on it longer.")

    def start(self) -> int | None:
        """Start a run with the current images and settings; returns the job id."""
        return self.run.start()

    def stop(self) -> None:
        if self.run.stop():
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping after this step…")

    def _on_started(self, _job_id: int) -> None:
        self._clear_error()
        self.loss_plot.clear_values()
        self._show_loss()
        self.progress.setRange(0, 0)  # busy until the first fraction arrives
        self.progress.setFormat("Starting…")
        self.status.setText("Loading VGG19 and the images…")
        self.run_hint.setText("Refining: Stop keeps the best picture so far.")
        self._update_enabled()

    def _show_loss(self, *_args) -> None:
        """The loss plot once there are values to draw, the plain note before."""
        has_values = bool(self.loss_plot.values())
        self.loss_box.setCurrentWidget(self.loss_plot if has_values else self.loss_placeholder)

    def _on_progress(self, progress: RunProgress) -> None:
        if progress.fraction is None:
            self.progress.setRange(0, 0)
        else:
            eta = "" if progress.eta_s is None else f" · about {_duration(progress.eta_s)} left"
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * progress.fraction))
            self.progress.setFormat(f"%p%{eta}")
        if progress.message:
            self.status.setText(progress.message)

    def _on_preview(self, preview: Image.Image) -> None:
        self.view.set_after(to_qimage(preview))

    def _on_failed(self, message: str) -> None:
        self._update_enabled()
        self._show_failure("Failed", message)
        self._restore_view()

    def _show_failure(self, bar_text: str, message: str) -> None:
        """An empty bar reading ``bar_text``, and ``message`` where the panel shows errors."""
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat(bar_text)
        self.status.setText("")
        self._show_error(message)

    def _on_outcome(self, outcome: StyleOutcome | None) -> None:
        self._update_enabled()
        self.progress.setRange(0, 1000)
        if outcome is None:
            self.progress.setValue(0)
            self.progress.setFormat("Stopped")
            self.status.setText("Stopped before the first picture.")
            self._restore_view()
            return
        self.loss_plot.set_values(outcome.losses)
        self._show_loss()
        if not outcome.stopped:
            self.progress.setValue(1000)
        self.progress.setFormat(
            "Stopped · best picture kept" if outcome.stopped else f"Done in {_duration(outcome.seconds)}"
        )
        self.show_image(PanelImage(outcome.image, outcome.png, outcome.name))
        notes = " ".join(outcome.notes)
        self.status.setText(
            ("Stopped early: the best picture so far is kept." if outcome.stopped else f"Done on {outcome.device}.")
            + (f" {notes}" if notes else "")
            + (" Settings changed during the run apply to the next one." if outcome.changed_during_run else "")
        )

    def _on_instant(self, outcome: StyleOutcome) -> None:
        self._clear_error()
        self.show_image(PanelImage(outcome.image, outcome.png, outcome.name))
        if not self.run.saving:
            self.progress.setRange(0, 1000)
            self.progress.setValue(1000)
            self.progress.setFormat(f"Instant picture · {outcome.seconds:.2f} s")
            self.status.setText(f"Painted at {outcome.image.width} × {outcome.image.height} on {outcome.device}.")

    def _on_instant_failed(self, message: str) -> None:
        if not self.run.saving and not self.running():
            self.progress.setRange(0, 1000)
            self.progress.setValue(0)
            self.progress.setFormat("No picture")
            self.status.setText("")
        self._show_error(message)

    def _on_instant_asked(self) -> None:
        # Said only for a first picture (the first one also loads the networks); while dragging,
        # the picture itself is the feedback.
        if self._current is None and not self.run.saving:
            self.progress.setRange(0, 0)
            self.progress.setFormat("Painting…")
            self.status.setText("Painting the photo in the paintings' style…")

    def _on_save_progress(self, progress: RunProgress) -> None:
        self.progress.setRange(0, 0)
        self.progress.setFormat("Saving at full size…")
        self.status.setText(progress.message)
        self._update_enabled()

    def _on_saved(self, path: Path) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self.progress.setFormat("Saved")
        self.status.setText(f"Saved {path.name} at the photo's size, with its settings inside.")
        self._update_enabled()
        self.show_saved(path)

    def _on_save_failed(self, message: str) -> None:
        self._show_failure("Not saved", message)
        self._update_enabled()

    def _restore_view(self) -> None:
        self.view.set_after(None if self._current is None else to_qimage(self._current.image))

    # ----- images in and out ----------------------------------------------------------------------
    def show_image(self, item: PanelImage | None) -> None:
        super().show_image(item)
        self._update_enabled()

    def accept_image(self, loaded: LoadedImage) -> bool:
        # PNGs from this panel and from `studio stylize` carry their run: it comes back.
        restored = self.run.restore(loaded)
        if restored is None:
            self.run.take_image(loaded)
            if self.run.unusable is not None:  # a tampered run: said once, the panel as it was
                self._show_error(self.run.unusable)
            return True
        self.show_image(PanelImage(restored.image, restored.png, restored.name))
        self._clear_error()
        note = f" It was painted from {', '.join(restored.missing)}." if restored.missing else ""
        self.status.setText(f"Settings restored from {loaded.path.name}.{note}")
        return True

    def save_png_dialog(self, title: str = "Save PNG") -> Path | None:
        """An instant picture is painted again at the photo's size and saved by a job (None here:
        the panel says when it is written); any other picture is saved at once, as on any panel."""
        outcome = self.run.result
        current = self._current
        if outcome is None or outcome.request is None or current is None or current.image is not outcome.image:
            return super().save_png_dialog(title)
        path = self.ask_png_path(title)
        if path is not None and self.run.save_full_size(path, {"panel": self.title}) is not None:
            self._update_enabled()
        return None

    def save_result_dialog(self) -> None:
        path = self.save_png_dialog("Save PNG")
        if path is not None:
            self.status.setText(f"Saved {path.name}, with its settings inside.")
            self.show_saved(path)

    # ----- work a crash left ----------------------------------------------------------------------
    def restore_autosave(self) -> None:
        """Restore it: the recovered photo, paintings, settings and last picture fill the panel."""
        try:
            outcome = self.autosave.restore()
        except RecoveryError as exc:
            self._show_error(str(exc))
            return
        self.recovery_bar.hide()
        self._clear_error()
        self.show_image(None if outcome is None else PanelImage(outcome.image, outcome.png, outcome.name))
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("Restored")
        missing = self.autosave.unreadable
        self.status.setText(
            "Your last Style work is back."
            + (f" These pictures could not be read back: {', '.join(missing)}." if missing else "")
        )

    def discard_autosave(self) -> None:
        self.autosave.discard()
        self.recovery_bar.hide()

    def end_session(self) -> None:
        """A clean quit: the autosave of this session is not needed any more."""
        self.autosave.end_session()

    # ----- messages -------------------------------------------------------------------------------
    def _show_error(self, message: str) -> None:
        log.error("%s", message)
        self.message.setText(message)
        self.message.show()
        window = self.window()
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(message, 10_000)

    def _clear_error(self) -> None:
        self.message.clear()
        self.message.hide()
