"""The main window: three panels, the menus, and the status bar over the one worker."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from studio import APP_NAME
from studio.files.images import IMAGE_FILE_FILTER, IMAGE_SUFFIXES, ImageLoadError, load_image
from studio.files.paths import log_dir
from studio.files.resources import resource_path
from studio.services.settings import DEVICES, THEMES, Settings
from studio.ui.about_dialog import AboutDialog
from studio.ui.getting_started import GettingStartedDialog
from studio.ui.job_status import JobStatus
from studio.ui.panels.base import Panel, PanelImage
from studio.ui.panels.finetune_panel import FinetunePanel
from studio.ui.panels.latent_panel import LatentPanel
from studio.ui.panels.style_panel import StylePanel
from studio.ui.saved_notice import SavedNotice
from studio.ui.shortcuts_dialog import ShortcutsDialog, shortcut_entries
from studio.ui.theme import apply_theme

if TYPE_CHECKING:
    from collections.abc import Callable

    from studio.engine.devices import DeviceInfo
    from studio.services.worker import Worker

log = logging.getLogger(__name__)


class ShowImageCommand(QUndoCommand):
    """Putting an image into a panel, undoable: undo shows what the panel showed before."""

    def __init__(self, panel: Panel, new: PanelImage, text: str) -> None:
        super().__init__(text)
        self._panel = panel
        self._old = panel.current()
        self._new = new

    def redo(self) -> None:
        self._panel.show_image(self._new)

    def undo(self) -> None:
        self._panel.show_image(self._old)


def _ask_to_quit(parent: QWidget, job_title: str) -> bool:
    answer = QMessageBox.question(
        parent,
        f"Quit {APP_NAME}?",
        f"“{job_title}” is still running.\nStop it and quit?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class MainWindow(QMainWindow):
    # Errors may be reported from any thread; this signal brings them to the GUI thread.
    errorReported = Signal(str, str)

    def __init__(
        self,
        worker: Worker,
        settings: Settings,
        *,
        confirm_quit: Callable[[QWidget, str], bool] = _ask_to_quit,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = worker
        self.settings = settings
        self._confirm_quit = confirm_quit
        self.undo_stack = QUndoStack(self)
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(QIcon(str(resource_path("icons", "latent-studio.svg"))))
        self.setAcceptDrops(True)

        self.latent_panel = LatentPanel(worker, self.undo_stack)
        self.finetune_panel = FinetunePanel(worker)
        self.finetune_panel.openInExplorer.connect(self.open_model_in_explorer)
        self.style_panel = StylePanel(worker)
        self.panels: list[Panel] = [self.latent_panel, self.style_panel, self.finetune_panel]
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for panel in self.panels:
            self.tabs.addTab(panel, panel.icon(), panel.title)
        self.tabs.setIconSize(self.panels[0].icon_size())
        self.setCentralWidget(self.tabs)

        self.device_label = QLabel("Starting the compute engine…")
        self.device_label.setTextFormat(Qt.TextFormat.PlainText)  # it may show a file's name or text
        self.job_status = JobStatus(worker)
        # "Saved NAME · Open folder" for a panel without a line of its own under its picture.
        self.saved_notice = SavedNotice()
        self.statusBar().addPermanentWidget(self.saved_notice)
        self.statusBar().addPermanentWidget(self.job_status)
        self.statusBar().addPermanentWidget(self.device_label)

        self._build_menus()
        self._connect_worker()
        self.errorReported.connect(self.show_error)
        self._restore_layout()
        if self.settings.problem:  # a settings file set aside at start: said once, in plain words
            self.show_error(self.settings.problem, "")

    # ----- construction -------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = file_menu.addAction("&Open image…", self.open_image_dialog)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.save_action = file_menu.addAction("&Save image…", self.save_image_dialog)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit", self.close)
        # Some platform themes bind no Quit key; Ctrl+Q is what Linux users expect then.
        quit_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [QKeySequence("Ctrl+Q")])
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)

        view_menu = self.menuBar().addMenu("&View")
        for index, panel in enumerate(self.panels):
            action = view_menu.addAction(panel.icon(), panel.title, lambda i=index: self.tabs.setCurrentIndex(i))
            action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
        view_menu.addSeparator()
        full_screen = view_menu.addAction("&Full screen", self._toggle_full_screen)
        # Qt's standard key is empty under a bare X server (no desktop): F11 there, as elsewhere.
        full_screen.setShortcuts(
            QKeySequence.keyBindings(QKeySequence.StandardKey.FullScreen) or [QKeySequence(Qt.Key.Key_F11)]
        )
        self.status_bar_action = view_menu.addAction("Status &bar")
        self.status_bar_action.setCheckable(True)
        self.status_bar_action.setChecked(True)
        self.status_bar_action.toggled.connect(self.statusBar().setVisible)
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_actions = self._choice_menu(theme_menu, THEMES, self.settings.theme, self._set_theme)
        device_menu = view_menu.addMenu("Compute &device (after restart)")
        self._choice_menu(device_menu, DEVICES, self.settings.device, self._set_device)

        help_menu = self.menuBar().addMenu("&Help")
        self.getting_started_action = help_menu.addAction("&Getting started", self.show_getting_started)
        self.shortcuts_action = help_menu.addAction("&Keyboard shortcuts", self.show_shortcuts)
        self.shortcuts_action.setShortcut(QKeySequence.StandardKey.HelpContents)
        about = help_menu.addAction(f"&About {APP_NAME}", self.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction("Open &log folder", self.open_log_folder)

    def _choice_menu(self, menu, choices, current: str, apply: Callable[[str], None]) -> dict[str, QAction]:
        group = QActionGroup(self)
        actions = {}
        for choice in choices:
            action = menu.addAction(choice.upper() if choice in ("cuda", "mps", "cpu") else choice.capitalize())
            action.setCheckable(True)
            action.setChecked(choice == current)
            action.triggered.connect(lambda _checked=False, c=choice: apply(c))
            group.addAction(action)
            actions[choice] = action
        return actions

    def _connect_worker(self) -> None:
        self.worker.ready.connect(self._on_worker_ready)
        self.worker.deviceChanged.connect(self._on_worker_ready)  # a lost GPU: the label shows the CPU
        self.worker.startupFailed.connect(self._on_worker_failed)
        # A job a panel owns reports its own failure; only the others get a dialog here.
        self.worker.unownedJobFailed.connect(self._on_job_failed)
        self.worker.jobFinished.connect(self._on_job_ended)
        self.worker.jobCancelled.connect(self._on_job_cancelled)
        if self.worker.device is not None:  # a window made after the worker started
            self._on_worker_ready(self.worker.device)

    def _restore_layout(self) -> None:
        geometry = self.settings.window_geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1100, 760)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        self.tabs.setCurrentIndex(min(max(self.settings.current_panel, 0), len(self.panels) - 1))

    # ----- worker -------------------------------------------------------------------------
    @Slot(object)
    def _on_worker_ready(self, device: DeviceInfo) -> None:
        self.device_label.setText(device.label)
        self.device_label.setToolTip(device.name + (f"\n{device.note}" if device.note else ""))
        if device.note:
            self.statusBar().showMessage(device.note, 10_000)

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        self.device_label.setText("Compute engine unavailable")
        self.show_error("The compute engine could not start", message)

    @Slot(int, str)
    def _on_job_failed(self, _job_id: int, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)
        self.show_error(message, "")

    @Slot(int, object)
    def _on_job_ended(self, _job_id: int, _result: object) -> None:
        self.statusBar().showMessage("Done", 3_000)

    @Slot(int, object)
    def _on_job_cancelled(self, _job_id: int, _result: object) -> None:
        self.statusBar().showMessage("Stopped", 3_000)

    # ----- panels and images --------------------------------------------------------------
    def current_panel(self) -> Panel:
        return self.panels[self.tabs.currentIndex()]

    def show_in_panel(self, panel: Panel, item: PanelImage, action_text: str) -> None:
        self.undo_stack.push(ShowImageCommand(panel, item, action_text))

    @Slot(object)
    def open_model_in_explorer(self, path: str | Path) -> bool:
        """Show the Latent Explorer with the model at ``path`` (a new fine-tune, an import)."""
        explorer = self.latent_panel
        explorer.start()
        models = explorer.explorer.refresh_models()
        index = next((i for i, m in enumerate(models) if Path(m.path) == Path(path)), None)
        if index is None:
            self.statusBar().showMessage(f"{path} is not in the model library", 10_000)
            return False
        self.tabs.setCurrentWidget(explorer)
        explorer.load_model(index)
        return True

    def open_image(self, path: str | Path) -> bool:
        """Load an image through the safe loader into the current panel; False on error."""
        try:
            loaded = load_image(path)
        except ImageLoadError as exc:
            self.show_error(str(exc), "")
            return False
        self.settings.last_folder = str(Path(path).parent)
        # A PNG a panel exported goes back to that panel; a panel may take an image its own way
        # (the explorer restores a state or encodes it); otherwise it is shown as it is.
        maker = next((p for p in self.panels if p.title == (loaded.settings or {}).get("panel")), None)
        if maker is not None and maker is not self.current_panel() and maker.accept_image(loaded):
            self.tabs.setCurrentWidget(maker)
        elif not self.current_panel().accept_image(loaded):
            item = PanelImage(loaded.image, dict(loaded.settings or {}), loaded.path.name)
            self.show_in_panel(self.current_panel(), item, f"Open {loaded.path.name}")
        self.statusBar().showMessage(f"Opened {loaded.path.name} ({loaded.image.width}×{loaded.image.height})", 5_000)
        return True

    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self.settings.last_folder, IMAGE_FILE_FILTER)
        if path:
            self.open_image(path)

    def save_image(self, path: str | Path) -> bool:
        try:
            self.current_panel().export_png(path)
        except (OSError, ValueError) as exc:  # SaveError is an OSError ("disk full", ...)
            self.show_error(str(exc), "")
            return False
        self.current_panel().show_saved(path)
        return True

    def save_image_dialog(self) -> None:
        panel = self.current_panel()
        path = panel.save_png_dialog("Save image")
        if path is not None:
            panel.show_saved(path)

    # ----- drag and drop ------------------------------------------------------------------
    @staticmethod
    def _dropped_images(event: QDropEvent | QDragEnterEvent) -> list[Path]:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        return [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(path.suffix.lower() in IMAGE_SUFFIXES for path in self._dropped_images(event)):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._dropped_images(event)
        if paths:
            event.acceptProposedAction()
            self.open_image(paths[0])

    # ----- menus --------------------------------------------------------------------------
    def _toggle_full_screen(self) -> None:
        self.setWindowState(self.windowState() ^ Qt.WindowState.WindowFullScreen)

    def _set_theme(self, theme: str) -> None:
        self.settings.theme = theme
        apply_theme(QApplication.instance(), theme)

    def _set_device(self, device: str) -> None:
        self.settings.device = device
        self.statusBar().showMessage(f"Compute device set to {device}; it applies at the next start.", 8_000)

    def show_about(self) -> None:
        AboutDialog(self.worker.device, self.latent_panel.explorer.refresh_models(), self).exec()

    def show_shortcuts(self) -> ShortcutsDialog:
        """The window's keys, read from its actions and the panels' shortcuts (not modal)."""
        dialog = ShortcutsDialog(shortcut_entries(self, [(p.title, p) for p in self.panels]), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_getting_started(self) -> GettingStartedDialog:
        """A few steps per panel and the keys, from a page bundled with the app (not modal)."""
        dialog = GettingStartedDialog(shortcut_entries(self, [(p.title, p) for p in self.panels]), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_dir())))

    @Slot(str, str)
    def show_error(self, summary: str, details: str) -> None:
        log.error("%s", summary)
        self.statusBar().showMessage(summary, 10_000)
        box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, summary, QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # messages name files, whose names may look like markup
        if details:
            box.setDetailedText(details)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self._last_error_box = box

    # ----- quitting -----------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.worker.has_active_jobs():
            running = self.worker.running_job()
            title = running[1] if running is not None else "A queued job"
            if not self._confirm_quit(self, title):
                event.ignore()
                return
        if self.latent_panel.explorer.session_unsaved:
            self.latent_panel.explorer.save_session()  # the last moves, before the debounce ends
        self.style_panel.end_session()  # a clean quit: nothing to offer back next time
        self.settings.current_panel = self.tabs.currentIndex()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.worker.shutdown()
        event.accept()
