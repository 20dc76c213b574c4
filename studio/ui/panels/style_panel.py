"""Style Transfer: a photo and one or more paintings become the photo painted in their style.

The picture is large on the left, as a before/after split (drag the divider); under it, the
run's progress with an ETA and a small loss curve. On the right: the photo slot, the painting
slots (each with a weight), the presets with an Advanced box, then Start, Stop and Save PNG.

Where an opened or dropped image goes (:meth:`StylePanel.accept_image`):

1. a PNG this panel saved: its settings come back (presets, Advanced, style weights for
   paintings with the same file names) and the picture is shown as the result;
2. otherwise, the photo slot if it is empty;
3. otherwise a painting: the first empty painting slot, else a new slot (up to
   :data:`MAX_STYLES`), else it replaces the last painting.

A run works on a snapshot of the images and settings taken at Start, so edits made while it
runs apply to the next run. Stop keeps the best picture so far.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.engine.paths import config_dir
from studio.engine.style.settings import PRESETS, StyleSettings, StyleSettingsError
from studio.spec.png import STYLE_KEY
from studio.ui.controls import picture_beside_controls, scrolling_column, section_label
from studio.ui.panels.base import Panel, PanelImage
from studio.ui.qimage import to_qimage
from studio.ui.style.compare_view import CompareView
from studio.ui.style.image_slot import ImageSlot, StyleSlot
from studio.ui.style.loss_plot import LossPlot
from studio.ui.theme import ERROR_COLOUR

if TYPE_CHECKING:
    from studio.engine.imageio import LoadedImage
    from studio.services.worker import Worker

log = logging.getLogger(__name__)

MAX_STYLES = 4
PREVIEW_MIN_INTERVAL_S = 0.3  # the view is refreshed at most this often during a run


def _duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


class StylePanel(Panel):
    title = "Style Transfer"
    subtitle = "Paint a photo in the style of one or more paintings, with a live preview."
    icon_name = "style-transfer"
    empty_hint = (
        "Drop a photo on the Photo slot and a painting on a Painting slot, then press Start.\n\n"
        "File > Open image… fills the photo first, then the paintings."
    )

    def __init__(self, worker: Worker | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self._prefs = QSettings(str(config_dir() / "settings.ini"), QSettings.Format.IniFormat)
        self.form = None  # SettingsForm, built on first use (it imports torch)
        self._job_id: int | None = None
        self._job_meta: dict | None = None
        self._job_started = 0.0
        self._first_preview_s: float | None = None
        self._previews_shown = 0
        self._last_shown = 0.0
        self._pending_preview = None
        self._changed_while_running = False
        self.style_slots: list[StyleSlot] = []
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.timeout.connect(self._show_pending_preview)
        self._build()
        if worker is not None:
            worker.jobProgress.connect(self._on_job_progress)
            worker.jobFinished.connect(self._on_job_finished)
            worker.jobCancelled.connect(self._on_job_cancelled)
            worker.jobFailed.connect(self._on_job_failed)
        self._update_enabled()

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
        picture_layout.addWidget(self.view, 1)
        picture_layout.addWidget(self._build_run_bar())

        self.splitter = picture_beside_controls(picture, self._build_controls(), (900, 400))
        layout.addWidget(self.splitter, 1)

        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        QShortcut(QKeySequence("Ctrl+Return"), self, self.start, context=context)
        QShortcut(QKeySequence("Escape"), self, self.stop, context=context)

    def _build_run_bar(self) -> QWidget:
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(12)
        left = QVBoxLayout()
        left.setSpacing(4)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.message.hide()
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addWidget(self.message)
        left.addStretch(1)
        self.loss_plot = LossPlot()
        self.loss_plot.setFixedHeight(96)
        self.loss_plot.setMinimumWidth(120)
        self.loss_plot.setMaximumWidth(280)
        row.addLayout(left, 1)
        row.addWidget(self.loss_plot, 1)
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
        self.content_slot.imageChanged.connect(self._on_content_changed)
        self.content_slot.removeRequested.connect(lambda: self.content_slot.set_loaded(None))
        self.content_slot.extraDropped.connect(self._add_style_paths)
        box.addWidget(self.content_slot)

        box.addWidget(section_label("Paintings"))
        self.styles_box = QVBoxLayout()
        self.styles_box.setSpacing(6)
        box.addLayout(self.styles_box)
        self.add_style_button = QPushButton("+ Add painting")
        self.add_style_button.setToolTip(f"Mix up to {MAX_STYLES} paintings, each with its own weight")
        self.add_style_button.clicked.connect(lambda: self.add_style_slot())
        box.addWidget(self.add_style_button)

        box.addWidget(section_label("Quality"))
        self.form_holder = QVBoxLayout()
        box.addLayout(self.form_holder)
        box.addStretch(1)

        scroll = scrolling_column(column, 300)
        self.controls = column

        # The actions stay in sight, under the scrolling column.
        actions = QWidget()
        actions_layout = QVBoxLayout(actions)
        actions_layout.setContentsMargins(12, 0, 12, 0)
        actions_layout.setSpacing(6)
        run_row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primary")
        self.start_button.setToolTip("Paint the photo in the paintings' style (Ctrl+Enter)")
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
        run_row.addWidget(self.start_button, 2)
        run_row.addWidget(self.stop_button, 1)
        run_row.addWidget(self.save_button, 1)
        self.run_hint = QLabel("")
        self.run_hint.setEnabled(False)
        self.run_hint.setWordWrap(True)
        actions_layout.addLayout(run_row)
        actions_layout.addWidget(self.run_hint)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.save_button.clicked.connect(self.save_result_dialog)

        outer_layout.addWidget(scroll, 1)
        outer_layout.addWidget(actions)
        self.add_style_slot()  # one empty painting slot to drop on
        return outer

    def ensure_form(self):
        """The presets and Advanced box, built on first use: they import the engine (torch)."""
        if self.form is None:
            from studio.ui.style.settings_form import SettingsForm

            self.form = SettingsForm(self._saved_settings())
            self.form.settingsChanged.connect(self._on_settings_changed)
            self.form_holder.addWidget(self.form)
            if self._prefs.value("style/advanced_open", False, type=bool):
                self.form.advanced.expand(animate=False)
            self.form.advanced.toggled.connect(
                lambda: self._prefs.setValue("style/advanced_open", self.form.advanced.isExpanded())
            )
        return self.form

    def _saved_settings(self):
        import json

        raw = self._prefs.value("style/settings", "")
        if raw:
            try:
                return StyleSettings.from_dict(json.loads(str(raw)))
            except (StyleSettingsError, ValueError, TypeError):
                log.warning("Ignoring unusable saved style settings")
        return PRESETS["preview"]

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.ensure_form()

    # ----- slots ----------------------------------------------------------------------------
    def add_style_slot(self, loaded: LoadedImage | None = None) -> StyleSlot | None:
        if len(self.style_slots) >= MAX_STYLES:
            return None
        slot = StyleSlot()
        slot.imageChanged.connect(lambda _loaded: self._update_enabled())
        slot.removeRequested.connect(lambda s=slot: self.remove_style_slot(s))
        slot.extraDropped.connect(self._add_style_paths)
        slot.weightChanged.connect(lambda _w: self._note_change())
        self.style_slots.append(slot)
        self.styles_box.addWidget(slot)
        if loaded is not None:
            slot.set_loaded(loaded)
        self._update_enabled()
        return slot

    def remove_style_slot(self, slot: StyleSlot) -> None:
        if len(self.style_slots) <= 1:
            slot.set_loaded(None)  # the last slot stays, empty
            slot.set_weight(1.0)
        else:
            self.style_slots.remove(slot)
            self.styles_box.removeWidget(slot)
            slot.deleteLater()
        self._update_enabled()

    def _add_style_paths(self, paths: list[Path]) -> None:
        for path in paths:
            slot = next((s for s in self.style_slots if s.is_empty()), None) or self.add_style_slot()
            if slot is None:
                self._show_error(f"At most {MAX_STYLES} paintings; {Path(path).name} was not added.")
                return
            slot.load_path(path)

    def styles(self) -> list[tuple[object, float, str]]:
        """(image, weight, file name) of every filled painting slot."""
        return [(s.image(), s.weight(), s.name()) for s in self.style_slots if not s.is_empty()]

    @Slot(object)
    def _on_content_changed(self, loaded: LoadedImage | None) -> None:
        self.view.set_before(None if loaded is None else to_qimage(loaded.image))
        self._update_enabled()

    # ----- settings ---------------------------------------------------------------------------
    def settings(self):
        return self.ensure_form().settings()

    def set_settings(self, settings) -> None:
        self.ensure_form().set_settings(settings)

    def _on_settings_changed(self, settings) -> None:
        import json

        self._prefs.setValue("style/settings", json.dumps(settings.to_dict()))
        self._note_change()

    def _note_change(self) -> None:
        if self._job_id is not None:
            self._changed_while_running = True
            self.run_hint.setText("Changes apply to the next run.")

    # ----- running ------------------------------------------------------------------------------
    def running(self) -> bool:
        return self._job_id is not None

    def _update_enabled(self) -> None:
        has_content = not self.content_slot.is_empty()
        has_style = any(not s.is_empty() for s in self.style_slots)
        running = self.running()
        ready = has_content and has_style and self.worker is not None
        self.start_button.setEnabled(ready and not running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(self._current is not None)
        self.add_style_button.setEnabled(len(self.style_slots) < MAX_STYLES)
        if not running:
            if not has_content:
                self.run_hint.setText("Drop a photo to start.")
            elif not has_style:
                self.run_hint.setText("Drop a painting to take its style from.")
            else:
                self.run_hint.setText("Ctrl+Enter starts; while it runs, the picture updates live.")

    def start(self) -> int | None:
        """Submit a run with the current images and settings; returns the job id."""
        if self.worker is None or self.running() or not self.start_button.isEnabled():
            return None
        from studio.engine.style.transfer import stylize_job

        settings = self.settings()
        content = self.content_slot.image().copy()
        styles = [(image.copy(), weight, name) for image, weight, name in self.styles()]
        if not any(weight > 0 for _, weight, _ in styles):
            self._show_error("Give at least one painting a weight above 0.")
            return None
        pairs = [(image, weight) for image, weight, _ in styles]
        # What the saved PNG names besides the engine's own record (see _finish).
        self._job_meta = {"content": self.content_slot.name(), "styles": [name for _, _, name in styles]}
        self._clear_error()
        self.loss_plot.clear_values()
        self._previews_shown = 0
        self._first_preview_s = None
        self._pending_preview = None
        self._changed_while_running = False
        self._job_started = time.monotonic()
        self.progress.setRange(0, 0)  # busy until the first fraction arrives
        self.progress.setFormat("Starting…")
        self.status.setText("Loading VGG19 and the images…")
        title = f"Style transfer: {self.content_slot.name()}"
        self._job_id = self.worker.submit(title, lambda device: stylize_job(content, pairs, settings, device))
        self.run_hint.setText("Running: Stop keeps the best picture so far.")
        self._update_enabled()
        return self._job_id

    def stop(self) -> None:
        if self._job_id is not None and self.worker is not None:
            self.worker.cancel(self._job_id)
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping after this step…")

    @Slot(int, object)
    def _on_job_progress(self, job_id: int, progress) -> None:
        if job_id != self._job_id:
            return
        fraction = progress.fraction
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            fraction = min(max(float(fraction), 0.0), 1.0)
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * fraction))
            self.progress.setFormat(f"%p%{self._eta(fraction)}")
        if progress.message:
            self.status.setText(progress.message)
        losses = getattr(progress, "losses", None) or {}
        if "total" in losses:
            self.loss_plot.add_value(getattr(progress, "step", len(self.loss_plot.values())), float(losses["total"]))
        if progress.preview is not None:
            self._pending_preview = progress.preview
            wait = PREVIEW_MIN_INTERVAL_S - (time.monotonic() - self._last_shown)
            if wait <= 0 or self._previews_shown == 0:
                self._show_pending_preview()
            elif not self._preview_timer.isActive():
                self._preview_timer.start(int(wait * 1000))

    def _show_pending_preview(self) -> None:
        preview, self._pending_preview = self._pending_preview, None
        if preview is None or self._job_id is None:
            return
        self.view.set_after(to_qimage(preview))
        self._last_shown = time.monotonic()
        if self._first_preview_s is None:
            self._first_preview_s = self._last_shown - self._job_started
        self._previews_shown += 1

    def _eta(self, fraction: float) -> str:
        elapsed = time.monotonic() - self._job_started
        if fraction <= 0.02 or elapsed < 1.0:
            return ""
        return f" · about {_duration(elapsed * (1.0 - fraction) / fraction)} left"

    @Slot(int, object)
    def _on_job_finished(self, job_id: int, result) -> None:
        if job_id == self._job_id:
            self._finish(result, stopped=False)

    @Slot(int, object)
    def _on_job_cancelled(self, job_id: int, partial) -> None:
        if job_id == self._job_id:
            self._finish(partial, stopped=True)

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id != self._job_id:
            return
        self._end_run()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("Failed")
        self.status.setText("")
        self._show_error(message)
        self._restore_view()

    def _finish(self, result, *, stopped: bool) -> None:
        from studio.engine.style.transfer import png_settings

        names = dict(self._job_meta or {})
        elapsed = time.monotonic() - self._job_started
        self._end_run()
        self.progress.setRange(0, 1000)
        if result is None or getattr(result, "image", None) is None:
            self.progress.setValue(0)
            self.progress.setFormat("Stopped")
            self.status.setText("Stopped before the first picture.")
            self._restore_view()
            return
        self.loss_plot.set_values([row["total"] for row in result.loss_history if "total" in row])
        stopped = stopped or result.cancelled
        # The engine's record of the run (every setting, the weights, what ran where) plus the
        # file names: the same PNG metadata `studio stylize` writes, so either restores here.
        meta = png_settings(result, names.get("content"), names.get("styles") or ())
        if not stopped:
            self.progress.setValue(1000)
        self.progress.setFormat("Stopped · best picture kept" if stopped else f"Done in {_duration(elapsed)}")
        content = Path(names.get("content") or "photo").stem or "photo"
        first_style = Path((names.get("styles") or ["style"])[0]).stem
        self.show_image(PanelImage(result.image, meta, f"{content} in the style of {first_style}.png"))
        notes = " ".join(result.notes)
        self.status.setText(
            ("Stopped early: the best picture so far is kept." if stopped else f"Done on {result.device}.")
            + (f" {notes}" if notes else "")
            + (" Settings changed during the run apply to the next one." if self._changed_while_running else "")
        )

    def _end_run(self) -> None:
        self._job_id = None
        self._preview_timer.stop()
        self._pending_preview = None
        self._update_enabled()

    def _restore_view(self) -> None:
        self.view.set_after(None if self._current is None else to_qimage(self._current.image))

    # ----- images in and out ----------------------------------------------------------------------
    def show_image(self, item: PanelImage | None) -> None:
        super().show_image(item)
        self._update_enabled()

    def accept_image(self, loaded: LoadedImage) -> bool:
        settings = loaded.settings or {}
        # PNGs from this panel and from `studio stylize` carry the run under one key.
        if isinstance(settings.get(STYLE_KEY), dict) and self._restore(loaded, settings):
            return True
        if self.content_slot.is_empty():
            self.content_slot.set_loaded(loaded)
            return True
        slot = next((s for s in self.style_slots if s.is_empty()), None) or self.add_style_slot()
        if slot is None:
            slot = self.style_slots[-1]
        slot.set_loaded(loaded)
        return True

    def _restore(self, loaded: LoadedImage, settings: dict) -> bool:
        from studio.engine.style.transfer import settings_from_png

        try:
            restored = settings_from_png(settings)
        except (StyleSettingsError, ValueError, TypeError) as exc:
            log.warning("%s: unusable style settings (%s); treating it as a plain image", loaded.path.name, exc)
            return False
        if restored is None:
            return False
        self.set_settings(restored)
        run = settings[STYLE_KEY]
        names = [str(name) for name in run.get("styles") or []]
        weights = run.get("style_weights") or []
        by_name = {name: float(w) for name, w in zip(names, weights, strict=False) if isinstance(w, (int, float))}
        for slot in self.style_slots:
            if slot.name() in by_name:
                slot.set_weight(by_name[slot.name()])
        meta = {key: value for key, value in settings.items() if key != "panel"}
        self.show_image(PanelImage(loaded.image, meta, loaded.path.name))
        self._clear_error()
        missing = [name for name in names if name not in {s.name() for s in self.style_slots}]
        note = f" It was painted from {', '.join(missing)}." if missing else ""
        self.status.setText(f"Settings restored from {loaded.path.name}.{note}")
        return True

    def save_result_dialog(self) -> None:
        path = self.save_png_dialog("Save PNG")
        if path is not None:
            self.status.setText(f"Saved {path.name}, with its settings inside.")

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
